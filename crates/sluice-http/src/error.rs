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
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error_code,
            message: message.into(),
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
        (
            self.status,
            Json(json!({ "error_code": self.error_code, "message": self.message })),
        )
            .into_response()
    }
}
