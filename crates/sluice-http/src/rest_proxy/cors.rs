//! Cross-origin access for browser clients, off unless configured, with Confluent's setting
//! names: `access.control.allow.origin` (`*` or a comma-separated list of origins),
//! `access.control.allow.methods` and `access.control.allow.headers`. A browser page served
//! from another origin can then produce and consume through the proxy.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

const DEFAULT_METHODS: &str = "GET,POST,DELETE,HEAD,OPTIONS";
const DEFAULT_HEADERS: &str = "origin,content-type,accept,authorization";

pub struct Cors {
    /// Empty: cross-origin requests get no CORS headers (the browser then refuses them).
    origins: Vec<String>,
    methods: HeaderValue,
    headers: HeaderValue,
}

impl Cors {
    pub fn from_settings(state: &AppState) -> Arc<Cors> {
        let raw = &state.broker.config.raw;
        let setting = |key: &str, default: &str| {
            let v = raw.get(key).map(|v| v.trim()).unwrap_or(default);
            HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static(""))
        };
        Arc::new(Cors {
            origins: raw
                .get("access.control.allow.origin")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            methods: setting("access.control.allow.methods", DEFAULT_METHODS),
            headers: setting("access.control.allow.headers", DEFAULT_HEADERS),
        })
    }

    /// The Access-Control-Allow-Origin value for a request from `origin`, if it is allowed.
    fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        if self.origins.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }
}

/// Answers preflight requests and marks allowed cross-origin answers.
pub async fn layer(State(cors): State<Arc<Cors>>, request: Request, next: Next) -> Response {
    let allowed = cors.allow(request.headers().get(ORIGIN));
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (preflight, &allowed) {
        return (
            StatusCode::NO_CONTENT,
            [
                (ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()),
                (ACCESS_CONTROL_ALLOW_METHODS, cors.methods.clone()),
                (ACCESS_CONTROL_ALLOW_HEADERS, cors.headers.clone()),
                (ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600")),
                (VARY, HeaderValue::from_static("Origin")),
            ],
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    if let Some(origin) = allowed {
        response
            .headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Origin"));
    }
    response
}
