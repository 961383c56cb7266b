//! OffsetCommit: store a group's consumed positions in `__consumer_offsets`. Acknowledged after
//! the append, and in durable mode after the fsync.

use futures::FutureExt;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, TopicName};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{Code, NONE};
use crate::group::offsets::{CommitInput, CommitPartition};

fn response(results: Vec<(String, Vec<(i32, i16)>)>) -> OffsetCommitResponse {
    let mut resp = OffsetCommitResponse::default();
    resp.topics = results
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetCommitResponseTopic::default();
            t.name = TopicName(str_bytes(name));
            t.partitions = parts
                .into_iter()
                .map(|(index, c)| {
                    let mut p = OffsetCommitResponsePartition::default();
                    p.partition_index = index;
                    p.error_code = c;
                    p
                })
                .collect();
            t
        })
        .collect();
    resp
}

pub async fn handle(ctx: &Ctx, req: OffsetCommitRequest) -> Outcome<OffsetCommitResponse> {
    let v = ctx.api_version;
    let input = CommitInput {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        generation_or_epoch: req.generation_id_or_member_epoch,
        retention_ms: if (2..=4).contains(&v) {
            req.retention_time_ms
        } else {
            -1
        },
        api_version: v,
        topics: req
            .topics
            .into_iter()
            .map(|t| {
                let parts = t
                    .partitions
                    .into_iter()
                    .map(|p| CommitPartition {
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: if v >= 6 { p.committed_leader_epoch } else { -1 },
                        metadata: p.committed_metadata.map(|m| m.to_string()),
                    })
                    .collect();
                (t.name.to_string(), parts)
            })
            .collect(),
    };
    let outcome = ctx.broker.groups.commit_offsets(&ctx.broker, input);
    let Some(partition) = outcome.flush else {
        return Outcome::Now(response(outcome.results));
    };
    let flusher = ctx.broker.flusher.clone();
    let mut results = outcome.results;
    Outcome::Later(
        async move {
            if let Err(e) = flusher.flush(partition).await {
                tracing::error!(error = %e, "offset commit fsync failed");
                for (_, parts) in &mut results {
                    for (_, c) in parts.iter_mut().filter(|(_, c)| *c == NONE) {
                        *c = Code::CoordinatorNotAvailable.code();
                    }
                }
            }
            response(results)
        }
        .boxed(),
    )
}
