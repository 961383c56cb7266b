//! Sluice's HTTP face: what operators and HTTP-only clients see of a running broker.
//!
//! One axum [`Router`] on its own listener (`http.listeners`, default `127.0.0.1:8080`) serves
//! - [`health`]: `/health/live` and `/health/ready` for orchestrators;
//! - [`metrics`]: `/metrics` in Prometheus text format;
//! - [`admin`]: the JSON admin API under `/v1/`, with its OpenAPI document ([`openapi`]) at
//!   `/openapi.json`;
//! - [`browse`]: the message browser's record reads (`/v1/topics/{name}/partitions/{p}/records`);
//! - [`schemas`]: the schema registry, read-only, for the console (`/v1/schemas/...`);
//! - [`rest_proxy`]: Confluent REST Proxy compatible produce (v3) and consumer (v2) APIs;
//! - [`console`]: the web console, embedded in the binary.
//!
//! Every module works on the same [`sluice_broker::Broker`] the Kafka listeners serve, so what
//! HTTP shows is the broker's own state, not a client's view of it.

use std::sync::Arc;

use axum::Router;
use sluice_broker::Broker;

pub mod admin;
pub mod browse;
pub mod console;
pub mod error;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod rest_proxy;
pub mod schemas;

/// State every handler gets: the broker it describes.
#[derive(Clone)]
pub struct AppState {
    pub broker: Arc<Broker>,
}

/// The whole HTTP API as one router.
pub fn router(broker: Arc<Broker>) -> Router {
    let state = AppState { broker };
    Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(admin::routes())
        .merge(browse::routes())
        .merge(rest_proxy::routes(&state))
        .merge(schemas::routes())
        .merge(console::routes())
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` is cancelled (the same loop as the registry's
/// listener).
pub use sluice_schema::serve;
