//! Looking at and removing groups: ListGroups, DescribeGroups (classic view), DeleteGroups.

use std::sync::Arc;

use bytes::Bytes;

use super::classic::ClassicState;
use super::{records, Group, GroupCoordinator, Kind};
use crate::background::now_ms;
use crate::broker::Broker;
use crate::error::{Code, NONE};
use crate::partition::Partition;

pub struct Listed {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
    pub group_type: String,
}

pub struct DescribedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

pub struct Described {
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<DescribedMember>,
}

impl GroupCoordinator {
    /// Groups matching the state and type filters (empty filter = all), compared case-insensitively
    /// as Kafka does.
    pub fn list(&self, states: &[String], types: &[String]) -> Vec<Listed> {
        let groups = self.groups.lock();
        let mut out: Vec<Listed> = groups
            .iter()
            .filter(|(_, g)| !matches!(&g.kind, Kind::Classic(c) if c.state == ClassicState::Dead))
            .filter(|(_, g)| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state_name()))
            })
            .filter(|(_, g)| {
                types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(g.type_name()))
            })
            .map(|(id, g)| Listed {
                group_id: id.clone(),
                protocol_type: g.protocol_type(),
                state: g.state_name().to_string(),
                group_type: g.type_name().to_string(),
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DescribeGroups' view of a group. `Err(GroupIdNotFound)` for unknown groups and for groups
    /// that are not classic groups (Kafka answers those through ConsumerGroupDescribe).
    pub fn describe_classic(&self, group_id: &str) -> Result<Described, Code> {
        let groups = self.groups.lock();
        let Some(Group {
            kind: Kind::Classic(g),
            ..
        }) = groups.get(group_id)
        else {
            return Err(Code::GroupIdNotFound);
        };
        if g.state == ClassicState::Dead {
            return Err(Code::GroupIdNotFound);
        }
        // Kafka shows member metadata and assignments only once the group is Stable.
        let stable = g.state == ClassicState::Stable;
        let protocol = g.protocol_name.clone().unwrap_or_default();
        Ok(Described {
            state: g.state.name().to_string(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members
                .values()
                .map(|m| DescribedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// Writes tombstones for a group's offsets and metadata.
    pub(super) fn delete_group_records(
        &self,
        broker: &Broker,
        id: &str,
        group: &Group,
    ) -> Result<Arc<Partition>, Code> {
        let mut tombstones: Vec<_> = group
            .offsets
            .keys()
            .map(|(t, p)| (records::offset_key(id, t, *p), None))
            .collect();
        tombstones.push((records::classic_group_key(id), None));
        tombstones.push((records::consumer_group_key(id), None));
        self.write(broker, id, &tombstones)
    }

    /// DeleteGroups: each group with its code; the partitions to fsync before answering.
    pub fn delete_groups(
        &self,
        broker: &Broker,
        ids: &[String],
    ) -> (Vec<(String, i16)>, Vec<Arc<Partition>>) {
        let mut groups = self.groups.lock();
        let mut flush = Vec::new();
        let results = ids
            .iter()
            .map(|id| {
                let code = if id.is_empty() {
                    Code::InvalidGroupId.code()
                } else {
                    match groups.get_mut(id) {
                        None => Code::GroupIdNotFound.code(),
                        Some(g) if matches!(&g.kind, Kind::Classic(c) if c.state == ClassicState::Dead) => {
                            Code::GroupIdNotFound.code()
                        }
                        Some(g) if !g.is_empty() => Code::NonEmptyGroup.code(),
                        Some(g) => match self.delete_group_records(broker, id, g) {
                            Ok(p) => {
                                if let Kind::Classic(c) = &mut g.kind {
                                    c.kill(now_ms());
                                }
                                groups.remove(id);
                                if broker.config.durable {
                                    flush.push(p);
                                }
                                NONE
                            }
                            Err(c) => c.code(),
                        },
                    }
                };
                (id.clone(), code)
            })
            .collect();
        (results, flush)
    }
}
