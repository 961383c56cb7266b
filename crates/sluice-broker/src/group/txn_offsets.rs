//! The group coordinator's side of transactional offset commits, the whole API between it and
//! the transaction coordinator ([`crate::txn`]).
//!
//! TxnOffsetCommit offsets must stay invisible to the group until their transaction commits, so
//! the transaction coordinator stages them itself: it asks here whether the group accepts the
//! commit (the same member and generation checks as OffsetCommit) and, when the transaction
//! commits, hands the offsets here to be written to `__consumer_offsets` and applied.

use std::sync::Arc;

use super::offsets::CommitInput;
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

    /// Makes a committed transaction's offsets visible: writes them to `__consumer_offsets` and
    /// applies them. Returns the partition written, to fsync in durable mode.
    pub fn apply_txn_offsets(
        &self,
        broker: &Broker,
        group_id: &str,
        offsets: TxnOffsets,
    ) -> Result<Arc<Partition>, Code> {
        let mut groups = self.groups.lock();
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
        let partition = self.write(broker, group_id, &records)?;
        let group = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::classic(now_ms()));
        group.offsets.extend(offsets);
        Ok(partition)
    }
}
