//! The group coordinator: consumer groups (classic protocol and KIP-848) and their committed
//! offsets, for every group (a single node coordinates them all).
//!
//! State lives in memory behind one lock and is made durable as records in the compacted topic
//! `__consumer_offsets` ([`store`]), written in Kafka's formats ([`records`]) while the lock is
//! held so the log order is the order of the changes; start-up replays that topic. Handlers call
//! the methods here; requests that must wait for a rebalance get a receiver and the connection
//! answers them later. One timer task ([`run_timers`]) applies session, rebalance and retention
//! deadlines.
//!
//! - [`classic`] / [`member`]: the classic JoinGroup/SyncGroup state machine.
//! - [`consumer`] / [`assignor`]: KIP-848 groups with server-side assignment.
//! - [`offsets`]: OffsetCommit, OffsetFetch, OffsetDelete and offset expiry.
//! - [`admin`]: ListGroups, DescribeGroups, DeleteGroups.

pub mod admin;
pub mod assignor;
pub mod classic;
pub mod config;
pub mod consumer;
pub mod consumer_api;
pub mod member;
pub mod offsets;
pub mod protocol;
pub mod records;
pub mod store;
pub mod txn_offsets;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::background::now_ms;
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::Code;
use crate::partition::Partition;
use crate::topics::TopicRegistry;
use classic::{ClassicGroup, Effects, JoinInput, Reply, SyncInput};
use config::GroupConfig;
use consumer::ConsumerGroup;
use member::{JoinResult, SyncResult};
use records::RecordKey;
use store::{KeyValue, OffsetsStore};

/// A committed offset with its metadata, as OffsetFetch returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    pub expire_timestamp: Option<i64>,
}

/// Which protocol a group speaks. A group id belongs to one kind at a time.
// Few groups exist at once and each is reached through the map, so the size gap costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Kind {
    Classic(ClassicGroup),
    Consumer(ConsumerGroup),
}

pub struct Group {
    pub kind: Kind,
    pub offsets: BTreeMap<(String, i32), Committed>,
}

impl Group {
    fn classic(now_ms: i64) -> Group {
        Group {
            kind: Kind::Classic(ClassicGroup::new(now_ms)),
            offsets: BTreeMap::new(),
        }
    }

    /// No members: a classic group in state Empty, a consumer group without members.
    pub fn is_empty(&self) -> bool {
        match &self.kind {
            Kind::Classic(g) => matches!(g.state, classic::ClassicState::Empty),
            Kind::Consumer(g) => g.members.is_empty(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Classic(_) => "classic",
            Kind::Consumer(_) => "consumer",
        }
    }

    /// The state's name as ListGroups and DescribeGroups report it.
    pub fn state_name(&self) -> &'static str {
        match &self.kind {
            Kind::Classic(g) => g.state.name(),
            Kind::Consumer(g) => g.state_name(),
        }
    }

    pub fn protocol_type(&self) -> String {
        match &self.kind {
            Kind::Classic(g) => g.protocol_type.clone().unwrap_or_default(),
            Kind::Consumer(_) => "consumer".into(),
        }
    }
}

pub struct GroupCoordinator {
    pub config: GroupConfig,
    store: OffsetsStore,
    groups: Mutex<HashMap<String, Group>>,
    /// TxnOffsetCommit records written but not yet committed or aborted, by producer id (see
    /// [`txn_offsets`]). Locked after `groups` when both are needed.
    txn_pending: Mutex<store::PendingTxns>,
}

impl GroupCoordinator {
    /// Rebuilds every group and committed offset by replaying `__consumer_offsets`.
    pub fn open(
        config: &BrokerConfig,
        topics: &TopicRegistry,
    ) -> std::io::Result<GroupCoordinator> {
        let config = GroupConfig::from_settings(&config.raw);
        let store = OffsetsStore::new(config.clone());
        let (records, pending) = store.load(topics)?;
        let groups = replay(records);
        if !groups.is_empty() {
            tracing::info!(groups = groups.len(), "loaded consumer groups");
        }
        Ok(GroupCoordinator {
            config,
            store,
            groups: Mutex::new(groups),
            txn_pending: Mutex::new(pending),
        })
    }

    /// Appends records for `group` to its offsets partition (under the caller's lock).
    fn write(
        &self,
        broker: &Broker,
        group: &str,
        records: &[KeyValue],
    ) -> Result<Arc<Partition>, Code> {
        self.store.append(
            &broker.topics,
            broker.config.durable,
            group,
            records,
            now_ms(),
        )
    }

    /// Writes a classic group's metadata record; a failure is logged (members keep working, the
    /// record is rewritten at the next change).
    fn persist_classic(&self, broker: &Broker, id: &str, g: &ClassicGroup) {
        let value = records::group_value(&g.to_record());
        if let Err(c) = self.write(broker, id, &[(records::classic_group_key(id), Some(value))]) {
            tracing::warn!(group = id, error = ?c, "could not persist group metadata");
        }
    }

    fn session_timeout_ok(&self, ms: i32) -> bool {
        ms >= self.config.min_session_timeout_ms && ms <= self.config.max_session_timeout_ms
    }

    // ---- classic protocol ----

    pub fn join(&self, broker: &Broker, group_id: &str, input: JoinInput) -> Reply<JoinResult> {
        let err = |c: Code, m: &str| Reply::Now(JoinResult::error(c.code(), m));
        if group_id.is_empty() {
            return err(Code::InvalidGroupId, &input.member_id);
        }
        if !self.session_timeout_ok(input.session_timeout_ms) {
            return err(Code::InvalidSessionTimeout, &input.member_id);
        }
        let (now, now_ms) = (Instant::now(), now_ms());
        let mut groups = self.groups.lock();
        if !groups.contains_key(group_id) {
            if !input.member_id.is_empty() {
                return err(Code::UnknownMemberId, &input.member_id);
            }
            groups.insert(group_id.to_string(), Group::classic(now_ms));
        }
        let Some(group) = groups.get_mut(group_id) else {
            return err(Code::UnknownServerError, &input.member_id);
        };
        if let Kind::Consumer(c) = &group.kind {
            if !c.members.is_empty() {
                return err(Code::InconsistentGroupProtocol, &input.member_id);
            }
            // An empty KIP-848 group turns into a classic one, keeping its offsets.
            group.kind = Kind::Classic(ClassicGroup::new(now_ms));
        }
        let Kind::Classic(g) = &mut group.kind else {
            return err(Code::UnknownServerError, &input.member_id);
        };
        let mut fx = Effects::default();
        let generation = g.generation;
        let reply = g.join(input, &self.config, now, now_ms, &mut fx);
        broker
            .metrics
            .rebalanced((g.generation - generation).max(0) as u64);
        if fx.persist {
            self.persist_classic(broker, group_id, g);
        }
        reply
    }

    pub fn sync(&self, broker: &Broker, group_id: &str, input: SyncInput) -> Reply<SyncResult> {
        if group_id.is_empty() {
            return Reply::Now(SyncResult::error(Code::InvalidGroupId.code()));
        }
        let mut groups = self.groups.lock();
        let Some(Group {
            kind: Kind::Classic(g),
            ..
        }) = groups.get_mut(group_id)
        else {
            return Reply::Now(SyncResult::error(Code::UnknownMemberId.code()));
        };
        let mut fx = Effects::default();
        let reply = g.sync(input, Instant::now(), &mut fx);
        if fx.persist {
            self.persist_classic(broker, group_id, g);
        }
        reply
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), Code> {
        if group_id.is_empty() {
            return Err(Code::InvalidGroupId);
        }
        let mut groups = self.groups.lock();
        match groups.get_mut(group_id) {
            Some(Group {
                kind: Kind::Classic(g),
                ..
            }) => g.heartbeat(member_id, instance_id, generation, Instant::now()),
            _ => Err(Code::UnknownMemberId),
        }
    }

    /// LeaveGroup for a batch of members: a group-level error, or one code per member.
    pub fn leave(
        &self,
        broker: &Broker,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Result<(), Code>>, Code> {
        if group_id.is_empty() {
            return Err(Code::InvalidGroupId);
        }
        let (now, now_ms) = (Instant::now(), now_ms());
        let mut groups = self.groups.lock();
        let Some(Group {
            kind: Kind::Classic(g),
            ..
        }) = groups.get_mut(group_id)
        else {
            return Err(Code::UnknownMemberId);
        };
        let mut fx = Effects::default();
        let generation = g.generation;
        let codes = members
            .iter()
            .map(|(m, i)| g.leave(m, i.as_deref(), now, now_ms, &mut fx))
            .collect();
        broker
            .metrics
            .rebalanced((g.generation - generation).max(0) as u64);
        if fx.persist {
            self.persist_classic(broker, group_id, g);
        }
        Ok(codes)
    }

    // ---- timers ----

    /// Applies passed deadlines of every group.
    fn tick(&self, broker: &Broker) {
        let (now, now_ms) = (Instant::now(), now_ms());
        let mut groups = self.groups.lock();
        for (id, group) in groups.iter_mut() {
            match &mut group.kind {
                Kind::Classic(g) => {
                    let mut fx = Effects::default();
                    let generation = g.generation;
                    g.tick(now, now_ms, &mut fx);
                    broker
                        .metrics
                        .rebalanced((g.generation - generation).max(0) as u64);
                    if fx.persist {
                        self.persist_classic(broker, id, g);
                    }
                }
                Kind::Consumer(g) => {
                    if let Some(record) = g.tick(id, now, now_ms, &self.config) {
                        broker.metrics.rebalanced(1);
                        if let Err(c) = self.write(broker, id, &[record]) {
                            tracing::warn!(group = %id, error = ?c, "could not persist group epoch");
                        }
                    }
                }
            }
        }
    }
}

/// Rebuilds groups from the offsets topic's records, latest record per key winning.
fn replay(records: Vec<KeyValue>) -> HashMap<String, Group> {
    let now = Instant::now();
    let now_ms = now_ms();
    let mut groups: HashMap<String, Group> = HashMap::new();
    for (key, value) in records {
        let key = match records::decode_key(&key) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "skipping a __consumer_offsets record");
                continue;
            }
        };
        match key {
            RecordKey::Offset {
                group,
                topic,
                partition,
            } => match value.map(|v| records::decode_offset_value(&v)) {
                None => {
                    if let Some(g) = groups.get_mut(&group) {
                        g.offsets.remove(&(topic, partition));
                    }
                }
                Some(Ok(v)) => {
                    groups
                        .entry(group)
                        .or_insert_with(|| Group::classic(now_ms))
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
                Some(Err(e)) => tracing::warn!(error = %e, "skipping an offset record"),
            },
            RecordKey::ClassicGroup { group } => {
                match value.map(|v| records::decode_group_value(&v)) {
                    None => {
                        groups.remove(&group);
                    }
                    Some(Ok(v)) => {
                        let entry = groups
                            .entry(group)
                            .or_insert_with(|| Group::classic(now_ms));
                        entry.kind = Kind::Classic(ClassicGroup::from_record(v, now));
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "skipping a group record"),
                }
            }
            RecordKey::ConsumerGroup { group } => {
                match value.map(|v| records::decode_consumer_group_value(&v)) {
                    None => {
                        if matches!(groups.get(&group).map(|g| &g.kind), Some(Kind::Consumer(_))) {
                            groups.remove(&group);
                        }
                    }
                    Some(Ok(epoch)) => {
                        let entry = groups
                            .entry(group)
                            .or_insert_with(|| Group::classic(now_ms));
                        entry.kind = Kind::Consumer(ConsumerGroup::new(epoch, now_ms));
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "skipping a consumer group record"),
                }
            }
            RecordKey::Other(_) => {}
        }
    }
    groups
}

/// Runs the coordinator's deadlines (sessions, rebalances, offset retention) until shutdown.
pub async fn run_timers(broker: Arc<Broker>) {
    let mut last_expiry = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = broker.shutdown.cancelled() => return,
        }
        broker.groups.tick(&broker);
        if last_expiry.elapsed() >= broker.groups.config.offsets_retention_check {
            last_expiry = Instant::now();
            broker.groups.expire_offsets(&broker);
        }
    }
}
