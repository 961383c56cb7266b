//! TxnOffsetCommit: consumer offsets committed inside a transaction. They are checked against
//! the group like OffsetCommit's and written as transactional records; the group sees them only
//! when the transaction commits. From v5 (transactions v2) the group's partition joins the
//! transaction here, without AddOffsetsToTxn.

use futures::FutureExt;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::end_txn::fenced_before;
use crate::background::now_ms;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{Code, NONE};
use crate::group::Committed;

pub async fn handle(ctx: &Ctx, req: TxnOffsetCommitRequest) -> Outcome<TxnOffsetCommitResponse> {
    let broker = &ctx.broker;
    let group = req.group_id.0.to_string();
    let now = now_ms();
    let max_metadata = broker.groups.config.offset_metadata_max_bytes;
    // Per-partition checks first; the rest share the outcome of the group and transaction checks.
    let mut codes: Vec<(String, Vec<(i32, i16)>)> = Vec::new();
    let mut offsets = Vec::new();
    for t in &req.topics {
        let topic = broker.topics.get(&t.name.0);
        let mut list = Vec::new();
        for p in &t.partitions {
            let code = if topic
                .as_ref()
                .is_none_or(|t| t.partition(p.partition_index).is_none())
            {
                Code::UnknownTopicOrPartition.code()
            } else if p
                .committed_metadata
                .as_ref()
                .is_some_and(|m| m.len() > max_metadata)
            {
                Code::OffsetMetadataTooLarge.code()
            } else {
                offsets.push((
                    (t.name.0.to_string(), p.partition_index),
                    Committed {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map(|m| m.to_string())
                            .unwrap_or_default(),
                        commit_timestamp: now,
                        expire_timestamp: None,
                    },
                ));
                NONE
            };
            list.push((p.partition_index, code));
        }
        codes.push((t.name.0.to_string(), list));
    }
    let checked = broker
        .groups
        .validate_txn_commit(
            &group,
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
        )
        .and_then(|()| {
            broker.txns.stage_offsets(
                broker,
                &req.transactional_id.0,
                (req.producer_id.0, req.producer_epoch),
                &group,
                offsets,
                ctx.api_version >= 5,
            )
        });
    let (shared, written) = match checked {
        Ok(p) => (NONE, Some(p)),
        Err(c) => (fenced_before(ctx.api_version, 3, c).code(), None),
    };
    let mut resp = TxnOffsetCommitResponse::default();
    for (name, list) in codes {
        let mut tr = TxnOffsetCommitResponseTopic::default();
        tr.name = kafka_protocol::messages::TopicName(super::str_bytes(name));
        for (index, code) in list {
            let mut pr = TxnOffsetCommitResponsePartition::default();
            pr.partition_index = index;
            pr.error_code = if code == NONE { shared } else { code };
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    match written {
        // Durable mode: answer once the records are on disk, before any EndTxn can follow.
        Some(written) if broker.config.durable => {
            let flusher = broker.flusher.clone();
            Outcome::Later(
                async move {
                    let mut failed = false;
                    for p in written {
                        failed |= flusher.flush(p).await.is_err();
                    }
                    if failed {
                        for t in &mut resp.topics {
                            for pr in &mut t.partitions {
                                if pr.error_code == NONE {
                                    pr.error_code = Code::CoordinatorNotAvailable.code();
                                }
                            }
                        }
                    }
                    resp
                }
                .boxed(),
            )
        }
        _ => Outcome::Now(resp),
    }
}
