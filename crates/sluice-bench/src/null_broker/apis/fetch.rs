//! Reading: Fetch (serves the in-memory chunks, long-polling until `min_bytes` arrive or
//! `max_wait_ms` passes) and ListOffsets (earliest is the oldest retained offset, latest the
//! next one to be assigned). Fetch is always sessionless: a client asking for a session gets
//! session id 0, which Kafka's protocol allows.

use std::time::Duration;

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
};
use tokio::time::Instant;

use super::code;
use crate::null_broker::state::{Broker, OutOfRange};

/// A fetch that found less than `min_bytes`: wait, then answer.
pub struct Pending {
    req: FetchRequest,
    version: i16,
    deadline: Instant,
    min_bytes: usize,
}

/// The answer now, or a [`Pending`] fetch to wait on.
pub fn handle(broker: &Broker, req: FetchRequest, v: i16) -> Result<FetchResponse, Box<Pending>> {
    let (resp, bytes) = gather(broker, &req, v);
    let min_bytes = req.min_bytes.max(0) as usize;
    if req.max_wait_ms <= 0 || bytes >= min_bytes || has_error(&resp) {
        return Ok(resp);
    }
    Err(Box::new(Pending {
        deadline: Instant::now() + Duration::from_millis(req.max_wait_ms as u64),
        req,
        version: v,
        min_bytes,
    }))
}

impl Pending {
    pub async fn wait(self, broker: &Broker) -> FetchResponse {
        loop {
            // Register for the wake-up before looking, so an append in between is not missed.
            let notified = broker.appended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (resp, bytes) = gather(broker, &self.req, self.version);
            if bytes >= self.min_bytes || has_error(&resp) || Instant::now() >= self.deadline {
                return resp;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(self.deadline) => {}
            }
        }
    }
}

fn has_error(resp: &FetchResponse) -> bool {
    resp.responses
        .iter()
        .any(|t| t.partitions.iter().any(|p| p.error_code != 0))
}

/// Reads every requested partition within the request's byte budgets.
fn gather(broker: &Broker, req: &FetchRequest, v: i16) -> (FetchResponse, usize) {
    let mut remaining = if req.max_bytes <= 0 {
        usize::MAX
    } else {
        req.max_bytes as usize
    };
    let mut total = 0;
    let mut resp = FetchResponse::default();
    for t in &req.topics {
        let mut tr = FetchableTopicResponse::default();
        let topic = if v >= 13 {
            tr.topic_id = t.topic_id;
            broker.topic_by_id(t.topic_id).ok_or(code::UNKNOWN_TOPIC_ID)
        } else {
            tr.topic = t.topic.clone();
            broker
                .topic(&t.topic.0)
                .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)
        };
        for p in &t.partitions {
            let mut pd = PartitionData::default();
            pd.partition_index = p.partition;
            pd.high_watermark = -1;
            pd.aborted_transactions = None;
            // Empty, not null: as Kafka does for a partition with an error, and librdkafka
            // rejects a null record set (size -1) as a protocol error.
            pd.records = Some(Default::default());
            let partition = match &topic {
                Ok(topic) => topic
                    .partition(p.partition)
                    .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION),
                Err(c) => Err(*c),
            };
            match partition {
                Err(c) => pd.error_code = c,
                Ok(partition) => {
                    let limit = (p.partition_max_bytes.max(0) as usize).min(remaining);
                    // Kafka returns at least one batch for the first partition with data, even
                    // over budget, so a consumer can always make progress.
                    match partition.read(p.fetch_offset, limit, total == 0) {
                        Ok((data, marks)) => {
                            remaining = remaining.saturating_sub(data.len());
                            total += data.len();
                            pd.high_watermark = marks.next;
                            pd.last_stable_offset = marks.next;
                            if v >= 5 {
                                pd.log_start_offset = marks.start;
                            }
                            pd.records = Some(data);
                        }
                        Err(OutOfRange) => {
                            let marks = partition.marks();
                            pd.error_code = code::OFFSET_OUT_OF_RANGE;
                            pd.high_watermark = marks.next;
                            if v >= 5 {
                                pd.log_start_offset = marks.start;
                            }
                        }
                    }
                }
            }
            tr.partitions.push(pd);
        }
        resp.responses.push(tr);
    }
    (resp, total)
}

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const EARLIEST_LOCAL: i64 = -4;

pub fn list_offsets(broker: &Broker, req: ListOffsetsRequest, v: i16) -> ListOffsetsResponse {
    let mut resp = ListOffsetsResponse::default();
    for t in req.topics {
        let topic = broker.topic(&t.name.0);
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            pr.timestamp = -1;
            pr.offset = -1;
            match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                None => pr.error_code = code::UNKNOWN_TOPIC_OR_PARTITION,
                Some(partition) => {
                    let marks = partition.marks();
                    match p.timestamp {
                        LATEST => pr.offset = marks.next,
                        EARLIEST | EARLIEST_LOCAL => pr.offset = marks.start,
                        // No timestamps are kept: no record matches a time lookup.
                        _ => {}
                    }
                    if v >= 4 && pr.offset >= 0 {
                        pr.leader_epoch = 0;
                    }
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    resp
}
