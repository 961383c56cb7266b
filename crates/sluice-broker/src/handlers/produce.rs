//! Produce: validate and append producers' record batches, acknowledging per `acks` and, in
//! durable mode, only once the group commit has fsynced them.

use std::sync::Arc;

use futures::FutureExt;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use sluice_log::{AppendError, AppendOptions};

use super::str_bytes;
use crate::background::now_ms;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{code, Code, KafkaCode};
use crate::partition::{Partition, LEADER_EPOCH};

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

/// Asks the transaction coordinator whether a transactional batch may be written here (the
/// first batch speaks for the request: one producer writes a partition's batches). From v12
/// (transactions v2) the produce itself adds the partition to the transaction.
fn verify_transactional(
    broker: &crate::broker::Broker,
    v: i16,
    topic: &str,
    partition: i32,
    records: &[u8],
) -> Result<(), Code> {
    match sluice_log::BatchHeader::parse(records) {
        Ok(h) if h.is_transactional() && !h.is_control() && h.has_producer_id() && v >= 12 => {
            broker
                .txns
                .add_from_produce(broker, h.producer_id, h.producer_epoch, topic, partition)
        }
        Ok(h) if h.is_transactional() && !h.is_control() && h.has_producer_id() => broker
            .txns
            .verify_produce(h.producer_id, h.producer_epoch, topic, partition),
        // Not transactional, or malformed: the log's validation answers.
        _ => Ok(()),
    }
}

pub async fn handle(ctx: &Ctx, req: ProduceRequest) -> Outcome<ProduceResponse> {
    let v = ctx.api_version;
    let broker = &ctx.broker;
    let durable = broker.config.durable;
    if req.acks != 0 && req.acks != 1 && req.acks != -1 {
        let mut resp = ProduceResponse::default();
        for t in req.topic_data {
            let mut tr = TopicProduceResponse::default();
            tr.name = t.name;
            tr.topic_id = t.topic_id;
            tr.partition_responses = t
                .partition_data
                .iter()
                .map(|p| partition_error(p.index, code(Code::InvalidRequiredAcks), None, v))
                .collect();
            resp.responses.push(tr);
        }
        return Outcome::Now(resp);
    }
    let opts = AppendOptions {
        leader_epoch: LEADER_EPOCH,
        now_ms: now_ms(),
        origin_client: true,
    };
    let mut resp = ProduceResponse::default();
    // Partitions whose records must be fsynced before the answer (durable mode), by response slot.
    let mut to_flush: Vec<(usize, usize, Arc<Partition>)> = Vec::new();

    for t in req.topic_data {
        let mut tr = TopicProduceResponse::default();
        let topic = if v >= 13 {
            tr.topic_id = t.topic_id;
            broker
                .topics
                .get_by_id(t.topic_id)
                .ok_or(Code::UnknownTopicId)
        } else {
            tr.name = t.name.clone();
            // As in Kafka, only Metadata auto-creates topics: a produce to a missing topic (or an
            // illegal name, which can never exist) is UNKNOWN_TOPIC_OR_PARTITION.
            broker
                .topics
                .get(&t.name.0)
                .ok_or(Code::UnknownTopicOrPartition)
        };
        let topic = topic.and_then(|topic| {
            // Kafka refuses client writes to internal topics.
            if topic.internal {
                Err(Code::InvalidTopicException)
            } else {
                Ok(topic)
            }
        });
        for pd in t.partition_data {
            let topic = match &topic {
                Ok(topic) => topic,
                Err(c) => {
                    tr.partition_responses
                        .push(partition_error(pd.index, c.code(), None, v));
                    continue;
                }
            };
            let Some(partition) = topic.partition(pd.index) else {
                tr.partition_responses.push(partition_error(
                    pd.index,
                    code(Code::UnknownTopicOrPartition),
                    None,
                    v,
                ));
                continue;
            };
            let Some(records) = pd.records.filter(|r| !r.is_empty()) else {
                tr.partition_responses.push(partition_error(
                    pd.index,
                    code(Code::InvalidRecord),
                    Some("Produce request carries no records".into()),
                    v,
                ));
                continue;
            };
            // Transactional records only for a partition of the producer's open transaction.
            if let Err(c) = verify_transactional(broker, v, &topic.name, pd.index, &records) {
                tr.partition_responses
                    .push(partition_error(pd.index, c.code(), None, v));
                continue;
            }
            if let Err(e) =
                crate::record_validation::check(broker, &topic.name, &topic.configs, &records)
            {
                tr.partition_responses.push(partition_error(
                    pd.index,
                    code(Code::InvalidRecord),
                    Some(e),
                    v,
                ));
                continue;
            }
            // The log patches copies of the batch headers and writes the records straight
            // from the request buffer: no per-batch copy.
            match partition.append_records(&records, &opts, durable) {
                Ok(out) => {
                    let mut r = PartitionProduceResponse::default();
                    r.index = pd.index;
                    r.base_offset = out.base_offset;
                    r.log_append_time_ms = out.log_append_time;
                    if v >= 5 {
                        r.log_start_offset = out.log_start_offset;
                    }
                    if durable && !out.duplicate {
                        to_flush.push((
                            resp.responses.len(),
                            tr.partition_responses.len(),
                            partition.clone(),
                        ));
                    }
                    tr.partition_responses.push(r);
                }
                Err(e) => {
                    tracing::debug!(topic = %topic.name, partition = pd.index, error = %e, "produce rejected");
                    let mut r = partition_error(pd.index, e.code(), Some(e.to_string()), v);
                    // The log answered, so Kafka reports its start offset, and for record-level
                    // rejections which record (Sluice validates per batch: the first).
                    // (Size and CRC failures are caught before the log in Kafka: no offset.)
                    let from_log = matches!(
                        e,
                        AppendError::InvalidRecord(_)
                            | AppendError::InvalidTimestamp(_)
                            | AppendError::OutOfOrderSequence(_)
                            | AppendError::InvalidProducerEpoch(_)
                    );
                    if v >= 5 && from_log {
                        r.log_start_offset = partition.log_start_offset();
                    }
                    if v >= 8
                        && matches!(
                            e,
                            AppendError::InvalidRecord(_) | AppendError::InvalidTimestamp(_)
                        )
                    {
                        r.record_errors = vec![BatchIndexAndErrorMessage::default()];
                    }
                    tr.partition_responses.push(r);
                }
            }
        }
        resp.responses.push(tr);
    }

    if req.acks == 0 {
        // No answer is sent, but durable mode still syncs what was written.
        for (_, _, p) in to_flush {
            let flusher = broker.flusher.clone();
            tokio::spawn(async move { flusher.flush(p).await });
        }
        return Outcome::Silent;
    }
    if to_flush.is_empty() {
        return Outcome::Now(resp);
    }
    detach_from_request(&mut resp);
    // Queued before the answer is deferred: the connection polls it only after the answers
    // before it are sent, and the sync must not wait for that.
    let syncs: Vec<_> = to_flush
        .iter()
        .map(|(_, _, p)| broker.flusher.flush(p.clone()))
        .collect();
    Outcome::Later(
        async move {
            let results = futures::future::join_all(syncs).await;
            for ((ti, pi, _), result) in to_flush.iter().zip(results) {
                if let Err(e) = result {
                    let r = &mut resp.responses[*ti].partition_responses[*pi];
                    *r = partition_error(r.index, code(Code::KafkaStorageError), Some(e), v);
                }
            }
            resp
        }
        .boxed(),
    )
}

/// Gives a deferred answer its own copy of the topic names it echoes.
///
/// Why: a decoded name is a slice of the request frame, and the frame is a slice of the
/// connection's read buffer. An answer that waits for an fsync would keep that whole buffer
/// (megabytes, for a producer's request) alive until the sync ends, so the connection could not
/// reuse it for the next request and had to allocate and fault in a fresh one each time: about
/// 11 % of the broker's CPU in a durable profile (realloc copies, page faults, page clearing).
fn detach_from_request(resp: &mut ProduceResponse) {
    for t in &mut resp.responses {
        if !t.name.0.is_empty() {
            t.name.0 = str_bytes(t.name.0.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    #[test]
    fn a_deferred_answer_keeps_no_slice_of_the_request() {
        let frame = Bytes::from(b"....orders....".repeat(1000));
        let name = StrBytes::from_utf8(frame.slice(4..10)).unwrap();
        let mut resp = ProduceResponse::default();
        let mut t = TopicProduceResponse::default();
        t.name = TopicName(name);
        resp.responses.push(t);
        // v13+ answers carry a topic id and no name: nothing to copy there.
        resp.responses.push(TopicProduceResponse::default());

        detach_from_request(&mut resp);

        let echoed = resp.responses[0].name.0.as_str();
        assert_eq!(echoed, "orders");
        let within = frame.as_ptr_range();
        assert!(
            !within.contains(&echoed.as_ptr()),
            "the name still points into the frame"
        );
        assert!(resp.responses[1].name.0.is_empty());
    }
}
