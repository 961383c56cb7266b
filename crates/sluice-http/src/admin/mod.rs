//! The JSON admin API under `/v1/`: cluster, brokers, topics, consumer groups and live totals,
//! for operators, scripts and the web console.
//!
//! Reads come from the broker's own state. Changes go through the very handlers that serve the
//! Kafka API ([`kafka`]), so validation and error codes are the ones a Kafka client would get;
//! errors are answered in Confluent's JSON shape (see [`crate::error`]). Every route is listed in
//! [`ROUTES`], built from the same table as the router, and the OpenAPI document at
//! `/openapi.json` must describe exactly those (checked by `openapi`'s tests).

mod cluster;
mod groups;
pub mod kafka;
mod topics;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, MethodRouter};
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// Largest request body accepted (bigger ones get 413 in the JSON error shape).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds [`ROUTES`] and the router from one table, so the two cannot drift apart.
macro_rules! route_table {
    ($( $path:literal => { $( $method:ident => $handler:path ),+ $(,)? } ),* $(,)?) => {
        /// Every (method, path) the admin router serves.
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path), )+ )* ];

        fn table() -> Router<AppState> {
            Router::new()
                $( .route($path, MethodRouter::new() $( .$method($handler) )+ .fallback(method_not_allowed)) )*
        }
    };
}

route_table! {
    "/openapi.json" => { get => crate::openapi::document },
    "/v1/cluster" => { get => cluster::cluster },
    "/v1/brokers" => { get => cluster::brokers },
    "/v1/stats" => { get => cluster::stats },
    "/v1/topics" => { get => topics::list, post => topics::create },
    "/v1/topics/{name}" => { get => topics::describe, delete => topics::delete },
    "/v1/topics/{name}/configs" => { get => topics::configs, patch => topics::alter_configs },
    "/v1/topics/{name}/partitions" => { post => topics::add_partitions },
    "/v1/groups" => { get => groups::list },
    "/v1/groups/{id}" => { get => groups::describe, delete => groups::delete },
    "/v1/groups/{id}/reset-offsets" => { post => groups::reset_offsets },
}

pub fn routes() -> Router<AppState> {
    table()
        // Unknown paths under /v1/ answer in the JSON error shape too.
        .route("/v1/{*rest}", any(|| async { ApiError::no_route() }))
        .route("/v1/", any(|| async { ApiError::no_route() }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// A path parameter, with axum's plain-text rejection turned into the JSON error shape.
pub struct PathParam(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathParam(p.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}
