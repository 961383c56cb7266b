//! One consumer: manually assigned partitions from explicit offsets, read until told to stop or,
//! for a catch-up read, until every partition reaches its end offset.
//!
//! End-to-end latency is the receive time minus the send time the producer wrote into the
//! payload (both on CLOCK_MONOTONIC, see [`super::clock`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::args::Args;
use super::clients::{consumer, LoggingContext};
use super::clock::now_ns;
use super::payload::send_time;
use super::stats::{Counters, LocalLatency};
use super::Shared;

/// What one consumer reads.
pub struct ReadPlan {
    pub topic: String,
    /// (partition, first offset, end offset if the read stops there).
    pub partitions: Vec<(i32, i64, Option<i64>)>,
    /// Record end-to-end latency from payload timestamps.
    pub record_e2e: bool,
}

impl ReadPlan {
    fn finished(&self, next: &HashMap<i32, i64>) -> bool {
        self.partitions.iter().all(|(p, start, end)| match end {
            Some(end) => next.get(p).copied().unwrap_or(*start) >= *end,
            None => false,
        })
    }
}

fn connect(args: &Args, topic: &str) -> anyhow::Result<BaseConsumer<LoggingContext>> {
    let consumer = consumer(args)?;
    // Connect now, not on the first (timed) fetch.
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("consumer metadata for {topic}"))?;
    Ok(consumer)
}

/// Connects, meets the other workers at `barrier` (twice: ready, then go), then reads per `plan`
/// until it is finished or `shared.stop_consumers` is set.
pub fn run(
    args: &Args,
    plan: ReadPlan,
    shared: Arc<Shared>,
    barrier: &Barrier,
) -> anyhow::Result<()> {
    // Reach the barrier even on failure, or the other workers would wait forever.
    let connected = connect(args, &plan.topic);
    barrier.wait();
    barrier.wait();
    let consumer = connected?;
    let mut tpl = TopicPartitionList::new();
    for (p, start, _) in &plan.partitions {
        tpl.add_partition_offset(&plan.topic, *p, Offset::Offset(*start))
            .context("building the assignment")?;
    }
    consumer.assign(&tpl).context("assigning partitions")?;
    let c = &shared.counters;
    let mut local = LocalLatency::default();
    let mut next: HashMap<i32, i64> = HashMap::new();
    // Fixed before any worker starts.
    let window_start = shared.window_start_ns.load(Ordering::Relaxed);
    // Per-message bookkeeping stays in locals and reaches the shared counters every FLUSH_EVERY
    // messages: at a million messages a second, atomics and a clock read per message cost the
    // consumer (the bottleneck of a catch-up read) a tenth of its speed.
    const FLUSH_EVERY: u64 = 256;
    let (mut count, mut bytes) = (0u64, 0u64);
    let publish = |count: &mut u64, bytes: &mut u64, now: u64| {
        Counters::add(&c.consumed, *count);
        Counters::add(&c.consumed_bytes, *bytes);
        c.last_consumed_ns.fetch_max(now, Ordering::Relaxed);
        (*count, *bytes) = (0, 0);
    };
    while !plan.finished(&next) && !shared.stop_consumers.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                let value = m.payload().unwrap_or_default();
                count += 1;
                bytes += value.len() as u64;
                next.insert(m.partition(), m.offset() + 1);
                if plan.record_e2e {
                    let now = now_ns();
                    // Messages sent during the warmup stay out of the histogram.
                    if let Some(sent) = send_time(value).filter(|t| *t >= window_start) {
                        local.record_ns(now.saturating_sub(sent));
                    }
                    publish(&mut count, &mut bytes, now);
                } else if count >= FLUSH_EVERY {
                    publish(&mut count, &mut bytes, now_ns());
                }
            }
            Some(Err(e)) => {
                Counters::add(&c.consume_errors, 1);
                c.note_error(format!("consume: {e}"));
            }
        }
    }
    // The read ends with the last message: its time is the end of the measured window.
    if count > 0 {
        publish(&mut count, &mut bytes, now_ns());
    }
    shared.e2e_latency.merge(&local);
    Ok(())
}
