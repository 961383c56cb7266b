//! `GET /metrics`: the broker's metrics for Prometheus, in the OpenMetrics text format.
//!
//! What is measured and how lives in `sluice_broker::metrics`; this module only serves it. A
//! scrape reads every partition's state (and, for consumer lag in seconds, one batch header per
//! lagging partition), so it runs on a blocking thread.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// OpenMetrics' media type; Prometheus asks for it and also accepts it unasked.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes this module serves (the OpenAPI document lists them).
pub const ROUTES: &[(&str, &str)] = &[("get", "/metrics")];

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/metrics",
        get(metrics).fallback(|| async { ApiError::method_not_allowed() }),
    )
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let broker = state.broker.clone();
    let text = tokio::task::spawn_blocking(move || sluice_broker::metrics::render(broker))
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                500,
                e.to_string(),
            )
        })?
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                500,
                e.to_string(),
            )
        })?;
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response())
}
