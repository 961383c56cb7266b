//! OffsetForLeaderEpoch: where a leader epoch ends in a partition's log, so a consumer can tell
//! whether the log was truncated under its position.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;
use crate::partition::LEADER_EPOCH;

/// A `current_leader_epoch` of -1 means the client does not know the epoch; it is not checked.
const NO_EPOCH: i32 = -1;

pub async fn handle(
    ctx: &Ctx,
    req: OffsetForLeaderEpochRequest,
) -> Outcome<OffsetForLeaderEpochResponse> {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for t in req.topics {
        let topic = ctx.broker.topics.get(&t.topic.0);
        let mut tr = OffsetForLeaderTopicResult::default();
        tr.topic = t.topic;
        for p in t.partitions {
            // Defaults: leader_epoch -1, end_offset -1, as Kafka answers errors and unknown epochs.
            let mut pr = EpochEndOffset::default();
            pr.partition = p.partition;
            match topic.as_ref().and_then(|t| t.partition(p.partition)) {
                None => pr.error_code = Code::UnknownTopicOrPartition.code(),
                Some(_)
                    if p.current_leader_epoch != NO_EPOCH
                        && p.current_leader_epoch < LEADER_EPOCH =>
                {
                    pr.error_code = Code::FencedLeaderEpoch.code()
                }
                Some(_) if p.current_leader_epoch > LEADER_EPOCH => {
                    pr.error_code = Code::UnknownLeaderEpoch.code()
                }
                Some(part) => {
                    let (epoch, end) = part.with_log(|log| match log.latest_epoch() {
                        Some(_) => log.end_offset_for_epoch(p.leader_epoch),
                        // Kafka records the leader epoch's start when a replica becomes leader,
                        // so even a never-written partition knows its epoch; Sluice's logs only
                        // record it at the first append.
                        None if p.leader_epoch == LEADER_EPOCH => {
                            (LEADER_EPOCH, log.log_end_offset())
                        }
                        None => (-1, -1),
                    });
                    if end >= 0 {
                        pr.leader_epoch = epoch;
                        pr.end_offset = end;
                    }
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Outcome::Now(resp)
}
