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
pub mod view;

use std::sync::{Arc, Weak};

use axum::Router;
use sluice_broker::Broker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One registry per broker, shared by all its listeners (each gets its own router): two
/// in-memory indexes over one `_schemas` would drift apart.
static REGISTRIES: parking_lot::Mutex<Vec<(Weak<Broker>, Arc<registry::Registry>)>> =
    parking_lot::Mutex::new(Vec::new());

/// The registry's REST API as one router. The first call for a broker replays `_schemas`.
pub fn router(broker: Arc<Broker>) -> Router {
    let mut registries = REGISTRIES.lock();
    registries.retain(|(b, _)| b.strong_count() > 0);
    let registry = match registries
        .iter()
        .find(|(b, _)| Weak::ptr_eq(b, &Arc::downgrade(&broker)))
    {
        Some((_, r)) => r.clone(),
        None => {
            let r = Arc::new(registry::Registry::open(broker.clone()));
            registries.push((Arc::downgrade(&broker), r.clone()));
            r
        }
    };
    api::routes(registry)
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
