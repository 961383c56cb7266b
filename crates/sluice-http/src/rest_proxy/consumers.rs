//! REST v2 consumer API: `/consumers/{group}` creates an instance, then
//! `/consumers/{group}/instances/{name}/...` subscribes or assigns, fetches `records`, commits and
//! reads `offsets`, and moves `positions`; DELETE closes it. Instances idle for longer than
//! `consumer.instance.timeout.ms` (Confluent's setting and default, 300000; settable on the
//! broker with `--set consumer.instance.timeout.ms=...`) are closed by a reaper task.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use parking_lot::Mutex;
use rdkafka::Offset;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::AppState;

use super::instance::{Instance, Rec, Settings};
use super::payload::{self, Format};
use super::{
    base_url, bootstrap, media_type, parse_json, read_body, unsupported_media_type, RestProxy,
    CONSUMER_INSTANCE_TIMEOUT, MAX_CONTROL_BODY,
};

/// Confluent's `consumer.request.timeout.ms` default: longest a records request waits.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(1000);
/// Upper bound for a per-instance `consumer.request.timeout.ms`, so no request hangs for long.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Confluent's `consumer.request.max.bytes` default.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
const V2_JSON: &str = "application/vnd.kafka.v2+json";

type Key = (String, String);

/// The live consumer instances, by (group, name).
#[derive(Default)]
pub struct Instances {
    map: Arc<Mutex<HashMap<Key, Arc<Instance>>>>,
    reaper: std::sync::OnceLock<()>,
}

impl Instances {
    fn get(&self, group: &str, name: &str) -> Result<Arc<Instance>, ApiError> {
        self.map
            .lock()
            .get(&(group.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(40403, "Consumer instance not found."))
    }

    /// Starts the task that closes idle instances (once per server).
    fn start_reaper(&self, state: &AppState, timeout: Duration) {
        let map = Arc::downgrade(&self.map);
        let shutdown = state.broker.shutdown.clone();
        self.reaper.get_or_init(|| {
            tokio::spawn(reap(map, timeout, shutdown));
        });
    }
}

async fn reap(
    map: Weak<Mutex<HashMap<Key, Arc<Instance>>>>,
    timeout: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let period = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let Some(map) = map.upgrade() else { return };
        let expired: Vec<Arc<Instance>> = {
            let mut map = map.lock();
            let keys: Vec<Key> = map
                .iter()
                .filter(|(_, i)| i.idle_for() >= timeout)
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for instance in expired {
            tracing::info!(group = %instance.group, instance = %instance.name, "REST consumer instance expired");
            tokio::task::spawn_blocking(move || instance.close());
        }
    }
}

pub fn routes() -> Router<AppState> {
    let base = "/consumers/{group}/instances/{instance}";
    Router::new()
        .route("/consumers/{group}", post(create))
        .route(base, delete(remove))
        .route(
            &format!("{base}/subscription"),
            post(subscribe).get(subscription).delete(unsubscribe),
        )
        .route(&format!("{base}/assignments"), post(assign).get(assignment))
        .route(&format!("{base}/records"), get(records))
        .route(&format!("{base}/offsets"), post(commit).get(committed))
        .route(&format!("{base}/positions"), post(seek))
        .route(&format!("{base}/positions/beginning"), post(seek_beginning))
        .route(&format!("{base}/positions/end"), post(seek_end))
}

/// A 200/204 answer in the v2 content type.
fn v2_json(value: Value) -> Response {
    ([(header::CONTENT_TYPE, V2_JSON)], Json(value)).into_response()
}

fn invalid(error_code: u32, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error_code, message)
}

/// Reads a v2 control body: JSON in one of the v2 content types. `None` when empty.
async fn control_body(headers: &HeaderMap, body: Body) -> Result<Option<bytes::Bytes>, ApiError> {
    let bytes = read_body(headers, body, MAX_CONTROL_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let media = media_type(headers);
    let accepted = media.as_deref().is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/vnd.kafka") && m.ends_with("+json"))
    });
    if !accepted {
        return Err(unsupported_media_type(media, V2_JSON));
    }
    Ok(Some(bytes))
}

async fn required_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    match control_body(headers, body).await? {
        Some(bytes) => parse_json(&bytes),
        None => Err(invalid(422, "request body is required")),
    }
}

/// Runs `f` on the blocking pool (librdkafka calls block), marking the instance as used.
async fn blocking<R: Send + 'static>(
    instance: Arc<Instance>,
    f: impl FnOnce(&Instance) -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(move || {
        instance.touch();
        let result = f(&instance);
        instance.touch();
        result
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 500, e.to_string()))?
}

// ---- create and delete ----------------------------------------------------------------------

/// A setting that Confluent accepts as a JSON string or number.
fn setting_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn setting_number(body: &Value, key: &str) -> Result<Option<u64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match setting_string(v).and_then(|s| s.trim().parse::<i64>().ok()) {
            // Confluent's -1 means "not set".
            Some(n) if n < 0 => Ok(None),
            Some(n) => Ok(Some(n as u64)),
            None => Err(invalid(42204, format!("{key} must be a number"))),
        },
    }
}

fn instance_timeout(state: &AppState) -> Duration {
    state
        .broker
        .config
        .raw
        .get("consumer.instance.timeout.ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(CONSUMER_INSTANCE_TIMEOUT, Duration::from_millis)
}

async fn create(
    State(state): State<AppState>,
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path(group): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: Value = match control_body(&headers, body).await? {
        Some(bytes) => parse_json(&bytes)?,
        None => json!({}),
    };
    if !body.is_object() {
        return Err(invalid(422, "request body must be a JSON object"));
    }
    let name = match body.get("name").or_else(|| body.get("id")) {
        None | Some(Value::Null) => format!("rest-consumer-{}", uuid::Uuid::new_v4()),
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err(invalid(42204, "name must be a string")),
    };
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 249
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if !valid_name(&name) || group.is_empty() {
        return Err(invalid(
            42204,
            "instance names use only ASCII letters, digits, '.', '_' and '-'",
        ));
    }
    let format = match body.get("format") {
        None | Some(Value::Null) => Format::Binary,
        Some(Value::String(f)) => Format::from_name(f).ok_or_else(|| {
            invalid(
                42204,
                format!("format {f:?} is not supported; use binary, json or string"),
            )
        })?,
        Some(_) => return Err(invalid(42204, "format must be a string")),
    };
    let auto_offset_reset = match body.get("auto.offset.reset").and_then(setting_string) {
        None => None,
        Some(r) => match r.as_str() {
            "earliest" | "latest" | "none" | "smallest" | "largest" => Some(r),
            _ => {
                return Err(invalid(
                    42204,
                    format!("auto.offset.reset {r:?} is not one of earliest, latest, none"),
                ))
            }
        },
    };
    let auto_commit = match body.get("auto.commit.enable").and_then(setting_string) {
        None => None,
        Some(v) => match v.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => return Err(invalid(42204, "auto.commit.enable must be true or false")),
        },
    };
    let fetch_min_bytes = setting_number(&body, "fetch.min.bytes")?.map(|n| n as usize);
    let request_timeout = setting_number(&body, "consumer.request.timeout.ms")?
        .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_millis)
        .min(MAX_REQUEST_TIMEOUT);

    let key = (group.clone(), name.clone());
    if proxy.instances.map.lock().len() >= super::MAX_CONSUMER_INSTANCES {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            429,
            format!(
                "this proxy already runs {} consumer instances; delete unused ones",
                super::MAX_CONSUMER_INSTANCES
            ),
        ));
    }
    if proxy.instances.map.lock().contains_key(&key) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            40902,
            "Consumer instance with the specified name already exists.",
        ));
    }
    let settings = Settings {
        bootstrap: bootstrap(&state),
        group: group.clone(),
        name: name.clone(),
        format,
        auto_offset_reset,
        auto_commit,
        fetch_min_bytes,
        request_timeout,
    };
    let instance = Arc::new(
        tokio::task::spawn_blocking(move || Instance::create(settings))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 500, e.to_string()))??,
    );
    {
        let mut map = proxy.instances.map.lock();
        if map.contains_key(&key) {
            drop(map);
            tokio::task::spawn_blocking(move || instance.close());
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                40902,
                "Consumer instance with the specified name already exists.",
            ));
        }
        map.insert(key, instance);
    }
    proxy
        .instances
        .start_reaper(&state, instance_timeout(&state));
    Ok(v2_json(json!({
        "instance_id": name,
        "base_uri": format!("{}/consumers/{group}/instances/{name}", base_url(&headers)),
    })))
}

async fn remove(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let instance = proxy
        .instances
        .map
        .lock()
        .remove(&(group, name))
        .ok_or_else(|| ApiError::not_found(40403, "Consumer instance not found."))?;
    tokio::task::spawn_blocking(move || instance.close())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 500, e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- subscription and assignment --------------------------------------------------------------

#[derive(Deserialize)]
struct SubscriptionRequest {
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    topic_pattern: Option<String>,
}

#[derive(Deserialize)]
struct PartitionRef {
    topic: String,
    partition: i32,
}

#[derive(Deserialize)]
struct PartitionsRequest {
    partitions: Vec<PartitionRef>,
}

#[derive(Deserialize)]
struct OffsetRef {
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Deserialize)]
struct OffsetsRequest {
    offsets: Vec<OffsetRef>,
}

fn pairs(list: Vec<PartitionRef>) -> Vec<(String, i32)> {
    list.into_iter().map(|p| (p.topic, p.partition)).collect()
}

async fn subscribe(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let request: SubscriptionRequest = required_body(&headers, body).await?;
    let (topics, pattern) = match (request.topics, request.topic_pattern) {
        (Some(t), None) if !t.is_empty() => (t, None),
        (None, Some(p)) if !p.is_empty() => (Vec::new(), Some(p)),
        _ => {
            return Err(invalid(
                42204,
                "give either a non-empty topics list or a topic_pattern",
            ))
        }
    };
    blocking(instance, move |i| i.subscribe(&topics, pattern.as_deref())).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn subscription(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let topics = blocking(instance, |i| i.subscription()).await?;
    Ok(v2_json(json!({ "topics": topics })))
}

async fn unsubscribe(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    blocking(instance, |i| i.unsubscribe()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn assign(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let request: PartitionsRequest = required_body(&headers, body).await?;
    let partitions = pairs(request.partitions);
    blocking(instance, move |i| i.assign(&partitions)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn assignment(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let partitions = blocking(instance, |i| i.assignment()).await?;
    let partitions: Vec<Value> = partitions
        .into_iter()
        .map(|(topic, partition)| json!({ "topic": topic, "partition": partition }))
        .collect();
    Ok(v2_json(json!({ "partitions": partitions })))
}

// ---- positions ------------------------------------------------------------------------------

async fn seek(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let request: OffsetsRequest = required_body(&headers, body).await?;
    let mut targets = Vec::with_capacity(request.offsets.len());
    for o in request.offsets {
        if o.offset < 0 {
            return Err(invalid(42202, format!("invalid offset {}", o.offset)));
        }
        targets.push((o.topic, o.partition, Offset::Offset(o.offset)));
    }
    blocking(instance, move |i| i.seek(&targets)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn seek_to(
    proxy: Arc<RestProxy>,
    group: String,
    name: String,
    headers: HeaderMap,
    body: Body,
    offset: Offset,
) -> Result<StatusCode, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let request: PartitionsRequest = required_body(&headers, body).await?;
    let targets: Vec<(String, i32, Offset)> = request
        .partitions
        .into_iter()
        .map(|p| (p.topic, p.partition, offset))
        .collect();
    blocking(instance, move |i| i.seek(&targets)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn seek_beginning(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    seek_to(proxy, group, name, headers, body, Offset::Beginning).await
}

async fn seek_end(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    seek_to(proxy, group, name, headers, body, Offset::End).await
}

// ---- offsets --------------------------------------------------------------------------------

async fn commit(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let offsets: Option<Vec<(String, i32, i64)>> = match control_body(&headers, body).await? {
        None => None,
        Some(bytes) => {
            let request: OffsetsRequest = parse_json(&bytes)?;
            Some(
                request
                    .offsets
                    .into_iter()
                    .map(|o| (o.topic, o.partition, o.offset))
                    .collect(),
            )
        }
    };
    blocking(instance, move |i| i.commit(offsets.as_deref())).await?;
    // Confluent answers with the (always empty) list of offsets it failed to commit.
    Ok(v2_json(json!([])))
}

async fn committed(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    let request: PartitionsRequest = match control_body(&headers, body).await? {
        Some(bytes) => parse_json(&bytes)?,
        // What Confluent answers when no partitions are named.
        None => return Err(ApiError::not_found(40402, "Partition not found.")),
    };
    let partitions = pairs(request.partitions);
    let offsets = blocking(instance, move |i| i.committed(&partitions)).await?;
    let offsets: Vec<Value> = offsets
        .into_iter()
        .map(|(topic, partition, offset, metadata)| {
            json!({ "topic": topic, "partition": partition, "offset": offset, "metadata": metadata })
        })
        .collect();
    Ok(v2_json(json!({ "offsets": offsets })))
}

// ---- records --------------------------------------------------------------------------------

/// The embedded format the Accept header asks for; `None` when it leaves the choice to us.
fn accepted_format(headers: &HeaderMap) -> Result<Option<Format>, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let mut named = None;
    for item in accept.split(',') {
        let media = item
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if let Some(embedded) = media
            .strip_prefix("application/vnd.kafka.")
            .and_then(|m| m.strip_suffix(".v2+json"))
        {
            match Format::from_name(embedded) {
                Some(f) => return Ok(Some(f)),
                None => named = Some(embedded.to_string()),
            }
        } else if matches!(
            media.as_str(),
            "*/*" | "application/*" | "application/json" | "application/vnd.kafka.v2+json"
        ) {
            return Ok(None);
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        40601,
        format!(
            "cannot produce {}: use application/vnd.kafka.{{binary,json,string}}.v2+json",
            named.unwrap_or_else(|| accept.to_string())
        ),
    ))
}

async fn records(
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((group, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let instance = proxy.instances.get(&group, &name)?;
    if let Some(wanted) = accepted_format(&headers)? {
        if wanted != instance.format {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                40601,
                "The requested embedded data format does not match the deserializer for this consumer instance",
            ));
        }
    }
    let mut timeout = instance.request_timeout;
    let mut max_bytes = MAX_RESPONSE_BYTES;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let number = || {
            v.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("query parameter {k} must be an integer"))
            })
        };
        // A negative value means "not set" (Confluent's default is -1); so does max_bytes=0.
        match k {
            // Used only when below the instance's consumer.request.timeout.ms, as Confluent does.
            "timeout" => {
                if let Ok(ms) = u64::try_from(number()?) {
                    timeout = timeout.min(Duration::from_millis(ms));
                }
            }
            "max_bytes" => {
                if let Some(n) = usize::try_from(number()?).ok().filter(|n| *n > 0) {
                    max_bytes = max_bytes.min(n);
                }
            }
            _ => {}
        }
    }
    let format = instance.format;
    let recs = blocking(instance, move |i| i.records(timeout, max_bytes)).await?;
    let mut out = Vec::with_capacity(recs.len());
    for Rec {
        topic,
        partition,
        offset,
        key,
        value,
    } in recs
    {
        let convert = |bytes: Option<&[u8]>| {
            payload::to_json(format, bytes).map_err(|e| {
                invalid(
                    42206,
                    format!("{topic}-{partition}@{offset}: {e}; use another embedded format"),
                )
            })
        };
        out.push(json!({
            "topic": topic,
            "key": convert(key.as_deref())?,
            "value": convert(value.as_deref())?,
            "partition": partition,
            "offset": offset,
        }));
    }
    let content_type = format!("application/vnd.kafka.{}.v2+json", format.v2_name());
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Json(Value::Array(out)),
    )
        .into_response())
}
