//! AddPartitionsToTxn: partitions a transaction is about to write, so its markers reach them.
//! v0-3 carry one transaction (clients); v4+ batch several and may only verify membership
//! (`verify_only`, KIP-890), which is how brokers check a transactional produce.

use futures::FutureExt;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ProducerId, TransactionalId,
};

use super::end_txn::fenced_before;
use crate::broker::Broker;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{Code, NONE};

/// One transaction's part of the request.
struct Wanted {
    id: TransactionalId,
    producer_id: ProducerId,
    epoch: i16,
    verify_only: bool,
    topics: Vec<AddPartitionsToTxnTopic>,
}

pub async fn handle(
    ctx: &Ctx,
    req: AddPartitionsToTxnRequest,
) -> Outcome<AddPartitionsToTxnResponse> {
    let broker = ctx.broker.clone();
    let v = ctx.api_version;
    Outcome::Later(
        async move {
            let mut resp = AddPartitionsToTxnResponse::default();
            if v <= 3 {
                let wanted = Wanted {
                    id: req.v3_and_below_transactional_id,
                    producer_id: req.v3_and_below_producer_id,
                    epoch: req.v3_and_below_producer_epoch,
                    verify_only: false,
                    topics: req.v3_and_below_topics,
                };
                resp.results_by_topic_v3_and_below = one(&broker, v, wanted).await;
                return resp;
            }
            for t in req.transactions {
                let id = t.transactional_id.clone();
                let wanted = Wanted {
                    id: t.transactional_id,
                    producer_id: t.producer_id,
                    epoch: t.producer_epoch,
                    verify_only: t.verify_only,
                    topics: t.topics,
                };
                let mut r = AddPartitionsToTxnResult::default();
                r.transactional_id = id;
                r.topic_results = one(&broker, v, wanted).await;
                resp.results_by_transaction.push(r);
            }
            resp
        }
        .boxed(),
    )
}

/// Answers one transaction: a code per partition.
async fn one(broker: &Broker, v: i16, w: Wanted) -> Vec<AddPartitionsToTxnTopicResult> {
    let partitions: Vec<(String, i32)> = w
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), *p)))
        .collect();
    let unknown = |(topic, p): &(String, i32)| {
        broker
            .topics
            .get(topic)
            .is_none_or(|t| t.partition(*p).is_none())
    };
    let codes: Vec<i16> = if partitions.iter().any(unknown) {
        // Kafka adds nothing when any partition is unknown and says which were not attempted.
        partitions
            .iter()
            .map(|p| {
                if unknown(p) {
                    Code::UnknownTopicOrPartition.code()
                } else {
                    Code::OperationNotAttempted.code()
                }
            })
            .collect()
    } else if w.verify_only {
        match broker
            .txns
            .verify_partitions(&w.id.0, w.producer_id.0, w.epoch, &partitions)
        {
            Ok(found) => found
                .into_iter()
                .map(|ok| {
                    if ok {
                        NONE
                    } else {
                        Code::InvalidTxnState.code()
                    }
                })
                .collect(),
            Err(c) => vec![c.code(); partitions.len()],
        }
    } else {
        let done = broker
            .txns
            .add_partitions(broker, &w.id.0, w.producer_id.0, w.epoch, &partitions)
            .await;
        let code = match done {
            Ok(()) => NONE,
            Err(c) => fenced_before(v, 2, c).code(),
        };
        vec![code; partitions.len()]
    };
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    let mut codes = codes.into_iter();
    for t in w.topics {
        let mut tr = AddPartitionsToTxnTopicResult::default();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = AddPartitionsToTxnPartitionResult::default();
            pr.partition_index = p;
            pr.partition_error_code = codes.next().unwrap_or(NONE);
            tr.results_by_partition.push(pr);
        }
        out.push(tr);
    }
    out
}
