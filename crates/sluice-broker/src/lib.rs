//! Sluice's Kafka protocol server.
//!
//! Flow of a request: [`server`] accepts a connection, [`connection`] frames requests and keeps
//! responses in order, [`dispatch`] parses the header and routes to one module of [`handlers`],
//! which works on the [`topics`] registry and each [`partition`]'s log. [`flusher`] provides group
//! commit for durable mode; [`background`] runs flush, retention and compaction.

pub mod background;
pub mod broker;
pub mod config;
pub mod connection;
pub mod dispatch;
pub mod error;
pub mod fetch_encode;
pub mod fetch_session;
pub mod flusher;
pub mod group;
pub mod handlers;
pub mod ids;
pub mod metrics;
pub mod partition;
pub mod persist;
pub mod producer_ids;
pub mod record_validation;
pub mod server;
pub mod topic_config;
pub mod topics;
pub mod txn;

pub use broker::Broker;
pub use config::BrokerConfig;
