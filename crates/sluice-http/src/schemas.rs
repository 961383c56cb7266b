//! The schema registry, read-only, for the web console: `/v1/schemas/...` on the HTTP listener.
//!
//! The registry's own REST API listens on `schema.registry.listeners` (default port 8081), a
//! different origin than the console (port 8080), so the console cannot call it without CORS
//! and without knowing its address. These routes read the same in-memory registry instead,
//! through [`sluice_schema::view`]: the registry records itself per broker when its router is
//! built, and [`sluice_schema::view::registry`] finds it from the `Arc<Broker>` every HTTP handler
//! already holds. No hook on the broker and no second copy of the index is needed, and a broker
//! with the registry turned off answers 404 here instead of starting one.
//!
//! - `GET /v1/schemas/subjects`: every subject with its latest version, id, type, compatibility;
//! - `GET /v1/schemas/subjects/{subject}`: its compatibility and versions (id, type each);
//! - `GET /v1/schemas/subjects/{subject}/versions/{version}`: one version (number or `latest`)
//!   as the registry answers it, plus the ids of schemas that reference it (and `schemaText`,
//!   the `.proto` text of a Protobuf schema registered as a base64 descriptor);
//! - `GET /v1/schemas/ids/{id}`: a schema by id and the subject versions that use it.
//!
//! Errors are the registry's own, in Confluent's `{"error_code", "message"}` shape (unknown
//! subject 40401, unknown version 40402, unknown id 40403).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sluice_schema::error::RegistryError;
use sluice_schema::registry::{version_json, Registry, VersionSel};
use sluice_schema::view;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    // Read-only: other methods get a Confluent-shaped 405, as on the rest of the API.
    let not_allowed = || async { crate::error::ApiError::method_not_allowed() };
    Router::new()
        .route("/v1/schemas/subjects", get(subjects).fallback(not_allowed))
        .route(
            "/v1/schemas/subjects/{subject}",
            get(subject).fallback(not_allowed),
        )
        .route(
            "/v1/schemas/subjects/{subject}/versions/{version}",
            get(version).fallback(not_allowed),
        )
        .route("/v1/schemas/ids/{id}", get(by_id).fallback(not_allowed))
}

/// The broker's registry, or the 404 a console page shows when it is turned off.
pub fn registry(state: &AppState) -> Result<Arc<Registry>, RegistryError> {
    view::registry(&state.broker).ok_or_else(|| {
        RegistryError::NotFound(
            "The schema registry is not enabled on this broker (schema.registry.listeners is empty)"
                .into(),
        )
    })
}

async fn subjects(State(state): State<AppState>) -> Response {
    let result = async {
        let registry = registry(&state)?;
        view::subjects(&registry).await
    }
    .await;
    match result {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn subject(State(state): State<AppState>, Path(subject): Path<String>) -> Response {
    let result = async {
        let registry = registry(&state)?;
        let numbers: Vec<i32> =
            serde_json::from_value(registry.list_versions(&subject, false).await?)
                .unwrap_or_default();
        let mut versions = Vec::with_capacity(numbers.len());
        for n in numbers {
            let v = registry
                .get_version(&subject, VersionSel::Number(n), false)
                .await?;
            versions.push(json!({
                "version": v.version,
                "id": v.id,
                "schemaType": v.schema_type().as_str(),
                "references": v.references.len(),
            }));
        }
        let compatibility = view::compatibility(&registry, &subject).await?;
        Ok::<Value, RegistryError>(json!({
            "subject": subject,
            "compatibility": compatibility,
            "versions": versions,
        }))
    }
    .await;
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn version(
    State(state): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    let result = async {
        let registry = registry(&state)?;
        let sel = VersionSel::parse(&version)?;
        let v = registry.get_version(&subject, sel, false).await?;
        let referenced_by = registry
            .referenced_by(&subject, VersionSel::Number(v.version))
            .await?;
        let mut body = version_json(&v);
        body["schemaType"] = json!(v.schema_type().as_str());
        body["referencedBy"] = referenced_by;
        // A Protobuf schema sent as a base64 descriptor, readable and diffable as .proto text.
        if let Some(text) = view::protobuf_text(&registry, &v).await {
            body["schemaText"] = json!(text);
        }
        Ok::<Value, RegistryError>(body)
    }
    .await;
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn by_id(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let result = async {
        let registry = registry(&state)?;
        let id: i32 = id
            .parse()
            .map_err(|_| RegistryError::SchemaNotFound(format!("Schema {id} not found")))?;
        let v = registry.schema_by_id(id).await?;
        let versions: Vec<Value> = registry
            .id_versions(id, false)
            .await?
            .into_iter()
            .map(|(subject, version)| json!({ "subject": subject, "version": version }))
            .collect();
        Ok::<Value, RegistryError>(json!({
            "id": id,
            "schemaType": v.schema_type().as_str(),
            "schema": v.schema,
            "references": v.references,
            "versions": versions,
        }))
    }
    .await;
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}
