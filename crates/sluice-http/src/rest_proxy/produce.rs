//! REST v3 produce: `POST /v3/clusters/{cluster_id}/topics/{topic}/records`.
//!
//! The body is one record or several concatenated JSON records (Confluent's streaming mode,
//! typically with `Transfer-Encoding: chunked`). Each record is handed to the producer as soon as
//! it has been read, in order, and answered with its own delivery report, in the same order.
//! A chunked request is answered as a stream (HTTP 200, each report carrying its own
//! `error_code`), so a client can keep one connection open and read reports as records land. A
//! request with a `Content-Length` is read whole: one record is answered with that record's
//! status (400 for a bad payload), several with 200 and one report per record.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use futures::StreamExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sluice_broker::topic_config;
use sluice_broker::topics::Topic;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::AppState;

use super::clusters::{check_cluster, find_topic, unknown_topic_or_partition};
use super::payload::{bad_payload, decode_base64, parse_v3, Data, Format};
use super::{
    media_type, timestamp, unsupported_media_type, ProxyProducer, RestProxy, MAX_PRODUCE_BODY,
};

/// Bytes a record adds to its batch beyond key, value and headers (varints and attributes),
/// rounded up, plus the batch header, so the size pre-check never lets a too-large record
/// reach the broker.
const RECORD_OVERHEAD: usize = 128;
/// How many records may wait for their delivery report before reading the request pauses.
const IN_FLIGHT: usize = 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v3/clusters/{cluster_id}/topics/{topic}/records",
        post(produce),
    )
}

async fn produce(
    State(state): State<AppState>,
    Extension(proxy): Extension<Arc<RestProxy>>,
    Path((cluster_id, topic_name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_cluster(&state, &cluster_id)?;
    let media = media_type(&headers);
    if media.as_deref() != Some("application/json") {
        return Err(unsupported_media_type(media, "application/json"));
    }
    // Confluent's v3 produce never creates topics, whatever auto.create.topics.enable says.
    let topic = find_topic(&state, &topic_name)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PRODUCE_BODY as u64) {
        return Err(super::too_large(MAX_PRODUCE_BODY));
    }
    let ctx = Arc::new(Context::new(&state, &proxy, topic)?);

    let (tx, rx) = mpsc::channel::<Pending>(IN_FLIGHT);
    tokio::spawn(read_records(body, tx, ctx.clone()));
    let reports = futures::stream::unfold(rx, |mut rx| async move {
        let pending = rx.recv().await?;
        Some((pending, rx))
    })
    .then(move |pending| {
        let ctx = ctx.clone();
        async move { pending.resolve(&ctx).await }
    });

    if declared.is_none() {
        let stream = reports.map(|report| {
            let mut line = serde_json::to_vec(&report.body).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
        });
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(stream),
        )
            .into_response());
    }

    let reports: Vec<Report> = reports.collect().await;
    match reports.as_slice() {
        [] => Err(ApiError::bad_request("request body holds no record")),
        [one] => Ok((one.status, axum::Json(&one.body)).into_response()),
        many => {
            let mut out = Vec::new();
            for r in many {
                out.extend(serde_json::to_vec(&r.body).unwrap_or_default());
                out.push(b'\n');
            }
            Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
        }
    }
}

/// What every record of one request shares.
pub(super) struct Context {
    pub(super) cluster_id: String,
    pub(super) topic: Arc<Topic>,
    pub(super) producer: ProxyProducer,
    pub(super) max_record_bytes: usize,
}

impl Context {
    pub(super) fn new(
        state: &AppState,
        proxy: &RestProxy,
        topic: Arc<Topic>,
    ) -> Result<Context, ApiError> {
        Ok(Context {
            cluster_id: state.broker.cluster_id.clone(),
            max_record_bytes: topic_config::log_config(&state.broker.config, &topic.configs)
                .max_message_bytes
                .max(0) as usize,
            producer: proxy.producer(state)?,
            topic,
        })
    }
}

/// A record's answer: its JSON report and the HTTP status it would have alone.
pub(super) struct Report {
    pub(super) status: StatusCode,
    pub(super) body: Value,
}

impl Report {
    fn error(e: ApiError) -> Report {
        Report {
            status: e.status,
            body: json!({ "error_code": e.error_code, "message": e.message }),
        }
    }
}

/// A record on its way: refused before sending, or waiting for its delivery report.
pub(super) enum Pending {
    Refused(ApiError),
    Sent {
        delivery: DeliveryFuture,
        key: Option<(Format, usize)>,
        value: Option<(Format, usize)>,
    },
}

impl Pending {
    pub(super) async fn resolve(self, ctx: &Context) -> Report {
        let (delivery, key, value) = match self {
            Pending::Refused(e) => return Report::error(e),
            Pending::Sent {
                delivery,
                key,
                value,
            } => (delivery, key, value),
        };
        let data = |d: Option<(Format, usize)>| match d {
            Some((f, size)) => json!({ "type": f.v3_name(), "size": size }),
            None => Value::Null,
        };
        match delivery.await {
            Ok(Ok(d)) => Report {
                status: StatusCode::OK,
                body: json!({
                    "error_code": 200,
                    "cluster_id": ctx.cluster_id,
                    "topic_name": &*ctx.topic.name,
                    "partition_id": d.partition,
                    "offset": d.offset,
                    "timestamp": d.timestamp.to_millis().map(timestamp::format_millis),
                    "key": data(key),
                    "value": data(value),
                }),
            },
            Ok(Err((e, _))) => Report::error(kafka_error(&ctx.topic.name, e)),
            Err(_) => Report::error(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                50002,
                "the producer shut down before the record was delivered",
            )),
        }
    }
}

/// Reads records off the body as they complete and sends each, in order, to the producer.
async fn read_records(body: Body, tx: mpsc::Sender<Pending>, ctx: Arc<Context>) {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut splitter = Splitter::default();
    loop {
        loop {
            match splitter.next_value(&buf) {
                Split::Value(end) => {
                    let pending = send(&ctx, &buf[..end]).await;
                    buf.drain(..end);
                    splitter = Splitter::default();
                    if tx.send(pending).await.is_err() {
                        return; // the client went away
                    }
                }
                Split::NeedMore => break,
                Split::NotARecord => {
                    let _ = tx
                        .send(Pending::Refused(ApiError::bad_request(
                            "malformed request: each record must be a JSON object",
                        )))
                        .await;
                    return;
                }
            }
        }
        if splitter.pending_bytes(&buf) > MAX_PRODUCE_BODY {
            let _ = tx
                .send(Pending::Refused(super::too_large(MAX_PRODUCE_BODY)))
                .await;
            return;
        }
        match stream.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(_)) => return, // the client broke the connection
            None => {
                if splitter.pending_bytes(&buf) > 0 {
                    let _ = tx
                        .send(Pending::Refused(ApiError::bad_request(
                            "malformed JSON: the request ends inside a record",
                        )))
                        .await;
                }
                return;
            }
        }
    }
}

/// Validates one record and queues it in the producer.
pub(super) async fn send(ctx: &Context, record: &[u8]) -> Pending {
    let prepared = match prepare(ctx, record) {
        Ok(p) => p,
        Err(e) => return Pending::Refused(e),
    };
    let key_bytes = prepared.key.as_ref().and_then(|(_, b)| b.as_deref());
    let value_bytes = prepared.value.as_ref().and_then(|(_, b)| b.as_deref());
    loop {
        let mut r: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&ctx.topic.name);
        if let Some(k) = key_bytes {
            r = r.key(k);
        }
        if let Some(v) = value_bytes {
            r = r.payload(v);
        }
        if let Some(p) = prepared.partition {
            r = r.partition(p);
        }
        if let Some(ts) = prepared.timestamp {
            r = r.timestamp(ts);
        }
        if !prepared.headers.is_empty() {
            let mut h = OwnedHeaders::new_with_capacity(prepared.headers.len());
            for (name, value) in &prepared.headers {
                h = h.insert(Header {
                    key: name,
                    value: value.as_deref(),
                });
            }
            r = r.headers(h);
        }
        match ctx.producer.send_result(r) {
            Ok(delivery) => {
                let size = |d: &Option<Data>| {
                    d.as_ref()
                        .map(|(f, b)| (*f, b.as_ref().map_or(0, Vec::len)))
                };
                return Pending::Sent {
                    delivery,
                    key: size(&prepared.key),
                    value: size(&prepared.value),
                };
            }
            // The producer's queue is full: wait for deliveries to drain it, as a blocking
            // Java producer would.
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err((e, _)) => return Pending::Refused(kafka_error(&ctx.topic.name, e)),
        }
    }
}

struct Prepared {
    partition: Option<i32>,
    key: Option<Data>,
    value: Option<Data>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: Option<i64>,
}

/// One v3 record as sent; `key` and `value` stay raw so JSON data keeps its exact form.
#[derive(serde::Deserialize)]
struct RecordIn<'a> {
    partition_id: Option<Value>,
    headers: Option<Value>,
    timestamp: Option<Value>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

fn prepare(ctx: &Context, record: &[u8]) -> Result<Prepared, ApiError> {
    let record: RecordIn<'_> = serde_json::from_slice(record).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::bad_request(format!("malformed JSON record: {e}"))
        } else {
            ApiError::bad_request(format!(
                "a record must be a JSON object of record fields: {e}"
            ))
        }
    })?;
    let partition = match record.partition_id {
        None | Some(Value::Null) => None,
        Some(v) => {
            let p = v
                .as_i64()
                .ok_or_else(|| bad_payload("partition_id must be an integer"))?;
            let p = i32::try_from(p)
                .ok()
                .filter(|p| ctx.topic.partition(*p).is_some())
                .ok_or_else(|| {
                    ApiError::not_found(40402, format!("Partition {p} cannot be found."))
                })?;
            Some(p)
        }
    };
    let headers = match &record.headers {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(parse_header)
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(bad_payload("headers must be an array")),
    };
    let timestamp = match &record.timestamp {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(timestamp::parse_rfc3339(text).ok_or_else(|| {
            bad_payload(format!("timestamp {text:?} is not an RFC 3339 date-time"))
        })?),
        Some(_) => {
            return Err(bad_payload(
                "timestamp must be an RFC 3339 date-time string",
            ))
        }
    };
    let key = parse_v3(record.key, "key")?;
    let value = parse_v3(record.value, "value")?;
    let len = |d: &Option<Data>| d.as_ref().and_then(|(_, b)| b.as_ref()).map_or(0, Vec::len);
    let size = len(&key)
        + len(&value)
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.as_ref().map_or(0, Vec::len) + 8)
            .sum::<usize>()
        + RECORD_OVERHEAD;
    if size > ctx.max_record_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            413,
            format!(
                "record of about {size} bytes is larger than the topic's max.message.bytes ({})",
                ctx.max_record_bytes
            ),
        ));
    }
    Ok(Prepared {
        partition,
        key,
        value,
        headers,
        timestamp,
    })
}

/// `{"name": "...", "value": "<base64>" | null}`.
fn parse_header(h: &Value) -> Result<(String, Option<Vec<u8>>), ApiError> {
    let name = h
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_payload("every header needs a string name"))?;
    let value = match h.get("value") {
        None | Some(Value::Null) => None,
        Some(Value::String(b64)) => Some(decode_base64(b64).map_err(|e| {
            bad_payload(format!("header {name:?}: value is not valid base64: {e}"))
        })?),
        Some(_) => {
            return Err(bad_payload(format!(
                "header {name:?}: value must be base64"
            )))
        }
    };
    Ok((name.to_string(), value))
}

/// A producer error as Confluent reports it.
pub(super) fn kafka_error(topic: &str, e: KafkaError) -> ApiError {
    let code = match &e {
        KafkaError::MessageProduction(c) => Some(*c),
        other => other.rdkafka_error_code(),
    };
    match code {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            unknown_topic_or_partition(topic)
        }
        Some(RDKafkaErrorCode::UnknownPartition) => {
            ApiError::not_found(40402, format!("Partition cannot be found: {e}"))
        }
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, 413, e.to_string())
        }
        Some(RDKafkaErrorCode::InvalidTimestamp | RDKafkaErrorCode::InvalidRecord) => {
            bad_payload(e.to_string())
        }
        _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 50002, e.to_string()),
    }
}

/// Finds where each top-level JSON value of a concatenated stream ends, without parsing it, so
/// a record is parsed once when complete (not again on every chunk) and one malformed record
/// does not hide the next ones.
#[derive(Default)]
struct Splitter {
    /// Bytes of the buffer already scanned.
    pos: usize,
    /// Where the current value starts, once its first byte is seen.
    start: Option<usize>,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

enum Split {
    /// A complete value ends at this offset.
    Value(usize),
    NeedMore,
    /// The stream holds something other than an object or array at the top level.
    NotARecord,
}

impl Splitter {
    fn next_value(&mut self, buf: &[u8]) -> Split {
        while self.pos < buf.len() {
            let b = buf[self.pos];
            self.pos += 1;
            if self.start.is_none() {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'{' | b'[' => {
                        self.start = Some(self.pos - 1);
                        self.depth = 1;
                        continue;
                    }
                    _ => return Split::NotARecord,
                }
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Split::Value(self.pos);
                    }
                }
                _ => {}
            }
        }
        Split::NeedMore
    }

    /// Bytes of the value being read (not counting the whitespace before it).
    fn pending_bytes(&self, buf: &[u8]) -> usize {
        self.start.map_or(0, |s| buf.len() - s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &str) -> Vec<String> {
        let buf = input.as_bytes().to_vec();
        let mut out = Vec::new();
        let mut rest = buf.as_slice();
        loop {
            let mut s = Splitter::default();
            match s.next_value(rest) {
                Split::Value(end) => {
                    out.push(String::from_utf8_lossy(&rest[..end]).trim().to_string());
                    rest = &rest[end..];
                }
                Split::NeedMore => return out,
                Split::NotARecord => {
                    out.push("!".into());
                    return out;
                }
            }
        }
    }

    #[test]
    fn splits_concatenated_objects() {
        assert_eq!(
            split_all(r#"{"a":"}{\"}"} {"b":[1,{"c":2}]}{"#),
            vec![r#"{"a":"}{\"}"}"#, r#"{"b":[1,{"c":2}]}"#]
        );
        assert_eq!(split_all(" 12 {}"), vec!["!"]);
    }

    #[test]
    fn resumes_across_chunks() {
        let mut s = Splitter::default();
        let mut buf = br#" {"k": "a\"#.to_vec();
        assert!(matches!(s.next_value(&buf), Split::NeedMore));
        buf.extend_from_slice(br#"""}"#);
        match s.next_value(&buf) {
            Split::Value(end) => assert_eq!(&buf[1..end], br#"{"k": "a\""}"#),
            _ => panic!("expected a value"),
        }
    }
}
