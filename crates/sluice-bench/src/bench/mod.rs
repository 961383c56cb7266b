//! The load generator: runs one workload and reports what it measured.
//!
//! Every worker (producer or consumer thread) first connects and fetches metadata, then all meet
//! at a barrier; only then does the clock start, so connection setup stays out of the figures.
//! The measurement window opens after `--warmup` and closes when sending stops (`--duration`) or
//! at the last acknowledgement (`--messages`); the broker's CPU time is read at both edges.

pub mod args;
mod clients;
mod clock;
mod consumer;
mod payload;
mod proc_stats;
mod producer;
mod progress;
mod report;
mod stats;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context as _};

use args::{Args, Workload};
use clock::{now_ns, secs, sleep_until};
use consumer::ReadPlan;
use proc_stats::BrokerCost;
use producer::SendPlan;
use progress::Progress;
use report::{Accounting, BenchResult, RateCheck, Settings, Throughput};
use stats::{Counters, Latency};

/// State every worker of one phase shares with the main thread.
pub struct Shared {
    pub counters: Counters,
    pub produce_latency: Latency,
    pub e2e_latency: Latency,
    /// Clock reading where the schedule starts (message 0's intended send time).
    pub start_ns: AtomicU64,
    /// Producers stop sending here (u64::MAX: no time limit).
    pub stop_at_ns: AtomicU64,
    /// Latencies of messages sent before this are not recorded (the warmup).
    pub window_start_ns: AtomicU64,
    pub stop_consumers: AtomicBool,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            counters: Counters::default(),
            produce_latency: Latency::default(),
            e2e_latency: Latency::default(),
            start_ns: AtomicU64::new(0),
            stop_at_ns: AtomicU64::new(u64::MAX),
            window_start_ns: AtomicU64::new(u64::MAX),
            stop_consumers: AtomicBool::new(false),
        }
    }
}

/// How the run ended, as the exit status says it: 0 all accounted for, 1 not.
pub enum Outcome {
    Accounted,
    Unaccounted,
}

impl Outcome {
    pub fn exit_code(&self) -> std::process::ExitCode {
        match self {
            Outcome::Accounted => std::process::ExitCode::SUCCESS,
            Outcome::Unaccounted => std::process::ExitCode::FAILURE,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate must be a positive number of messages per second");
        }
    }
    let topic = args
        .topic
        .clone()
        .unwrap_or_else(|| clients::fresh_topic_name(args.workload.name()));
    let partitions = if args.no_fill {
        clients::partition_count(&args, &topic)?
    } else {
        clients::ensure_topic(&args, &topic, args.partitions)?;
        args.partitions
    };
    let broker = match args.broker_pid {
        Some(pid) => Some(BrokerWatch::new(pid)?),
        None => None,
    };
    let result = match args.workload {
        Workload::Produce => produce(&args, &topic, partitions, broker)?,
        Workload::Consume => consume(&args, &topic, partitions, broker)?,
        Workload::EndToEnd => end_to_end(&args, &topic, partitions, broker)?,
    };
    print!("{}", result.human());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&result)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if result.messages.all_accounted {
        Outcome::Accounted
    } else {
        Outcome::Unaccounted
    })
}

/// Reads the broker's counters at the edges of the measurement window.
struct BrokerWatch {
    pid: u32,
    peak_reset: bool,
    before: Option<proc_stats::Sample>,
}

impl BrokerWatch {
    fn new(pid: u32) -> anyhow::Result<BrokerWatch> {
        proc_stats::sample(pid).context("--broker-pid")?;
        Ok(BrokerWatch {
            pid,
            peak_reset: false,
            before: None,
        })
    }

    fn open(&mut self) -> anyhow::Result<()> {
        self.before = Some(proc_stats::sample(self.pid)?);
        self.peak_reset = proc_stats::reset_peak(self.pid);
        Ok(())
    }

    fn close(&self, bytes: u64, seconds: f64) -> anyhow::Result<BrokerCost> {
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
struct SendWindow {
    throughput: Throughput,
    /// What consumers read inside the same window (end-to-end only).
    consumed: Throughput,
    broker: Option<BrokerCost>,
}

fn spawn_producers(
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
                partitions,
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

fn spawn_consumers(
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

fn join_all(handles: Vec<JoinHandle<anyhow::Result<()>>>) -> anyhow::Result<()> {
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
fn deal(
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
fn send_phase(
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

fn rate_check(args: &Args, t: &Throughput) -> Option<RateCheck> {
    args.rate.map(|target| RateCheck {
        target_msgs_per_s: target,
        achieved_msgs_per_s: t.msgs_per_s,
        kept: t.msgs_per_s >= 0.95 * target,
    })
}

fn result(
    args: &Args,
    topic: &str,
    partitions: i32,
    throughput: Throughput,
    messages: Accounting,
) -> BenchResult {
    BenchResult {
        tool: "sluice-bench",
        version: env!("CARGO_PKG_VERSION"),
        workload: args.workload,
        bootstrap: args.bootstrap.clone(),
        topic: topic.to_string(),
        settings: Settings::from_args(args, partitions),
        throughput,
        fill: None,
        consumed_in_window: None,
        rate: rate_check(args, &throughput),
        messages,
        produce_latency: None,
        e2e_latency: None,
        broker: None,
        first_error: None,
    }
}

fn produce(
    args: &Args,
    topic: &str,
    partitions: i32,
    mut broker: Option<BrokerWatch>,
) -> anyhow::Result<BenchResult> {
    let shared = Arc::new(Shared::default());
    let barrier = Arc::new(Barrier::new(args.producers as usize + 1));
    let producers = spawn_producers(args, topic, partitions, &shared, &barrier);
    let window = send_phase(
        args,
        &shared,
        producers,
        &barrier,
        args.warmup,
        broker.as_mut(),
        "produce",
    )?;
    let c = &shared.counters;
    let (sent, acked, failed) = (
        Counters::get(&c.sent),
        Counters::get(&c.acked),
        Counters::get(&c.failed),
    );
    let mut r = result(
        args,
        topic,
        partitions,
        window.throughput,
        Accounting {
            sent,
            acked,
            failed,
            consumed: None,
            expected_consumed: None,
            consume_errors: 0,
            all_accounted: failed == 0 && sent == acked && sent > 0,
        },
    );
    r.produce_latency = shared.produce_latency.summary();
    r.broker = window.broker;
    r.first_error = c.first_error();
    Ok(r)
}

fn consume(
    args: &Args,
    topic: &str,
    partitions: i32,
    mut broker: Option<BrokerWatch>,
) -> anyhow::Result<BenchResult> {
    // Fill: the produce workload without a warmup or broker window.
    let fill_shared = Arc::new(Shared::default());
    let fill = if args.no_fill {
        None
    } else {
        let barrier = Arc::new(Barrier::new(args.producers as usize + 1));
        let producers = spawn_producers(args, topic, partitions, &fill_shared, &barrier);
        let w = send_phase(
            args,
            &fill_shared,
            producers,
            &barrier,
            Duration::ZERO,
            None,
            "fill",
        )?;
        Some(w.throughput)
    };
    let fc = &fill_shared.counters;
    let (sent, acked, failed) = (
        Counters::get(&fc.sent),
        Counters::get(&fc.acked),
        Counters::get(&fc.failed),
    );

    // Read everything the topic holds now, from its start.
    let marks = clients::watermarks(args, topic, partitions)?;
    let expected: u64 = marks.iter().map(|(lo, hi)| (hi - lo).max(0) as u64).sum();
    let ranges = marks
        .iter()
        .enumerate()
        .filter(|(_, (lo, hi))| hi > lo)
        .map(|(p, (lo, hi))| (p as i32, *lo, Some(*hi)))
        .collect::<Vec<_>>();
    let plans = deal(args, topic, ranges, false);
    let shared = Arc::new(Shared::default());
    let barrier = Arc::new(Barrier::new(plans.len() + 1));
    let consumers = spawn_consumers(args, plans, &shared, &barrier);
    barrier.wait(); // every consumer connected
    let start = now_ns();
    shared.start_ns.store(start, Ordering::Relaxed);
    shared.window_start_ns.store(start, Ordering::Relaxed);
    if let Some(b) = broker.as_mut() {
        b.open()?;
    }
    let progress = Progress::start(shared.clone(), "consume", args.quiet);
    barrier.wait(); // go
    let deadline = start + args.drain_timeout.as_nanos() as u64;
    while !consumers.iter().all(|h| h.is_finished()) && now_ns() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    shared.stop_consumers.store(true, Ordering::Relaxed);
    join_all(consumers)?;
    progress.finish();
    let c = &shared.counters;
    let end = Counters::get(&c.last_consumed_ns).max(start);
    let seconds = secs(end - start);
    let (consumed, bytes) = (Counters::get(&c.consumed), Counters::get(&c.consumed_bytes));
    let cost = match broker.as_ref() {
        Some(w) => Some(w.close(bytes, seconds)?),
        None => None,
    };
    let errors = Counters::get(&c.consume_errors);
    let fill_ok = args.no_fill || (failed == 0 && sent == acked && sent > 0);
    let mut r = result(
        args,
        topic,
        partitions,
        Throughput::new(seconds, consumed, bytes),
        Accounting {
            sent,
            acked,
            failed,
            consumed: Some(consumed),
            expected_consumed: Some(expected),
            consume_errors: errors,
            all_accounted: fill_ok
                && errors == 0
                && consumed == expected
                && (args.no_fill || expected >= acked),
        },
    );
    r.rate = None;
    r.fill = fill;
    r.broker = cost;
    r.first_error = fc.first_error().or_else(|| c.first_error());
    Ok(r)
}

fn end_to_end(
    args: &Args,
    topic: &str,
    partitions: i32,
    mut broker: Option<BrokerWatch>,
) -> anyhow::Result<BenchResult> {
    // Consumers start at the current end, so they read exactly what this run produces.
    let marks = clients::watermarks(args, topic, partitions)?;
    let ranges = marks
        .iter()
        .enumerate()
        .map(|(p, (_, hi))| (p as i32, *hi, None))
        .collect::<Vec<_>>();
    let plans = deal(args, topic, ranges, true);
    let shared = Arc::new(Shared::default());
    let barrier = Arc::new(Barrier::new(args.producers as usize + plans.len() + 1));
    let consumers = spawn_consumers(args, plans, &shared, &barrier);
    let producers = spawn_producers(args, topic, partitions, &shared, &barrier);
    let window = send_phase(
        args,
        &shared,
        producers,
        &barrier,
        args.warmup,
        broker.as_mut(),
        "end-to-end",
    );
    let c = &shared.counters;
    // Wait for the consumers to read every acknowledged message (even if sending failed).
    let acked = Counters::get(&c.acked);
    let deadline = now_ns() + args.drain_timeout.as_nanos() as u64;
    while Counters::get(&c.consumed) < acked
        && now_ns() < deadline
        && !consumers.iter().all(|h| h.is_finished())
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    shared.stop_consumers.store(true, Ordering::Relaxed);
    join_all(consumers)?;
    let window = window?;
    let (sent, failed) = (Counters::get(&c.sent), Counters::get(&c.failed));
    let consumed = Counters::get(&c.consumed);
    let errors = Counters::get(&c.consume_errors);
    let mut r = result(
        args,
        topic,
        partitions,
        window.throughput,
        Accounting {
            sent,
            acked,
            failed,
            consumed: Some(consumed),
            expected_consumed: Some(acked),
            consume_errors: errors,
            all_accounted: failed == 0
                && sent == acked
                && sent > 0
                && consumed == acked
                && errors == 0,
        },
    );
    r.produce_latency = shared.produce_latency.summary();
    r.e2e_latency = shared.e2e_latency.summary();
    r.consumed_in_window = Some(window.consumed);
    r.broker = window.broker;
    r.first_error = c.first_error();
    Ok(r)
}
