//! CreatePartitions: grows topics, checked as Kafka's controller checks it (the count must
//! increase, manual assignments must match the new partitions and name this broker once each).
//! `validate_only` checks without creating.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse, TopicName};

use super::config_util::ConfigError;
use super::str_bytes;
use crate::broker::Broker;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

/// Kafka's controller writes at most this many records for one request; beyond it the request
/// is refused rather than creating partitions without bound.
const MAX_NEW_PARTITIONS_PER_REQUEST: i64 = 10_000;

pub async fn handle(ctx: &Ctx, req: CreatePartitionsRequest) -> Outcome<CreatePartitionsResponse> {
    let broker = ctx.broker.clone();
    let validate_only = req.validate_only;
    let names: Vec<TopicName> = req.topics.iter().map(|t| t.name.clone()).collect();
    // Opening partition logs is file I/O; keep it off the request threads.
    let results =
        tokio::task::spawn_blocking(move || create_all(&broker, req.topics, validate_only))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "create partitions task failed");
                names
                    .iter()
                    .map(|n| result(n, Err(ConfigError::bare(Code::UnknownServerError))))
                    .collect()
            });
    let mut resp = CreatePartitionsResponse::default();
    resp.results = results;
    Outcome::Now(resp)
}

fn create_all(
    broker: &Arc<Broker>,
    topics: Vec<CreatePartitionsTopic>,
    validate_only: bool,
) -> Vec<CreatePartitionsTopicResult> {
    let mut results = Vec::new();
    let mut mentions: HashMap<&str, usize> = HashMap::new();
    for t in &topics {
        *mentions.entry(&t.name.0).or_default() += 1;
    }
    // Kafka answers duplicated names first, once each, and skips them.
    let mut reported = std::collections::HashSet::new();
    for t in &topics {
        if mentions[&*t.name.0] > 1 && reported.insert(&*t.name.0) {
            results.push(result(
                &t.name,
                Err(ConfigError::invalid_request("Duplicate topic name.")),
            ));
        }
    }
    let mut budget = MAX_NEW_PARTITIONS_PER_REQUEST;
    for t in &topics {
        if mentions[&*t.name.0] == 1 {
            results.push(result(
                &t.name,
                create(broker, t, validate_only, &mut budget),
            ));
        }
    }
    results
}

fn result(name: &TopicName, outcome: Result<(), ConfigError>) -> CreatePartitionsTopicResult {
    let mut r = CreatePartitionsTopicResult::default();
    r.name = name.clone();
    if let Err(e) = outcome {
        r.error_code = e.code.code();
        r.error_message = e.message.map(str_bytes);
    }
    r
}

fn create(
    broker: &Broker,
    t: &CreatePartitionsTopic,
    validate_only: bool,
    budget: &mut i64,
) -> Result<(), ConfigError> {
    let name: &str = &t.name.0;
    let topic = broker
        .topics
        .get(name)
        .ok_or(ConfigError::bare(Code::UnknownTopicOrPartition))?;
    let current = topic.partitions.len() as i32;
    if t.count == current {
        return Err(ConfigError::new(
            Code::InvalidPartitions,
            format!("Topic already has {current} partition(s)."),
        ));
    }
    if t.count < current {
        return Err(ConfigError::new(
            Code::InvalidPartitions,
            format!(
                "The topic {name} currently has {current} partition(s); {} would not be an increase.",
                t.count
            ),
        ));
    }
    let additional = t.count - current;
    if let Some(assignments) = &t.assignments {
        if assignments.len() != additional as usize {
            return Err(ConfigError::new(
                Code::InvalidReplicaAssignment,
                format!(
                    "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                    assignments.len()
                ),
            ));
        }
        for a in assignments {
            check_assignment(
                broker.config.node_id,
                a.broker_ids.iter().map(|b| b.0).collect(),
            )?;
        }
    }
    *budget -= i64::from(additional);
    if *budget < 0 {
        return Err(ConfigError::new(
            Code::PolicyViolation,
            "Unable to perform excessively large batch operation.",
        ));
    }
    broker
        .topics
        .add_partitions(name, t.count, validate_only)
        .map_err(|e| ConfigError::new(e.code, e.message))
}

/// Kafka's checks on one manual assignment; every existing partition has one replica here.
fn check_assignment(node: i32, mut replicas: Vec<i32>) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::new(Code::InvalidReplicaAssignment, m));
    if replicas.is_empty() {
        return invalid("The manual partition assignment includes an empty replica list.".into());
    }
    replicas.sort_unstable();
    for (i, id) in replicas.iter().enumerate() {
        if *id != node {
            return invalid(format!(
                "The manual partition assignment includes broker {id}, but no such broker is registered."
            ));
        }
        if i > 0 && replicas[i - 1] == *id {
            return invalid(format!(
                "The manual partition assignment includes the broker {id} more than once."
            ));
        }
    }
    if replicas.len() != 1 {
        return invalid(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have 1 replica(s).",
            replicas.len()
        ));
    }
    Ok(())
}
