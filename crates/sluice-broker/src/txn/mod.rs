//! The transaction coordinator: transactional ids, their producer ids and epochs, and the life of
//! each transaction (Kafka's TransactionCoordinator and TransactionStateManager on one node).
//!
//! State lives in memory behind one lock and is made durable as records in the compacted topic
//! `__transaction_state` ([`store`], Kafka's formats in [`records`]), written while the lock is
//! held so the log order is the order of the changes; start-up replays that topic. Ending a
//! transaction is two steps, as in Kafka: record PrepareCommit/PrepareAbort, then write a marker
//! ([`markers`]) to every partition the transaction touched and record CompleteCommit/
//! CompleteAbort. A Prepare state found at start-up is completed then; a transaction left open
//! past its timeout is aborted by [`run_timers`] at a bumped epoch, which fences its producer.
//!
//! In durable mode every state record and marker is fsynced (outside the lock) before the step
//! that depends on it and before the client is answered.
//!
//! TxnOffsetCommit offsets go to `__consumer_offsets` at once as transactional records of the
//! producer ([`crate::group::txn_offsets`]); AddOffsetsToTxn puts the group's partition in the
//! transaction, so the same markers decide them, after a crash too.
//!
//! Transactions v2 (KIP-890 part 2, [`tv2`]) for clients that use it: Produce v12+ and
//! TxnOffsetCommit v5 add partitions implicitly, and EndTxn v5 bumps the epoch at every end.

pub mod config;
pub mod markers;
pub mod records;
pub mod state;
pub mod store;
#[cfg(test)]
mod tests;
mod tv2;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::background::now_ms;
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::Code;
use crate::group::store::OFFSETS_TOPIC;
use crate::group::Committed;
use crate::partition::Partition;
use crate::topics::TopicRegistry;
use config::TxnConfig;
use state::{TxnMetadata, TxnState};
use store::TxnStore;

pub struct TransactionCoordinator {
    pub config: TxnConfig,
    store: TxnStore,
    pub(crate) txns: Mutex<HashMap<String, TxnMetadata>>,
    /// Transactional id by producer id, for the produce-path check. Changed only under the
    /// `txns` lock (taken first).
    pub(crate) by_producer: Mutex<HashMap<i64, String>>,
}

/// What InitProducerId must do after its first step.
enum InitStep {
    Done((i64, i16), Arc<Partition>),
    /// The previous instance's transaction is being aborted; finish it, then bump again.
    AbortFirst(Arc<Partition>),
}

/// The producer id and epoch of a request must be the transactional id's current ones.
pub(crate) fn check_producer(
    m: &TxnMetadata,
    producer_id: i64,
    producer_epoch: i16,
) -> Result<(), Code> {
    if m.producer_id != producer_id {
        return Err(Code::InvalidProducerIdMapping);
    }
    if m.producer_epoch != producer_epoch {
        return Err(Code::ProducerFenced);
    }
    Ok(())
}

impl TransactionCoordinator {
    /// Rebuilds every transactional id by replaying `__transaction_state`.
    pub fn open(
        config: &BrokerConfig,
        topics: &TopicRegistry,
    ) -> std::io::Result<TransactionCoordinator> {
        let config = TxnConfig::from_settings(&config.raw);
        let store = TxnStore::new(config.clone());
        let mut txns = HashMap::new();
        for (key, value) in store.load(topics)? {
            let id = match records::decode_key(&key) {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping a {} record", store::TXN_TOPIC);
                    continue;
                }
            };
            match value.map(|v| records::decode_value(&v)) {
                None => {
                    txns.remove(&id);
                }
                Some(Ok(m)) => {
                    txns.insert(id, m);
                }
                Some(Err(e)) => tracing::warn!(error = %e, "skipping a transaction record"),
            }
        }
        if !txns.is_empty() {
            tracing::info!(transactional_ids = txns.len(), "loaded transaction state");
        }
        let by_producer = txns
            .iter()
            .map(|(id, m): (&String, &TxnMetadata)| (m.producer_id, id.clone()))
            .collect();
        Ok(TransactionCoordinator {
            config,
            store,
            txns: Mutex::new(txns),
            by_producer: Mutex::new(by_producer),
        })
    }

    /// Records `m` as the state of `id` (under the caller's lock).
    pub(crate) fn persist(
        &self,
        broker: &Broker,
        id: &str,
        m: &TxnMetadata,
    ) -> Result<Arc<Partition>, Code> {
        self.store.append(
            &broker.topics,
            broker.config.durable,
            id,
            records::key(id),
            Some(records::value(m)),
            now_ms(),
        )
    }

    /// In durable mode, waits until every partition written is fsynced.
    pub(crate) async fn sync(broker: &Broker, partitions: Vec<Arc<Partition>>) -> Result<(), Code> {
        if !broker.config.durable {
            return Ok(());
        }
        for p in partitions {
            broker.flusher.flush(p).await.map_err(|e| {
                tracing::error!(error = %e, "cannot sync transaction state");
                Code::CoordinatorNotAvailable
            })?;
        }
        Ok(())
    }

    /// A snapshot of one transactional id's state (tests, tools).
    pub fn describe(&self, id: &str) -> Option<TxnMetadata> {
        self.txns.lock().get(id).cloned()
    }

    /// Every transactional id with its state (ListTransactions, tools).
    pub fn list(&self) -> Vec<(String, TxnMetadata)> {
        let mut all: Vec<_> = self
            .txns
            .lock()
            .iter()
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    // ---- InitProducerId ----

    /// InitProducerId with a transactional id: a new producer id, or the current one at a bumped
    /// epoch, which fences any older instance; an open transaction of that instance is aborted
    /// first. `expected` is the (producer id, epoch) a KIP-360 client presents.
    pub async fn init_producer_id(
        &self,
        broker: &Broker,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), Code> {
        if id.is_empty() {
            return Err(Code::InvalidRequest);
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(Code::InvalidTransactionTimeout);
        }
        // At most one abort of the previous instance, then a plain bump.
        for _ in 0..2 {
            match self.init_step(broker, id, timeout_ms, expected)? {
                InitStep::Done(result, p) => {
                    Self::sync(broker, vec![p]).await?;
                    return Ok(result);
                }
                InitStep::AbortFirst(p) => {
                    Self::sync(broker, vec![p]).await?;
                    self.complete(broker, id).await?;
                }
            }
        }
        Err(Code::ConcurrentTransactions)
    }

    fn init_step(
        &self,
        broker: &Broker,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<InitStep, Code> {
        let now = now_ms();
        let mut txns = self.txns.lock();
        let Some(m) = txns.get_mut(id) else {
            let pid = broker
                .producer_ids
                .next_id()
                .map_err(|_| Code::CoordinatorNotAvailable)?;
            let m = TxnMetadata::new(pid, timeout_ms, now);
            let p = self.persist(broker, id, &m)?;
            txns.insert(id.to_string(), m);
            self.by_producer.lock().insert(pid, id.to_string());
            return Ok(InitStep::Done((pid, 0), p));
        };
        if m.state.is_preparing() {
            return Err(Code::ConcurrentTransactions);
        }
        if let Some((pid, epoch)) = expected {
            if pid != m.producer_id || epoch != m.producer_epoch {
                return Err(Code::ProducerFenced);
            }
        }
        let mut next = m.clone();
        next.last_update_ms = now;
        if m.state == TxnState::Ongoing {
            // Fence the old instance: its transaction ends with an abort at a newer epoch, so
            // the partitions refuse its further writes.
            next.producer_epoch = next.producer_epoch.saturating_add(1).min(i16::MAX - 1);
            next.state = TxnState::PrepareAbort;
            let p = self.persist(broker, id, &next)?;
            *m = next;
            return Ok(InitStep::AbortFirst(p));
        }
        if next.producer_epoch >= i16::MAX - 1 {
            // Epochs exhausted: a fresh producer id (Kafka does the same).
            next.producer_id = broker
                .producer_ids
                .next_id()
                .map_err(|_| Code::CoordinatorNotAvailable)?;
            next.producer_epoch = 0;
        } else {
            next.producer_epoch += 1;
        }
        next.state = TxnState::Empty;
        next.timeout_ms = timeout_ms;
        next.partitions.clear();
        next.start_ms = -1;
        let p = self.persist(broker, id, &next)?;
        let result = (next.producer_id, next.producer_epoch);
        if next.producer_id != m.producer_id {
            let mut by_producer = self.by_producer.lock();
            by_producer.remove(&m.producer_id);
            by_producer.insert(next.producer_id, id.to_string());
        }
        *m = next;
        Ok(InitStep::Done(result, p))
    }

    // ---- AddPartitionsToTxn / AddOffsetsToTxn ----

    /// Adds partitions to the transaction (beginning one if none is open). The caller has
    /// checked that the partitions exist.
    pub async fn add_partitions(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), Code> {
        let written = {
            let mut txns = self.txns.lock();
            let m = txns.get_mut(id).ok_or(Code::InvalidProducerIdMapping)?;
            check_producer(m, producer_id, producer_epoch)?;
            self.add_locked(broker, id, m, partitions)?
        };
        match written {
            Some(p) => Self::sync(broker, vec![p]).await,
            None => Ok(()),
        }
    }

    /// The verify-only form (AddPartitionsToTxn v4+): whether each partition is in the open
    /// transaction of this producer, without adding anything.
    pub fn verify_partitions(
        &self,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<bool>, Code> {
        let txns = self.txns.lock();
        let m = txns.get(id).ok_or(Code::InvalidProducerIdMapping)?;
        check_producer(m, producer_id, producer_epoch)?;
        let open = m.state == TxnState::Ongoing;
        Ok(partitions
            .iter()
            .map(|p| open && m.partitions.contains(p))
            .collect())
    }

    /// Checks a transactional produce (Kafka's partition verification, KIP-890 part 1): the
    /// producer must have an open transaction that includes the partition, or its records would
    /// hold the partition's last stable offset with no marker ever coming. An older epoch is the
    /// log's INVALID_PRODUCER_EPOCH.
    pub fn verify_produce(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), Code> {
        let txns = self.txns.lock();
        let id = self.by_producer.lock().get(&producer_id).cloned();
        let Some(m) = id.and_then(|id| txns.get(&id)) else {
            return Err(Code::InvalidTxnState);
        };
        if producer_epoch < m.producer_epoch {
            return Err(Code::InvalidProducerEpoch);
        }
        let added = m.state == TxnState::Ongoing
            && m.producer_epoch == producer_epoch
            && m.partitions.contains(&(topic.to_string(), partition));
        if added {
            Ok(())
        } else {
            Err(Code::InvalidTxnState)
        }
    }

    /// AddOffsetsToTxn: the transaction will commit offsets for `group`; its partition of
    /// `__consumer_offsets` joins the transaction.
    pub async fn add_offsets(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
    ) -> Result<(), Code> {
        if group.is_empty() {
            return Err(Code::InvalidGroupId);
        }
        let index = broker.groups.offsets_partition(broker, group)?;
        self.add_partitions(
            broker,
            id,
            producer_id,
            producer_epoch,
            &[(OFFSETS_TOPIC.to_string(), index)],
        )
        .await
    }

    /// TxnOffsetCommit: writes offsets for `group` as part of the transaction; the group sees
    /// them when it commits. The group must have been added with AddOffsetsToTxn. Returns the
    /// partition written, to fsync in durable mode.
    /// With `implicit_add` (TxnOffsetCommit v5, transactions v2) the group's partition joins
    /// the transaction here instead of through AddOffsetsToTxn. Returns the partitions written.
    pub fn stage_offsets(
        &self,
        broker: &Broker,
        id: &str,
        (producer_id, producer_epoch): (i64, i16),
        group: &str,
        offsets: Vec<((String, i32), Committed)>,
        implicit_add: bool,
    ) -> Result<Vec<Arc<Partition>>, Code> {
        let index = broker.groups.offsets_partition(broker, group)?;
        let mut txns = self.txns.lock();
        let m = txns.get_mut(id).ok_or(Code::InvalidProducerIdMapping)?;
        check_producer(m, producer_id, producer_epoch)?;
        let mut written = Vec::new();
        if implicit_add {
            let partition = (OFFSETS_TOPIC.to_string(), index);
            written.extend(self.add_locked(broker, id, m, std::slice::from_ref(&partition))?);
        }
        let added = m.partitions.contains(&(OFFSETS_TOPIC.to_string(), index));
        if m.state != TxnState::Ongoing || !added {
            return Err(Code::InvalidTxnState);
        }
        // Under the transaction lock, so the records cannot follow this transaction's marker.
        written.push(broker.groups.stage_txn_offsets(
            broker,
            producer_id,
            producer_epoch,
            group,
            offsets,
        )?);
        Ok(written)
    }

    // ---- EndTxn ----

    /// EndTxn: commit or abort the open transaction. Answers once markers are written.
    pub async fn end_txn(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), Code> {
        let Some(written) = self.prepare_end(broker, id, producer_id, producer_epoch, commit)?
        else {
            return Ok(());
        };
        Self::sync(broker, vec![written]).await?;
        self.complete(broker, id).await
    }

    /// First step of EndTxn: validate and record PrepareCommit/PrepareAbort. `None` for a retry
    /// of an EndTxn that already completed.
    fn prepare_end(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<Option<Arc<Partition>>, Code> {
        let mut txns = self.txns.lock();
        let m = txns.get_mut(id).ok_or(Code::InvalidProducerIdMapping)?;
        check_producer(m, producer_id, producer_epoch)?;
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {}
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => return Ok(None),
            (s, _) if s.is_preparing() => return Err(Code::ConcurrentTransactions),
            _ => return Err(Code::InvalidTxnState),
        }
        let mut next = m.clone();
        next.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        next.last_update_ms = now_ms();
        let p = self.persist(broker, id, &next)?;
        *m = next;
        Ok(Some(p))
    }

    /// Second step of ending a transaction in a Prepare state: markers to every partition,
    /// offsets to the groups (on commit), then the Complete record.
    pub(crate) async fn complete(&self, broker: &Broker, id: &str) -> Result<(), Code> {
        let written = {
            let mut txns = self.txns.lock();
            let Some(m) = txns.get_mut(id) else {
                return Ok(());
            };
            let commit = match m.state {
                TxnState::PrepareCommit => true,
                TxnState::PrepareAbort | TxnState::PrepareEpochFence => false,
                _ => return Ok(()),
            };
            let now = now_ms();
            let durable = broker.config.durable;
            let mut written = Vec::new();
            for (topic, index) in &m.partitions {
                let Some(partition) = broker
                    .topics
                    .get(topic)
                    .and_then(|t| t.partition(*index).cloned())
                else {
                    // Deleted since: nothing left to mark.
                    continue;
                };
                match markers::write_marker(
                    &partition,
                    m.producer_id,
                    m.producer_epoch,
                    commit,
                    durable,
                    now,
                ) {
                    Ok(()) => written.push(partition),
                    Err(e) => {
                        tracing::error!(transactional_id = id, topic = %topic, partition = index,
                            error = %e, "cannot write transaction marker");
                        return Err(Code::CoordinatorNotAvailable);
                    }
                }
            }
            // The markers decided the transaction's consumer offsets too.
            broker.groups.complete_txn_offsets(m.producer_id, commit);
            let mut next = m.clone();
            next.state = if commit {
                TxnState::CompleteCommit
            } else {
                TxnState::CompleteAbort
            };
            next.partitions.clear();
            next.last_update_ms = now;
            written.push(self.persist(broker, id, &next)?);
            *m = next;
            written
        };
        Self::sync(broker, written).await
    }

    // ---- timers ----

    /// Completes every transaction a crash left in a Prepare state.
    pub async fn complete_prepared(&self, broker: &Broker) {
        let ids: Vec<String> = self
            .txns
            .lock()
            .iter()
            .filter(|(_, m)| m.state.is_preparing())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Err(c) = self.complete(broker, &id).await {
                tracing::warn!(transactional_id = %id, error = ?c, "cannot complete transaction");
            }
        }
    }

    /// Aborts every transaction open longer than its timeout, at a bumped epoch so the producer
    /// that let it expire is fenced (Kafka's behaviour).
    pub async fn abort_expired(&self, broker: &Broker) {
        let now = now_ms();
        let expired: Vec<String> = self
            .txns
            .lock()
            .iter()
            .filter(|(_, m)| {
                m.state == TxnState::Ongoing
                    && m.start_ms.saturating_add(m.timeout_ms as i64) <= now
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            let written = {
                let mut txns = self.txns.lock();
                let Some(m) = txns.get_mut(&id) else { continue };
                if m.state != TxnState::Ongoing {
                    continue;
                }
                let mut next = m.clone();
                next.producer_epoch = next.producer_epoch.saturating_add(1).min(i16::MAX - 1);
                next.state = TxnState::PrepareAbort;
                next.last_update_ms = now;
                match self.persist(broker, &id, &next) {
                    Ok(p) => {
                        *m = next;
                        p
                    }
                    Err(c) => {
                        tracing::warn!(transactional_id = %id, error = ?c, "cannot abort expired transaction");
                        continue;
                    }
                }
            };
            tracing::info!(transactional_id = %id, "aborting a transaction that passed its timeout");
            let done = match Self::sync(broker, vec![written]).await {
                Ok(()) => self.complete(broker, &id).await,
                Err(c) => Err(c),
            };
            if let Err(c) = done {
                tracing::warn!(transactional_id = %id, error = ?c, "cannot abort expired transaction");
            }
        }
    }
}

/// Finishes interrupted transactions, then aborts expired ones every
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` until shutdown.
pub async fn run_timers(broker: Arc<Broker>) {
    broker.txns.complete_prepared(&broker).await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(broker.txns.config.abort_check_interval) => {}
            _ = broker.shutdown.cancelled() => return,
        }
        // Retry anything a storage failure left half-done, then expire.
        broker.txns.complete_prepared(&broker).await;
        broker.txns.abort_expired(&broker).await;
    }
}
