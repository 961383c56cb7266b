//! OffsetDelete: remove a group's committed offsets for partitions it no longer consumes.

use futures::FutureExt;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse, TopicName};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

fn response(results: Vec<(String, Vec<(i32, i16)>)>) -> OffsetDeleteResponse {
    let mut resp = OffsetDeleteResponse::default();
    resp.topics = results
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetDeleteResponseTopic::default();
            t.name = TopicName(str_bytes(name));
            t.partitions = parts
                .into_iter()
                .map(|(index, code)| {
                    let mut p = OffsetDeleteResponsePartition::default();
                    p.partition_index = index;
                    p.error_code = code;
                    p
                })
                .collect();
            t
        })
        .collect();
    resp
}

pub async fn handle(ctx: &Ctx, req: OffsetDeleteRequest) -> Outcome<OffsetDeleteResponse> {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let parts = t.partitions.iter().map(|p| p.partition_index).collect();
            (t.name.to_string(), parts)
        })
        .collect();
    match ctx
        .broker
        .groups
        .delete_offsets(&ctx.broker, &req.group_id, topics)
    {
        Err(c) => {
            let mut resp = OffsetDeleteResponse::default();
            resp.error_code = c.code();
            Outcome::Now(resp)
        }
        Ok((results, None)) => Outcome::Now(response(results)),
        Ok((results, Some(partition))) => {
            let flusher = ctx.broker.flusher.clone();
            Outcome::Later(
                async move {
                    match flusher.flush(partition).await {
                        Ok(()) => response(results),
                        Err(e) => {
                            tracing::error!(error = %e, "offset deletion fsync failed");
                            let mut resp = OffsetDeleteResponse::default();
                            resp.error_code = Code::CoordinatorNotAvailable.code();
                            resp
                        }
                    }
                }
                .boxed(),
            )
        }
    }
}
