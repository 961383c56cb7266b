//! The web console: a single-page app compiled into the binary, so operators get a UI with no
//! build step, CDN or extra files on their side.
//!
//! The app (`crates/sluice-http/console/`) is plain HTML, CSS and JavaScript that reads the
//! admin JSON API (`/v1/...`), the message browser ([`crate::browse`]) and the schema registry
//! ([`crate::schemas`]; its pages are `schemas.js`, plugged into `app.js`). It routes on the URL
//! hash (`/console/#/topics/orders`), so every path under `/console/` that is not an asset
//! serves the app, and `/` sends browsers there.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

const INDEX_HTML: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const SCHEMAS_JS: &str = include_str!("../console/schemas.js");
const STYLE_CSS: &str = include_str!("../console/style.css");
const FAVICON_SVG: &str = include_str!("../console/favicon.svg");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/console/") }))
        .route(
            "/console",
            get(|| async { Redirect::temporary("/console/") }),
        )
        .route("/console/", get(|| async { index() }))
        .route("/console/{*path}", get(asset))
}

/// The embedded file at `path`, or the app itself for any other console path (client routes).
async fn asset(Path(path): Path<String>) -> Response {
    match path.as_str() {
        "assets/app.js" => file("text/javascript; charset=utf-8", APP_JS),
        "assets/schemas.js" => file("text/javascript; charset=utf-8", SCHEMAS_JS),
        "assets/style.css" => file("text/css; charset=utf-8", STYLE_CSS),
        "assets/favicon.svg" => file("image/svg+xml", FAVICON_SVG),
        // A missing asset is an error, not the app: a browser would try to run HTML as script.
        p if p.starts_with("assets/") => (StatusCode::NOT_FOUND, "no such asset").into_response(),
        _ => index(),
    }
}

fn index() -> Response {
    file("text/html; charset=utf-8", INDEX_HTML)
}

/// One embedded file. `no-cache` makes browsers revalidate, so a new binary's console shows at
/// once after an upgrade (the files are small; there are no hashed names to cache forever).
fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}
