//! DescribeTransactions: the state, producer, timeout, start time and partitions of each asked
//! transactional id (TRANSACTIONAL_ID_NOT_FOUND for ids the coordinator does not know).

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

pub async fn handle(
    ctx: &Ctx,
    req: DescribeTransactionsRequest,
) -> Outcome<DescribeTransactionsResponse> {
    let mut resp = DescribeTransactionsResponse::default();
    for id in req.transactional_ids {
        let mut s = TransactionState::default();
        match ctx.broker.txns.describe(&id.0) {
            None => {
                s.error_code = Code::TransactionalIdNotFound.code();
                s.transaction_state = str_bytes("");
                s.producer_id = ProducerId(-1);
                s.producer_epoch = -1;
                s.transaction_start_time_ms = -1;
            }
            Some(m) => {
                s.transaction_state = str_bytes(m.state.name());
                s.transaction_timeout_ms = m.timeout_ms;
                s.transaction_start_time_ms = m.start_ms;
                s.producer_id = ProducerId(m.producer_id);
                s.producer_epoch = m.producer_epoch;
                for (topic, partition) in &m.partitions {
                    match s.topics.last_mut() {
                        Some(t) if t.topic.0.as_str() == topic => t.partitions.push(*partition),
                        _ => {
                            let mut t = TopicData::default();
                            t.topic = TopicName(str_bytes(topic.clone()));
                            t.partitions.push(*partition);
                            s.topics.push(t);
                        }
                    }
                }
            }
        }
        s.transactional_id = id;
        resp.transaction_states.push(s);
    }
    Outcome::Now(resp)
}
