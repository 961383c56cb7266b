//! The classic group protocol's state machine: Empty -> PreparingRebalance -> CompletingRebalance
//! -> Stable, and Dead once deleted.
//!
//! Members join (JoinGroup), the coordinator waits until every known member has rejoined or the
//! rebalance timeout passes, picks the protocol all members support, and answers every waiting
//! JoinGroup at once with the new generation; the leader's SyncGroup carries the assignments the
//! coordinator hands out. Heartbeats keep sessions alive and tell members when to rejoin.
//! Everything here runs under the coordinator's lock and never blocks: waiting requests hold a
//! `oneshot` receiver, and the timer sweep ([`ClassicGroup::tick`]) handles every deadline.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::config::GroupConfig;
use super::member::{ClassicMember, JoinResult, JoinedMember, SyncResult};
use super::records::{GroupValue, MemberValue};
use crate::error::{code, Code, NONE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl ClassicState {
    pub fn name(self) -> &'static str {
        match self {
            ClassicState::Empty => "Empty",
            ClassicState::PreparingRebalance => "PreparingRebalance",
            ClassicState::CompletingRebalance => "CompletingRebalance",
            ClassicState::Stable => "Stable",
            ClassicState::Dead => "Dead",
        }
    }
}

/// An answer now, or a receiver for an answer that comes when the rebalance moves on.
pub enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// A JoinGroup as the state machine needs it.
pub struct JoinInput {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: unknown dynamic members first get an id and must rejoin with it (KIP-394).
    pub require_known_member_id: bool,
    /// JoinGroup v9+: a rejoining static leader may skip computing a new assignment (KIP-814).
    pub supports_skip_assignment: bool,
}

pub struct SyncInput {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

/// Side effects the coordinator must carry out after a state change.
#[derive(Default)]
pub struct Effects {
    /// Write the group's metadata record (its new generation, members and assignments).
    pub persist: bool,
}

pub struct ClassicGroup {
    pub state: ClassicState,
    /// Wall-clock time of the last state change (Kafka's currentStateTimestamp).
    pub state_timestamp: i64,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, ClassicMember>,
    /// group.instance.id -> member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out by MEMBER_ID_REQUIRED, with the time by which they must rejoin.
    pub pending_members: HashMap<String, Instant>,
    /// When PreparingRebalance gives up on members that have not rejoined.
    join_deadline: Option<Instant>,
    /// A group rebalancing from Empty waits `group.initial.rebalance.delay.ms` (extended as
    /// members arrive, capped by the rebalance timeout) before completing the join.
    initial_delay_until: Option<Instant>,
    initial_delay_cap: Option<Instant>,
    /// Members that got the new generation but have not sent SyncGroup yet, and until when.
    pending_sync: HashSet<String>,
    sync_deadline: Option<Instant>,
}

impl ClassicGroup {
    pub fn new(now_ms: i64) -> ClassicGroup {
        ClassicGroup {
            state: ClassicState::Empty,
            state_timestamp: now_ms,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            join_deadline: None,
            initial_delay_until: None,
            initial_delay_cap: None,
            pending_sync: HashSet::new(),
            sync_deadline: None,
        }
    }

    /// Rebuilds a group from its last metadata record: members keep their assignment and must
    /// heartbeat within their session timeout, so a coordinator restart does not force a rebalance.
    pub fn from_record(v: GroupValue, now: Instant) -> ClassicGroup {
        let mut g = ClassicGroup::new(v.state_timestamp);
        g.generation = v.generation;
        g.protocol_type = Some(v.protocol_type).filter(|s| !s.is_empty());
        g.protocol_name = v.protocol.clone();
        g.leader = v.leader;
        for m in v.members {
            if let Some(i) = &m.instance_id {
                g.static_members.insert(i.clone(), m.member_id.clone());
            }
            let protocols = match &v.protocol {
                Some(p) => vec![(p.clone(), m.subscription)],
                None => Vec::new(),
            };
            g.members.insert(
                m.member_id.clone(),
                ClassicMember {
                    id: m.member_id,
                    instance_id: m.instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    protocols,
                    assignment: m.assignment,
                    join_waiter: None,
                    sync_waiter: None,
                    session_deadline: now + ms(m.session_timeout_ms),
                },
            );
        }
        g.state = if g.members.is_empty() {
            ClassicState::Empty
        } else {
            ClassicState::Stable
        };
        g
    }

    pub fn to_record(&self) -> GroupValue {
        let protocol = self.protocol_name.clone();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: protocol.clone(),
            leader: self.leader.clone(),
            state_timestamp: self.state_timestamp,
            members: self
                .members
                .values()
                .map(|m| MemberValue {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: protocol
                        .as_deref()
                        .map(|p| m.metadata_for(p))
                        .unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.pending_members.is_empty()
    }

    fn transition(&mut self, to: ClassicState, now_ms: i64) {
        self.state = to;
        self.state_timestamp = now_ms;
    }

    /// Mark the group deleted: every waiting request learns that the coordinator moved on.
    pub fn kill(&mut self, now_ms: i64) {
        for m in self.members.values_mut() {
            m.answer_join(JoinResult::error(
                code(Code::CoordinatorNotAvailable),
                &m.id,
            ));
            m.answer_sync(SyncResult::error(code(Code::CoordinatorNotAvailable)));
        }
        self.members.clear();
        self.static_members.clear();
        self.pending_members.clear();
        self.transition(ClassicState::Dead, now_ms);
    }

    /// Protocol names every current member supports.
    fn candidate_protocols(&self) -> Vec<String> {
        let mut iter = self.members.values();
        let Some(first) = iter.next() else {
            return Vec::new();
        };
        let mut names: Vec<String> = first.protocols.iter().map(|(n, _)| n.clone()).collect();
        for m in iter {
            names.retain(|n| m.protocols.iter().any(|(p, _)| p == n));
        }
        names
    }

    /// Kafka's rule: an empty group takes any non-empty type and protocol list; otherwise the type
    /// must match and at least one protocol must be supported by every member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols.iter().any(|(n, _)| candidates.contains(n))
    }

    /// The protocol most members prefer among those all members support.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(String, usize)> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n)) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| c == name) {
                    v.1 += 1;
                }
            }
        }
        // Ties go to the earliest candidate (the first member's preference order).
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes.into_iter().find(|(_, n)| *n == best).map(|(c, _)| c)
    }

    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), Code> {
        match instance_id {
            Some(instance) => match self.static_members.get(instance) {
                None => Err(Code::UnknownMemberId),
                Some(existing) if existing != member_id => Err(Code::FencedInstanceId),
                Some(_) => Ok(()),
            },
            None if !self.members.contains_key(member_id) => Err(Code::UnknownMemberId),
            None => Ok(()),
        }
    }

    fn current_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata_for(&protocol),
            })
            .collect()
    }

    fn current_generation_result(&self, member_id: &str, with_members: bool) -> JoinResult {
        JoinResult {
            error: NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            skip_assignment: false,
            members: if with_members {
                self.current_members()
            } else {
                Vec::new()
            },
        }
    }

    // ---- JoinGroup ----

    pub fn join(
        &mut self,
        input: JoinInput,
        cfg: &GroupConfig,
        now: Instant,
        now_ms: i64,
        fx: &mut Effects,
    ) -> Reply<JoinResult> {
        let unknown = input.member_id.is_empty();
        if unknown && self.members.len() >= cfg.max_size {
            return Reply::Now(JoinResult::error(code(Code::GroupMaxSizeReached), ""));
        }
        if self.state == ClassicState::Dead {
            return Reply::Now(JoinResult::error(
                code(Code::CoordinatorNotAvailable),
                &input.member_id,
            ));
        }
        if !self.supports_protocols(&input.protocol_type, &input.protocols) {
            return Reply::Now(JoinResult::error(
                code(Code::InconsistentGroupProtocol),
                &input.member_id,
            ));
        }
        if unknown {
            let base = input.instance_id.as_deref().unwrap_or(&input.client_id);
            let new_id = format!("{base}-{}", uuid::Uuid::new_v4());
            if let Some(instance) = input.instance_id.clone() {
                if let Some(old_id) = self.static_members.get(&instance).cloned() {
                    return self.replace_static_member(input, old_id, new_id, now, now_ms, fx);
                }
                return self.add_member_and_rebalance(input, new_id, now, now_ms, cfg, fx);
            }
            if input.require_known_member_id {
                let deadline = now + ms(input.session_timeout_ms);
                self.pending_members.insert(new_id.clone(), deadline);
                return Reply::Now(JoinResult::error(code(Code::MemberIdRequired), &new_id));
            }
            return self.add_member_and_rebalance(input, new_id, now, now_ms, cfg, fx);
        }
        if self.pending_members.contains_key(&input.member_id) {
            if self.members.len() >= cfg.max_size {
                self.pending_members.remove(&input.member_id);
                return Reply::Now(JoinResult::error(code(Code::GroupMaxSizeReached), ""));
            }
            self.pending_members.remove(&input.member_id);
            let id = input.member_id.clone();
            return self.add_member_and_rebalance(input, id, now, now_ms, cfg, fx);
        }
        if let Err(c) = self.validate_member(&input.member_id, input.instance_id.as_deref()) {
            return Reply::Now(JoinResult::error(c.code(), &input.member_id));
        }
        let member_id = input.member_id.clone();
        let is_leader = self.leader.as_deref() == Some(member_id.as_str());
        let same = self
            .members
            .get(&member_id)
            .is_some_and(|m| m.matches(&input.protocols));
        match self.state {
            ClassicState::PreparingRebalance => {
                self.update_member_and_rebalance(input, now, now_ms, cfg, fx)
            }
            ClassicState::CompletingRebalance if same => {
                Reply::Now(self.current_generation_result(&member_id, is_leader))
            }
            ClassicState::Stable if same && !is_leader => {
                Reply::Now(self.current_generation_result(&member_id, false))
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                self.update_member_and_rebalance(input, now, now_ms, cfg, fx)
            }
            ClassicState::Empty | ClassicState::Dead => {
                Reply::Now(JoinResult::error(code(Code::UnknownMemberId), &member_id))
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        input: JoinInput,
        member_id: String,
        now: Instant,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if self.members.is_empty() {
            self.protocol_type = Some(input.protocol_type.clone());
        }
        if let Some(i) = &input.instance_id {
            self.static_members.insert(i.clone(), member_id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        self.members.insert(
            member_id.clone(),
            ClassicMember {
                id: member_id,
                instance_id: input.instance_id,
                client_id: input.client_id,
                client_host: input.client_host,
                session_timeout_ms: input.session_timeout_ms,
                rebalance_timeout_ms: input.rebalance_timeout_ms,
                protocol_type: input.protocol_type,
                protocols: input.protocols,
                assignment: Bytes::new(),
                join_waiter: Some(tx),
                sync_waiter: None,
                session_deadline: now + ms(input.session_timeout_ms),
            },
        );
        self.extend_initial_delay(now, cfg);
        self.maybe_prepare_rebalance_or_complete(now, now_ms, cfg, fx);
        Reply::Wait(rx)
    }

    fn update_member_and_rebalance(
        &mut self,
        input: JoinInput,
        now: Instant,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.members.get_mut(&input.member_id) {
            m.protocols = input.protocols;
            m.session_timeout_ms = input.session_timeout_ms;
            m.rebalance_timeout_ms = input.rebalance_timeout_ms;
            m.client_id = input.client_id;
            m.client_host = input.client_host;
            // A second JoinGroup while one is waiting replaces it (the client gave up on the first).
            m.answer_join(JoinResult::error(
                code(Code::RebalanceInProgress),
                &input.member_id,
            ));
            m.join_waiter = Some(tx);
        }
        self.maybe_prepare_rebalance_or_complete(now, now_ms, cfg, fx);
        Reply::Wait(rx)
    }

    fn replace_static_member(
        &mut self,
        input: JoinInput,
        old_id: String,
        new_id: String,
        now: Instant,
        now_ms: i64,
        fx: &mut Effects,
    ) -> Reply<JoinResult> {
        let Some(mut member) = self.members.remove(&old_id) else {
            return Reply::Now(JoinResult::error(code(Code::UnknownMemberId), ""));
        };
        // The old incarnation's waiting requests are fenced: it has been replaced.
        member.answer_join(JoinResult::error(code(Code::FencedInstanceId), &old_id));
        member.answer_sync(SyncResult::error(code(Code::FencedInstanceId)));
        let old_leader = self.leader.clone().unwrap_or_default();
        if self.leader.as_deref() == Some(old_id.as_str()) {
            self.leader = Some(new_id.clone());
        }
        self.pending_sync.remove(&old_id);
        member.id = new_id.clone();
        member.protocols = input.protocols;
        member.session_timeout_ms = input.session_timeout_ms;
        member.rebalance_timeout_ms = input.rebalance_timeout_ms;
        member.client_id = input.client_id;
        member.client_host = input.client_host;
        member.session_deadline = now + ms(input.session_timeout_ms);
        let (tx, rx) = oneshot::channel();
        member.join_waiter = Some(tx);
        if let Some(i) = &input.instance_id {
            self.static_members.insert(i.clone(), new_id.clone());
        }
        self.members.insert(new_id.clone(), member);
        match self.state {
            ClassicState::Stable if self.select_protocol() == self.protocol_name => {
                // Same protocol: the restarted member takes its old place without a rebalance.
                fx.persist = true;
                let is_leader = self.leader.as_deref() == Some(new_id.as_str());
                let result = if input.supports_skip_assignment {
                    JoinResult {
                        skip_assignment: is_leader,
                        ..self.current_generation_result(&new_id, is_leader)
                    }
                } else {
                    JoinResult {
                        leader: old_leader,
                        ..self.current_generation_result(&new_id, false)
                    }
                };
                if let Some(m) = self.members.get_mut(&new_id) {
                    m.answer_join(result);
                }
            }
            ClassicState::Stable | ClassicState::CompletingRebalance => {
                self.prepare_rebalance(now, now_ms, None, fx);
            }
            _ => self.maybe_complete_join(now, now_ms, fx),
        }
        Reply::Wait(rx)
    }

    fn extend_initial_delay(&mut self, now: Instant, cfg: &GroupConfig) {
        if let (Some(until), Some(cap)) = (self.initial_delay_until, self.initial_delay_cap) {
            if self.state == ClassicState::PreparingRebalance {
                self.initial_delay_until =
                    Some(until.max(now + cfg.initial_rebalance_delay).min(cap));
            }
        }
    }

    fn maybe_prepare_rebalance_or_complete(
        &mut self,
        now: Instant,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) {
        match self.state {
            ClassicState::Empty | ClassicState::Stable | ClassicState::CompletingRebalance => {
                self.prepare_rebalance(now, now_ms, Some(cfg), fx)
            }
            ClassicState::PreparingRebalance => self.maybe_complete_join(now, now_ms, fx),
            ClassicState::Dead => {}
        }
    }

    fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| ms(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Starts a rebalance. `cfg` is given when a join may start the initial delay of an empty group.
    fn prepare_rebalance(
        &mut self,
        now: Instant,
        now_ms: i64,
        cfg: Option<&GroupConfig>,
        fx: &mut Effects,
    ) {
        if self.state == ClassicState::CompletingRebalance {
            // Assignments of the aborted generation are void; members waiting on them must rejoin.
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                m.answer_sync(SyncResult::error(code(Code::RebalanceInProgress)));
            }
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let was_empty = self.state == ClassicState::Empty;
        let timeout = self.max_rebalance_timeout();
        self.transition(ClassicState::PreparingRebalance, now_ms);
        match cfg {
            Some(cfg) if was_empty => {
                let delay = cfg.initial_rebalance_delay.min(timeout);
                self.initial_delay_until = Some(now + delay);
                self.initial_delay_cap = Some(now + timeout.max(delay));
                self.join_deadline = Some(now + timeout.max(delay));
            }
            _ => {
                self.initial_delay_until = None;
                self.initial_delay_cap = None;
                self.join_deadline = Some(now + timeout);
            }
        }
        self.maybe_complete_join(now, now_ms, fx);
    }

    fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.awaiting_join())
    }

    fn maybe_complete_join(&mut self, now: Instant, now_ms: i64, fx: &mut Effects) {
        if self.state != ClassicState::PreparingRebalance {
            return;
        }
        if let Some(until) = self.initial_delay_until {
            if now < until {
                return;
            }
        }
        if self.all_members_joined() {
            self.complete_join(now, now_ms, fx);
        }
    }

    fn complete_join(&mut self, now: Instant, now_ms: i64, fx: &mut Effects) {
        self.initial_delay_until = None;
        self.initial_delay_cap = None;
        self.join_deadline = None;
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            self.transition(ClassicState::Empty, now_ms);
            fx.persist = true;
            return;
        }
        self.protocol_name = self.select_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.transition(ClassicState::CompletingRebalance, now_ms);
        let leader = self.leader.clone().unwrap_or_default();
        let all = self.current_members();
        let sync_deadline = now + self.max_rebalance_timeout();
        let generation = self.generation;
        let (ptype, pname) = (self.protocol_type.clone(), self.protocol_name.clone());
        for m in self.members.values_mut() {
            let is_leader = m.id == leader;
            m.answer_join(JoinResult {
                error: NONE,
                generation,
                protocol_type: ptype.clone(),
                protocol_name: pname.clone(),
                leader: leader.clone(),
                member_id: m.id.clone(),
                skip_assignment: false,
                members: if is_leader { all.clone() } else { Vec::new() },
            });
            m.session_deadline = now + ms(m.session_timeout_ms);
        }
        self.pending_sync = self.members.keys().cloned().collect();
        self.sync_deadline = Some(sync_deadline);
    }

    /// Removes a member; its waiting requests learn it is unknown now.
    fn remove_member(&mut self, id: &str) {
        if let Some(mut m) = self.members.remove(id) {
            m.answer_join(JoinResult::error(code(Code::UnknownMemberId), id));
            m.answer_sync(SyncResult::error(code(Code::UnknownMemberId)));
            if let Some(i) = &m.instance_id {
                if self.static_members.get(i).map(String::as_str) == Some(id) {
                    self.static_members.remove(i);
                }
            }
        }
        self.pending_sync.remove(id);
        if self.leader.as_deref() == Some(id) {
            self.leader = self
                .members
                .values()
                .find(|m| m.awaiting_join())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
    }

    /// A member is gone (left, session expired, never synced): rebalance the rest.
    fn member_departed(&mut self, id: &str, now: Instant, now_ms: i64, fx: &mut Effects) {
        self.remove_member(id);
        match self.state {
            ClassicState::Stable | ClassicState::CompletingRebalance => {
                self.prepare_rebalance(now, now_ms, None, fx)
            }
            ClassicState::PreparingRebalance => self.maybe_complete_join(now, now_ms, fx),
            _ => {}
        }
    }

    // ---- SyncGroup ----

    pub fn sync(&mut self, input: SyncInput, now: Instant, fx: &mut Effects) -> Reply<SyncResult> {
        if self.state == ClassicState::Dead {
            return Reply::Now(SyncResult::error(code(Code::CoordinatorNotAvailable)));
        }
        if let Err(c) = self.validate_member(&input.member_id, input.instance_id.as_deref()) {
            return Reply::Now(SyncResult::error(c.code()));
        }
        if input.generation != self.generation {
            return Reply::Now(SyncResult::error(code(Code::IllegalGeneration)));
        }
        let type_mismatch = input
            .protocol_type
            .as_ref()
            .is_some_and(|t| Some(t) != self.protocol_type.as_ref());
        let name_mismatch = input
            .protocol_name
            .as_ref()
            .is_some_and(|n| Some(n) != self.protocol_name.as_ref());
        if type_mismatch || name_mismatch {
            return Reply::Now(SyncResult::error(code(Code::InconsistentGroupProtocol)));
        }
        self.pending_sync.remove(&input.member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
        let ok = |assignment: Bytes, g: &ClassicGroup| SyncResult {
            error: NONE,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol_name.clone(),
            assignment,
        };
        match self.state {
            ClassicState::Empty | ClassicState::Dead => {
                Reply::Now(SyncResult::error(code(Code::UnknownMemberId)))
            }
            ClassicState::PreparingRebalance => {
                Reply::Now(SyncResult::error(code(Code::RebalanceInProgress)))
            }
            ClassicState::Stable => {
                if let Some(m) = self.members.get_mut(&input.member_id) {
                    m.session_deadline = now + ms(m.session_timeout_ms);
                }
                let a = self
                    .members
                    .get(&input.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                Reply::Now(ok(a, self))
            }
            ClassicState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(&input.member_id) {
                    m.answer_sync(SyncResult::error(code(Code::RebalanceInProgress)));
                    m.sync_waiter = Some(tx);
                    m.session_deadline = now + ms(m.session_timeout_ms);
                }
                if self.leader.as_deref() == Some(input.member_id.as_str()) {
                    let given: HashMap<String, Bytes> = input.assignments.into_iter().collect();
                    for m in self.members.values_mut() {
                        m.assignment = given.get(&m.id).cloned().unwrap_or_default();
                    }
                    self.state = ClassicState::Stable;
                    fx.persist = true;
                    let (ptype, pname) = (self.protocol_type.clone(), self.protocol_name.clone());
                    for m in self.members.values_mut() {
                        let assignment = m.assignment.clone();
                        m.answer_sync(SyncResult {
                            error: NONE,
                            protocol_type: ptype.clone(),
                            protocol_name: pname.clone(),
                            assignment,
                        });
                    }
                }
                Reply::Wait(rx)
            }
        }
    }

    // ---- Heartbeat, LeaveGroup, commits ----

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), Code> {
        if self.state == ClassicState::Dead {
            return Err(Code::CoordinatorNotAvailable);
        }
        self.validate_member(member_id, instance_id)?;
        if generation != self.generation {
            return Err(Code::IllegalGeneration);
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.session_deadline = now + ms(m.session_timeout_ms);
        }
        match self.state {
            ClassicState::Empty => Err(Code::UnknownMemberId),
            ClassicState::PreparingRebalance => Err(Code::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// One member of a LeaveGroup. `member_id` may be empty when `instance_id` names the member.
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
        now_ms: i64,
        fx: &mut Effects,
    ) -> Result<(), Code> {
        if self.state == ClassicState::Dead {
            return Err(Code::CoordinatorNotAvailable);
        }
        let target = match instance_id {
            Some(instance) => match self.static_members.get(instance) {
                None => return Err(Code::UnknownMemberId),
                Some(existing) if !member_id.is_empty() && existing != member_id => {
                    return Err(Code::FencedInstanceId)
                }
                Some(existing) => existing.clone(),
            },
            None => {
                if self.pending_members.remove(member_id).is_some() {
                    self.maybe_complete_join(now, now_ms, fx);
                    return Ok(());
                }
                if !self.members.contains_key(member_id) {
                    return Err(Code::UnknownMemberId);
                }
                member_id.to_string()
            }
        };
        self.member_departed(&target, now, now_ms, fx);
        Ok(())
    }

    /// Kafka's checks for an OffsetCommit against this group; a valid commit from a member also
    /// keeps its session alive.
    pub fn validate_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), Code> {
        if self.state == ClassicState::Dead {
            return Err(Code::CoordinatorNotAvailable);
        }
        if generation < 0 && self.state == ClassicState::Empty {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_member(member_id, instance_id)?;
            if generation != self.generation {
                return Err(Code::IllegalGeneration);
            }
        } else if self.state != ClassicState::Empty {
            return Err(Code::UnknownMemberId);
        }
        if self.state == ClassicState::CompletingRebalance {
            return Err(Code::RebalanceInProgress);
        }
        if matches!(
            self.state,
            ClassicState::Stable | ClassicState::PreparingRebalance
        ) {
            if let Some(m) = self.members.get_mut(member_id) {
                m.session_deadline = now + ms(m.session_timeout_ms);
            }
        }
        Ok(())
    }

    /// Topics the members subscribe to (consumer protocol only), for OffsetDelete and expiry.
    pub fn subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = HashSet::new();
        for m in self.members.values() {
            topics.extend(super::protocol::subscribed_topics(
                &m.metadata_for(protocol),
            )?);
        }
        Some(topics)
    }

    // ---- timers ----

    /// Members whose session ran out; a member with a JoinGroup or SyncGroup waiting is alive.
    fn expired_sessions(&self, now: Instant) -> Vec<String> {
        self.members
            .values()
            .filter(|m| now >= m.session_deadline && !m.awaiting_join() && m.sync_waiter.is_none())
            .map(|m| m.id.clone())
            .collect()
    }

    /// Applies every deadline that has passed.
    pub fn tick(&mut self, now: Instant, now_ms: i64, fx: &mut Effects) {
        self.pending_members.retain(|_, deadline| *deadline > now);
        match self.state {
            ClassicState::PreparingRebalance => {
                // As in Kafka, a member that neither heartbeats nor rejoins within its session
                // timeout is gone during a rebalance too: the join completes without it rather
                // than waiting out the rebalance timeout (minutes for Kafka Streams) for a
                // member that crashed.
                for id in self.expired_sessions(now) {
                    tracing::info!(member = %id, "classic group member session expired");
                    self.member_departed(&id, now, now_ms, fx);
                }
                if self.state != ClassicState::PreparingRebalance {
                    return;
                }
                if self.join_deadline.is_some_and(|d| now >= d) {
                    self.complete_join(now, now_ms, fx);
                } else {
                    self.maybe_complete_join(now, now_ms, fx);
                }
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                if self.sync_deadline.is_some_and(|d| now >= d) && !self.pending_sync.is_empty() {
                    let late: Vec<String> = self.pending_sync.drain().collect();
                    for id in late {
                        self.remove_member(&id);
                    }
                    self.prepare_rebalance(now, now_ms, None, fx);
                    return;
                }
                for id in self.expired_sessions(now) {
                    tracing::info!(member = %id, "classic group member session expired");
                    self.member_departed(&id, now, now_ms, fx);
                }
            }
            ClassicState::Empty | ClassicState::Dead => {}
        }
    }
}

pub fn ms(v: i32) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}
