//! One v2 consumer instance: a librdkafka consumer in a consumer group plus the little state the
//! REST API adds (embedded format, a record held back by `max_bytes`, idle time).
//!
//! Every method here blocks (librdkafka calls that wait on the broker) and is meant to run on
//! Tokio's blocking pool. Calls on one instance are serialized by its lock, as Confluent's
//! synchronized consumer state does.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::error::ApiError;

use super::payload::Format;
use super::ProxyClientContext;

type ProxyConsumer = BaseConsumer<ProxyClientContext>;

/// How long a commit, committed-offsets lookup or seek may wait for the broker.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings from the create request, already validated.
pub struct Settings {
    pub bootstrap: String,
    pub group: String,
    pub name: String,
    pub format: Format,
    pub auto_offset_reset: Option<String>,
    pub auto_commit: Option<bool>,
    pub fetch_min_bytes: Option<usize>,
    pub request_timeout: Duration,
}

/// A fetched record, before conversion to the instance's embedded format.
pub struct Rec {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

impl Rec {
    fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len) + self.value.as_ref().map_or(0, Vec::len)
    }
}

pub struct Instance {
    pub group: String,
    pub name: String,
    pub format: Format,
    pub request_timeout: Duration,
    fetch_min_bytes: Option<usize>,
    last_used: Mutex<Instant>,
    inner: Mutex<Inner>,
}

struct Inner {
    /// `None` once closed: a request that raced with DELETE finds no consumer.
    consumer: Option<ProxyConsumer>,
    /// Partitions were assigned by hand (`/assignments`), not by the group.
    manual: bool,
    /// The record that did not fit under the last request's `max_bytes`; returned first next time.
    held: Option<Rec>,
}

/// A librdkafka error as a Confluent error answer.
pub fn kafka_error(context: &str, e: KafkaError) -> ApiError {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownPartition) => {
            ApiError::not_found(40403, format!("{context}: {e}"))
        }
        Some(RDKafkaErrorCode::InvalidArgument | RDKafkaErrorCode::OffsetOutOfRange) => {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                42202,
                format!("{context}: {e}"),
            )
        }
        Some(RDKafkaErrorCode::State | RDKafkaErrorCode::IllegalGeneration) => {
            ApiError::new(StatusCode::CONFLICT, 40903, format!("{context}: {e}"))
        }
        _ => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            50002,
            format!("{context}: {e}"),
        ),
    }
}

fn mutually_exclusive() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        40903,
        "Subscription to topics, partitions and pattern are mutually exclusive.",
    )
}

fn closed() -> ApiError {
    ApiError::not_found(40403, "Consumer instance not found.")
}

fn partition_list(partitions: &[(String, i32)]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    tpl
}

impl Instance {
    pub fn create(s: Settings) -> Result<Instance, ApiError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &s.bootstrap)
            .set("group.id", &s.group)
            .set("client.id", format!("rest-{}", s.name))
            // Offsets are stored only for records handed to the HTTP client, so an (auto)commit
            // never covers a record the client has not seen.
            .set("enable.auto.offset.store", "false");
        if let Some(reset) = &s.auto_offset_reset {
            // Kafka's "none" is librdkafka's "error".
            let reset = if reset == "none" { "error" } else { reset };
            config.set("auto.offset.reset", reset);
        }
        if let Some(auto_commit) = s.auto_commit {
            config.set("enable.auto.commit", auto_commit.to_string());
        }
        if let Some(min) = s.fetch_min_bytes {
            config.set("fetch.min.bytes", min.max(1).to_string());
        }
        let consumer: ProxyConsumer = config
            .create_with_context(ProxyClientContext)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 42204, e.to_string()))?;
        Ok(Instance {
            group: s.group,
            name: s.name,
            format: s.format,
            request_timeout: s.request_timeout,
            fetch_min_bytes: s.fetch_min_bytes,
            last_used: Mutex::new(Instant::now()),
            inner: Mutex::new(Inner {
                consumer: Some(consumer),
                manual: false,
                held: None,
            }),
        })
    }

    pub fn touch(&self) {
        *self.last_used.lock() = Instant::now();
    }

    pub fn idle_for(&self) -> Duration {
        self.last_used.lock().elapsed()
    }

    /// Leaves the group and frees the client (blocks while librdkafka closes).
    pub fn close(&self) {
        let consumer = self.inner.lock().consumer.take();
        drop(consumer);
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&ProxyConsumer, &mut bool, &mut Option<Rec>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut inner = self.inner.lock();
        let Inner {
            consumer,
            manual,
            held,
        } = &mut *inner;
        let consumer = consumer.as_ref().ok_or_else(closed)?;
        f(consumer, manual, held)
    }

    pub fn subscribe(&self, topics: &[String], pattern: Option<&str>) -> Result<(), ApiError> {
        self.with(|c, manual, held| {
            if *manual {
                return Err(mutually_exclusive());
            }
            // librdkafka takes a regular expression as a topic name starting with '^'.
            let pattern = pattern.map(|p| {
                if p.starts_with('^') {
                    p.to_string()
                } else {
                    format!("^{p}")
                }
            });
            let names: Vec<&str> = match &pattern {
                Some(p) => vec![p.as_str()],
                None => topics.iter().map(String::as_str).collect(),
            };
            *held = None;
            c.subscribe(&names)
                .map_err(|e| kafka_error("cannot subscribe", e))
        })
    }

    pub fn subscription(&self) -> Result<Vec<String>, ApiError> {
        self.with(|c, _, _| {
            let tpl = c
                .subscription()
                .map_err(|e| kafka_error("cannot read the subscription", e))?;
            Ok(tpl
                .elements()
                .iter()
                .map(|e| e.topic().to_string())
                .collect())
        })
    }

    pub fn unsubscribe(&self) -> Result<(), ApiError> {
        self.with(|c, manual, held| {
            *held = None;
            if *manual {
                *manual = false;
                c.unassign().map_err(|e| kafka_error("cannot unassign", e))
            } else {
                c.unsubscribe();
                Ok(())
            }
        })
    }

    pub fn assign(&self, partitions: &[(String, i32)]) -> Result<(), ApiError> {
        self.with(|c, manual, held| {
            let subscribed = c.subscription().map(|t| t.count() > 0).unwrap_or(false);
            if subscribed {
                return Err(mutually_exclusive());
            }
            *held = None;
            c.assign(&partition_list(partitions))
                .map_err(|e| kafka_error("cannot assign", e))?;
            *manual = true;
            Ok(())
        })
    }

    pub fn assignment(&self) -> Result<Vec<(String, i32)>, ApiError> {
        self.with(|c, _, _| {
            let tpl = c
                .assignment()
                .map_err(|e| kafka_error("cannot read the assignment", e))?;
            Ok(tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect())
        })
    }

    /// Moves the fetch positions of assigned partitions.
    pub fn seek(&self, targets: &[(String, i32, Offset)]) -> Result<(), ApiError> {
        self.with(|c, manual, held| {
            *held = None;
            let assigned = c
                .assignment()
                .map_err(|e| kafka_error("cannot read the assignment", e))?;
            for (t, p, _) in targets {
                if assigned.find_partition(t, *p).is_none() {
                    return Err(unassigned(t, *p));
                }
            }
            for (t, p, offset) in targets {
                // librdkafka resolves a logical offset (beginning, end) asynchronously, and a
                // later seek can lose the race against that lookup; resolving it here first
                // makes every seek an absolute one, applied in order.
                let offset = &match offset {
                    Offset::Beginning | Offset::End => {
                        let (low, high) = c
                            .fetch_watermarks(t, *p, BROKER_TIMEOUT)
                            .map_err(|e| kafka_error("cannot read the partition's offsets", e))?;
                        Offset::Offset(if *offset == Offset::Beginning {
                            low
                        } else {
                            high
                        })
                    }
                    other => *other,
                };
                match c.seek(t, *p, *offset, BROKER_TIMEOUT) {
                    Ok(()) => {}
                    // A partition assigned by hand whose fetcher has not started yet cannot be
                    // sought; assigning it again with the offset has the same effect.
                    Err(_) if *manual => {
                        let mut tpl = TopicPartitionList::new();
                        for e in assigned.elements() {
                            let o = if e.topic() == t && e.partition() == *p {
                                *offset
                            } else {
                                e.offset()
                            };
                            tpl.add_partition_offset(e.topic(), e.partition(), o)
                                .map_err(|e| kafka_error("cannot seek", e))?;
                        }
                        c.assign(&tpl).map_err(|e| kafka_error("cannot seek", e))?;
                    }
                    Err(e) => return Err(kafka_error("cannot seek", e)),
                }
            }
            Ok(())
        })
    }

    /// Commits `offsets` (each the last consumed offset, so offset + 1 is stored, as Confluent
    /// does), or with `None` every record handed out so far.
    pub fn commit(&self, offsets: Option<&[(String, i32, i64)]>) -> Result<(), ApiError> {
        self.with(|c, _, _| match offsets {
            None => match c.commit_consumer_state(CommitMode::Sync) {
                // Nothing consumed since the last commit: nothing to do.
                Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
                other => other.map_err(|e| kafka_error("cannot commit", e)),
            },
            Some([]) => Ok(()),
            Some(list) => {
                let mut tpl = TopicPartitionList::new();
                for (topic, partition, offset) in list {
                    let next = offset.checked_add(1).filter(|o| *o >= 0).ok_or_else(|| {
                        ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            42202,
                            format!("invalid offset {offset}"),
                        )
                    })?;
                    tpl.add_partition_offset(topic, *partition, Offset::Offset(next))
                        .map_err(|e| kafka_error("cannot commit", e))?;
                }
                c.commit(&tpl, CommitMode::Sync)
                    .map_err(|e| kafka_error("cannot commit", e))
            }
        })
    }

    /// The group's committed offsets for `partitions`; partitions without one are left out.
    pub fn committed(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<(String, i32, i64, String)>, ApiError> {
        self.with(|c, _, _| {
            let tpl = c
                .committed_offsets(partition_list(partitions), BROKER_TIMEOUT)
                .map_err(|e| kafka_error("cannot read committed offsets", e))?;
            Ok(tpl
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) => Some((
                        e.topic().to_string(),
                        e.partition(),
                        o,
                        e.metadata().to_string(),
                    )),
                    _ => None,
                })
                .collect())
        })
    }

    /// Fetches records for at most `timeout`: returns once `fetch.min.bytes` (or, without it, any
    /// record) has arrived and nothing more is ready at once, or at the deadline; never more
    /// than `max_bytes` of keys and values unless a single record is larger.
    pub fn records(&self, timeout: Duration, max_bytes: usize) -> Result<Vec<Rec>, ApiError> {
        let min_bytes = self.fetch_min_bytes.unwrap_or(1).max(1);
        self.with(|c, _, held| {
            let deadline = Instant::now() + timeout;
            let mut out: Vec<Rec> = Vec::new();
            let mut bytes = 0usize;
            let take = |rec: Rec, out: &mut Vec<Rec>, bytes: &mut usize| {
                // Stored offsets are what auto-commit and an empty commit request commit
                // (librdkafka's legacy offset store commits the stored offset + 1).
                let _ = c.store_offset(&rec.topic, rec.partition, rec.offset);
                *bytes += rec.size();
                out.push(rec);
            };
            if let Some(rec) = held.take() {
                take(rec, &mut out, &mut bytes);
            }
            while bytes < max_bytes {
                let satisfied = !out.is_empty() && bytes >= min_bytes;
                let wait = if satisfied {
                    Duration::ZERO
                } else {
                    deadline.saturating_duration_since(Instant::now())
                };
                match c.poll(wait) {
                    Some(Ok(m)) => {
                        let rec = Rec {
                            topic: m.topic().to_string(),
                            partition: m.partition(),
                            offset: m.offset(),
                            key: m.key().map(<[u8]>::to_vec),
                            value: m.payload().map(<[u8]>::to_vec),
                        };
                        if !out.is_empty() && bytes + rec.size() > max_bytes {
                            *held = Some(rec);
                            break;
                        }
                        take(rec, &mut out, &mut bytes);
                    }
                    Some(Err(e)) => {
                        // "No committed offset and auto.offset.reset=none" and the like.
                        if out.is_empty() && !is_transient(&e) {
                            return Err(kafka_error("cannot fetch", e));
                        }
                        tracing::debug!(error = %e, "REST consumer poll");
                        if Instant::now() >= deadline {
                            break;
                        }
                    }
                    None => {
                        if satisfied || Instant::now() >= deadline {
                            break;
                        }
                    }
                }
            }
            Ok(out)
        })
    }
}

fn unassigned(topic: &str, partition: i32) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        40903,
        format!("No current assignment for partition {topic}-{partition}"),
    )
}

/// Errors a poll reports that go away by themselves (connection churn, rebalances).
fn is_transient(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::PartitionEOF
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::UnknownTopicOrPartition
        )
    )
}
