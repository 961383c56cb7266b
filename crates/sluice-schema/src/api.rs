//! The REST API: Confluent Schema Registry's paths, payloads and status codes over axum.
//! Handlers only decode the request and encode the answer; [`Registry`] does the work.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::error::RegistryError;
use crate::registry::{version_json, Registry, SchemaRequest, VersionSel};
use crate::types;

pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

type Shared = State<Arc<Registry>>;
type Params = Q<HashMap<String, String>>;
type Answer = Result<Response, RegistryError>;

/// Path parameters; a path that cannot be decoded (e.g. invalid UTF-8) answers 400 as JSON.
pub struct P<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for P<T> {
    type Rejection = RegistryError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| P(v))
            .map_err(|e| RegistryError::BadRequest(e.body_text()))
    }
}

/// Query parameters; undecodable ones answer 400 as JSON.
pub struct Q<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = RegistryError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Q(v))
            .map_err(|e| RegistryError::BadRequest(e.body_text()))
    }
}

/// A JSON body with the registry's content type.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Answer {
    Ok(json_response(StatusCode::OK, &body))
}

/// A schema's text as the body, for the `/schema` endpoints.
fn raw(text: String) -> Answer {
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

/// Query flags as clients send them (`true`, `True`, `1`).
fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Decodes a JSON body; malformed JSON or wrong field types answer 400 as Confluent's
/// (Jackson-based) server does.
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::BadRequest(e.to_string()))
}

pub fn routes(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/", get(|| async { ok(json!({})) }))
        .route("/contexts", get(|| async { ok(json!(["."])) }))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(get_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route("/schemas", get(list_schemas))
        .route(
            "/schemas/types",
            get(|| async {
                ok(json!(types::supported_types()
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()))
            }),
        )
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(schema_text_by_id))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route(
            "/config",
            get(get_global_config)
                .put(put_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(get_config).put(put_config).delete(delete_config),
        )
        .route("/mode", get(get_global_mode).put(put_global_mode))
        .route(
            "/mode/{subject}",
            get(get_mode).put(put_mode).delete(delete_mode),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compat_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compat_version),
        )
        .fallback(|| async {
            json_response(
                StatusCode::NOT_FOUND,
                &json!({"error_code": 404, "message": "HTTP 404 Not Found"}),
            )
        })
        .method_not_allowed_fallback(|| async {
            json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error_code": 405, "message": "HTTP 405 Method Not Allowed"}),
            )
        })
        .with_state(registry)
}

async fn list_subjects(State(r): Shared, Q(q): Params) -> Answer {
    let prefix = q.get("subjectPrefix").map(String::as_str).unwrap_or("");
    ok(r.list_subjects(prefix, flag(&q, "deleted")).await?)
}

async fn lookup(State(r): Shared, P(subject): P<String>, Q(q): Params, b: Bytes) -> Answer {
    let req: SchemaRequest = body(&b)?;
    ok(r.lookup(&subject, req, flag(&q, "deleted")).await?)
}

async fn delete_subject(State(r): Shared, P(subject): P<String>, Q(q): Params) -> Answer {
    ok(r.delete_subject(&subject, flag(&q, "permanent")).await?)
}

async fn list_versions(State(r): Shared, P(subject): P<String>, Q(q): Params) -> Answer {
    ok(r.list_versions(&subject, flag(&q, "deleted")).await?)
}

async fn register(State(r): Shared, P(subject): P<String>, b: Bytes) -> Answer {
    let req: SchemaRequest = body(&b)?;
    ok(r.register(&subject, req).await?)
}

async fn get_version(
    State(r): Shared,
    P((subject, version)): P<(String, String)>,
    Q(q): Params,
) -> Answer {
    let sel = VersionSel::parse(&version)?;
    ok(version_json(
        &r.get_version(&subject, sel, flag(&q, "deleted")).await?,
    ))
}

async fn get_version_schema(
    State(r): Shared,
    P((subject, version)): P<(String, String)>,
    Q(q): Params,
) -> Answer {
    let sel = VersionSel::parse(&version)?;
    raw(r
        .get_version(&subject, sel, flag(&q, "deleted"))
        .await?
        .schema)
}

async fn referenced_by(State(r): Shared, P((subject, version)): P<(String, String)>) -> Answer {
    let sel = VersionSel::parse(&version)?;
    ok(r.referenced_by(&subject, sel).await?)
}

async fn delete_version(
    State(r): Shared,
    P((subject, version)): P<(String, String)>,
    Q(q): Params,
) -> Answer {
    let sel = VersionSel::parse(&version)?;
    ok(r.delete_version(&subject, sel, flag(&q, "permanent"))
        .await?)
}

async fn list_schemas(State(r): Shared, Q(q): Params) -> Answer {
    let prefix = q.get("subjectPrefix").map(String::as_str).unwrap_or("");
    ok(
        r.list_schemas(prefix, flag(&q, "deleted"), flag(&q, "latestOnly"))
            .await?,
    )
}

fn parse_id(id: &str) -> Result<i32, RegistryError> {
    id.parse()
        .map_err(|_| RegistryError::NotFound("HTTP 404 Not Found".into()))
}

async fn schema_by_id(State(r): Shared, P(id): P<String>) -> Answer {
    let v = r.schema_by_id(parse_id(&id)?).await?;
    let mut out = json!({ "schema": v.schema });
    if v.schema_type() != types::SchemaType::Avro {
        out["schemaType"] = json!(v.schema_type().as_str());
    }
    if !v.references.is_empty() {
        out["references"] = json!(v.references);
    }
    ok(out)
}

async fn schema_text_by_id(State(r): Shared, P(id): P<String>) -> Answer {
    raw(r.schema_by_id(parse_id(&id)?).await?.schema)
}

async fn id_versions(State(r): Shared, P(id): P<String>, Q(q): Params) -> Answer {
    let pairs = r.id_versions(parse_id(&id)?, flag(&q, "deleted")).await?;
    ok(json!(pairs
        .iter()
        .map(|(s, v)| json!({"subject": s, "version": v}))
        .collect::<Vec<_>>()))
}

async fn id_subjects(State(r): Shared, P(id): P<String>, Q(q): Params) -> Answer {
    let pairs = r.id_versions(parse_id(&id)?, flag(&q, "deleted")).await?;
    let mut subjects: Vec<String> = pairs.into_iter().map(|(s, _)| s).collect();
    subjects.dedup();
    ok(json!(subjects))
}

/// `PUT /config` body: Confluent's `compatibility` (older clients: `compatibilityLevel`).
fn level_of(b: &Bytes) -> Result<String, RegistryError> {
    let v: Value = body(b)?;
    v.get("compatibility")
        .or_else(|| v.get("compatibilityLevel"))
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or(RegistryError::InvalidCompatibilityLevel)
}

fn mode_of(b: &Bytes) -> Result<String, RegistryError> {
    let v: Value = body(b)?;
    v.get("mode")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or(RegistryError::InvalidMode)
}

async fn get_global_config(State(r): Shared) -> Answer {
    ok(r.get_config(None, true).await?)
}

async fn put_global_config(State(r): Shared, b: Bytes) -> Answer {
    ok(r.set_config(None, &level_of(&b)?).await?)
}

async fn delete_global_config(State(r): Shared) -> Answer {
    ok(r.delete_config(None).await?)
}

async fn get_config(State(r): Shared, P(subject): P<String>, Q(q): Params) -> Answer {
    ok(r.get_config(Some(&subject), flag(&q, "defaultToGlobal"))
        .await?)
}

async fn put_config(State(r): Shared, P(subject): P<String>, b: Bytes) -> Answer {
    ok(r.set_config(Some(&subject), &level_of(&b)?).await?)
}

async fn delete_config(State(r): Shared, P(subject): P<String>) -> Answer {
    ok(r.delete_config(Some(&subject)).await?)
}

async fn get_global_mode(State(r): Shared) -> Answer {
    ok(r.get_mode(None, true).await?)
}

async fn put_global_mode(State(r): Shared, Q(q): Params, b: Bytes) -> Answer {
    ok(r.set_mode(None, &mode_of(&b)?, flag(&q, "force")).await?)
}

async fn get_mode(State(r): Shared, P(subject): P<String>, Q(q): Params) -> Answer {
    ok(r.get_mode(Some(&subject), flag(&q, "defaultToGlobal"))
        .await?)
}

async fn put_mode(State(r): Shared, P(subject): P<String>, Q(q): Params, b: Bytes) -> Answer {
    ok(r.set_mode(Some(&subject), &mode_of(&b)?, flag(&q, "force"))
        .await?)
}

async fn delete_mode(State(r): Shared, P(subject): P<String>) -> Answer {
    ok(r.delete_mode(&subject).await?)
}

async fn compat_all(State(r): Shared, P(subject): P<String>, Q(q): Params, b: Bytes) -> Answer {
    let req: SchemaRequest = body(&b)?;
    ok(
        r.test_compatibility(&subject, None, req, flag(&q, "verbose"))
            .await?,
    )
}

async fn compat_version(
    State(r): Shared,
    P((subject, version)): P<(String, String)>,
    Q(q): Params,
    b: Bytes,
) -> Answer {
    let sel = VersionSel::parse(&version)?;
    let req: SchemaRequest = body(&b)?;
    ok(
        r.test_compatibility(&subject, Some(sel), req, flag(&q, "verbose"))
            .await?,
    )
}
