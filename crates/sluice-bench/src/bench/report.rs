//! The result of a run: one struct, printed for people and serialised as JSON for scripts.
//!
//! Units: MB = 10^6 bytes and GB = 10^9 bytes of message *values* (protocol and batch overhead
//! not counted); latencies in milliseconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::args::{Args, Compression, Partitioner, Workload};
use super::proc_stats::BrokerCost;
use super::progress::si;
use super::stats::LatencySummary;

#[derive(Serialize, Debug)]
pub struct BenchResult {
    pub tool: &'static str,
    pub version: &'static str,
    pub workload: Workload,
    pub bootstrap: String,
    pub topic: String,
    pub settings: Settings,
    /// The workload's own direction: produced for produce and end-to-end, consumed for consume.
    pub throughput: Throughput,
    /// The consume workload's fill phase (how the topic got its data).
    pub fill: Option<Throughput>,
    /// End-to-end: what the consumers read inside the producers' window (below `throughput` when
    /// they cannot keep up).
    pub consumed_in_window: Option<Throughput>,
    pub rate: Option<RateCheck>,
    pub messages: Accounting,
    pub produce_latency: Option<LatencySummary>,
    pub e2e_latency: Option<LatencySummary>,
    pub broker: Option<BrokerCost>,
    pub first_error: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct Settings {
    pub partitions: i32,
    pub message_size: u32,
    pub acks: i16,
    pub producers: u32,
    pub consumers: u32,
    pub compression: Compression,
    pub partitioner: Partitioner,
    pub linger_ms: u32,
    pub batch_size: u32,
    pub queue_kbytes: u32,
    pub rate: Option<f64>,
    pub duration_s: Option<f64>,
    pub messages: Option<u64>,
    pub warmup_s: f64,
    pub client_config: BTreeMap<String, String>,
    pub producer_config: BTreeMap<String, String>,
    pub consumer_config: BTreeMap<String, String>,
}

impl Settings {
    pub fn from_args(args: &Args, partitions: i32) -> Settings {
        let map = |kv: &[(String, String)]| kv.iter().cloned().collect();
        Settings {
            partitions,
            message_size: args.message_size,
            acks: args.acks,
            producers: args.producers,
            consumers: args.consumers,
            compression: args.compression,
            partitioner: args.partitioner,
            linger_ms: args.linger_ms,
            batch_size: args.batch_size,
            queue_kbytes: args.queue_kbytes,
            rate: args.rate,
            duration_s: args.send_duration().map(|d| d.as_secs_f64()),
            messages: args.messages,
            warmup_s: args.warmup.as_secs_f64(),
            client_config: map(&args.client_config),
            producer_config: map(&args.producer_config),
            consumer_config: map(&args.consumer_config),
        }
    }
}

/// Messages and value bytes moved inside a measurement window.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct Throughput {
    pub seconds: f64,
    pub messages: u64,
    pub bytes: u64,
    pub mb_per_s: f64,
    pub msgs_per_s: f64,
}

impl Throughput {
    pub fn new(seconds: f64, messages: u64, bytes: u64) -> Throughput {
        let per_s = |x: u64| {
            if seconds > 0.0 {
                x as f64 / seconds
            } else {
                0.0
            }
        };
        Throughput {
            seconds,
            messages,
            bytes,
            mb_per_s: per_s(bytes) / 1e6,
            msgs_per_s: per_s(messages),
        }
    }
}

/// Whether a fixed-rate run kept its schedule.
#[derive(Serialize, Debug)]
pub struct RateCheck {
    pub target_msgs_per_s: f64,
    pub achieved_msgs_per_s: f64,
    /// Achieved within 5 % of the target.
    pub kept: bool,
}

/// Every message of the run, warmup included.
#[derive(Serialize, Debug)]
pub struct Accounting {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub consumed: Option<u64>,
    /// What the consumers had to read: the acked count (end-to-end) or the topic's offset span.
    pub expected_consumed: Option<u64>,
    pub consume_errors: u64,
    /// sent = acked + failed with nothing failed, and every expected message consumed.
    pub all_accounted: bool,
}

impl BenchResult {
    pub fn human(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        let acks = if s.acks == -1 {
            "all".to_string()
        } else {
            s.acks.to_string()
        };
        let _ = writeln!(
            out,
            "sluice-bench {} on {} topic {}: {} partitions, {} B messages, acks={}, {} producer(s), {} consumer(s), compression {}, partitioner {}, linger.ms {}, batch.size {}, queue {} KiB{}",
            self.workload.name(),
            self.bootstrap,
            self.topic,
            s.partitions,
            s.message_size,
            acks,
            s.producers,
            s.consumers,
            s.compression.librdkafka_name(),
            s.partitioner.name(),
            s.linger_ms,
            s.batch_size,
            s.queue_kbytes,
            s.rate.map(|r| format!(", rate {r} msg/s")).unwrap_or_default(),
        );
        let t = &self.throughput;
        let _ = writeln!(
            out,
            "  throughput   {:9.1} MB/s {:>9} msg/s  ({} messages in {:.2} s)",
            t.mb_per_s,
            si(t.msgs_per_s),
            t.messages,
            t.seconds
        );
        if let Some(f) = &self.fill {
            let _ = writeln!(
                out,
                "  fill         {:9.1} MB/s {:>9} msg/s  ({} messages in {:.2} s)",
                f.mb_per_s,
                si(f.msgs_per_s),
                f.messages,
                f.seconds
            );
        }
        if let Some(c) = &self.consumed_in_window {
            let _ = writeln!(
                out,
                "  consumed     {:9.1} MB/s {:>9} msg/s  (in the same window)",
                c.mb_per_s,
                si(c.msgs_per_s)
            );
        }
        if let Some(r) = &self.rate {
            let _ = writeln!(
                out,
                "  rate         target {} msg/s, achieved {} msg/s{}",
                si(r.target_msgs_per_s),
                si(r.achieved_msgs_per_s),
                if r.kept { "" } else { "  (SCHEDULE NOT KEPT)" }
            );
        }
        let m = &self.messages;
        let _ = writeln!(
            out,
            "  messages     sent {}  acked {}  failed {}{}{}",
            m.sent,
            m.acked,
            m.failed,
            m.consumed
                .map(|c| format!(
                    "  consumed {c} of {}",
                    m.expected_consumed.unwrap_or_default()
                ))
                .unwrap_or_default(),
            if m.all_accounted {
                "  (all accounted for)"
            } else {
                "  (NOT ALL ACCOUNTED FOR)"
            }
        );
        let lat = |name: &str, l: &LatencySummary, out: &mut String| {
            let _ = writeln!(
                out,
                "  {name:<12} p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  (mean {:.3} ms, {} samples)",
                l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms, l.count
            );
        };
        if let Some(l) = &self.produce_latency {
            lat("produce ack", l, &mut out);
        }
        if let Some(l) = &self.e2e_latency {
            lat("end-to-end", l, &mut out);
        }
        if let Some(b) = &self.broker {
            let _ = writeln!(
                out,
                "  broker pid {} cpu {:.2} s ({} core-s/GB, {:.2} cores busy)  rss {:.1} MB before, {:.1} MB after, peak {:.1} MB{}",
                b.pid,
                b.cpu_seconds,
                b.cpu_seconds_per_gb
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_else(|| "-".into()),
                b.cores_busy,
                b.rss_before_mb,
                b.rss_after_mb,
                b.peak_rss_mb,
                if b.peak_reset { "" } else { " (peak since start)" }
            );
        }
        if let Some(e) = &self.first_error {
            let _ = writeln!(out, "  first error  {e}");
        }
        out
    }
}
