//! Client-side commands. They speak the Kafka protocol through librdkafka, so they work against
//! Sluice or any other Kafka-compatible cluster.

mod connection;
pub mod consume;
mod context;
mod error;
mod format;
pub mod group;
mod input_line;
mod native_admin;
pub mod produce;
pub mod schema;
pub mod topic;
pub mod txn;

/// Runs a client command on a small runtime of its own; the broker's runtime is not involved.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(fut: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
