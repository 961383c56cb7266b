//! Confluent REST Proxy compatible API, so HTTP-only producers and consumers (browsers, serverless
//! functions, IoT gateways) can use Sluice without a Kafka client.
//!
//! - v3 (`/v3/clusters/...`): cluster and topic descriptions, and record produce, including
//!   Confluent's streaming mode (concatenated JSON records in, one delivery report per record out);
//! - v2 (`/consumers/...`, `/topics/{topic}`): consumer instances with subscribe/assign, fetch,
//!   commit, seek, and the older batch produce.
//!
//! Design: like Confluent's proxy, this is a Kafka client of the broker it runs in. Records go
//! through one shared librdkafka producer and each v2 consumer instance is a librdkafka consumer,
//! both connected to the broker's own advertised Kafka listener. That keeps every rule of the
//! produce and group paths (validation, partitioning, idempotence, group membership, commits) in
//! one place, the Kafka handlers, instead of a second write path that could drift from them.
//! Only the read-only cluster and topic descriptions come straight from the broker's registry.
//! rdkafka calls that block (consumer poll, commit, seek) run on Tokio's blocking pool.
//! Cross-origin (browser) access is off unless configured (`cors.rs`).

mod clusters;
mod consumers;
mod cors;
mod instance;
mod payload;
mod produce;
mod produce_v2;
mod timestamp;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;

use crate::error::ApiError;
use crate::AppState;

/// Largest produce body with a `Content-Length`, and largest single record of a streamed
/// (chunked) one, which may go on for as long as the connection stays open. The topic's
/// `max.message.bytes` still decides per record.
pub const MAX_PRODUCE_BODY: usize = 16 * 1024 * 1024;
/// Largest body of the small JSON control requests (subscriptions, offsets, ...).
pub const MAX_CONTROL_BODY: usize = 1024 * 1024;
/// Confluent's `consumer.instance.timeout.ms` default: idle instances are closed after this.
pub const CONSUMER_INSTANCE_TIMEOUT: Duration = Duration::from_millis(300_000);

/// Most v2 consumer instances alive at once: each is a librdkafka client with its own threads
/// and connections, so their number must not grow with whatever clients ask for.
pub const MAX_CONSUMER_INSTANCES: usize = 1000;

/// The proxy's Kafka clients report through the broker's log, quietly: their connection churn
/// (say, at shutdown) is not the broker's error.
pub struct ProxyClientContext;

impl ClientContext for ProxyClientContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        tracing::debug!(?level, fac, "REST proxy client: {message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, "REST proxy client: {reason}");
    }
}

impl ConsumerContext for ProxyClientContext {}

pub type ProxyProducer = FutureProducer<ProxyClientContext>;

/// What the proxy keeps between requests: the shared producer and the v2 consumer instances.
pub struct RestProxy {
    producer: Mutex<Option<ProxyProducer>>,
    instances: consumers::Instances,
}

impl RestProxy {
    fn new() -> RestProxy {
        RestProxy {
            producer: Mutex::new(None),
            instances: consumers::Instances::default(),
        }
    }

    /// The shared producer, created on first use (the Kafka listener is up by then).
    fn producer(&self, state: &AppState) -> Result<ProxyProducer, ApiError> {
        let mut slot = self.producer.lock();
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let producer: ProxyProducer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap(state))
            .set("client.id", "sluice-rest-proxy")
            // Java clients' partitioner, so keyed records land where a Java producer puts them.
            .set("partitioner", "murmur2_random")
            // The broker's message.max.bytes decides; the client must not refuse first.
            .set("message.max.bytes", (MAX_PRODUCE_BODY + 65_536).to_string())
            .set("enable.idempotence", "true")
            .set("linger.ms", "2")
            // An HTTP caller should hear about a failure in seconds, not librdkafka's 5 minutes.
            .set("message.timeout.ms", "30000")
            .create_with_context(ProxyClientContext)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 50001, e.to_string()))?;
        *slot = Some(producer.clone());
        Ok(producer)
    }
}

fn bootstrap(state: &AppState) -> String {
    let (host, port) = state.broker.advertised();
    format!("{host}:{port}")
}

/// The proxy's routes; `state` supplies the settings (CORS) they are built with.
pub fn routes(state: &AppState) -> Router<AppState> {
    let proxy = Arc::new(RestProxy::new());
    let v3 = || {
        Router::new()
            .merge(clusters::routes())
            .merge(produce::routes())
    };
    Router::new()
        .merge(v3())
        // Confluent Server and Confluent Cloud serve the same v3 API under /kafka.
        .nest("/kafka", v3())
        .merge(clusters::v2_routes())
        .merge(produce_v2::routes())
        .merge(consumers::routes())
        .layer(axum::middleware::from_fn(read_small_bodies))
        .layer(axum::middleware::from_fn_with_state(
            cors::Cors::from_settings(state),
            cors::layer,
        ))
        .layer(Extension(proxy))
}

/// Reads every small body (declared length up to [`MAX_CONTROL_BODY`]) before the handler runs.
/// A handler that answers without reading the body (unknown instance, wrong content type, a GET
/// with a body) would otherwise leave it unread, and the server would then have to close a
/// keep-alive connection the client is about to reuse. Large and chunked bodies (streaming
/// produce) pass through untouched.
async fn read_small_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let small = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0 && n <= MAX_CONTROL_BODY as u64);
    if !small {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_CONTROL_BODY).await {
        Ok(bytes) => {
            let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
            next.run(request).await
        }
        Err(_) => ApiError::bad_request("cannot read the request body").into_response(),
    }
}

/// `http://host:port` as the client addressed us, for `metadata.self` and `base_uri` links.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The request's media type without parameters, lower-cased (`application/json`).
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

fn unsupported_media_type(found: Option<String>, expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        415,
        format!(
            "HTTP 415 Unsupported Media Type: got {}, expected {expected}",
            found.as_deref().unwrap_or("no Content-Type")
        ),
    )
}

/// Reads a whole body of at most `limit` bytes; larger bodies get 413 in Confluent's shape.
async fn read_body(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        413,
        format!("request body is larger than {limit} bytes"),
    )
}

/// Parses a JSON body into `T`, answering 400 / 422 the way Confluent's Jackson layer does.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 422, e.to_string())
        } else {
            ApiError::bad_request(format!("malformed JSON: {e}"))
        }
    })
}
