//! The three workloads: produce, consume (fill, then catch-up read) and end-to-end, each turned
//! into a [`BenchResult`] with every message accounted for.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use super::args::Args;
use super::clients;
use super::clock::{now_ns, secs};
use super::progress::Progress;
use super::report::{Accounting, BenchResult, RateCheck, Settings, Throughput};
use super::stats::Counters;
use super::window::{deal, join_all, send_phase, spawn_consumers, spawn_producers, BrokerWatch};
use super::Shared;

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

pub(super) fn produce(
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

pub(super) fn consume(
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

pub(super) fn end_to_end(
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
