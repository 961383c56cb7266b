//! Read-only snapshots of groups for the HTTP admin API and the metrics scrape: who is in a
//! group, what each member was assigned, and the committed offsets. Taken under the groups lock
//! and copied out, so callers never hold it.

use super::{GroupCoordinator, Kind};
use crate::topics::TopicRegistry;

/// A group's committed offsets by (topic, partition).
pub type CommittedOffsets = Vec<((String, i32), i64)>;

pub struct GroupView {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    /// The assignment protocol (classic) or server assignor (KIP-848); empty when none.
    pub protocol: String,
    /// "classic" or "consumer" (KIP-848).
    pub group_type: String,
    pub members: Vec<MemberView>,
    /// Committed offsets, sorted by topic and partition.
    pub offsets: CommittedOffsets,
}

pub struct MemberView {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// Assigned (topic, partition) pairs, as far as the broker can see them: KIP-848
    /// assignments, and classic assignments of the `consumer` protocol type.
    pub assignments: Vec<(String, i32)>,
}

impl GroupCoordinator {
    /// Committed offsets of every group, or of `only` that one.
    pub fn committed_offsets(&self, only: Option<&str>) -> Vec<(String, CommittedOffsets)> {
        let groups = self.groups.lock();
        let mut out: Vec<_> = groups
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o == id.as_str()))
            .map(|(id, g)| {
                let offsets = g
                    .offsets
                    .iter()
                    .map(|(k, c)| (k.clone(), c.offset))
                    .collect();
                (id.clone(), offsets)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A snapshot of one group (`None` if it does not exist or is dead).
    pub fn view(&self, group_id: &str, topics: &TopicRegistry) -> Option<GroupView> {
        let groups = self.groups.lock();
        let g = groups.get(group_id)?;
        let (protocol, members) = match &g.kind {
            Kind::Classic(c) => {
                if c.state == super::classic::ClassicState::Dead {
                    return None;
                }
                let consumer = c.protocol_type.as_deref() == Some("consumer");
                let members = c
                    .members
                    .values()
                    .map(|m| MemberView {
                        member_id: m.id.clone(),
                        client_id: m.client_id.clone(),
                        host: m.client_host.clone(),
                        assignments: if consumer {
                            decode_consumer_assignment(&m.assignment).unwrap_or_default()
                        } else {
                            Vec::new()
                        },
                    })
                    .collect();
                (c.protocol_name.clone().unwrap_or_default(), members)
            }
            Kind::Consumer(c) => {
                let members = c
                    .members
                    .values()
                    .map(|m| MemberView {
                        member_id: m.id.clone(),
                        client_id: m.client_id.clone(),
                        host: m.client_host.clone(),
                        assignments: m
                            .assigned
                            .iter()
                            .flat_map(|(id, parts)| {
                                let name = topics
                                    .get_by_id(*id)
                                    .map(|t| t.name.to_string())
                                    .unwrap_or_default();
                                parts.iter().map(move |p| (name.clone(), *p))
                            })
                            .collect(),
                    })
                    .collect();
                let assignor = c
                    .members
                    .values()
                    .find_map(|m| m.server_assignor.clone())
                    .unwrap_or_else(|| {
                        self.config
                            .consumer_assignors
                            .first()
                            .cloned()
                            .unwrap_or_default()
                    });
                (assignor, members)
            }
        };
        Some(GroupView {
            group_id: group_id.to_string(),
            state: g.state_name().to_string(),
            protocol_type: g.protocol_type(),
            protocol,
            group_type: g.type_name().to_string(),
            members,
            offsets: g
                .offsets
                .iter()
                .map(|(k, c)| (k.clone(), c.offset))
                .collect(),
        })
    }
}

/// The partitions in a classic `consumer` protocol assignment (ConsumerProtocolAssignment
/// v0-v3: topics with their partitions, then user data). `None` if the bytes do not parse.
fn decode_consumer_assignment(mut b: &[u8]) -> Option<Vec<(String, i32)>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Some(head)
    }
    fn i16_(b: &mut &[u8]) -> Option<i16> {
        take(b, 2).map(|s| i16::from_be_bytes([s[0], s[1]]))
    }
    fn i32_(b: &mut &[u8]) -> Option<i32> {
        take(b, 4).map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    if b.is_empty() {
        return Some(Vec::new());
    }
    let _version = i16_(&mut b)?;
    let topics = i32_(&mut b)?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = i16_(&mut b)?;
        let name = String::from_utf8_lossy(take(&mut b, len.max(0) as usize)?).into_owned();
        let n = i32_(&mut b)?;
        if n < 0 || n as usize > b.len() / 4 {
            return None;
        }
        for _ in 0..n {
            out.push((name.clone(), i32_(&mut b)?));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_a_consumer_assignment() {
        let mut b = vec![
            0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,
        ];
        b.extend([0xff, 0xff, 0xff, 0xff]); // null user data
        let got = super::decode_consumer_assignment(&b).unwrap();
        assert_eq!(got, vec![("t".to_string(), 0), ("t".to_string(), 3)]);
        assert!(super::decode_consumer_assignment(&[0, 1, 0, 0, 0, 9]).is_none());
    }
}
