//! HTTP errors in Confluent's shape: `{"error_code": <int>, "message": "<text>"}` with a
//! matching status. Confluent's REST Proxy and Schema Registry clients parse this body, so every
//! 4xx/5xx this server sends uses it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answer: HTTP status plus Confluent's numeric `error_code` (often the status itself,
/// or a five-digit refinement of it such as 40401 for "topic not found").
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub error_code: u32,
    pub message: String,
    /// The Kafka error (code and name) behind this answer, when a broker handler gave one.
    pub kafka_error: Option<(i16, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error_code,
            message: message.into(),
            kafka_error: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, 400, message)
    }

    pub fn not_found(error_code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, error_code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error_code": self.error_code, "message": self.message });
        if let Some((code, name)) = self.kafka_error {
            body["kafka_error_code"] = json!(code);
            body["kafka_error"] = json!(name);
        }
        (self.status, Json(body)).into_response()
    }
}

/// Refinements of `error_code` the admin API uses (documented in docs/http-api.md).
pub mod codes {
    /// No route for this path.
    pub const NO_ROUTE: u32 = 40400;
    /// The topic does not exist.
    pub const UNKNOWN_TOPIC: u32 = 40403;
    /// The consumer group does not exist.
    pub const UNKNOWN_GROUP: u32 = 40404;
    /// A request field is invalid (Kafka's INVALID_REQUEST, INVALID_PARTITIONS, ...).
    pub const INVALID_REQUEST: u32 = 40001;
    /// A config name or value is invalid (Kafka's INVALID_CONFIG).
    pub const INVALID_CONFIG: u32 = 40002;
    /// The body is not the JSON this endpoint expects.
    pub const MALFORMED_JSON: u32 = 40003;
    /// The topic already exists.
    pub const TOPIC_EXISTS: u32 = 40901;
    /// The group has active members (resets and deletes need an empty group).
    pub const GROUP_NOT_EMPTY: u32 = 40902;
}

impl ApiError {
    pub fn conflict(error_code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, error_code, message)
    }

    pub fn no_route() -> ApiError {
        ApiError::not_found(codes::NO_ROUTE, "HTTP 404 Not Found: no such endpoint")
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            "HTTP 405 Method Not Allowed",
        )
    }

    /// A Kafka error code from one of the broker's handlers, as the HTTP status and code it means
    /// here. Client mistakes are 4xx; only the broker's own trouble is 5xx.
    pub fn from_kafka(code: i16, message: Option<String>) -> ApiError {
        let name = sluice_broker::metrics::kafka_error_name(code);
        let message = message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| name.clone());
        let (status, error_code) = match code {
            3 | 100 => (StatusCode::NOT_FOUND, codes::UNKNOWN_TOPIC),
            69 => (StatusCode::NOT_FOUND, codes::UNKNOWN_GROUP),
            36 => (StatusCode::CONFLICT, codes::TOPIC_EXISTS),
            68 | 25 | 22 | 27 => (StatusCode::CONFLICT, codes::GROUP_NOT_EMPTY),
            40 => (StatusCode::BAD_REQUEST, codes::INVALID_CONFIG),
            // TOPIC_AUTHORIZATION_FAILED, TOPIC_DELETION_DISABLED and the like.
            29 | 30 | 31 | 73 => (StatusCode::FORBIDDEN, 403),
            // Broker-side trouble: storage, coordinator loading, timeouts.
            -1 | 7 | 14 | 15 | 56 => (StatusCode::SERVICE_UNAVAILABLE, 503),
            _ => (StatusCode::BAD_REQUEST, codes::INVALID_REQUEST),
        };
        let mut e = ApiError::new(status, error_code, message);
        e.kafka_error = Some((code, name));
        e
    }
}

/// A JSON request body. Unlike axum's `Json` it accepts any content type and answers every
/// failure (too large, unreadable, malformed) in Confluent's JSON error shape.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let bytes = bytes::Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            ApiError::new(status, status.as_u16() as u32, e.body_text())
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::MALFORMED_JSON,
                format!("malformed JSON body: {e}"),
            )
        })
    }
}
