//! Request dispatch for the null broker: the table of APIs it answers, header parsing and
//! response framing. Anything else closes the connection, as Kafka does for an unknown API.

mod admin;
mod fetch;
mod produce;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

pub use fetch::Pending;

use super::state::Broker;

/// (API, min version, max version): what the null broker answers, and what ApiVersions says.
/// The same ranges as Sluice, so a client takes the same protocol path against both.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 13),
    (ApiKey::Fetch, 4, 18),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::InitProducerId, 0, 6),
    // librdkafka consumers need a group.id to assign partitions and then look for its
    // coordinator; answering keeps them quiet. Nothing else of the group protocol is here.
    (ApiKey::FindCoordinator, 0, 6),
];

/// Kafka error codes the null broker answers with.
pub mod code {
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REQUEST: i16 = 42;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
}

/// Who asked: enough to frame the answer.
#[derive(Clone, Copy, Debug)]
pub struct Req {
    pub api_key: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
}

/// What the connection does next with one request.
pub enum Step {
    /// The response is in the output buffer.
    Replied,
    /// No response (acks=0 produce).
    Silent,
    /// A fetch waits for data; answer it once [`Pending::wait`] returns.
    Wait(Req, Box<Pending>),
    /// Close the connection, for this reason.
    Close(String),
}

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

fn supported(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, lo, hi)| (*lo, *hi))
}

fn decode<T: Decodable>(body: &mut Bytes, req: &Req) -> Result<T, Step> {
    T::decode(body, req.version).map_err(|e| {
        Step::Close(format!(
            "malformed {:?} v{} request: {e:#}",
            req.api_key, req.version
        ))
    })
}

/// Parses one request frame (header and body, without the size prefix) and answers it into `out`.
pub fn dispatch(broker: &Broker, mut frame: Bytes, out: &mut BytesMut) -> Step {
    if frame.len() < 8 {
        return Step::Close("request shorter than its header".into());
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let Ok(api_key) = ApiKey::try_from(key) else {
        return Step::Close(format!("unknown API key {key}"));
    };
    let range = supported(api_key);
    let in_range = range.is_some_and(|(lo, hi)| (lo..=hi).contains(&version));
    if api_key == ApiKey::ApiVersions && !in_range {
        // KIP-511: a v0 answer with UNSUPPORTED_VERSION and our ranges, so the client retries.
        let req = Req {
            api_key,
            version: 0,
            correlation_id,
        };
        return encode(out, &req, &admin::api_versions(code::UNSUPPORTED_VERSION));
    }
    if !in_range {
        return Step::Close(format!("{api_key:?} v{version} is not supported"));
    }
    if let Err(e) = RequestHeader::decode(&mut frame, api_key.request_header_version(version)) {
        return Step::Close(format!("malformed request header: {e:#}"));
    }
    let req = Req {
        api_key,
        version,
        correlation_id,
    };
    let step = match api_key {
        ApiKey::Produce => {
            decode(&mut frame, &req).map(|r| match produce::handle(broker, r, version) {
                Some(resp) => encode(out, &req, &resp),
                None => Step::Silent,
            })
        }
        ApiKey::Fetch => {
            decode(&mut frame, &req).map(|r| match fetch::handle(broker, r, version) {
                Ok(resp) => encode(out, &req, &resp),
                Err(pending) => Step::Wait(req, pending),
            })
        }
        ApiKey::ListOffsets => decode(&mut frame, &req)
            .map(|r| encode(out, &req, &fetch::list_offsets(broker, r, version))),
        ApiKey::Metadata => decode(&mut frame, &req)
            .map(|r| encode(out, &req, &admin::metadata(broker, r, version))),
        ApiKey::ApiVersions => {
            decode::<kafka_protocol::messages::ApiVersionsRequest>(&mut frame, &req)
                .map(|_| encode(out, &req, &admin::api_versions(0)))
        }
        ApiKey::CreateTopics => decode(&mut frame, &req)
            .map(|r| encode(out, &req, &admin::create_topics(broker, r, version))),
        ApiKey::InitProducerId => {
            decode(&mut frame, &req).map(|r| encode(out, &req, &admin::init_producer_id(broker, r)))
        }
        ApiKey::FindCoordinator => decode(&mut frame, &req)
            .map(|r| encode(out, &req, &admin::find_coordinator(broker, r, version))),
        other => Ok(Step::Close(format!("{other:?} is not supported"))),
    };
    step.unwrap_or_else(|close| close)
}

/// Appends a size-prefixed response (header and body) to `out`.
pub fn encode<R: Encodable>(out: &mut BytesMut, req: &Req, body: &R) -> Step {
    let start = out.len();
    out.put_i32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = req.correlation_id;
    let encoded = header
        .encode(out, req.api_key.response_header_version(req.version))
        .and_then(|_| body.encode(out, req.version));
    if let Err(e) = encoded {
        // Our bug (a field this version lacks); the client would misread anything we sent.
        out.truncate(start);
        return Step::Close(format!(
            "failed to encode {:?} v{} response: {e:#}",
            req.api_key, req.version
        ));
    }
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Step::Replied
}
