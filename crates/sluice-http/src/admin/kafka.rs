//! Calling the broker's Kafka API handlers from HTTP: a request context as if a local client
//! sent the request at the newest version Sluice implements, and the handler's answer awaited.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::StrBytes;
use sluice_broker::dispatch::{supported_range, Ctx, Outcome};
use sluice_broker::Broker;

use crate::error::ApiError;

/// The context a handler sees for an admin API call.
pub fn ctx(broker: &Arc<Broker>, api_key: ApiKey) -> Ctx {
    Ctx {
        broker: broker.clone(),
        api_key,
        api_version: supported_range(api_key).map_or(0, |(_, hi)| hi),
        correlation_id: 0,
        client_id: Some("sluice-http-admin".into()),
        peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    }
}

/// The same context at a chosen version (for request shapes that differ by version).
pub fn ctx_v(broker: &Arc<Broker>, api_key: ApiKey, version: i16) -> Ctx {
    let mut c = ctx(broker, api_key);
    c.api_version = version;
    c
}

/// Waits for a handler's answer.
pub async fn answer<R>(outcome: Outcome<R>) -> Result<R, ApiError> {
    match outcome {
        Outcome::Now(r) => Ok(r),
        Outcome::Later(f) => Ok(f.await),
        Outcome::Silent => Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            500,
            "the broker sent no answer",
        )),
    }
}

pub fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

/// `Err` for a non-zero Kafka error code.
pub fn check(code: i16, message: Option<&StrBytes>) -> Result<(), ApiError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ApiError::from_kafka(code, message.map(|m| m.to_string())))
    }
}
