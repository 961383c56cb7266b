//! Sluice's schema registry, compatible with Confluent Schema Registry's REST API.
//!
//! (skeleton: the registry's modules are to be written)

use std::sync::Arc;

use axum::Router;
use sluice_broker::Broker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The registry's REST API as one router.
pub fn router(_broker: Arc<Broker>) -> Router {
    Router::new()
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
