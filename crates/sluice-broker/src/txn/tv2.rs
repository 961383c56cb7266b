//! Transactions v2 (KIP-890 part 2), used by clients that see `transaction.version=2` finalized
//! in ApiVersions (the Java client 4.x):
//! - Produce v12+ adds the partition to the transaction itself (no AddPartitionsToTxn round
//!   trip), beginning the transaction with its first write;
//! - TxnOffsetCommit v5 adds the group's `__consumer_offsets` partition (no AddOffsetsToTxn);
//! - EndTxn v5 bumps the producer epoch at every commit or abort: the markers are written at the
//!   new epoch, which fences any write of the ended transaction still in flight, and the answer
//!   carries the producer id and epoch for the next transaction. An exhausted epoch moves the
//!   transactional id to a new producer id. A retried EndTxn is recognised by its old epoch, and
//!   an abort with no transaction open just bumps the epoch (how a client recovers from an
//!   abortable error).
//!
//! Durable mode: an implicit add is appended to `__transaction_state` before the data it
//! covers, so a process crash keeps both; unlike AddPartitionsToTxn it is not fsynced first.

use std::sync::Arc;

use super::state::{TxnMetadata, TxnState};
use super::{check_producer, TransactionCoordinator};
use crate::background::now_ms;
use crate::broker::Broker;
use crate::error::Code;
use crate::partition::Partition;

/// Epochs at or above this are exhausted: the next end of a transaction moves the
/// transactional id to a new producer id (Kafka's `isProducerEpochExhausted`).
const EXHAUSTED_EPOCH: i16 = i16::MAX - 1;

/// What EndTxn v5 must do after its first step.
enum EndStep {
    /// A retry of an EndTxn that already ended: answer with the current id and epoch.
    Done((i64, i16)),
    /// The Prepare state is recorded (in that partition): write markers, complete.
    Complete(Arc<Partition>),
    /// A retry that found the end still in progress: complete it.
    Resume,
}

impl TransactionCoordinator {
    /// Adds `partitions` to `m`'s transaction (beginning one if none is open) and records it;
    /// the partition written, if anything changed. Under the caller's `txns` lock.
    pub(crate) fn add_locked(
        &self,
        broker: &Broker,
        id: &str,
        m: &mut TxnMetadata,
        partitions: &[(String, i32)],
    ) -> Result<Option<Arc<Partition>>, Code> {
        if m.state.is_preparing() {
            return Err(Code::ConcurrentTransactions);
        }
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            return Ok(None);
        }
        let now = now_ms();
        let mut next = m.clone();
        next.ensure_ongoing(now);
        next.partitions.extend(partitions.iter().cloned());
        next.last_update_ms = now;
        let p = self.persist(broker, id, &next)?;
        *m = next;
        Ok(Some(p))
    }

    /// Produce v12+: a transactional batch of `producer_id` at `producer_epoch` joins its
    /// transaction on `topic`/`partition`. An older epoch is the log's INVALID_PRODUCER_EPOCH; a
    /// producer id no transactional id owns cannot write transactionally.
    pub fn add_from_produce(
        &self,
        broker: &Broker,
        producer_id: i64,
        producer_epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), Code> {
        let mut txns = self.txns.lock();
        let id = self.by_producer.lock().get(&producer_id).cloned();
        let Some((id, m)) = id.and_then(|id| txns.get_mut(&id).map(|m| (id, m))) else {
            return Err(Code::InvalidTxnState);
        };
        if producer_epoch < m.producer_epoch {
            return Err(Code::InvalidProducerEpoch);
        }
        if producer_epoch != m.producer_epoch {
            return Err(Code::ProducerFenced);
        }
        match self.add_locked(broker, &id, m, &[(topic.to_string(), partition)]) {
            Ok(_) => Ok(()),
            // Retriable for the producer: the previous transaction is still being ended.
            Err(Code::ConcurrentTransactions) => Err(Code::NotEnoughReplicas),
            Err(c) => Err(c),
        }
    }

    /// EndTxn v5: ends the transaction at a bumped epoch and returns the producer id and epoch
    /// the client continues with.
    pub async fn end_txn_v2(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(i64, i16), Code> {
        match self.prepare_end_v2(broker, id, producer_id, producer_epoch, commit)? {
            EndStep::Done(result) => return Ok(result),
            EndStep::Complete(written) => {
                Self::sync(broker, vec![written]).await?;
                self.complete(broker, id).await?;
            }
            EndStep::Resume => self.complete(broker, id).await?,
        }
        self.rotate_if_exhausted(broker, id).await
    }

    fn prepare_end_v2(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<EndStep, Code> {
        let mut txns = self.txns.lock();
        let m = txns.get_mut(id).ok_or(Code::InvalidProducerIdMapping)?;
        let (preparing, completed) = if commit {
            (TxnState::PrepareCommit, TxnState::CompleteCommit)
        } else {
            (TxnState::PrepareAbort, TxnState::CompleteAbort)
        };
        let retry = m.producer_id == producer_id
            && producer_epoch as i32 + 1 == m.producer_epoch as i32
            && (m.state == preparing || m.state == completed);
        if retry {
            return Ok(if m.state == completed {
                EndStep::Done((m.producer_id, m.producer_epoch))
            } else {
                EndStep::Resume
            });
        }
        check_producer(m, producer_id, producer_epoch)?;
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {}
            // Nothing open: an abort only bumps the epoch.
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false) => {}
            (s, _) if s.is_preparing() => return Err(Code::ConcurrentTransactions),
            _ => return Err(Code::InvalidTxnState),
        }
        let mut next = m.clone();
        next.state = preparing;
        next.producer_epoch = m.producer_epoch.saturating_add(1);
        next.last_update_ms = now_ms();
        let p = self.persist(broker, id, &next)?;
        *m = next;
        Ok(EndStep::Complete(p))
    }

    /// After an end: a new producer id once the epoch is exhausted; the id and epoch to use.
    async fn rotate_if_exhausted(&self, broker: &Broker, id: &str) -> Result<(i64, i16), Code> {
        let written = {
            let mut txns = self.txns.lock();
            let m = txns.get_mut(id).ok_or(Code::InvalidProducerIdMapping)?;
            if m.producer_epoch < EXHAUSTED_EPOCH || m.state.is_preparing() {
                return Ok((m.producer_id, m.producer_epoch));
            }
            let mut next = m.clone();
            next.producer_id = broker
                .producer_ids
                .next_id()
                .map_err(|_| Code::CoordinatorNotAvailable)?;
            next.producer_epoch = 0;
            next.last_update_ms = now_ms();
            let p = self.persist(broker, id, &next)?;
            let mut by_producer = self.by_producer.lock();
            by_producer.remove(&m.producer_id);
            by_producer.insert(next.producer_id, id.to_string());
            *m = next;
            p
        };
        Self::sync(broker, vec![written]).await?;
        let txns = self.txns.lock();
        let m = txns.get(id).ok_or(Code::InvalidProducerIdMapping)?;
        Ok((m.producer_id, m.producer_epoch))
    }
}
