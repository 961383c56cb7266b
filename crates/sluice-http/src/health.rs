//! Liveness and readiness probes for orchestrators (Kubernetes, systemd, load balancers).
//!
//! Live means the process answers HTTP; ready means the broker has recovered its logs and is
//! accepting Kafka connections, which is true once this server runs (it starts after recovery)
//! and until shutdown begins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

/// The routes this module serves (the OpenAPI document lists them).
pub const ROUTES: &[(&str, &str)] = &[("get", "/health/live"), ("get", "/health/ready")];

pub fn routes() -> Router<AppState> {
    let not_allowed = || async { crate::error::ApiError::method_not_allowed() };
    Router::new()
        .route("/health/live", get(live).fallback(not_allowed))
        .route("/health/ready", get(ready).fallback(not_allowed))
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "live" }))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.broker.shutdown.is_cancelled() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down" })),
        )
    } else {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    }
}
