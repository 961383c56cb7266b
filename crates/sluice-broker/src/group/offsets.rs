//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, and the expiry of offsets that
//! `offsets.retention.minutes` no longer protects.
//!
//! A commit is validated against the group (generation / member epoch fencing), written to
//! `__consumer_offsets`, then applied in memory; the caller acknowledges it after the append, and
//! in durable mode after the returned partition is fsynced.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use super::{records, Committed, Group, GroupCoordinator, Kind};
use crate::background::now_ms;
use crate::broker::Broker;
use crate::error::{Code, NONE};
use crate::partition::Partition;

/// For an offset of a topic: the time its retention counts from, or `None` if it cannot expire.
type ExpiryBase = Box<dyn Fn(&str, &Committed) -> Option<i64>>;

pub struct CommitInput {
    pub group_id: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    /// Generation (classic) or member epoch (KIP-848); negative for simple/admin commits.
    pub generation_or_epoch: i32,
    /// OffsetCommit v2-v4 `retention_time_ms`; -1 means the broker's retention.
    pub retention_ms: i64,
    pub api_version: i16,
    pub topics: Vec<(String, Vec<CommitPartition>)>,
}

pub struct CommitPartition {
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// Per-topic, per-partition error codes, and the partition to fsync before answering.
pub struct CommitOutcome {
    pub results: Vec<(String, Vec<(i32, i16)>)>,
    pub flush: Option<Arc<Partition>>,
}

/// An OffsetFetch answer for one group: offsets per topic (`None`: nothing committed).
pub type Fetched = Vec<(String, Vec<(i32, Option<Committed>)>)>;

impl GroupCoordinator {
    pub fn commit_offsets(&self, broker: &Broker, mut input: CommitInput) -> CommitOutcome {
        let now_ms = now_ms();
        let mut results: Vec<(String, Vec<(i32, i16)>)> = Vec::new();
        // Partitions that pass the per-partition checks, by (result topic, result slot).
        let mut accepted: Vec<(usize, usize, String, i32, Committed)> = Vec::new();
        let expire_timestamp = (input.retention_ms >= 0).then(|| now_ms + input.retention_ms);
        for (topic, partitions) in std::mem::take(&mut input.topics) {
            let known = broker.topics.get(&topic);
            let mut codes = Vec::new();
            for p in partitions {
                let exists = known
                    .as_ref()
                    .is_some_and(|t| t.partition(p.partition).is_some());
                let code = if !exists {
                    Code::UnknownTopicOrPartition.code()
                } else if p
                    .metadata
                    .as_ref()
                    .is_some_and(|m| m.len() > self.config.offset_metadata_max_bytes)
                {
                    Code::OffsetMetadataTooLarge.code()
                } else {
                    accepted.push((
                        results.len(),
                        codes.len(),
                        topic.clone(),
                        p.partition,
                        Committed {
                            offset: p.offset,
                            leader_epoch: p.leader_epoch,
                            metadata: p.metadata.unwrap_or_default(),
                            commit_timestamp: now_ms,
                            expire_timestamp,
                        },
                    ));
                    NONE
                };
                codes.push((p.partition, code));
            }
            results.push((topic, codes));
        }
        let fail_accepted = |results: &mut Vec<(String, Vec<(i32, i16)>)>, c: Code| {
            for (ti, pi, ..) in &accepted {
                results[*ti].1[*pi].1 = c.code();
            }
        };
        if input.group_id.is_empty() {
            fail_accepted(&mut results, Code::InvalidGroupId);
            return CommitOutcome {
                results,
                flush: None,
            };
        }
        let mut groups = self.groups.lock();
        if let Err(c) = self.validate_commit(&mut groups, &input, now_ms) {
            fail_accepted(&mut results, c);
            return CommitOutcome {
                results,
                flush: None,
            };
        }
        if accepted.is_empty() {
            return CommitOutcome {
                results,
                flush: None,
            };
        }
        let records: Vec<_> = accepted
            .iter()
            .map(|(_, _, topic, partition, c)| {
                (
                    records::offset_key(&input.group_id, topic, *partition),
                    Some(records::offset_value(&records::OffsetValue {
                        offset: c.offset,
                        leader_epoch: c.leader_epoch,
                        metadata: c.metadata.clone(),
                        commit_timestamp: c.commit_timestamp,
                        expire_timestamp: c.expire_timestamp,
                    })),
                )
            })
            .collect();
        match self.write(broker, &input.group_id, &records) {
            Ok(partition) => {
                if let Some(group) = groups.get_mut(&input.group_id) {
                    for (_, _, topic, p, c) in accepted {
                        group.offsets.insert((topic, p), c);
                    }
                }
                CommitOutcome {
                    results,
                    flush: broker.config.durable.then_some(partition),
                }
            }
            Err(c) => {
                // Kafka maps log append failures of the coordinator to retriable errors.
                let c = match c {
                    Code::MessageTooLarge | Code::RecordListTooLarge => {
                        Code::InvalidCommitOffsetSize
                    }
                    Code::KafkaStorageError => Code::CoordinatorNotAvailable,
                    other => other,
                };
                fail_accepted(&mut results, c);
                CommitOutcome {
                    results,
                    flush: None,
                }
            }
        }
    }

    /// Kafka's group checks for a commit; creates a simple group for commits from outside group
    /// management (negative generation).
    pub(super) fn validate_commit(
        &self,
        groups: &mut std::collections::HashMap<String, Group>,
        input: &CommitInput,
        now_ms: i64,
    ) -> Result<(), Code> {
        if !groups.contains_key(&input.group_id) {
            if input.generation_or_epoch < 0 {
                groups.insert(input.group_id.clone(), Group::classic(now_ms));
            } else if input.api_version >= 9 {
                return Err(Code::GroupIdNotFound);
            } else {
                return Err(Code::IllegalGeneration);
            }
        }
        let group = groups
            .get_mut(&input.group_id)
            .ok_or(Code::UnknownServerError)?;
        match &mut group.kind {
            Kind::Classic(g) => g.validate_commit(
                &input.member_id,
                input.instance_id.as_deref(),
                input.generation_or_epoch,
                Instant::now(),
            ),
            Kind::Consumer(g) => g.validate_commit(
                &input.member_id,
                input.generation_or_epoch,
                input.api_version,
            ),
        }
    }

    /// OffsetFetch for one group. `topics: None` asks for every committed offset.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        member: Option<(&str, i32)>,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Fetched, Code> {
        if group_id.is_empty() {
            return Err(Code::InvalidGroupId);
        }
        let groups = self.groups.lock();
        let group = groups.get(group_id);
        match group.map(|g| &g.kind) {
            Some(Kind::Classic(g)) if g.state == super::classic::ClassicState::Dead => {
                return Err(Code::GroupIdNotFound)
            }
            Some(Kind::Consumer(g)) => g.validate_fetch(member)?,
            _ => {}
        }
        let lookup = |topic: &str, p: i32| -> Option<Committed> {
            group.and_then(|g| g.offsets.get(&(topic.to_string(), p)).cloned())
        };
        Ok(match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(t, ps)| {
                    let offsets = ps.into_iter().map(|p| (p, lookup(&t, p))).collect();
                    (t, offsets)
                })
                .collect(),
            None => {
                let mut out: Fetched = Vec::new();
                if let Some(g) = group {
                    for ((t, p), c) in &g.offsets {
                        match out.last_mut() {
                            Some((last, v)) if last == t => v.push((*p, Some(c.clone()))),
                            _ => out.push((t.clone(), vec![(*p, Some(c.clone()))])),
                        }
                    }
                }
                out
            }
        })
    }

    /// OffsetDelete: a group-level error, or per-partition codes and the partition to fsync.
    #[allow(clippy::type_complexity)]
    pub fn delete_offsets(
        &self,
        broker: &Broker,
        group_id: &str,
        topics: Vec<(String, Vec<i32>)>,
    ) -> Result<(Vec<(String, Vec<(i32, i16)>)>, Option<Arc<Partition>>), Code> {
        if group_id.is_empty() {
            return Err(Code::InvalidGroupId);
        }
        let mut groups = self.groups.lock();
        let group = groups.get_mut(group_id).ok_or(Code::GroupIdNotFound)?;
        let subscribed: HashSet<String> = match &group.kind {
            Kind::Classic(g) => match g.state {
                super::classic::ClassicState::Dead => return Err(Code::GroupIdNotFound),
                super::classic::ClassicState::Empty => HashSet::new(),
                _ => g.subscribed_topics().ok_or(Code::NonEmptyGroup)?,
            },
            Kind::Consumer(g) => g.subscribed_topics(),
        };
        let mut results = Vec::new();
        let mut doomed = Vec::new();
        for (topic, partitions) in topics {
            let known = broker.topics.get(&topic);
            let codes = partitions
                .into_iter()
                .map(|p| {
                    let code = if known.as_ref().is_none_or(|t| t.partition(p).is_none()) {
                        Code::UnknownTopicOrPartition.code()
                    } else if subscribed.contains(&topic) {
                        Code::GroupSubscribedToTopic.code()
                    } else {
                        if group.offsets.contains_key(&(topic.clone(), p)) {
                            doomed.push((topic.clone(), p));
                        }
                        NONE
                    };
                    (p, code)
                })
                .collect();
            results.push((topic, codes));
        }
        if doomed.is_empty() {
            return Ok((results, None));
        }
        let tombstones: Vec<_> = doomed
            .iter()
            .map(|(t, p)| (records::offset_key(group_id, t, *p), None))
            .collect();
        let partition = self.write(broker, group_id, &tombstones)?;
        for key in doomed {
            group.offsets.remove(&key);
        }
        Ok((results, broker.config.durable.then_some(partition)))
    }

    /// Drops offsets past retention (Kafka's rules: an empty group's offsets age from the moment it
    /// became empty, a simple group's from their commit, a stable group keeps the offsets of topics
    /// it still consumes) and deletes groups left empty with no offsets.
    pub(super) fn expire_offsets(&self, broker: &Broker) {
        let now = now_ms();
        let retention = self.config.offsets_retention_ms;
        let mut groups = self.groups.lock();
        let mut dead = Vec::new();
        for (id, group) in groups.iter_mut() {
            // Base timestamp for an offset, or None when the offset cannot expire now.
            let base: ExpiryBase = match &group.kind {
                Kind::Classic(g) => match (&g.protocol_type, g.state) {
                    (None, _) => Box::new(|_, c| Some(c.commit_timestamp)),
                    (Some(_), super::classic::ClassicState::Empty) => {
                        let ts = g.state_timestamp;
                        Box::new(move |_, c| Some(if ts > 0 { ts } else { c.commit_timestamp }))
                    }
                    (Some(_), super::classic::ClassicState::Stable) => {
                        match g.subscribed_topics() {
                            Some(subs) => Box::new(move |t, c| {
                                (!subs.contains(t)).then_some(c.commit_timestamp)
                            }),
                            None => Box::new(|_, _| None),
                        }
                    }
                    _ => Box::new(|_, _| None),
                },
                Kind::Consumer(g) => {
                    let subs = g.subscribed_topics();
                    Box::new(move |t, c| (!subs.contains(t)).then_some(c.commit_timestamp))
                }
            };
            let expired: Vec<(String, i32)> = group
                .offsets
                .iter()
                .filter(|((t, _), c)| match c.expire_timestamp {
                    Some(at) => now >= at,
                    None => base(t, c).is_some_and(|b| now.saturating_sub(b) >= retention),
                })
                .map(|(k, _)| k.clone())
                .collect();
            drop(base);
            if !expired.is_empty() {
                let tombstones: Vec<_> = expired
                    .iter()
                    .map(|(t, p)| (records::offset_key(id, t, *p), None))
                    .collect();
                if self.write(broker, id, &tombstones).is_ok() {
                    tracing::info!(group = %id, count = expired.len(), "expired committed offsets");
                    for k in expired {
                        group.offsets.remove(&k);
                    }
                }
            }
            if group.offsets.is_empty() && group.is_empty() {
                dead.push(id.clone());
            }
        }
        for id in dead {
            if let Some(group) = groups.get_mut(&id) {
                if self.delete_group_records(broker, &id, group).is_ok() {
                    if let Kind::Classic(g) = &mut group.kind {
                        g.kill(now);
                    }
                    groups.remove(&id);
                    tracing::info!(group = %id, "deleted empty group with no offsets");
                }
            }
        }
    }
}
