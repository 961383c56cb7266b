//! One consumer: manually assigned partitions from explicit offsets, read until told to stop or,
//! for a catch-up read, until every partition reaches its end offset.
//!
//! End-to-end latency is the receive time minus the send time the producer wrote into the
//! payload (both on CLOCK_MONOTONIC, see [`super::clock`]).

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

/// Where a read stands: the next offset of each partition and how many still have an end
/// offset to reach. A catch-up read handles a million messages a second on one core, so the
/// per-message step is an index and a compare, not a map lookup or a scan of every partition.
struct Progress {
    /// Indexed by partition id: (next offset, end offset if the read stops there).
    slots: Vec<Option<(i64, Option<i64>)>>,
    /// Partitions with an end offset not yet reached.
    unfinished: usize,
    /// Some partition reads with no end: the read never finishes on its own.
    open_ended: bool,
}

impl Progress {
    fn new(plan: &ReadPlan) -> Progress {
        let len = plan
            .partitions
            .iter()
            .map(|(p, _, _)| *p as usize + 1)
            .max()
            .unwrap_or(0);
        let mut slots = vec![None; len];
        let (mut unfinished, mut open_ended) = (0, false);
        for (p, start, end) in &plan.partitions {
            slots[*p as usize] = Some((*start, *end));
            match end {
                Some(end) if start < end => unfinished += 1,
                Some(_) => {}
                None => open_ended = true,
            }
        }
        Progress {
            slots,
            unfinished,
            open_ended,
        }
    }

    fn finished(&self) -> bool {
        !self.open_ended && self.unfinished == 0
    }

    /// Records that `offset` of `partition` was read.
    fn advance(&mut self, partition: i32, offset: i64) {
        let Some(Some((next, end))) = self.slots.get_mut(partition as usize) else {
            return;
        };
        let was_short = end.is_some_and(|end| *next < end);
        *next = (*next).max(offset + 1);
        if was_short && end.is_some_and(|end| *next >= end) {
            self.unfinished -= 1;
        }
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
    let mut progress = Progress::new(&plan);
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
    while !progress.finished() && !shared.stop_consumers.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                let value = m.payload().unwrap_or_default();
                count += 1;
                bytes += value.len() as u64;
                progress.advance(m.partition(), m.offset());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(partitions: Vec<(i32, i64, Option<i64>)>) -> ReadPlan {
        ReadPlan {
            topic: "t".to_string(),
            partitions,
            record_e2e: false,
        }
    }

    #[test]
    fn finishes_when_every_partition_reaches_its_end() {
        let mut p = Progress::new(&plan(vec![(0, 0, Some(2)), (3, 5, Some(6))]));
        assert!(!p.finished());
        p.advance(0, 0);
        p.advance(3, 5);
        assert!(!p.finished(), "partition 0 has offset 1 left");
        p.advance(0, 1);
        assert!(p.finished());
        // A re-read or an unplanned partition changes nothing.
        p.advance(0, 1);
        p.advance(7, 100);
        assert!(p.finished());
    }

    #[test]
    fn an_empty_range_is_finished_from_the_start() {
        assert!(Progress::new(&plan(vec![(0, 4, Some(4)), (1, 9, Some(3))])).finished());
    }

    #[test]
    fn an_open_ended_read_never_finishes_by_itself() {
        let mut p = Progress::new(&plan(vec![(0, 0, Some(1)), (1, 0, None)]));
        p.advance(0, 0);
        p.advance(1, 1_000_000);
        assert!(!p.finished());
    }
}
