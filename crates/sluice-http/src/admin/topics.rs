//! `/v1/topics...`: list, describe, create, delete, change configs, add partitions.
//!
//! Changes are Kafka requests handed to the broker's own handlers (CreateTopics, DeleteTopics,
//! IncrementalAlterConfigs, CreatePartitions), reads of configs go through DescribeConfigs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kafka_protocol::messages::{
    create_partitions_request, create_topics_request, describe_configs_request,
    incremental_alter_configs_request, ApiKey, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteTopicsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest, TopicName,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_broker::handlers;
use sluice_broker::Broker;

use super::kafka::{answer, check, ctx, ctx_v, s};
use super::PathParam;
use crate::error::{codes, ApiError, JsonBody};
use crate::AppState;

const RESOURCE_TOPIC: i8 = 2;

fn unknown_topic(name: &str) -> ApiError {
    ApiError::not_found(
        codes::UNKNOWN_TOPIC,
        format!("This server does not host this topic-partition: topic '{name}' not found."),
    )
}

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let broker = state.broker.clone();
    let topics = tokio::task::spawn_blocking(move || {
        let mut topics = broker.topics.list();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        topics
            .iter()
            .map(|t| {
                let (mut size, mut records) = (0u64, 0i64);
                for p in &t.partitions {
                    let hw = p.high_watermark();
                    p.with_log(|log| {
                        size += log.size_bytes();
                        records += (hw - log.log_start_offset()).max(0);
                    });
                }
                json!({
                    "name": &*t.name,
                    "internal": t.internal,
                    "partitions": t.partitions.len(),
                    "replication_factor": 1,
                    "size_bytes": size,
                    "records": records,
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Json(Value::Array(topics))
}

/// A topic's full description, as GET /v1/topics/{name} answers.
async fn describe_json(broker: &Arc<Broker>, name: &str) -> Result<Value, ApiError> {
    let topic = broker.topics.get(name).ok_or_else(|| unknown_topic(name))?;
    let partitions: Vec<Value> = topic
        .partitions
        .iter()
        .map(|p| {
            let hw = p.high_watermark();
            p.with_log(|log| {
                json!({
                    "partition": p.index,
                    "leader": broker.config.node_id,
                    "leader_epoch": sluice_broker::partition::LEADER_EPOCH,
                    "replicas": [broker.config.node_id],
                    "isr": [broker.config.node_id],
                    "log_start_offset": log.log_start_offset(),
                    "high_watermark": hw,
                    "last_stable_offset": log.last_stable_offset(hw),
                    "log_end_offset": log.log_end_offset(),
                    "size_bytes": log.size_bytes(),
                    "segments": log.segment_count(),
                })
            })
        })
        .collect();
    Ok(json!({
        "name": &*topic.name,
        "topic_id": sluice_broker::ids::kafka_base64(topic.id),
        "internal": topic.internal,
        "partitions": partitions,
        "configs": configs_json(broker, name).await?,
    }))
}

/// Kafka's names for DescribeConfigs' config sources.
fn source_name(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        _ => "UNKNOWN",
    }
}

/// The topic's effective configs through DescribeConfigs.
async fn configs_json(broker: &Arc<Broker>, name: &str) -> Result<Value, ApiError> {
    let mut resource = describe_configs_request::DescribeConfigsResource::default();
    resource.resource_type = RESOURCE_TOPIC;
    resource.resource_name = s(name);
    resource.configuration_keys = None;
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![resource];
    let c = ctx(broker, ApiKey::DescribeConfigs);
    let resp = answer(handlers::describe_configs::handle(&c, req).await).await?;
    let result = resp
        .results
        .into_iter()
        .next()
        .ok_or_else(|| unknown_topic(name))?;
    check(result.error_code, result.error_message.as_ref())?;
    let mut configs: Vec<Value> = result
        .configs
        .iter()
        .map(|e| {
            json!({
                "name": e.name.to_string(),
                "value": e.value.as_ref().map(|v| v.to_string()),
                "source": source_name(e.config_source),
                "is_default": e.config_source == 5,
                "read_only": e.read_only,
                "sensitive": e.is_sensitive,
            })
        })
        .collect();
    configs.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Value::Array(configs))
}

pub async fn describe(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(describe_json(&state.broker, &name).await?))
}

pub async fn configs(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<Value>, ApiError> {
    if state.broker.topics.get(&name).is_none() {
        return Err(unknown_topic(&name));
    }
    Ok(Json(configs_json(&state.broker, &name).await?))
}

/// A config value as JSON gives it: strings as they are, numbers and booleans as text.
fn config_value(name: &str, v: &Value) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_CONFIG,
            format!("config '{name}': value must be a string, number, boolean or null"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    name: String,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    #[serde(default)]
    configs: BTreeMap<String, Value>,
}

pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateTopic>,
) -> Result<Response, ApiError> {
    let broker = &state.broker;
    let mut topic = create_topics_request::CreatableTopic::default();
    topic.name = TopicName(s(body.name.clone()));
    topic.num_partitions = body.partitions.unwrap_or(-1);
    topic.replication_factor = body.replication_factor.unwrap_or(-1);
    for (k, v) in &body.configs {
        let mut c = create_topics_request::CreatableTopicConfig::default();
        c.name = s(k.clone());
        c.value = config_value(k, v)?.map(s);
        topic.configs.push(c);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![topic];
    req.timeout_ms = 30_000;
    let c = ctx(broker, ApiKey::CreateTopics);
    let resp = answer(handlers::create_topics::handle(&c, req).await).await?;
    let r = resp.topics.into_iter().next().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            500,
            "no answer for the topic",
        )
    })?;
    check(r.error_code, r.error_message.as_ref())?;
    let described = describe_json(broker, &body.name).await?;
    Ok((StatusCode::CREATED, Json(described)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<StatusCode, ApiError> {
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![TopicName(s(name.clone()))];
    req.timeout_ms = 30_000;
    // v5: topics by name (v6 names them in a different field).
    let c = ctx_v(&state.broker, ApiKey::DeleteTopics, 5);
    let resp = answer(handlers::delete_topics::handle(&c, req).await).await?;
    if let Some(r) = resp.responses.first() {
        if r.error_code == 3 {
            return Err(unknown_topic(&name));
        }
        check(r.error_code, r.error_message.as_ref())?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterConfigs {
    configs: BTreeMap<String, Value>,
}

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

pub async fn alter_configs(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    JsonBody(body): JsonBody<AlterConfigs>,
) -> Result<Json<Value>, ApiError> {
    let broker = &state.broker;
    if broker.topics.get(&name).is_none() {
        return Err(unknown_topic(&name));
    }
    let mut resource = incremental_alter_configs_request::AlterConfigsResource::default();
    resource.resource_type = RESOURCE_TOPIC;
    resource.resource_name = s(name.clone());
    for (k, v) in &body.configs {
        let value = config_value(k, v)?;
        let mut c = incremental_alter_configs_request::AlterableConfig::default();
        c.name = s(k.clone());
        c.config_operation = if value.is_some() { OP_SET } else { OP_DELETE };
        c.value = value.map(s);
        resource.configs.push(c);
    }
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![resource];
    let c = ctx(broker, ApiKey::IncrementalAlterConfigs);
    let resp = answer(handlers::incremental_alter_configs::handle(&c, req).await).await?;
    if let Some(r) = resp.responses.first() {
        check(r.error_code, r.error_message.as_ref())?;
    }
    Ok(Json(configs_json(broker, &name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPartitions {
    count: i32,
}

pub async fn add_partitions(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    JsonBody(body): JsonBody<AddPartitions>,
) -> Result<Json<Value>, ApiError> {
    let broker = &state.broker;
    if broker.topics.get(&name).is_none() {
        return Err(unknown_topic(&name));
    }
    let mut topic = create_partitions_request::CreatePartitionsTopic::default();
    topic.name = TopicName(s(name.clone()));
    topic.count = body.count;
    topic.assignments = None;
    let mut req = CreatePartitionsRequest::default();
    req.topics = vec![topic];
    req.timeout_ms = 30_000;
    let c = ctx(broker, ApiKey::CreatePartitions);
    let resp = answer(handlers::create_partitions::handle(&c, req).await).await?;
    if let Some(r) = resp.results.first() {
        check(r.error_code, r.error_message.as_ref())?;
    }
    Ok(Json(describe_json(broker, &name).await?))
}
