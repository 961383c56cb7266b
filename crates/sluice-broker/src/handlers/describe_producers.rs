//! DescribeProducers: the producers each partition's log remembers, with their epoch, last
//! sequence and timestamp and the first offset of any open transaction (what Kafka's
//! `kafka-transactions.sh find-hanging` looks at).

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

pub async fn handle(
    ctx: &Ctx,
    req: DescribeProducersRequest,
) -> Outcome<DescribeProducersResponse> {
    let mut resp = DescribeProducersResponse::default();
    for t in req.topics {
        let topic = ctx.broker.topics.get(&t.name.0);
        let mut tr = TopicResponse::default();
        for index in t.partition_indexes {
            let mut pr = PartitionResponse::default();
            pr.partition_index = index;
            match topic.as_ref().and_then(|t| t.partition(index)) {
                None => pr.error_code = Code::UnknownTopicOrPartition.code(),
                Some(p) => {
                    pr.active_producers = p
                        .with_log(|l| l.producer_infos())
                        .into_iter()
                        .map(|info| {
                            let mut s = ProducerState::default();
                            s.producer_id = ProducerId(info.producer_id);
                            s.producer_epoch = info.producer_epoch as i32;
                            s.last_sequence = info.last_sequence;
                            s.last_timestamp = info.last_timestamp;
                            // Markers' coordinator epochs are not tracked per producer.
                            s.coordinator_epoch = -1;
                            s.current_txn_start_offset = info.txn_start_offset;
                            s
                        })
                        .collect();
                }
            }
            tr.partitions.push(pr);
        }
        tr.name = t.name;
        resp.topics.push(tr);
    }
    Outcome::Now(resp)
}
