//! REST v2 produce: `POST /topics/{topic}` with `application/vnd.kafka.{binary,json}.v2+json`
//! and a body `{"records": [{"key", "value", "partition"}]}`, answered with one offset (or error)
//! per record. Older clients still use it; records take the same path as v3's.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::AppState;

use super::payload::Format;
use super::produce::{send, Context};
use super::{media_type, parse_json, read_body, unsupported_media_type, RestProxy};

pub fn routes() -> Router<AppState> {
    Router::new().route("/topics/{topic}", post(produce))
}

#[derive(serde::Deserialize)]
struct ProduceRequest {
    records: Vec<Box<RawValue>>,
}

#[derive(serde::Deserialize)]
struct RecordIn<'a> {
    #[serde(borrow)]
    key: Option<&'a RawValue>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    partition: Option<Value>,
}

async fn produce(
    State(state): State<AppState>,
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path(topic_name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let media = media_type(&headers);
    let format = match media.as_deref() {
        Some("application/vnd.kafka.binary.v2+json") => Format::Binary,
        Some("application/vnd.kafka.json.v2+json") => Format::Json,
        _ => {
            return Err(unsupported_media_type(
                media,
                "application/vnd.kafka.binary.v2+json or application/vnd.kafka.json.v2+json",
            ))
        }
    };
    // v2 names a missing topic 40401.
    let topic = state
        .broker
        .topics
        .get(&topic_name)
        .ok_or_else(|| ApiError::not_found(40401, "Topic not found."))?;
    let body = read_body(&headers, body, super::MAX_PRODUCE_BODY).await?;
    let request: ProduceRequest = parse_json(&body)?;
    let ctx = Context::new(&state, &proxy, topic)?;

    let mut pending = Vec::with_capacity(request.records.len());
    for record in &request.records {
        let record: RecordIn<'_> = serde_json::from_str(record.get()).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                422,
                format!("bad record: {e}"),
            )
        })?;
        // The v3 shape of the same record, so both APIs validate and send alike.
        let embed = |data: Option<&RawValue>| match data {
            None => "null".to_string(),
            Some(raw) => format!(r#"{{"type":"{}","data":{}}}"#, format.v3_name(), raw.get()),
        };
        let partition = record.partition.unwrap_or(Value::Null);
        let v3 = format!(
            r#"{{"partition_id":{partition},"key":{},"value":{}}}"#,
            embed(record.key),
            embed(record.value)
        );
        pending.push(send(&ctx, v3.as_bytes()).await);
    }
    let mut offsets = Vec::with_capacity(pending.len());
    for p in pending {
        let report = p.resolve(&ctx).await;
        offsets.push(if report.status == StatusCode::OK {
            json!({
                "partition": report.body["partition_id"],
                "offset": report.body["offset"],
                "error_code": null,
                "error": null,
            })
        } else {
            json!({
                "partition": null,
                "offset": null,
                "error_code": report.body["error_code"],
                "error": report.body["message"],
            })
        });
    }
    Ok(Json(json!({
        "key_schema_id": null,
        "value_schema_id": null,
        "offsets": offsets,
    })))
}
