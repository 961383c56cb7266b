//! The coordinator's KIP-848 entry points: ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//! Group lookup, kind conversion and persistence live here; the protocol rules live in
//! [`super::consumer`].

use std::time::Instant;

use uuid::Uuid;

use super::assignor::Assignment;
use super::consumer::{ConsumerGroup, HeartbeatError, HeartbeatInput, HeartbeatOutput};
use super::{Group, GroupCoordinator, Kind};
use crate::background::now_ms;
use crate::broker::Broker;
use crate::error::Code;

pub struct DescribedConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub assignment: Assignment,
    pub target_assignment: Assignment,
}

pub struct DescribedConsumerGroup {
    pub state: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    pub members: Vec<DescribedConsumerMember>,
}

impl GroupCoordinator {
    pub fn consumer_heartbeat(
        &self,
        broker: &Broker,
        group_id: &str,
        input: HeartbeatInput,
        api_version: i16,
    ) -> Result<HeartbeatOutput, HeartbeatError> {
        validate(
            &input,
            group_id,
            api_version,
            &self.config.consumer_assignors,
        )?;
        let (now, now_ms) = (Instant::now(), now_ms());
        let mut groups = self.groups.lock();
        if !groups.contains_key(group_id) {
            if input.member_epoch != 0 {
                return Err((
                    Code::UnknownMemberId,
                    format!("Group {group_id} not found."),
                ));
            }
            groups.insert(
                group_id.to_string(),
                Group {
                    kind: Kind::Consumer(ConsumerGroup::new(0, now_ms)),
                    offsets: Default::default(),
                },
            );
        }
        let Some(group) = groups.get_mut(group_id) else {
            return Err((Code::UnknownServerError, "group vanished".into()));
        };
        if let Kind::Classic(c) = &group.kind {
            if !c.is_empty() || input.member_epoch != 0 {
                return Err((
                    Code::GroupIdNotFound,
                    format!("Group {group_id} is not a consumer group."),
                ));
            }
            // An empty classic (or simple) group becomes a consumer group, keeping its offsets.
            group.kind = Kind::Consumer(ConsumerGroup::new(c.generation.max(0), now_ms));
        }
        let Kind::Consumer(g) = &mut group.kind else {
            return Err((Code::UnknownServerError, "group kind".into()));
        };
        let topics = &broker.topics;
        let resolve = |name: &str| topics.get(name).map(|t| (t.id, t.partitions.len() as i32));
        let epoch_before = g.group_epoch;
        let out = g.heartbeat(group_id, input, &resolve, &self.config, now, now_ms);
        if g.group_epoch != epoch_before {
            broker.metrics.rebalanced(1);
            if let Err(c) = self.write(broker, group_id, &[g.epoch_record(group_id)]) {
                tracing::warn!(group = group_id, error = ?c, "could not persist group epoch");
            }
        }
        out
    }

    /// Whether a group of any protocol exists (to tell "not found" from "not a consumer group").
    pub fn group_exists(&self, group_id: &str) -> bool {
        self.groups.lock().contains_key(group_id)
    }

    pub fn describe_consumer(&self, group_id: &str) -> Result<DescribedConsumerGroup, Code> {
        let groups = self.groups.lock();
        let Some(Group {
            kind: Kind::Consumer(g),
            ..
        }) = groups.get(group_id)
        else {
            return Err(Code::GroupIdNotFound);
        };
        let assignor = g
            .members
            .values()
            .find_map(|m| m.server_assignor.clone())
            .unwrap_or_else(|| self.config.consumer_assignors[0].clone());
        Ok(DescribedConsumerGroup {
            state: g.state_name().to_string(),
            group_epoch: g.group_epoch,
            assignment_epoch: g.assignment_epoch,
            assignor_name: assignor,
            members: g
                .members
                .values()
                .map(|m| DescribedConsumerMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: m.member_epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.subscribed_topics.clone(),
                    assignment: m.assigned.clone(),
                    target_assignment: g.target.get(&m.id).cloned().unwrap_or_default(),
                })
                .collect(),
        })
    }
}

/// Kafka's request checks, before the group is touched.
fn validate(
    input: &HeartbeatInput,
    group_id: &str,
    api_version: i16,
    assignors: &[String],
) -> Result<(), HeartbeatError> {
    let invalid = |m: &str| Err((Code::InvalidRequest, m.to_string()));
    if group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if input.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if input.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    let epoch = input.member_epoch;
    if (api_version >= 1 || epoch != 0) && input.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    match epoch {
        0 => {
            if input.rebalance_timeout_ms == -1 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if input.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            if input
                .subscribed_topic_names
                .as_ref()
                .is_none_or(|s| s.is_empty())
            {
                return invalid("SubscribedTopicNames must be set in first request.");
            }
        }
        -2 if input.instance_id.is_none() => return invalid("InstanceId can't be null."),
        -2 | -1 => {}
        e if e > 0 => {}
        _ => return invalid("MemberEpoch is invalid."),
    }
    if let Some(a) = &input.server_assignor {
        if !assignors.contains(a) {
            return Err((
                Code::UnsupportedAssignor,
                format!(
                    "ServerAssignor {a} is not supported. Supported assignors: {}.",
                    assignors.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Topic ids to names for describe answers.
pub fn topic_name(broker: &Broker, id: Uuid) -> String {
    broker
        .topics
        .get_by_id(id)
        .map(|t| t.name.to_string())
        .unwrap_or_default()
}
