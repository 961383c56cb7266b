//! The bookkeeping APIs a client needs before it produces or fetches: ApiVersions, Metadata
//! (this node leads every partition), CreateTopics, InitProducerId and FindCoordinator.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiVersionsResponse, BrokerId, CreateTopicsRequest, CreateTopicsResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse,
    MetadataRequest, MetadataResponse, ProducerId, TopicName,
};
use uuid::Uuid;

use super::{code, str_bytes, SUPPORTED};
use crate::null_broker::state::{Broker, CreateError, Topic};

pub fn api_versions(error_code: i16) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = error_code;
    resp.api_keys = SUPPORTED
        .iter()
        .map(|(key, lo, hi)| {
            let mut v = ApiVersion::default();
            v.api_key = *key as i16;
            v.min_version = *lo;
            v.max_version = *hi;
            v
        })
        .collect();
    resp
}

pub fn metadata(broker: &Broker, req: MetadataRequest, v: i16) -> MetadataResponse {
    let cfg = &broker.config;
    let mut resp = MetadataResponse::default();
    let mut me = MetadataResponseBroker::default();
    me.node_id = BrokerId(cfg.node_id);
    me.host = str_bytes(cfg.host.clone());
    me.port = cfg.port;
    resp.brokers = vec![me];
    if v >= 2 {
        resp.cluster_id = Some(str_bytes("null-broker"));
    }
    if v >= 1 {
        resp.controller_id = BrokerId(cfg.node_id);
    }
    // v0: an empty list means every topic; v1+: null means every topic.
    let wanted = match req.topics {
        Some(t) if t.is_empty() && v == 0 => None,
        other => other,
    };
    resp.topics = match wanted {
        None => broker
            .all_topics()
            .iter()
            .map(|t| describe(t, v, cfg.node_id))
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|t| {
                let found = match &t.name {
                    // Any topic exists here: the null broker creates it on first mention.
                    Some(name) => broker.topic_or_create(name),
                    None => broker.topic_by_id(t.topic_id),
                };
                match found {
                    Some(topic) => describe(&topic, v, cfg.node_id),
                    None => {
                        let mut e = MetadataResponseTopic::default();
                        e.name = t.name;
                        e.topic_id = if v >= 10 { t.topic_id } else { Uuid::nil() };
                        e.error_code = if e.name.is_some() {
                            code::INVALID_TOPIC_EXCEPTION
                        } else {
                            code::UNKNOWN_TOPIC_ID
                        };
                        e
                    }
                }
            })
            .collect(),
    };
    resp
}

fn describe(topic: &Topic, v: i16, node: i32) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(str_bytes(topic.name.clone())));
    if v >= 10 {
        t.topic_id = topic.id;
    }
    t.partitions = (0..topic.partitions.len() as i32)
        .map(|index| {
            let mut p = MetadataResponsePartition::default();
            p.partition_index = index;
            p.leader_id = BrokerId(node);
            if v >= 7 {
                p.leader_epoch = 0;
            }
            p.replica_nodes = vec![BrokerId(node)];
            p.isr_nodes = vec![BrokerId(node)];
            p
        })
        .collect();
    if v >= 8 {
        t.topic_authorized_operations = i32::MIN;
    }
    t
}

pub fn create_topics(broker: &Broker, req: CreateTopicsRequest, v: i16) -> CreateTopicsResponse {
    let mut resp = CreateTopicsResponse::default();
    for t in req.topics {
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        let partitions = match (t.num_partitions, t.assignments.len()) {
            (-1, 0) => broker.config.default_partitions,
            (-1, n) => n as i32,
            (n, _) => n,
        };
        let created = if req.validate_only {
            match broker.topic(&t.name.0) {
                Some(_) => Err(CreateError::Exists),
                None => Ok(None),
            }
        } else {
            broker.create(&t.name.0, partitions).map(Some)
        };
        match created {
            Ok(topic) => {
                if v >= 7 {
                    r.topic_id = topic.map(|t| t.id).unwrap_or_default();
                }
                if v >= 5 {
                    r.num_partitions = partitions;
                    r.replication_factor = 1;
                    r.configs = Some(Vec::new());
                }
            }
            Err(e) => {
                let (error, message) = match e {
                    CreateError::Exists => (
                        code::TOPIC_ALREADY_EXISTS,
                        format!("Topic '{}' already exists.", t.name.0),
                    ),
                    CreateError::InvalidName => (
                        code::INVALID_TOPIC_EXCEPTION,
                        format!("Topic name '{}' is illegal.", t.name.0),
                    ),
                    CreateError::InvalidPartitions => (
                        code::INVALID_PARTITIONS,
                        format!("Number of partitions {partitions} is illegal."),
                    ),
                };
                r.error_code = error;
                r.error_message = Some(str_bytes(message));
                if v >= 5 {
                    r.num_partitions = -1;
                    r.replication_factor = -1;
                }
            }
        }
        resp.topics.push(r);
    }
    resp
}

pub fn init_producer_id(broker: &Broker, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    // KIP-360: a producer presenting its id and epoch gets the next epoch of the same id.
    if req.producer_id.0 >= 0 && (0..i16::MAX - 1).contains(&req.producer_epoch) {
        resp.producer_id = req.producer_id;
        resp.producer_epoch = req.producer_epoch + 1;
    } else {
        resp.producer_id = ProducerId(broker.next_producer_id());
        resp.producer_epoch = 0;
    }
    resp
}

pub fn find_coordinator(
    broker: &Broker,
    req: FindCoordinatorRequest,
    v: i16,
) -> FindCoordinatorResponse {
    let cfg = &broker.config;
    let mut resp = FindCoordinatorResponse::default();
    if v < 4 {
        resp.node_id = BrokerId(cfg.node_id);
        resp.host = str_bytes(cfg.host.clone());
        resp.port = cfg.port;
        return resp;
    }
    resp.coordinators = req
        .coordinator_keys
        .into_iter()
        .map(|key| {
            let mut c = Coordinator::default();
            c.key = key;
            c.node_id = BrokerId(cfg.node_id);
            c.host = str_bytes(cfg.host.clone());
            c.port = cfg.port;
            c
        })
        .collect();
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::null_broker::state::Config;

    fn broker() -> Broker {
        Broker::new(Config {
            node_id: 1,
            host: "127.0.0.1".into(),
            port: 9092,
            default_partitions: 3,
            retain_bytes: 0,
        })
    }

    #[test]
    fn metadata_creates_any_named_topic() {
        let b = broker();
        let mut req = MetadataRequest::default();
        let mut t = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
        t.name = Some(TopicName(str_bytes("anything")));
        req.topics = Some(vec![t]);
        let resp = metadata(&b, req, 12);
        assert_eq!(resp.topics.len(), 1);
        assert_eq!(resp.topics[0].error_code, 0);
        assert_eq!(resp.topics[0].partitions.len(), 3);
        assert_eq!(resp.topics[0].partitions[2].leader_id, BrokerId(1));
    }

    #[test]
    fn create_topics_refuses_duplicates() {
        let b = broker();
        let mut req = CreateTopicsRequest::default();
        let mut t = kafka_protocol::messages::create_topics_request::CreatableTopic::default();
        t.name = TopicName(str_bytes("t"));
        t.num_partitions = 6;
        req.topics = vec![t.clone()];
        let first = create_topics(&b, req.clone(), 7);
        assert_eq!(first.topics[0].error_code, 0);
        assert_eq!(first.topics[0].num_partitions, 6);
        let second = create_topics(&b, req, 7);
        assert_eq!(second.topics[0].error_code, code::TOPIC_ALREADY_EXISTS);
    }
}
