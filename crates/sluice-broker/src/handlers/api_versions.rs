//! ApiVersions: which APIs and versions this broker implements, derived from the dispatch table.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use crate::dispatch::{Ctx, Outcome, SUPPORTED};
use crate::error::{code, Code};

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|(key, lo, hi)| {
            let mut v = ApiVersion::default();
            v.api_key = *key as i16;
            v.min_version = *lo;
            v.max_version = *hi;
            v
        })
        .collect()
}

/// Kafka's rule for v3+ client software names and versions: alphanumerics, '-' and '.',
/// starting and ending with an alphanumeric.
fn valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
}

pub async fn handle(ctx: &Ctx, req: ApiVersionsRequest) -> Outcome<ApiVersionsResponse> {
    let mut resp = ApiVersionsResponse::default();
    if ctx.api_version >= 3
        && !(valid_software_field(&req.client_software_name)
            && valid_software_field(&req.client_software_version))
    {
        resp.error_code = code(Code::InvalidRequest);
        return Outcome::Now(resp);
    }
    resp.api_keys = api_keys();
    Outcome::Now(resp)
}

/// The v0 answer to an ApiVersions version we do not implement.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = code(Code::UnsupportedVersion);
    resp.api_keys = api_keys();
    resp
}
