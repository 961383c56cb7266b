//! `/v1/cluster`, `/v1/brokers` and `/v1/stats`: who the cluster is and its running totals.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::AppState;

fn broker_json(state: &AppState) -> Value {
    let (host, port) = state.broker.advertised();
    json!({ "node_id": state.broker.config.node_id, "host": host, "port": port, "rack": null })
}

pub async fn cluster(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "cluster_id": state.broker.cluster_id,
        "controller_id": state.broker.config.node_id,
        "brokers": [broker_json(&state)],
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

pub async fn brokers(State(state): State<AppState>) -> Json<Value> {
    Json(json!([broker_json(&state)]))
}

/// Monotonic totals (sums over the current partitions) and sizes; the console differentiates
/// successive answers for live throughput.
pub async fn stats(State(state): State<AppState>) -> Json<Value> {
    let broker = state.broker.clone();
    let totals = tokio::task::spawn_blocking(move || sluice_broker::metrics::totals(&broker))
        .await
        .unwrap_or_default();
    let mut v = serde_json::to_value(&totals).unwrap_or_else(|_| json!({}));
    v["ts_ms"] = json!(sluice_broker::background::now_ms());
    v["groups"] = json!(state.broker.groups.list(&[], &[]).len());
    v["connections"] = json!(state.broker.metrics.open_connections());
    Json(v)
}
