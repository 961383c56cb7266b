//! One measurement window: start the workers together, open the window after the warmup, close
//! it when sending stops or the last acknowledgement arrives, and read the counters (ours and
//! the broker's) at both edges.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::args::{Args, Partitioner};
use super::clock::{now_ns, secs, sleep_until};
use super::consumer::{self, ReadPlan};
use super::proc_stats::{self, BrokerCost};
use super::producer::{self, SendPlan};
use super::progress::Progress;
use super::report::Throughput;
use super::stats::Counters;
use super::Shared;

/// Reads the broker's counters at the edges of the measurement window.
pub(super) struct BrokerWatch {
    pid: u32,
    peak_reset: bool,
    before: Option<proc_stats::Sample>,
}

impl BrokerWatch {
    pub(super) fn new(pid: u32) -> anyhow::Result<BrokerWatch> {
        proc_stats::sample(pid).context("--broker-pid")?;
        Ok(BrokerWatch {
            pid,
            peak_reset: false,
            before: None,
        })
    }

    pub(super) fn open(&mut self) -> anyhow::Result<()> {
        self.before = Some(proc_stats::sample(self.pid)?);
        self.peak_reset = proc_stats::reset_peak(self.pid);
        Ok(())
    }

    pub(super) fn close(&self, bytes: u64, seconds: f64) -> anyhow::Result<BrokerCost> {
        let before = self
            .before
            .context("broker window closed before it opened")?;
        let after = proc_stats::sample(self.pid)?;
        Ok(BrokerCost::between(
            self.pid,
            before,
            after,
            self.peak_reset,
            bytes,
            seconds,
        ))
    }
}

/// What a producing phase measured inside its window.
pub(super) struct SendWindow {
    pub(super) throughput: Throughput,
    /// What consumers read inside the same window (end-to-end only).
    pub(super) consumed: Throughput,
    pub(super) broker: Option<BrokerCost>,
}

pub(super) fn spawn_producers(
    args: &Args,
    topic: &str,
    partitions: i32,
    shared: &Arc<Shared>,
    barrier: &Arc<Barrier>,
) -> Vec<JoinHandle<anyhow::Result<()>>> {
    let n = args.producers;
    (0..n)
        .map(|index| {
            let plan = SendPlan {
                topic: topic.to_string(),
                partitions: match args.partitioner {
                    Partitioner::Keyless => None,
                    Partitioner::RoundRobin => Some(partitions),
                },
                index,
                producers: n,
                messages: args
                    .messages
                    .map(|m| m / n as u64 + u64::from((index as u64) < m % n as u64)),
                rate: args.rate.map(|r| r / n as f64),
                message_size: args.message_size,
                flush_timeout: args.drain_timeout,
            };
            let (args, shared, barrier) = (args.clone(), shared.clone(), barrier.clone());
            std::thread::Builder::new()
                .name(format!("producer-{index}"))
                .spawn(move || producer::run(&args, plan, shared, &barrier))
                .expect("spawning a producer thread")
        })
        .collect()
}

pub(super) fn spawn_consumers(
    args: &Args,
    plans: Vec<ReadPlan>,
    shared: &Arc<Shared>,
    barrier: &Arc<Barrier>,
) -> Vec<JoinHandle<anyhow::Result<()>>> {
    plans
        .into_iter()
        .enumerate()
        .map(|(i, plan)| {
            let (args, shared, barrier) = (args.clone(), shared.clone(), barrier.clone());
            std::thread::Builder::new()
                .name(format!("consumer-{i}"))
                .spawn(move || consumer::run(&args, plan, shared, &barrier))
                .expect("spawning a consumer thread")
        })
        .collect()
}

pub(super) fn join_all(handles: Vec<JoinHandle<anyhow::Result<()>>>) -> anyhow::Result<()> {
    let mut first = Ok(());
    for h in handles {
        let r = h
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")));
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// Deals partitions round-robin among the consumers.
pub(super) fn deal(
    args: &Args,
    topic: &str,
    ranges: Vec<(i32, i64, Option<i64>)>,
    record_e2e: bool,
) -> Vec<ReadPlan> {
    let n = (args.consumers as usize).min(ranges.len()).max(1);
    let mut plans: Vec<ReadPlan> = (0..n)
        .map(|_| ReadPlan {
            topic: topic.to_string(),
            partitions: Vec::new(),
            record_e2e,
        })
        .collect();
    for (i, r) in ranges.into_iter().enumerate() {
        plans[i % n].partitions.push(r);
    }
    plans.retain(|p| !p.partitions.is_empty());
    plans
}

/// Runs the producers (and any consumers already spawned against `barrier`) through one
/// measurement window. `barrier` must count the producers, those consumers and this thread.
pub(super) fn send_phase(
    args: &Args,
    shared: &Arc<Shared>,
    producers: Vec<JoinHandle<anyhow::Result<()>>>,
    barrier: &Barrier,
    warmup: Duration,
    broker: Option<&mut BrokerWatch>,
    phase: &'static str,
) -> anyhow::Result<SendWindow> {
    barrier.wait(); // every worker connected
    let start = now_ns();
    let window_start = start + warmup.as_nanos() as u64;
    shared.start_ns.store(start, Ordering::Relaxed);
    shared
        .window_start_ns
        .store(window_start, Ordering::Relaxed);
    if let Some(d) = args.send_duration() {
        shared
            .stop_at_ns
            .store(window_start + d.as_nanos() as u64, Ordering::Relaxed);
    }
    let progress = Progress::start(shared.clone(), phase, args.quiet);
    barrier.wait(); // go

    let c = &shared.counters;
    sleep_until(window_start);
    let at_open = Tally::now(c);
    let mut broker = broker;
    if let Some(b) = broker.as_deref_mut() {
        b.open()?;
    }
    let stop_at = shared.stop_at_ns.load(Ordering::Relaxed);
    let time_up = loop {
        if producers.iter().all(|h| h.is_finished()) {
            break false;
        }
        if now_ns() >= stop_at {
            break true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // Time limit: the window closes now. Message limit: it closed at the last acknowledgement.
    let mut producers = Some(producers);
    if !time_up {
        join_all(producers.take().unwrap_or_default())?;
    }
    let end = if time_up {
        now_ns()
    } else {
        Counters::get(&c.last_ack_ns).max(window_start)
    };
    let at_close = Tally::now(c);
    let seconds = secs(end.saturating_sub(window_start));
    let cost = match broker.as_deref() {
        Some(w) => Some(w.close(at_close.acked_bytes - at_open.acked_bytes, seconds)?),
        None => None,
    };
    if let Some(producers) = producers {
        join_all(producers)?;
    }
    progress.finish();
    if seconds <= 0.0 {
        bail!("nothing was acknowledged after the warmup; lengthen --duration/--messages or shorten --warmup");
    }
    Ok(SendWindow {
        throughput: Throughput::new(
            seconds,
            at_close.acked - at_open.acked,
            at_close.acked_bytes - at_open.acked_bytes,
        ),
        consumed: Throughput::new(
            seconds,
            at_close.consumed - at_open.consumed,
            at_close.consumed_bytes - at_open.consumed_bytes,
        ),
        broker: cost,
    })
}

/// The counters at one instant, for the edges of a window.
struct Tally {
    acked: u64,
    acked_bytes: u64,
    consumed: u64,
    consumed_bytes: u64,
}

impl Tally {
    fn now(c: &Counters) -> Tally {
        Tally {
            acked: Counters::get(&c.acked),
            acked_bytes: Counters::get(&c.acked_bytes),
            consumed: Counters::get(&c.consumed),
            consumed_bytes: Counters::get(&c.consumed_bytes),
        }
    }
}
