//! One producer: a sending thread plus librdkafka's delivery-report thread.
//!
//! The sender either sends as fast as librdkafka accepts, or follows a fixed schedule where
//! message k is *intended* to leave at `start + k / rate`. Both the payload timestamp and the
//! latency clock start at the intended time, so when the sender falls behind (the broker stalls,
//! the client queue is full) the wait is counted instead of silently postponing the schedule:
//! no coordinated omission.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;

use super::args::Args;
use super::clients::{producer_config, LoggingContext};
use super::clock::{now_ns, sleep_until};
use super::payload::Payload;
use super::stats::Counters;
use super::Shared;

/// What one producer sends.
#[derive(Clone)]
pub struct SendPlan {
    pub topic: String,
    /// Spread messages round-robin over this many partitions; `None` leaves the choice to the
    /// client's partitioner (keyless records).
    pub partitions: Option<i32>,
    /// This producer's index among `producers`.
    pub index: u32,
    pub producers: u32,
    /// This producer's share of --messages.
    pub messages: Option<u64>,
    /// This producer's share of --rate, in messages per second.
    pub rate: Option<f64>,
    pub message_size: u32,
    /// How long the final flush may wait for outstanding acknowledgements.
    pub flush_timeout: Duration,
}

/// Delivery reports land here, on librdkafka's polling thread.
struct Reports {
    shared: Arc<Shared>,
    message_size: u64,
    log: LoggingContext,
}

impl ClientContext for Reports {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.log.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason);
    }
}

impl ProducerContext for Reports {
    /// The message's send time on [`now_ns`]'s clock (intended time in fixed-rate mode).
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, send_ns: usize) {
        let now = now_ns();
        let c = &self.shared.counters;
        match result {
            Ok(_) => {
                Counters::add(&c.acked, 1);
                Counters::add(&c.acked_bytes, self.message_size);
                c.last_ack_ns.fetch_max(now, Ordering::Relaxed);
                if send_ns as u64 >= self.shared.window_start_ns.load(Ordering::Relaxed) {
                    self.shared
                        .produce_latency
                        .record_ns(now.saturating_sub(send_ns as u64));
                }
            }
            Err((e, _)) => {
                Counters::add(&c.failed, 1);
                c.note_error(format!("delivery failed: {e}"));
            }
        }
    }
}

fn connect(
    args: &Args,
    plan: &SendPlan,
    shared: &Arc<Shared>,
) -> anyhow::Result<ThreadedProducer<Reports>> {
    let reports = Reports {
        shared: shared.clone(),
        message_size: plan.message_size as u64,
        log: LoggingContext { role: "producer" },
    };
    let producer: ThreadedProducer<Reports> = producer_config(args)
        .create_with_context(reports)
        .context("creating a producer")?;
    // Connect and learn the partition leaders now, not on the first (timed) message.
    producer
        .client()
        .fetch_metadata(Some(&plan.topic), Duration::from_secs(10))
        .with_context(|| format!("producer metadata for {}", plan.topic))?;
    Ok(producer)
}

/// Connects, meets the other workers at `barrier` (twice: ready, then go), sends per `plan`, then
/// waits for every acknowledgement (or `plan.flush_timeout`).
pub fn run(
    args: &Args,
    plan: SendPlan,
    shared: Arc<Shared>,
    barrier: &Barrier,
) -> anyhow::Result<()> {
    // Reach the barrier even on failure, or the other workers would wait forever.
    let connected = connect(args, &plan, &shared);
    barrier.wait();
    barrier.wait();
    let producer = connected?;
    let start_ns = shared.start_ns.load(Ordering::Relaxed);
    let stop_at_ns = shared.stop_at_ns.load(Ordering::Relaxed);
    let mut payload = Payload::new(plan.message_size as usize, plan.index as u64 + 1);
    let interval_ns = plan.rate.map(|r| 1e9 / r);
    // Linux lets a sleep overrun by the thread's timer slack (50 µs by default); at tens of
    // thousands of messages per second the schedule needs the wake-ups on time, and the short
    // queue-full back-off below must not turn into a long one.
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong) };
    let counters = &shared.counters;
    let mut k: u64 = 0;
    loop {
        if plan.messages.is_some_and(|max| k >= max) {
            break;
        }
        // One clock read per message: at full speed the intended time is now.
        let now = now_ns();
        let intended = match interval_ns {
            Some(iv) => start_ns + (k as f64 * iv) as u64,
            None => now,
        };
        if intended >= stop_at_ns || now >= stop_at_ns {
            break;
        }
        if interval_ns.is_some() {
            sleep_until(intended);
        }
        let sequence = ((plan.index as u64) << 48) | k;
        let value = payload.stamp(intended, sequence);
        let mut record =
            BaseRecord::<(), [u8], usize>::with_opaque_to(&plan.topic, intended as usize)
                .payload(value);
        if let Some(partitions) = plan.partitions {
            let n = k * plan.producers as u64 + plan.index as u64;
            record = record.partition((n % partitions as u64) as i32);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // The client's queue is full: the broker is the bottleneck. Wait for acks,
                    // briefly: the queue is a few milliseconds deep (--queue-kbytes), so a long
                    // back-off would let it drain and leave the connection idle.
                    record = r;
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err((e, _)) => {
                    Counters::add(&counters.failed, 1);
                    counters.note_error(format!("send refused: {e}"));
                    break;
                }
            }
        }
        Counters::add(&counters.sent, 1);
        k += 1;
    }
    if let Err(e) = producer.flush(plan.flush_timeout) {
        counters.note_error(format!(
            "producer {}: not every message was acknowledged within {:?}: {e}",
            plan.index, plan.flush_timeout
        ));
    }
    // Dropping the producer purges what is left; those reports count as failures.
    drop(producer);
    Ok(())
}
