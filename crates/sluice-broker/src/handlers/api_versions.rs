//! ApiVersions: which APIs and versions this broker implements, derived from the dispatch table,
//! and (v3+) the features it supports and has finalized. The only feature is
//! `transaction.version`, finalized at 2 as a fresh Kafka 4.x cluster does: it is what tells the
//! Java client to use transactions v2 (KIP-890 part 2, `txn/tv2.rs`).

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;

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

/// (name, min supported, max supported, finalized level).
const FEATURES: [(&str, i16, i16, i16); 1] = [("transaction.version", 0, 2, 2)];
/// The epoch of the finalized features: they never change on a running Sluice.
const FINALIZED_FEATURES_EPOCH: i64 = 1;

fn add_features(resp: &mut ApiVersionsResponse) {
    for (name, min, max, level) in FEATURES {
        let mut s = SupportedFeatureKey::default();
        s.name = StrBytes::from_static_str(name);
        s.min_version = min;
        s.max_version = max;
        resp.supported_features.push(s);
        let mut f = FinalizedFeatureKey::default();
        f.name = StrBytes::from_static_str(name);
        f.min_version_level = level;
        f.max_version_level = level;
        resp.finalized_features.push(f);
    }
    resp.finalized_features_epoch = FINALIZED_FEATURES_EPOCH;
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
    if ctx.api_version >= 3 {
        add_features(&mut resp);
    }
    Outcome::Now(resp)
}

/// The v0 answer to an ApiVersions version we do not implement.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = code(Code::UnsupportedVersion);
    resp.api_keys = api_keys();
    resp
}
