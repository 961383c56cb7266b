//! ConsumerGroupHeartbeat (KIP-848): join, stay, reconcile and leave a consumer group whose
//! assignment the coordinator computes; see [`crate::group::consumer`].

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::group::consumer::HeartbeatInput;

pub async fn handle(
    ctx: &Ctx,
    req: ConsumerGroupHeartbeatRequest,
) -> Outcome<ConsumerGroupHeartbeatResponse> {
    let mut resp = ConsumerGroupHeartbeatResponse::default();
    resp.heartbeat_interval_ms = ctx.broker.groups.config.consumer_heartbeat_interval_ms;
    // librdkafka sends an empty regex when it subscribes by name only.
    if req
        .subscribed_topic_regex
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        // Regular expression subscriptions are not supported yet (as in Kafka before 4.0).
        resp.error_code = crate::error::Code::InvalidRequest.code();
        resp.error_message = Some(str_bytes("SubscribedTopicRegex is not supported yet."));
        return Outcome::Now(resp);
    }
    let input = HeartbeatInput {
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.map(|s| s.to_string()),
        rack_id: req.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .map(|ts| ts.into_iter().map(|t| t.to_string()).collect()),
        server_assignor: req.server_assignor.map(|s| s.to_string()),
        owned: req
            .topic_partitions
            .map(|ts| ts.into_iter().map(|t| (t.topic_id, t.partitions)).collect()),
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    match ctx
        .broker
        .groups
        .consumer_heartbeat(&ctx.broker, &req.group_id, input, ctx.api_version)
    {
        Ok(out) => {
            resp.member_id = Some(str_bytes(out.member_id));
            resp.member_epoch = out.member_epoch;
            resp.heartbeat_interval_ms = out.heartbeat_interval_ms;
            resp.assignment = out.assignment.map(|parts| {
                let mut a = Assignment::default();
                a.topic_partitions = parts
                    .into_iter()
                    .map(|(topic_id, partitions)| {
                        let mut tp = TopicPartitions::default();
                        tp.topic_id = topic_id;
                        tp.partitions = partitions;
                        tp
                    })
                    .collect();
                a
            });
        }
        Err((code, message)) => {
            tracing::debug!(group = %req.group_id.as_str(), ?code, %message, "consumer group heartbeat refused");
            resp.error_code = code.code();
            resp.error_message = Some(str_bytes(message));
        }
    }
    Outcome::Now(resp)
}
