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
mod window;
mod workloads;

use std::sync::atomic::{AtomicBool, AtomicU64};

use anyhow::{bail, Context as _};

use args::{Args, Workload};
use stats::{Counters, Latency};
use window::BrokerWatch;

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
        Workload::Produce => workloads::produce(&args, &topic, partitions, broker)?,
        Workload::Consume => workloads::consume(&args, &topic, partitions, broker)?,
        Workload::EndToEnd => workloads::end_to_end(&args, &topic, partitions, broker)?,
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
