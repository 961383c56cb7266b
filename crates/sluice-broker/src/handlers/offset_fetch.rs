//! OffsetFetch: a group's committed offsets, for given partitions or all of them (null topics),
//! for one group (v1-7) or several groups at once (v8+).
//!
//! With `require_stable` (v7+, KIP-447; read_committed consumers send it) a partition whose
//! offset an open transaction is about to replace answers UNSTABLE_OFFSET_COMMIT instead of the
//! old offset, and the client retries until the transaction ends.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use std::collections::HashSet;

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;
use crate::group::offsets::Fetched;
use crate::group::Committed;

/// (offset, leader epoch, metadata) of a partition; nothing committed reads as -1 and "".
fn fields(c: Option<Committed>, v: i16) -> (i64, i32, String) {
    match c {
        Some(c) => (
            c.offset,
            if v >= 5 { c.leader_epoch } else { -1 },
            c.metadata,
        ),
        None => (-1, -1, String::new()),
    }
}

pub async fn handle(ctx: &Ctx, req: OffsetFetchRequest) -> Outcome<OffsetFetchResponse> {
    let v = ctx.api_version;
    let groups = &ctx.broker.groups;
    let mut resp = OffsetFetchResponse::default();
    if v >= 8 {
        resp.groups = req
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes))
                        .collect()
                });
                let member = if v >= 9 {
                    Some((g.member_id.as_deref().unwrap_or(""), g.member_epoch))
                } else {
                    None
                };
                let mut out = OffsetFetchResponseGroup::default();
                out.group_id = g.group_id.clone();
                match groups.fetch_offsets(&g.group_id, member, topics) {
                    Ok(fetched) => {
                        let unstable = unstable(ctx, &g.group_id, req.require_stable);
                        out.topics = group_topics(fetched, v, &unstable);
                    }
                    Err(c) => out.error_code = c.code(),
                }
                out
            })
            .collect();
        return Outcome::Now(resp);
    }
    let topics: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.to_string(), t.partition_indexes))
            .collect()
    });
    match groups.fetch_offsets(&req.group_id, None, topics.clone()) {
        Ok(fetched) => {
            let unstable = unstable(ctx, &req.group_id, v >= 7 && req.require_stable);
            resp.topics = single_topics(fetched, v, 0, &unstable);
        }
        Err(c) if v >= 2 => resp.error_code = c.code(),
        // v1 has no top-level error: every asked partition carries it.
        Err(c) => {
            let asked: Fetched = topics
                .unwrap_or_default()
                .into_iter()
                .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, None)).collect()))
                .collect();
            resp.topics = single_topics(asked, v, c.code(), &HashSet::new());
        }
    }
    Outcome::Now(resp)
}

/// The partitions to answer UNSTABLE_OFFSET_COMMIT for, when the client asked for stability.
fn unstable(ctx: &Ctx, group_id: &str, require_stable: bool) -> HashSet<(String, i32)> {
    if require_stable {
        ctx.broker.groups.pending_txn_partitions(group_id)
    } else {
        HashSet::new()
    }
}

fn single_topics(
    fetched: Fetched,
    v: i16,
    error: i16,
    unstable: &HashSet<(String, i32)>,
) -> Vec<OffsetFetchResponseTopic> {
    fetched
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetFetchResponseTopic::default();
            t.partitions = parts
                .into_iter()
                .map(|(index, c)| {
                    let is_unstable = unstable.contains(&(name.clone(), index));
                    let (offset, epoch, metadata) = fields(c.filter(|_| !is_unstable), v);
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = index;
                    p.committed_offset = offset;
                    p.committed_leader_epoch = epoch;
                    p.metadata = Some(str_bytes(metadata));
                    p.error_code = if is_unstable {
                        Code::UnstableOffsetCommit.code()
                    } else {
                        error
                    };
                    p
                })
                .collect();
            t.name = TopicName(str_bytes(name));
            t
        })
        .collect()
}

fn group_topics(
    fetched: Fetched,
    v: i16,
    unstable: &HashSet<(String, i32)>,
) -> Vec<OffsetFetchResponseTopics> {
    fetched
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetFetchResponseTopics::default();
            t.partitions = parts
                .into_iter()
                .map(|(index, c)| {
                    let is_unstable = unstable.contains(&(name.clone(), index));
                    let (offset, epoch, metadata) = fields(c.filter(|_| !is_unstable), v);
                    let mut p = OffsetFetchResponsePartitions::default();
                    p.partition_index = index;
                    p.committed_offset = offset;
                    p.committed_leader_epoch = epoch;
                    p.metadata = Some(str_bytes(metadata));
                    if is_unstable {
                        p.error_code = Code::UnstableOffsetCommit.code();
                    }
                    p
                })
                .collect();
            t.name = TopicName(str_bytes(name));
            t
        })
        .collect()
}
