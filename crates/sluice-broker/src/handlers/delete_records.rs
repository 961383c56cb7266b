//! DeleteRecords: moves partitions' log start offset forward (offset -1 means the high
//! watermark) and answers with the new low watermark. Segments wholly below it are deleted.

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::broker::Broker;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{Code, KafkaCode};

/// DeleteRecords' "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub async fn handle(ctx: &Ctx, req: DeleteRecordsRequest) -> Outcome<DeleteRecordsResponse> {
    let broker = ctx.broker.clone();
    let work: Vec<(String, Vec<(i32, i64)>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.offset))
                    .collect(),
            )
        })
        .collect();
    let counts: Vec<usize> = work.iter().map(|(_, parts)| parts.len()).collect();
    // Deleting segment files is I/O; keep it off the request threads.
    let outcomes = tokio::task::spawn_blocking(move || {
        work.iter()
            .map(|(topic, parts)| {
                parts
                    .iter()
                    .map(|&(p, offset)| delete(&broker, topic, p, offset))
                    .collect()
            })
            .collect::<Vec<Vec<_>>>()
    })
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "delete records task failed");
        counts
            .iter()
            .map(|&n| vec![Err(Code::UnknownServerError.code()); n])
            .collect()
    });
    let mut resp = DeleteRecordsResponse::default();
    for (t, outcomes) in req.topics.into_iter().zip(outcomes) {
        let mut tr = DeleteRecordsTopicResult::default();
        tr.name = t.name;
        for (p, outcome) in t.partitions.iter().zip(outcomes) {
            let mut pr = DeleteRecordsPartitionResult::default();
            pr.partition_index = p.partition_index;
            match outcome {
                Ok(low_watermark) => pr.low_watermark = low_watermark,
                Err(code) => {
                    pr.low_watermark = -1;
                    pr.error_code = code;
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Outcome::Now(resp)
}

/// Deletes one partition's records before `offset`; the new low watermark or an error code.
fn delete(broker: &Arc<Broker>, topic: &str, index: i32, offset: i64) -> Result<i64, i16> {
    let topic = broker
        .topics
        .get(topic)
        .ok_or(Code::UnknownTopicOrPartition.code())?;
    if topic.internal {
        return Err(Code::InvalidTopicException.code());
    }
    let part = topic
        .partition(index)
        .ok_or(Code::UnknownTopicOrPartition.code())?;
    // The high watermark only grows, so reading it before taking the lock is safe.
    let hw = part.high_watermark();
    part.with_log(|log| {
        if !log.config().cleanup_policy_delete {
            return Err(Code::PolicyViolation.code());
        }
        let target = if offset == HIGH_WATERMARK { hw } else { offset };
        if target < 0 || target > hw {
            return Err(Code::OffsetOutOfRange.code());
        }
        if target <= log.log_start_offset() {
            return Ok(log.log_start_offset());
        }
        log.delete_records_before(target).map_err(|e| e.code())
    })
}
