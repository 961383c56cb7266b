//! The once-a-second progress line on stderr: rates over the last second and tail latency so far.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::clock::{now_ns, secs};
use super::stats::Counters;
use super::Shared;

pub struct Progress {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts printing `phase` lines unless `quiet`.
    pub fn start(shared: Arc<Shared>, phase: &'static str, quiet: bool) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = (!quiet).then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || print_loop(&shared, phase, &stop))
        });
        Progress { stop, handle }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn print_loop(shared: &Shared, phase: &str, stop: &AtomicBool) {
    let c = &shared.counters;
    let start = now_ns();
    let mut last = (start, 0u64, 0u64, 0u64, 0u64);
    let mut next_tick = start + 1_000_000_000;
    while !stop.load(Ordering::Relaxed) {
        if now_ns() < next_tick {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        next_tick += 1_000_000_000;
        let now = now_ns();
        let acked = Counters::get(&c.acked);
        let acked_bytes = Counters::get(&c.acked_bytes);
        let consumed = Counters::get(&c.consumed);
        let consumed_bytes = Counters::get(&c.consumed_bytes);
        let dt = secs(now - last.0).max(1e-9);
        let mut line = format!("[{:5.1}s] {phase}:", secs(now - start));
        if acked > 0 || Counters::get(&c.sent) > 0 {
            line += &format!(
                " produced {:8.1} MB/s {:>9} msg/s (acked {}, failed {})",
                (acked_bytes - last.2) as f64 / 1e6 / dt,
                si((acked - last.1) as f64 / dt),
                si(acked as f64),
                Counters::get(&c.failed),
            );
            if let Some(p99) = shared.produce_latency.p99_ms() {
                line += &format!(" ack p99 {p99:.2} ms");
            }
        }
        if consumed > 0 {
            if acked > 0 {
                line += " |";
            }
            line += &format!(
                " consumed {:8.1} MB/s {:>9} msg/s (total {})",
                (consumed_bytes - last.4) as f64 / 1e6 / dt,
                si((consumed - last.3) as f64 / dt),
                si(consumed as f64),
            );
        }
        eprintln!("{line}");
        last = (now, acked, acked_bytes, consumed, consumed_bytes);
    }
}

/// 1234567 -> "1.23M".
pub fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}
