//! KIP-848 consumer groups: the coordinator assigns partitions itself and each member converges
//! to its target through heartbeats, without a stop-the-world rebalance.
//!
//! The group epoch moves whenever membership, subscriptions or subscribed topics change; the
//! target assignment is then recomputed by a server-side assignor. Each member reconciles on its
//! heartbeats: it first gives up partitions it must revoke (keeping its epoch), then moves to the
//! target epoch and receives its new partitions, but only those no other member still owns.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use uuid::Uuid;

use super::assignor::{self, Assignment, MemberSpec};
use super::classic::ms;
use super::config::GroupConfig;
use super::records;
use super::store::KeyValue;
use crate::error::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Stable,
    UnrevokedPartitions,
    UnreleasedPartitions,
}

pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topics: Vec<String>,
    pub server_assignor: Option<String>,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
    pub session_deadline: Instant,
    /// Set while the member must revoke partitions; missing it fences the member.
    pub revocation_deadline: Option<Instant>,
}

pub struct HeartbeatInput {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub server_assignor: Option<String>,
    pub owned: Option<Vec<(Uuid, Vec<i32>)>>,
    pub client_id: String,
    pub client_host: String,
}

pub struct HeartbeatOutput {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub assignment: Option<Vec<(Uuid, Vec<i32>)>>,
}

/// A refused heartbeat: Kafka's code and message.
pub type HeartbeatError = (Code, String);

pub struct ConsumerGroup {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub state_timestamp: i64,
    pub members: BTreeMap<String, ConsumerMember>,
    pub target: HashMap<String, Assignment>,
    /// Subscribed topics as last seen: name -> (id, partitions). A change bumps the group epoch.
    pub subscription_metadata: BTreeMap<String, (Uuid, i32)>,
}

fn flatten(a: &Assignment) -> Vec<(Uuid, Vec<i32>)> {
    a.iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(t, ps)| (*t, ps.iter().copied().collect()))
        .collect()
}

impl ConsumerGroup {
    pub fn new(epoch: i32, now_ms: i64) -> ConsumerGroup {
        ConsumerGroup {
            group_epoch: epoch,
            assignment_epoch: epoch,
            state_timestamp: now_ms,
            members: BTreeMap::new(),
            target: HashMap::new(),
            subscription_metadata: BTreeMap::new(),
        }
    }

    /// Kafka's consumer group states: Empty, Assigning, Reconciling, Stable.
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch != self.assignment_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || m.state != MemberState::Stable)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    pub fn subscribed_topics(&self) -> HashSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed_topics.iter().cloned())
            .collect()
    }

    fn static_member(&self, instance: &str) -> Option<&ConsumerMember> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance))
    }

    /// Partitions owned (assigned or still being revoked) by members other than `except`.
    fn owned_by_others(&self, except: &str) -> HashSet<(Uuid, i32)> {
        let mut out = HashSet::new();
        for m in self.members.values().filter(|m| m.id != except) {
            for a in [&m.assigned, &m.pending_revocation] {
                for (t, ps) in a {
                    out.extend(ps.iter().map(|p| (*t, *p)));
                }
            }
        }
        out
    }

    /// The record that persists the group epoch.
    pub fn epoch_record(&self, group_id: &str) -> KeyValue {
        (
            records::consumer_group_key(group_id),
            Some(records::consumer_group_value(self.group_epoch)),
        )
    }

    pub fn heartbeat(
        &mut self,
        group_id: &str,
        input: HeartbeatInput,
        resolve: &dyn Fn(&str) -> Option<(Uuid, i32)>,
        cfg: &GroupConfig,
        now: Instant,
        now_ms: i64,
    ) -> Result<HeartbeatOutput, HeartbeatError> {
        let epoch = input.member_epoch;
        if epoch == -1 || epoch == -2 {
            return self.leave(group_id, input, cfg, now_ms);
        }
        // Find or create the member, fencing stale epochs and static-instance conflicts.
        let mut bump = false;
        let member_id = if epoch == 0 {
            self.join_member(&input, cfg, now, &mut bump)?
        } else {
            let member = match &input.instance_id {
                Some(instance) => {
                    let m = self.static_member(instance).ok_or((
                        Code::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    ))?;
                    if m.id != input.member_id {
                        return Err((
                            Code::FencedInstanceId,
                            format!("Static member {instance} was fenced by another member."),
                        ));
                    }
                    m
                }
                None => self.members.get(&input.member_id).ok_or((
                    Code::UnknownMemberId,
                    format!(
                        "Member {} is not a member of group {group_id}.",
                        input.member_id
                    ),
                ))?,
            };
            let owned_subset = input.owned.as_ref().is_some_and(|owned| {
                owned.iter().all(|(t, ps)| {
                    ps.iter()
                        .all(|p| member.assigned.get(t).is_some_and(|s| s.contains(p)))
                })
            });
            if epoch > member.member_epoch
                || epoch < member.member_epoch
                    && (epoch != member.previous_member_epoch || !owned_subset)
            {
                return Err((
                    Code::FencedMemberEpoch,
                    format!(
                        "The consumer group member has epoch {epoch} but the coordinator knows {}; \
                         it must abandon its partitions and rejoin.",
                        member.member_epoch
                    ),
                ));
            }
            member.id.clone()
        };
        let Some(member) = self.members.get_mut(&member_id) else {
            return Err((Code::UnknownMemberId, "member vanished".into()));
        };
        let assigned_before = member.assigned.clone();
        member.session_deadline = now + ms(cfg.consumer_session_timeout_ms);
        member.client_id = input.client_id.clone();
        member.client_host = input.client_host.clone();
        if input.rack_id.is_some() {
            member.rack_id = input.rack_id.clone();
        }
        if input.rebalance_timeout_ms >= 0 {
            member.rebalance_timeout_ms = input.rebalance_timeout_ms;
        }
        if let Some(names) = &input.subscribed_topic_names {
            let mut names = names.clone();
            names.sort();
            names.dedup();
            if names != member.subscribed_topics {
                member.subscribed_topics = names;
                bump = true;
            }
        }
        if input.server_assignor.is_some() && input.server_assignor != member.server_assignor {
            member.server_assignor = input.server_assignor.clone();
            bump = true;
        }
        // Topic metadata of every subscription: a created, deleted or grown topic bumps the epoch.
        let metadata: BTreeMap<String, (Uuid, i32)> = self
            .subscribed_topics()
            .into_iter()
            .filter_map(|t| resolve(&t).map(|m| (t, m)))
            .collect();
        if metadata != self.subscription_metadata {
            self.subscription_metadata = metadata;
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target(cfg);
        }
        self.reconcile(&member_id, input.owned.as_deref(), now);
        let Some(member) = self.members.get(&member_id) else {
            return Err((Code::UnknownMemberId, "member vanished".into()));
        };
        let full = epoch == 0
            || input.rebalance_timeout_ms != -1
                && input.subscribed_topic_names.is_some()
                && input.owned.is_some();
        Ok(HeartbeatOutput {
            member_id: member.id.clone(),
            member_epoch: member.member_epoch,
            heartbeat_interval_ms: cfg.consumer_heartbeat_interval_ms,
            assignment: (full || member.assigned != assigned_before)
                .then(|| flatten(&member.assigned)),
        })
    }

    /// Epoch 0: a new member, or a static member taking over its instance's place.
    fn join_member(
        &mut self,
        input: &HeartbeatInput,
        cfg: &GroupConfig,
        now: Instant,
        bump: &mut bool,
    ) -> Result<String, HeartbeatError> {
        let member_id = if input.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            input.member_id.clone()
        };
        let fresh = |id: &str| ConsumerMember {
            id: id.to_string(),
            instance_id: input.instance_id.clone(),
            rack_id: input.rack_id.clone(),
            client_id: input.client_id.clone(),
            client_host: input.client_host.clone(),
            rebalance_timeout_ms: input.rebalance_timeout_ms,
            subscribed_topics: Vec::new(),
            server_assignor: None,
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            session_deadline: now + ms(cfg.consumer_session_timeout_ms),
            revocation_deadline: None,
        };
        if let Some(instance) = &input.instance_id {
            if let Some(old) = self.static_member(instance) {
                if old.member_epoch != -2 {
                    return Err((
                        Code::UnreleasedInstanceId,
                        format!("Static member {instance} has not left the group yet."),
                    ));
                }
                // The restarted instance inherits the old member's assignment: no rebalance.
                let old_id = old.id.clone();
                let Some(mut m) = self.members.remove(&old_id) else {
                    return Err((Code::UnknownMemberId, "member vanished".into()));
                };
                m.id = member_id.clone();
                m.member_epoch = 0;
                m.previous_member_epoch = 0;
                m.session_deadline = now + ms(cfg.consumer_session_timeout_ms);
                if let Some(t) = self.target.remove(&old_id) {
                    self.target.insert(member_id.clone(), t);
                }
                self.members.insert(member_id.clone(), m);
                return Ok(member_id);
            }
        }
        if self.members.len() >= cfg.consumer_max_size && !self.members.contains_key(&member_id) {
            return Err((
                Code::GroupMaxSizeReached,
                "The consumer group has reached its maximum number of members.".into(),
            ));
        }
        match self.members.get_mut(&member_id) {
            // A known member rejoining from scratch (after being fenced): it owns nothing now.
            Some(m) => {
                m.member_epoch = 0;
                m.previous_member_epoch = 0;
                m.assigned.clear();
                m.pending_revocation.clear();
                m.state = MemberState::Stable;
                m.revocation_deadline = None;
            }
            None => {
                self.members.insert(member_id.clone(), fresh(&member_id));
                *bump = true;
            }
        }
        Ok(member_id)
    }

    fn leave(
        &mut self,
        group_id: &str,
        input: HeartbeatInput,
        cfg: &GroupConfig,
        now_ms: i64,
    ) -> Result<HeartbeatOutput, HeartbeatError> {
        let found = match &input.instance_id {
            Some(i) => self.static_member(i).map(|m| m.id.clone()),
            None => self
                .members
                .contains_key(&input.member_id)
                .then(|| input.member_id.clone()),
        };
        let Some(id) = found else {
            return Err((
                Code::UnknownMemberId,
                format!(
                    "Member {} is not a member of group {group_id}.",
                    input.member_id
                ),
            ));
        };
        if input.member_epoch == -2 {
            // A static member leaving temporarily keeps its partitions until its session ends.
            if let Some(m) = self.members.get_mut(&id) {
                m.member_epoch = -2;
            }
        } else {
            self.remove_member(&id, now_ms);
        }
        Ok(HeartbeatOutput {
            member_id: input.member_id,
            member_epoch: input.member_epoch,
            heartbeat_interval_ms: cfg.consumer_heartbeat_interval_ms,
            assignment: None,
        })
    }

    /// Removes a member and bumps the group epoch so the others take over its partitions.
    fn remove_member(&mut self, id: &str, now_ms: i64) {
        self.members.remove(id);
        self.target.remove(id);
        self.group_epoch += 1;
        if self.members.is_empty() {
            self.state_timestamp = now_ms;
        }
    }

    fn compute_target(&mut self, cfg: &GroupConfig) {
        let assignor = self
            .members
            .values()
            .find_map(|m| m.server_assignor.clone())
            .unwrap_or_else(|| cfg.consumer_assignors[0].clone());
        let ids: BTreeMap<&str, Uuid> = self
            .subscription_metadata
            .iter()
            .map(|(n, (id, _))| (n.as_str(), *id))
            .collect();
        let topics: BTreeMap<Uuid, i32> = self.subscription_metadata.values().copied().collect();
        let specs: Vec<MemberSpec<'_>> = self
            .members
            .values()
            .map(|m| MemberSpec {
                id: &m.id,
                topics: m
                    .subscribed_topics
                    .iter()
                    .filter_map(|t| ids.get(t.as_str()).copied())
                    .collect(),
                previous: self.target.get(&m.id),
            })
            .collect();
        let target = assignor::assign(&assignor, &specs, &topics);
        self.target = target;
        self.assignment_epoch = self.group_epoch;
    }

    /// Moves one member toward its target (Kafka's CurrentAssignmentBuilder rules).
    fn reconcile(&mut self, member_id: &str, owned: Option<&[(Uuid, Vec<i32>)]>, now: Instant) {
        let target = self.target.get(member_id).cloned().unwrap_or_default();
        let target_epoch = self.assignment_epoch;
        let others = self.owned_by_others(member_id);
        let Some(m) = self.members.get_mut(member_id) else {
            return;
        };
        if m.member_epoch == -2 {
            return;
        }
        let still_owns = |pending: &Assignment| match owned {
            None => true,
            Some(owned) => owned.iter().any(|(t, ps)| {
                pending
                    .get(t)
                    .is_some_and(|s| ps.iter().any(|p| s.contains(p)))
            }),
        };
        match m.state {
            MemberState::Stable if m.member_epoch == target_epoch => return,
            MemberState::UnrevokedPartitions if still_owns(&m.pending_revocation) => return,
            _ => {}
        }
        // Keep what stays, revoke what goes, add what is free.
        let mut keep = Assignment::new();
        let mut revoke = Assignment::new();
        let mut add = Assignment::new();
        let mut unreleased = false;
        let topics: BTreeSet<Uuid> = target.keys().chain(m.assigned.keys()).copied().collect();
        for t in topics {
            let tgt = target.get(&t).cloned().unwrap_or_default();
            let cur = m.assigned.get(&t).cloned().unwrap_or_default();
            let kept: BTreeSet<i32> = cur.intersection(&tgt).copied().collect();
            let gone: BTreeSet<i32> = cur.difference(&kept).copied().collect();
            let mut new: BTreeSet<i32> = tgt.difference(&kept).copied().collect();
            let before = new.len();
            new.retain(|p| !others.contains(&(t, *p)));
            unreleased |= new.len() != before;
            if !kept.is_empty() {
                keep.insert(t, kept);
            }
            if !gone.is_empty() {
                revoke.insert(t, gone);
            }
            if !new.is_empty() {
                add.insert(t, new);
            }
        }
        if !revoke.is_empty() && still_owns(&revoke) {
            m.state = MemberState::UnrevokedPartitions;
            m.assigned = keep;
            m.pending_revocation = revoke;
            m.revocation_deadline = Some(now + ms(m.rebalance_timeout_ms));
            return;
        }
        for (t, ps) in add {
            keep.entry(t).or_default().extend(ps);
        }
        if m.member_epoch != target_epoch {
            m.previous_member_epoch = m.member_epoch;
            m.member_epoch = target_epoch;
        }
        m.assigned = keep;
        m.pending_revocation.clear();
        m.revocation_deadline = None;
        m.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
    }

    /// Expires sessions and revocations that ran out; returns the epoch record to write if the
    /// group changed.
    pub fn tick(
        &mut self,
        group_id: &str,
        now: Instant,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> Option<KeyValue> {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now >= m.session_deadline || m.revocation_deadline.is_some_and(|d| now >= d)
            })
            .map(|m| m.id.clone())
            .collect();
        if expired.is_empty() {
            return None;
        }
        for id in &expired {
            tracing::info!(group = group_id, member = %id, "consumer group member fenced (session or revocation timeout)");
            self.remove_member(id, now_ms);
        }
        self.compute_target(cfg);
        Some(self.epoch_record(group_id))
    }

    pub fn validate_commit(
        &mut self,
        member_id: &str,
        epoch: i32,
        api_version: i16,
    ) -> Result<(), Code> {
        if epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let m = self.members.get(member_id).ok_or(Code::UnknownMemberId)?;
        if api_version < 9 {
            return Err(Code::UnsupportedVersion);
        }
        if epoch != m.member_epoch {
            return Err(Code::StaleMemberEpoch);
        }
        Ok(())
    }

    pub fn validate_fetch(&self, member: Option<(&str, i32)>) -> Result<(), Code> {
        let Some((id, epoch)) = member else {
            return Ok(());
        };
        if epoch < 0 && id.is_empty() {
            return Ok(());
        }
        let m = self.members.get(id).ok_or(Code::UnknownMemberId)?;
        if epoch != m.member_epoch {
            return Err(Code::StaleMemberEpoch);
        }
        Ok(())
    }
}
