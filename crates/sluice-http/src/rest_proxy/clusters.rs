//! REST v3 descriptions of the cluster, its topics and partitions, in Confluent's resource shapes
//! (`kind`, `metadata.self`, `related` links), plus the v2 topic list. Read straight from the
//! broker's topic registry: there is nothing a Kafka round trip would add.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sluice_broker::topics::Topic;

use crate::error::ApiError;
use crate::AppState;

use super::base_url;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/clusters", get(list_clusters))
        .route("/v3/clusters/{cluster_id}", get(get_cluster))
        .route("/v3/clusters/{cluster_id}/topics", get(list_topics))
        .route("/v3/clusters/{cluster_id}/topics/{topic}", get(get_topic))
        .route(
            "/v3/clusters/{cluster_id}/topics/{topic}/partitions",
            get(list_partitions),
        )
        .route(
            "/v3/clusters/{cluster_id}/topics/{topic}/partitions/{partition}",
            get(get_partition),
        )
}

pub fn v2_routes() -> Router<AppState> {
    Router::new().route("/topics", get(v2_list_topics))
}

/// 404 unless `cluster_id` names this broker's cluster (Confluent checks the id on every v3 call).
pub fn check_cluster(state: &AppState, cluster_id: &str) -> Result<(), ApiError> {
    if cluster_id == state.broker.cluster_id {
        Ok(())
    } else {
        Err(ApiError::not_found(
            404,
            format!("Cluster {cluster_id} cannot be found."),
        ))
    }
}

/// The topic, or Confluent's 40403 (Kafka's UNKNOWN_TOPIC_OR_PARTITION).
pub fn find_topic(state: &AppState, topic: &str) -> Result<Arc<Topic>, ApiError> {
    state
        .broker
        .topics
        .get(topic)
        .ok_or_else(|| unknown_topic_or_partition(topic))
}

pub fn unknown_topic_or_partition(topic: &str) -> ApiError {
    ApiError::not_found(
        40403,
        format!("This server does not host this topic-partition: {topic}"),
    )
}

fn cluster_url(headers: &HeaderMap, cluster_id: &str) -> String {
    format!("{}/v3/clusters/{cluster_id}", base_url(headers))
}

fn cluster_json(state: &AppState, headers: &HeaderMap) -> Value {
    let id = &state.broker.cluster_id;
    let url = cluster_url(headers, id);
    let related = |suffix: &str| json!({ "related": format!("{url}{suffix}") });
    json!({
        "kind": "KafkaCluster",
        "metadata": { "self": url, "resource_name": format!("crn:///kafka={id}") },
        "cluster_id": id,
        "controller": related(&format!("/brokers/{}", state.broker.config.node_id)),
        "acls": related("/acls"),
        "brokers": related("/brokers"),
        "broker_configs": related("/broker-configs"),
        "consumer_groups": related("/consumer-groups"),
        "topics": related("/topics"),
        "partition_reassignments": related("/topics/-/partitions/-/reassignment"),
    })
}

fn topic_json(state: &AppState, headers: &HeaderMap, topic: &Topic) -> Value {
    let id = &state.broker.cluster_id;
    let url = format!("{}/topics/{}", cluster_url(headers, id), topic.name);
    let related = |suffix: &str| json!({ "related": format!("{url}{suffix}") });
    json!({
        "kind": "KafkaTopic",
        "metadata": {
            "self": url,
            "resource_name": format!("crn:///kafka={id}/topic={}", topic.name),
        },
        "cluster_id": id,
        "topic_name": &*topic.name,
        "is_internal": topic.internal,
        "replication_factor": 1,
        "partitions_count": topic.partitions.len(),
        "partitions": related("/partitions"),
        "configs": related("/configs"),
        "partition_reassignments": related("/partitions/-/reassignment"),
        "authorized_operations": [],
    })
}

fn partition_json(state: &AppState, headers: &HeaderMap, topic: &Topic, partition: i32) -> Value {
    let id = &state.broker.cluster_id;
    let url = format!(
        "{}/topics/{}/partitions/{partition}",
        cluster_url(headers, id),
        topic.name
    );
    let node = state.broker.config.node_id;
    json!({
        "kind": "KafkaPartition",
        "metadata": {
            "self": url,
            "resource_name": format!("crn:///kafka={id}/topic={}/partition={partition}", topic.name),
        },
        "cluster_id": id,
        "topic_name": &*topic.name,
        "partition_id": partition,
        "leader": { "related": format!("{url}/replicas/{node}") },
        "replicas": { "related": format!("{url}/replicas") },
        "reassignment": { "related": format!("{url}/reassignment") },
    })
}

async fn list_clusters(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    Json(json!({
        "kind": "KafkaClusterList",
        "metadata": { "self": format!("{}/v3/clusters", base_url(&headers)), "next": null },
        "data": [cluster_json(&state, &headers)],
    }))
}

async fn get_cluster(
    State(state): State<AppState>,
    Path(cluster_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_cluster(&state, &cluster_id)?;
    Ok(Json(cluster_json(&state, &headers)))
}

async fn list_topics(
    State(state): State<AppState>,
    Path(cluster_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_cluster(&state, &cluster_id)?;
    let data: Vec<Value> = state
        .broker
        .topics
        .list()
        .iter()
        .map(|t| topic_json(&state, &headers, t))
        .collect();
    Ok(Json(json!({
        "kind": "KafkaTopicList",
        "metadata": { "self": format!("{}/topics", cluster_url(&headers, &cluster_id)), "next": null },
        "data": data,
    })))
}

async fn get_topic(
    State(state): State<AppState>,
    Path((cluster_id, topic)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_cluster(&state, &cluster_id)?;
    let topic = find_topic(&state, &topic)?;
    Ok(Json(topic_json(&state, &headers, &topic)))
}

async fn list_partitions(
    State(state): State<AppState>,
    Path((cluster_id, topic)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_cluster(&state, &cluster_id)?;
    let topic = find_topic(&state, &topic)?;
    let data: Vec<Value> = (0..topic.partitions.len() as i32)
        .map(|p| partition_json(&state, &headers, &topic, p))
        .collect();
    Ok(Json(json!({
        "kind": "KafkaPartitionList",
        "metadata": {
            "self": format!("{}/topics/{}/partitions", cluster_url(&headers, &cluster_id), topic.name),
            "next": null,
        },
        "data": data,
    })))
}

async fn get_partition(
    State(state): State<AppState>,
    Path((cluster_id, topic, partition)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_cluster(&state, &cluster_id)?;
    let topic = find_topic(&state, &topic)?;
    let index = partition
        .parse::<i32>()
        .ok()
        .filter(|p| topic.partition(*p).is_some())
        .ok_or_else(|| {
            ApiError::not_found(40402, format!("Partition {partition} cannot be found."))
        })?;
    Ok(Json(partition_json(&state, &headers, &topic, index)))
}

/// v2 `GET /topics`: the topic names.
async fn v2_list_topics(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(
        state
            .broker
            .topics
            .list()
            .iter()
            .filter(|t| !t.internal)
            .map(|t| t.name.to_string())
            .collect(),
    )
}
