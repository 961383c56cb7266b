//! The broker's idle footprint: how much memory a fresh `sluice serve` holds once it has served
//! a client, and how quickly it starts.
//!
//! Why: Sluice promises to be a small single binary that starts instantly, unlike a JVM broker.
//! Resident memory is read from /proc after a real client (librdkafka) has connected and been
//! answered a Metadata request, so the number includes the connection path, not just `main`.
//! Start-up time is asserted from the broker's own `startup_ms` log field (measured inside the
//! process, so stable); the spawn-to-accept time seen from outside is only printed and given a
//! generous sanity bound, because wall-clock bounds are flaky on a shared machine.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::{wait_until, Broker, WAIT};
use rdkafka::consumer::Consumer;

/// Idle resident memory a fresh broker may use.
const MAX_IDLE_RSS_BYTES: u64 = 30 * 1024 * 1024;
/// Start-up time the broker may report for an empty data directory.
const MAX_STARTUP_MS: u64 = 100;
/// Spawn-to-accept bound seen from outside: only catches gross regressions.
const SPAWN_TO_ACCEPT_SANITY: Duration = Duration::from_secs(2);

/// VmRSS of a process in bytes, from /proc/<pid>/status.
fn resident_bytes(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status:\n{status}"));
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("parsing `{line}`: {e}"));
    kib * 1024
}

/// The log without terminal colour codes (tracing may add them even when writing to a file).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequence: ESC [ parameters final-byte(@..~).
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `startup_ms` of the (first) "sluice is ready" line, once it is logged.
fn logged_startup_ms(broker: &Broker) -> u64 {
    wait_until(WAIT, "the \"sluice is ready\" log line", || {
        let log = strip_ansi(&broker.log_tail(64 * 1024));
        let line = log.lines().find(|l| l.contains("sluice is ready"))?;
        let value = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("startup_ms="))?;
        Some(
            value
                .parse::<u64>()
                .unwrap_or_else(|e| panic!("startup_ms in `{line}`: {e}")),
        )
    })
}

#[test]
fn fresh_broker_idles_under_30_mb_resident_after_serving_metadata() {
    let broker = Broker::start();
    let pid = broker.pid().expect("broker is running");
    // A real client: connect, ApiVersions, Metadata; then let go of it.
    {
        let consumer = broker.consumer();
        let md = consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("Metadata: {e}"));
        assert_eq!(
            md.brokers().len(),
            1,
            "a single-node cluster lists one broker"
        );
    }
    let rss = resident_bytes(pid);
    eprintln!(
        "idle VmRSS after a Metadata request: {:.1} MiB",
        rss as f64 / 1048576.0
    );
    assert!(
        rss < MAX_IDLE_RSS_BYTES,
        "idle resident memory {rss} bytes exceeds {MAX_IDLE_RSS_BYTES} bytes"
    );
}

#[test]
fn fresh_broker_reports_startup_under_100_ms() {
    // The best of three fresh starts: on a shared 2-core machine one start can lose its CPU to a
    // neighbour for longer than the whole start-up takes, which says nothing about Sluice.
    let mut best = u64::MAX;
    for _ in 0..3 {
        let spawned = Instant::now();
        let broker = Broker::start();
        let spawn_to_accept = spawned.elapsed();
        let startup_ms = logged_startup_ms(&broker);
        eprintln!("spawn to accepting connections: {spawn_to_accept:?}; broker-reported startup_ms={startup_ms}");
        assert!(
            spawn_to_accept < SPAWN_TO_ACCEPT_SANITY,
            "spawn to accepting connections took {spawn_to_accept:?} (sanity bound {SPAWN_TO_ACCEPT_SANITY:?})"
        );
        best = best.min(startup_ms);
    }
    assert!(
        best < MAX_STARTUP_MS,
        "broker reports startup_ms={best} at best of 3, expected < {MAX_STARTUP_MS}"
    );
}
