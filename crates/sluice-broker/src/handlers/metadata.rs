//! Metadata: brokers, topics and partition leadership; auto-creates topics when allowed.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use uuid::Uuid;

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{code, Code};
use crate::partition::LEADER_EPOCH;
use crate::topics::Topic;

pub async fn handle(ctx: &Ctx, req: MetadataRequest) -> Outcome<MetadataResponse> {
    let broker = &ctx.broker;
    let v = ctx.api_version;
    let node = broker.config.node_id;
    let (host, port) = broker.advertised();

    let mut resp = MetadataResponse::default();
    let mut b = MetadataResponseBroker::default();
    b.node_id = BrokerId(node);
    b.host = str_bytes(host);
    b.port = port;
    resp.brokers = vec![b];
    if v >= 2 {
        resp.cluster_id = Some(str_bytes(broker.cluster_id.clone()));
    }
    if v >= 1 {
        resp.controller_id = BrokerId(node);
    }

    let include_ops = req.include_topic_authorized_operations;
    if (8..=10).contains(&v) && req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = CLUSTER_OPERATIONS;
    }
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let wanted = match req.topics {
        None => None,
        Some(t) if t.is_empty() && v == 0 => None,
        Some(t) => Some(t),
    };
    let auto_create =
        broker.config.auto_create_topics_enable && (v < 4 || req.allow_auto_topic_creation);
    match wanted {
        None => {
            for topic in broker.topics.list() {
                resp.topics.push(describe(&topic, v, node, include_ops));
            }
        }
        Some(list) => {
            for t in list {
                let entry = match t.name {
                    Some(name) => lookup_by_name(ctx, &name.0, auto_create, include_ops),
                    None => match broker.topics.get_by_id(t.topic_id) {
                        Some(topic) => describe(&topic, v, node, include_ops),
                        None => error_topic(None, t.topic_id, code(Code::UnknownTopicId)),
                    },
                };
                resp.topics.push(entry);
            }
        }
    }
    Outcome::Now(resp)
}

fn lookup_by_name(
    ctx: &Ctx,
    name: &str,
    auto_create: bool,
    include_ops: bool,
) -> MetadataResponseTopic {
    let broker = &ctx.broker;
    let v = ctx.api_version;
    if let Some(topic) = broker.topics.get(name) {
        return describe(&topic, v, broker.config.node_id, include_ops);
    }
    if let Err(e) = crate::topics::validate_topic_name(name) {
        return error_topic(Some(name), Uuid::nil(), e.code.code());
    }
    if !auto_create {
        return error_topic(Some(name), Uuid::nil(), code(Code::UnknownTopicOrPartition));
    }
    let cfg = &broker.config;
    match broker.topics.create(
        name,
        cfg.num_partitions,
        cfg.default_replication_factor,
        Default::default(),
    ) {
        Ok(topic) => describe(&topic, v, cfg.node_id, include_ops),
        // Lost a race with another creator: answer with what now exists.
        Err(e) if e.code == Code::TopicAlreadyExists => match broker.topics.get(name) {
            Some(topic) => describe(&topic, v, cfg.node_id, include_ops),
            None => error_topic(Some(name), Uuid::nil(), code(Code::UnknownTopicOrPartition)),
        },
        Err(e) => error_topic(Some(name), Uuid::nil(), e.code.code()),
    }
}

fn error_topic(name: Option<&str>, id: Uuid, error: i16) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.error_code = error;
    t.name = name.map(|n| TopicName(str_bytes(n)));
    t.topic_id = id;
    t
}

fn describe(topic: &Topic, v: i16, node: i32, include_ops: bool) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(str_bytes(topic.name.to_string())));
    if v >= 10 {
        t.topic_id = topic.id;
    }
    t.is_internal = topic.internal;
    t.partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = p.index;
            mp.leader_id = BrokerId(node);
            if v >= 7 {
                mp.leader_epoch = LEADER_EPOCH;
            }
            mp.replica_nodes = vec![BrokerId(node)];
            mp.isr_nodes = vec![BrokerId(node)];
            mp
        })
        .collect();
    if v >= 8 && include_ops {
        t.topic_authorized_operations = TOPIC_OPERATIONS;
    }
    t
}

/// With no authorizer, Kafka reports every operation a resource type supports, as bit sets of
/// AclOperation codes: topic READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7) DESCRIBE(8)
/// DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11); cluster CREATE(5) ALTER(7) DESCRIBE(8)
/// CLUSTER_ACTION(9) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11) IDEMPOTENT_WRITE(12).
pub const TOPIC_OPERATIONS: i32 = ops(&[3, 4, 5, 6, 7, 8, 10, 11]);
pub const CLUSTER_OPERATIONS: i32 = ops(&[5, 7, 8, 9, 10, 11, 12]);

const fn ops(codes: &[u8]) -> i32 {
    let mut bits = 0i32;
    let mut i = 0;
    while i < codes.len() {
        bits |= 1 << codes[i];
        i += 1;
    }
    bits
}
