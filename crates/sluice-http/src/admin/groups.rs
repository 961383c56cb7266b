//! `/v1/groups...`: list and describe consumer groups with their lag, reset a group's offsets,
//! delete a group.
//!
//! Resets are OffsetCommit requests from outside group management (generation -1), deletes are
//! DeleteGroups requests, both handed to the broker's own handlers. Like Kafka's tools, both
//! need a group without active members (409 otherwise).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kafka_protocol::messages::{
    offset_commit_request, ApiKey, DeleteGroupsRequest, GroupId, OffsetCommitRequest, TopicName,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_broker::handlers;

use super::kafka::{answer, check, ctx_v, s};
use super::PathParam;
use crate::error::{codes, ApiError, JsonBody};
use crate::AppState;

fn unknown_group(id: &str) -> ApiError {
    ApiError::not_found(codes::UNKNOWN_GROUP, format!("Group {id} not found."))
}

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let broker = &state.broker;
    let groups: Vec<Value> = broker
        .groups
        .list(&[], &[])
        .into_iter()
        .map(|g| {
            let view = broker.groups.view(&g.group_id, &broker.topics);
            json!({
                "group_id": g.group_id,
                "protocol_type": g.protocol_type,
                "state": g.state,
                "type": g.group_type,
                "members": view.as_ref().map_or(0, |v| v.members.len()),
                "protocol": view.as_ref().map(|v| v.protocol.clone()).unwrap_or_default(),
            })
        })
        .collect();
    Json(Value::Array(groups))
}

pub async fn describe(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let view = broker
        .groups
        .view(&id, &broker.topics)
        .ok_or_else(|| unknown_group(&id))?;
    let b = broker.clone();
    let gid = id.clone();
    let lags =
        tokio::task::spawn_blocking(move || sluice_broker::metrics::group_lags(&b, Some(&gid)))
            .await
            .unwrap_or_default();
    let by_tp: BTreeMap<(String, i32), &sluice_broker::metrics::LagRow> = lags
        .iter()
        .map(|r| ((r.topic.clone(), r.partition), r))
        .collect();
    let offsets: Vec<Value> = view
        .offsets
        .iter()
        .map(
            |((topic, partition), committed)| match by_tp.get(&(topic.clone(), *partition)) {
                Some(r) => json!({
                    "topic": topic, "partition": partition, "committed_offset": committed,
                    "log_end_offset": r.log_end_offset, "lag": r.lag, "lag_seconds": r.lag_seconds,
                }),
                // The topic or partition is gone: nothing to lag behind.
                None => json!({
                    "topic": topic, "partition": partition, "committed_offset": committed,
                    "log_end_offset": null, "lag": null, "lag_seconds": null,
                }),
            },
        )
        .collect();
    let total_lag: i64 = lags.iter().map(|r| r.lag).sum();
    let (host, port) = broker.advertised();
    Ok(Json(json!({
        "group_id": view.group_id,
        "state": view.state,
        "type": view.group_type,
        "protocol_type": view.protocol_type,
        "protocol": view.protocol,
        "coordinator": { "node_id": broker.config.node_id, "host": host, "port": port },
        "members": view.members.iter().map(|m| json!({
            "member_id": m.member_id,
            "client_id": m.client_id,
            "host": m.host,
            "assignments": m.assignments.iter().map(|(t, p)| json!({"topic": t, "partition": p})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "offsets": offsets,
        "total_lag": total_lag,
    })))
}

pub async fn delete(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    let mut req = DeleteGroupsRequest::default();
    req.groups_names = vec![GroupId(s(id.clone()))];
    let c = ctx_v(&state.broker, ApiKey::DeleteGroups, 2);
    let resp = answer(handlers::delete_groups::handle(&c, req).await).await?;
    match resp.results.first().map(|r| r.error_code) {
        Some(69) => Err(unknown_group(&id)),
        Some(68) => Err(ApiError::conflict(
            codes::GROUP_NOT_EMPTY,
            format!("Group {id} is not empty: it has active members."),
        )),
        Some(code) => check(code, None).map(|_| StatusCode::NO_CONTENT),
        None => Ok(StatusCode::NO_CONTENT),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    topic: String,
    partitions: Option<Vec<i32>>,
    to: String,
    offset: Option<i64>,
    timestamp_ms: Option<i64>,
}

pub async fn reset_offsets(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<Reset>,
) -> Result<Json<Value>, ApiError> {
    let broker = state.broker.clone();
    if let Some(view) = broker.groups.view(&id, &broker.topics) {
        if !view.members.is_empty() {
            return Err(ApiError::conflict(
                codes::GROUP_NOT_EMPTY,
                format!(
                    "Offsets can only be reset if group {id} is inactive, but its state is {}.",
                    view.state
                ),
            ));
        }
    }
    let topic = broker.topics.get(&body.topic).ok_or_else(|| {
        ApiError::not_found(
            codes::UNKNOWN_TOPIC,
            format!("Topic '{}' not found.", body.topic),
        )
    })?;
    let partitions: Vec<i32> = match &body.partitions {
        Some(list) => list.clone(),
        None => topic.partitions.iter().map(|p| p.index).collect(),
    };
    let invalid = |m: String| ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, m);
    let mut targets = Vec::new();
    for index in partitions {
        let p = topic.partition(index).ok_or_else(|| {
            ApiError::not_found(
                codes::UNKNOWN_TOPIC,
                format!("Partition {index} of topic '{}' not found.", body.topic),
            )
        })?;
        let hw = p.high_watermark();
        let start = p.log_start_offset();
        let target = match body.to.as_str() {
            "earliest" => start,
            "latest" => hw,
            // Kafka's tool clamps a requested offset into the log's range.
            "offset" => body
                .offset
                .ok_or_else(|| invalid("'to': 'offset' needs an 'offset'".into()))?
                .clamp(start, hw),
            "timestamp" => {
                let ts = body
                    .timestamp_ms
                    .ok_or_else(|| invalid("'to': 'timestamp' needs a 'timestamp_ms'".into()))?;
                let p = p.clone();
                let found = tokio::task::spawn_blocking(move || {
                    p.with_log(|log| log.offset_for_timestamp(ts))
                })
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 500, e.to_string()))?
                .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, 503, e.to_string()))?;
                // No record that late: the end, as Kafka's tool resets.
                found.map_or(hw, |(o, _)| o.min(hw))
            }
            other => {
                return Err(invalid(format!(
                    "'to' must be earliest, latest, offset or timestamp, not '{other}'"
                )))
            }
        };
        targets.push((index, target));
    }
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = TopicName(s(body.topic.clone()));
    t.partitions = targets
        .iter()
        .map(|(index, offset)| {
            let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
            p.partition_index = *index;
            p.committed_offset = *offset;
            p.committed_leader_epoch = -1;
            p.committed_metadata = Some(s(""));
            p
        })
        .collect();
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(s(id.clone()));
    req.generation_id_or_member_epoch = -1;
    req.member_id = s("");
    req.retention_time_ms = -1;
    req.topics = vec![t];
    // v8: a commit from outside group management creates the group if needed (v9 would not).
    let c = ctx_v(&broker, ApiKey::OffsetCommit, 8);
    let resp = answer(handlers::offset_commit::handle(&c, req).await).await?;
    for p in resp.topics.iter().flat_map(|t| &t.partitions) {
        check(p.error_code, None)?;
    }
    Ok(Json(json!({
        "group_id": id,
        "topic": body.topic,
        "offsets": targets.iter().map(|(p, o)| json!({"partition": p, "offset": o})).collect::<Vec<_>>(),
    })))
}
