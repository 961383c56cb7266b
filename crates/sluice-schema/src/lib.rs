//! Sluice's schema registry, compatible with Confluent Schema Registry's REST API.
//!
//! [`api`] maps Confluent's REST paths onto [`registry::Registry`], which keeps an in-memory
//! [`state::State`] rebuilt from (and written through to) the compacted topic `_schemas` by
//! [`store`]. [`types`] dispatches to each schema format ([`avro`]) for parsing, identity and
//! compatibility; [`config`] holds the compatibility levels and modes.

pub mod api;
pub mod avro;
pub mod config;
pub mod error;
pub mod json_schema;
pub mod protobuf;
pub mod registry;
pub mod state;
pub mod store;
pub mod types;
pub mod validation;

use std::sync::Arc;

use axum::Router;
use sluice_broker::Broker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The registry's REST API as one router. Replays `_schemas`, so call it once per broker.
pub fn router(broker: Arc<Broker>) -> Router {
    api::routes(Arc::new(registry::Registry::open(broker)))
}

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
