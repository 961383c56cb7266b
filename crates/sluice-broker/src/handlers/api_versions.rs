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

pub async fn handle(_ctx: &Ctx, _req: ApiVersionsRequest) -> Outcome<ApiVersionsResponse> {
    let mut resp = ApiVersionsResponse::default();
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
