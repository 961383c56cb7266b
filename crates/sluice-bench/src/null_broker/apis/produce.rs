//! Produce: check each record set's batch structure, give it offsets and acknowledge at once.
//! Nothing is written anywhere; with retention on, a patched copy stays in memory for Fetch.

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::{code, str_bytes};
use crate::null_broker::batch;
use crate::null_broker::state::Broker;

fn partition_error(
    index: i32,
    error: i16,
    message: Option<String>,
    v: i16,
) -> PartitionProduceResponse {
    let mut r = PartitionProduceResponse::default();
    r.index = index;
    r.error_code = error;
    r.base_offset = -1;
    r.log_append_time_ms = -1;
    if v >= 8 {
        r.error_message = message.map(str_bytes);
    }
    r
}

/// The response, or None for acks=0 (Kafka sends nothing back then).
pub fn handle(broker: &Broker, req: ProduceRequest, v: i16) -> Option<ProduceResponse> {
    let bad_acks = !(-1..=1).contains(&req.acks);
    let retain = broker.config.retain_bytes;
    let mut resp = ProduceResponse::default();
    let mut appended = false;
    for t in req.topic_data {
        let mut tr = TopicProduceResponse::default();
        let topic = if v >= 13 {
            tr.topic_id = t.topic_id;
            broker.topic_by_id(t.topic_id).ok_or(code::UNKNOWN_TOPIC_ID)
        } else {
            tr.name = t.name.clone();
            broker
                .topic_or_create(&t.name.0)
                .ok_or(code::INVALID_TOPIC_EXCEPTION)
        };
        for pd in t.partition_data {
            if bad_acks {
                tr.partition_responses.push(partition_error(
                    pd.index,
                    code::INVALID_REQUIRED_ACKS,
                    None,
                    v,
                ));
                continue;
            }
            let partition = match &topic {
                Ok(topic) => topic
                    .partition(pd.index)
                    .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION),
                Err(c) => Err(*c),
            };
            let partition = match partition {
                Ok(p) => p,
                Err(c) => {
                    tr.partition_responses
                        .push(partition_error(pd.index, c, None, v));
                    continue;
                }
            };
            let records = pd.records.unwrap_or_default();
            let offsets = match batch::offsets_taken(&records) {
                Ok(n) if n > 0 => n,
                Ok(_) => {
                    tr.partition_responses.push(partition_error(
                        pd.index,
                        code::INVALID_REQUEST,
                        Some("Produce request carries no records".into()),
                        v,
                    ));
                    continue;
                }
                Err(e) => {
                    tr.partition_responses.push(partition_error(
                        pd.index,
                        code::CORRUPT_MESSAGE,
                        Some(e.to_string()),
                        v,
                    ));
                    continue;
                }
            };
            let (base, marks) = partition.append(&records, offsets, retain);
            appended = true;
            let mut r = PartitionProduceResponse::default();
            r.index = pd.index;
            r.base_offset = base;
            r.log_append_time_ms = -1;
            if v >= 5 {
                r.log_start_offset = marks.start;
            }
            tr.partition_responses.push(r);
        }
        resp.responses.push(tr);
    }
    if appended && retain > 0 {
        broker.appended.notify_waiters();
    }
    (req.acks != 0).then_some(resp)
}
