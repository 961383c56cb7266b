//! OffsetFetch: a group's committed offsets, for given partitions or all of them (null topics),
//! for one group (v1-7) or several groups at once (v8+).

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
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
                    Ok(fetched) => out.topics = group_topics(fetched, v),
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
        Ok(fetched) => resp.topics = single_topics(fetched, v, 0),
        Err(c) if v >= 2 => resp.error_code = c.code(),
        // v1 has no top-level error: every asked partition carries it.
        Err(c) => {
            let asked: Fetched = topics
                .unwrap_or_default()
                .into_iter()
                .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, None)).collect()))
                .collect();
            resp.topics = single_topics(asked, v, c.code());
        }
    }
    Outcome::Now(resp)
}

fn single_topics(fetched: Fetched, v: i16, error: i16) -> Vec<OffsetFetchResponseTopic> {
    fetched
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetFetchResponseTopic::default();
            t.name = TopicName(str_bytes(name));
            t.partitions = parts
                .into_iter()
                .map(|(index, c)| {
                    let (offset, epoch, metadata) = fields(c, v);
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = index;
                    p.committed_offset = offset;
                    p.committed_leader_epoch = epoch;
                    p.metadata = Some(str_bytes(metadata));
                    p.error_code = error;
                    p
                })
                .collect();
            t
        })
        .collect()
}

fn group_topics(fetched: Fetched, v: i16) -> Vec<OffsetFetchResponseTopics> {
    fetched
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetFetchResponseTopics::default();
            t.name = TopicName(str_bytes(name));
            t.partitions = parts
                .into_iter()
                .map(|(index, c)| {
                    let (offset, epoch, metadata) = fields(c, v);
                    let mut p = OffsetFetchResponsePartitions::default();
                    p.partition_index = index;
                    p.committed_offset = offset;
                    p.committed_leader_epoch = epoch;
                    p.metadata = Some(str_bytes(metadata));
                    p
                })
                .collect();
            t
        })
        .collect()
}
