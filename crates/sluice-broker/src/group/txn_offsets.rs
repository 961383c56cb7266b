//! The group coordinator's side of transactional offset commits, the whole API between it and
//! the transaction coordinator ([`crate::txn`]).
//!
//! TxnOffsetCommit offsets must stay invisible to the group until their transaction commits. As
//! in Kafka they are written at once to `__consumer_offsets` as a transactional batch of the
//! producer, and the transaction's commit or abort marker (which the transaction coordinator
//! writes to the group's partition like to any other) decides them. In memory they wait in
//! `txn_pending` until [`GroupCoordinator::complete_txn_offsets`]; at start-up
//! [`super::store::OffsetsStore::load`] resolves them by the markers in the log.

use std::collections::HashSet;
use std::sync::Arc;

use super::offsets::CommitInput;
use super::records::RecordKey;
use super::{records, Committed, Group, GroupCoordinator};
use crate::background::now_ms;
use crate::broker::Broker;
use crate::error::Code;
use crate::partition::Partition;

/// Offsets of one group by (topic, partition).
pub type TxnOffsets = Vec<((String, i32), Committed)>;

impl GroupCoordinator {
    /// Whether `group_id` accepts a transactional commit from this member and generation. A
    /// commit from outside group management (negative generation) creates a simple group, as
    /// OffsetCommit does.
    pub fn validate_txn_commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), Code> {
        if group_id.is_empty() {
            return Err(Code::InvalidGroupId);
        }
        let input = CommitInput {
            group_id: group_id.to_string(),
            member_id: member_id.to_string(),
            instance_id: instance_id.map(str::to_string),
            generation_or_epoch: generation,
            retention_ms: -1,
            // Classic-protocol semantics for an unknown group (ILLEGAL_GENERATION).
            api_version: 8,
            topics: Vec::new(),
        };
        let mut groups = self.groups.lock();
        self.validate_commit(&mut groups, &input, now_ms())
    }

    /// The `__consumer_offsets` partition of `group` (creating the topic if needed): the
    /// transaction coordinator adds it to the transaction so the markers reach it.
    pub fn offsets_partition(&self, broker: &Broker, group: &str) -> Result<i32, Code> {
        self.store.partition_of(&broker.topics, group)
    }

    /// Writes a transaction's offsets for `group` to `__consumer_offsets` as a transactional
    /// batch of the producer, not yet visible. Returns the partition written, to fsync in
    /// durable mode before answering (so a PrepareCommit never outlives them in a crash).
    pub fn stage_txn_offsets(
        &self,
        broker: &Broker,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
        offsets: TxnOffsets,
    ) -> Result<Arc<Partition>, Code> {
        // The groups lock keeps this log's order the order of the changes, as for OffsetCommit.
        let _groups = self.groups.lock();
        let records: Vec<_> = offsets
            .iter()
            .map(|((topic, partition), c)| {
                (
                    records::offset_key(group_id, topic, *partition),
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
        let partition = self.store.append_as(
            &broker.topics,
            broker.config.durable,
            group_id,
            &records,
            now_ms(),
            Some((producer_id, producer_epoch)),
        )?;
        self.txn_pending
            .lock()
            .entry(producer_id)
            .or_default()
            .extend(records);
        Ok(partition)
    }

    /// The partitions of `group_id` for which a transaction that has not ended yet holds an
    /// offset. OffsetFetch with `require_stable` (KIP-447) answers UNSTABLE_OFFSET_COMMIT for
    /// them, so a consumer taking over never starts from an offset about to be replaced.
    pub fn pending_txn_partitions(&self, group_id: &str) -> HashSet<(String, i32)> {
        let pending = self.txn_pending.lock();
        pending
            .values()
            .flatten()
            .filter_map(|(key, _)| match records::decode_key(key) {
                Ok(RecordKey::Offset {
                    group,
                    topic,
                    partition,
                }) if group == group_id => Some((topic, partition)),
                _ => None,
            })
            .collect()
    }

    /// The producer's transaction ended (its markers are written): on commit its staged offsets
    /// become the groups' committed offsets; on abort they are dropped.
    pub fn complete_txn_offsets(&self, producer_id: i64, commit: bool) {
        let mut groups = self.groups.lock();
        let Some(staged) = self.txn_pending.lock().remove(&producer_id) else {
            return;
        };
        if !commit {
            return;
        }
        for (key, value) in staged {
            let (
                Ok(RecordKey::Offset {
                    group,
                    topic,
                    partition,
                }),
                Some(value),
            ) = (records::decode_key(&key), value)
            else {
                continue;
            };
            let Ok(v) = records::decode_offset_value(&value) else {
                continue;
            };
            groups
                .entry(group)
                .or_insert_with(|| Group::classic(now_ms()))
                .offsets
                .insert(
                    (topic, partition),
                    Committed {
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata,
                        commit_timestamp: v.commit_timestamp,
                        expire_timestamp: v.expire_timestamp,
                    },
                );
        }
    }
}
