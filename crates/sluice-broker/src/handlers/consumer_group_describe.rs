//! ConsumerGroupDescribe (KIP-848): epochs, assignor, members with their current and target
//! assignments. Classic and unknown groups answer GROUP_ID_NOT_FOUND, as Kafka does.

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, TopicName,
};

use super::str_bytes;
use crate::broker::Broker;
use crate::dispatch::{Ctx, Outcome};
use crate::group::assignor;
use crate::group::consumer_api::topic_name;

fn assignment(broker: &Broker, a: &assignor::Assignment) -> Assignment {
    let mut out = Assignment::default();
    out.topic_partitions = a
        .iter()
        .map(|(id, ps)| {
            let mut tp = TopicPartitions::default();
            tp.topic_id = *id;
            tp.topic_name = TopicName(str_bytes(topic_name(broker, *id)));
            tp.partitions = ps.iter().copied().collect();
            tp
        })
        .collect();
    out
}

pub async fn handle(
    ctx: &Ctx,
    req: ConsumerGroupDescribeRequest,
) -> Outcome<ConsumerGroupDescribeResponse> {
    let v = ctx.api_version;
    let broker = &ctx.broker;
    let mut resp = ConsumerGroupDescribeResponse::default();
    resp.groups = req
        .group_ids
        .into_iter()
        .map(|id| {
            let mut g = DescribedGroup::default();
            match broker.groups.describe_consumer(&id) {
                Ok(d) => {
                    g.group_state = str_bytes(d.state);
                    g.group_epoch = d.group_epoch;
                    g.assignment_epoch = d.assignment_epoch;
                    g.assignor_name = str_bytes(d.assignor_name);
                    g.members = d
                        .members
                        .into_iter()
                        .map(|m| {
                            let mut dm = Member::default();
                            dm.member_id = str_bytes(m.member_id);
                            dm.instance_id = m.instance_id.map(str_bytes);
                            dm.rack_id = m.rack_id.map(str_bytes);
                            dm.member_epoch = m.member_epoch;
                            dm.client_id = str_bytes(m.client_id);
                            dm.client_host = str_bytes(m.client_host);
                            dm.subscribed_topic_names = m
                                .subscribed_topic_names
                                .into_iter()
                                .map(|t| TopicName(str_bytes(t)))
                                .collect();
                            dm.assignment = assignment(broker, &m.assignment);
                            dm.target_assignment = assignment(broker, &m.target_assignment);
                            if v >= 1 {
                                dm.member_type = 1; // consumer protocol
                            }
                            dm
                        })
                        .collect();
                }
                Err(c) => {
                    g.error_code = c.code();
                    // Kafka's two messages for the same code.
                    let why = if broker.groups.group_exists(id.as_str()) {
                        "is not a consumer group"
                    } else {
                        "not found"
                    };
                    g.error_message = Some(str_bytes(format!("Group {} {why}.", id.as_str())));
                }
            }
            g.group_id = id;
            g
        })
        .collect();
    Outcome::Now(resp)
}
