//! ListOffsets: earliest, latest, by timestamp (through the time index) and max-timestamp offsets.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::dispatch::{Ctx, Outcome};
use crate::error::{code, Code, KafkaCode};
use crate::partition::{Partition, LEADER_EPOCH};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub async fn handle(ctx: &Ctx, req: ListOffsetsRequest) -> Outcome<ListOffsetsResponse> {
    let v = ctx.api_version;
    let mut resp = ListOffsetsResponse::default();
    // isolation_level 1 (read_committed, v2+) sees only offsets below the last stable offset.
    let read_committed = v >= 2 && req.isolation_level == 1;
    for t in req.topics {
        let topic = ctx.broker.topics.get(&t.name.0);
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            pr.timestamp = -1;
            pr.offset = -1;
            let partition = topic.as_ref().and_then(|t| t.partition(p.partition_index));
            match partition {
                None => pr.error_code = code(Code::UnknownTopicOrPartition),
                Some(part) => match lookup(part, p.timestamp, read_committed) {
                    Ok((offset, ts)) => {
                        pr.offset = offset;
                        pr.timestamp = ts;
                        if v >= 4 {
                            pr.leader_epoch = if offset >= 0 { LEADER_EPOCH } else { -1 };
                        }
                    }
                    Err(c) => pr.error_code = c,
                },
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Outcome::Now(resp)
}

/// (offset, timestamp) answering `timestamp` for one partition; -1/-1 when no record matches.
/// Nothing at or past the high watermark (the last stable offset for read_committed) is offered.
fn lookup(p: &Partition, timestamp: i64, read_committed: bool) -> Result<(i64, i64), i16> {
    let hw = if read_committed {
        p.last_stable_offset()
    } else {
        p.high_watermark()
    };
    match timestamp {
        LATEST => Ok((hw, -1)),
        EARLIEST | EARLIEST_LOCAL => Ok((p.log_start_offset(), -1)),
        LATEST_TIERED => Ok((-1, -1)),
        MAX_TIMESTAMP => {
            let found = p
                .with_log(|log| log.max_timestamp_offset())
                .map_err(|e| e.code())?;
            Ok(found.filter(|(off, _)| *off < hw).unwrap_or((-1, -1)))
        }
        ts if ts >= 0 => {
            let found = p
                .with_log(|log| log.offset_for_timestamp(ts))
                .map_err(|e| e.code())?;
            Ok(found.filter(|(off, _)| *off < hw).unwrap_or((-1, -1)))
        }
        _ => Err(code(Code::InvalidRequest)),
    }
}
