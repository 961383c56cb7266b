//! CreateTopics: validate names, partition counts, replication factors and configs as Kafka does;
//! `validate_only` checks without creating.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;
use crate::topic_config;
use crate::topics::TopicError;

pub async fn handle(ctx: &Ctx, req: CreateTopicsRequest) -> Outcome<CreateTopicsResponse> {
    let v = ctx.api_version;
    let broker = &ctx.broker;
    let mut resp = CreateTopicsResponse::default();
    let mut seen = std::collections::HashSet::new();
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        let duplicate = !seen.insert(name.clone());
        let partitions = if t.num_partitions == -1 {
            broker.config.num_partitions
        } else {
            t.num_partitions
        };
        let rf = if t.replication_factor == -1 {
            broker.config.default_replication_factor
        } else {
            t.replication_factor
        };
        let mut configs = BTreeMap::new();
        for c in &t.configs {
            if let Some(value) = &c.value {
                configs.insert(c.name.to_string(), value.to_string());
            }
        }
        let result: Result<(uuid::Uuid, i32), TopicError> = if duplicate {
            Err(TopicError::new(
                Code::InvalidRequest,
                format!("Duplicate topic name {name} in the request."),
            ))
        } else if !t.assignments.is_empty()
            && (t.num_partitions != -1 || t.replication_factor != -1)
        {
            Err(TopicError::new(
                Code::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set.",
            ))
        } else {
            let partitions = if t.assignments.is_empty() {
                partitions
            } else {
                t.assignments.len() as i32
            };
            if req.validate_only {
                broker
                    .topics
                    .check_create(&name, partitions, rf, &configs)
                    .map(|_| (uuid::Uuid::nil(), partitions))
            } else {
                broker
                    .topics
                    .create(&name, partitions, rf, configs.clone())
                    .map(|t| (t.id, partitions))
            }
        };
        match result {
            Ok((id, partitions)) => {
                if v >= 7 {
                    r.topic_id = id;
                }
                if v >= 5 {
                    r.num_partitions = partitions;
                    r.replication_factor = rf;
                    r.configs = Some(
                        topic_config::effective(&broker.config, &configs)
                            .into_iter()
                            .map(|c| {
                                let mut e = CreatableTopicConfigs::default();
                                e.name = str_bytes(c.name);
                                e.value = Some(str_bytes(c.value));
                                e.config_source = c.source as i8;
                                e
                            })
                            .collect(),
                    );
                }
            }
            Err(e) => {
                r.error_code = e.code.code();
                r.error_message = Some(str_bytes(e.message));
                if v >= 5 {
                    r.num_partitions = -1;
                    r.replication_factor = -1;
                }
            }
        }
        resp.topics.push(r);
    }
    Outcome::Now(resp)
}
