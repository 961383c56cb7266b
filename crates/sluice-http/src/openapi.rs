//! The OpenAPI 3 document of the HTTP API (health, metrics, admin), served at `/openapi.json`.
//!
//! Hand-written in `openapi.json` and embedded. Its tests keep it honest: it must list exactly
//! the routes the modules serve (their `ROUTES` tables, built from the same tables as the
//! routers), and `tests/python/test_admin_api.py` calls every documented operation on a live
//! broker.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// Routes served by modules other than the admin API's table that the document also covers.
pub const OTHER_ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/topics/{name}/partitions/{p}/records"),
    ("get", "/v1/schemas/subjects"),
    ("get", "/v1/schemas/subjects/{subject}"),
    ("get", "/v1/schemas/subjects/{subject}/versions/{version}"),
    ("get", "/v1/schemas/ids/{id}"),
];

/// Every (method, path) the document must describe.
pub fn served_routes() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = crate::admin::ROUTES
        .iter()
        .chain(crate::health::ROUTES)
        .chain(crate::metrics::ROUTES)
        .chain(OTHER_ROUTES)
        .copied()
        .collect();
    all.sort();
    all
}

pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documented() -> Vec<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json parses");
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
                if item.get(method).is_some() {
                    out.push((method.to_string(), path.clone()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn document_lists_exactly_the_served_routes() {
        let served: Vec<(String, String)> = served_routes()
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented(), served);
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        fn walk(v: &serde_json::Value, refs: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        refs.push(r.to_string());
                    }
                    m.values().for_each(|v| walk(v, refs));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        walk(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "dangling $ref {r}");
        }
    }
}
