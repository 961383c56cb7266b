//! Property tests for the request path: arbitrary or mangled frames reach `dispatch` and get an
//! answer or a clean "close the connection" verdict, never a panic or an unbounded allocation.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, MetadataRequest, ProduceRequest, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use proptest::prelude::*;
use sluice_broker::dispatch::{dispatch, SUPPORTED};
use sluice_broker::{Broker, BrokerConfig};

fn broker(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> Arc<Broker> {
    let mut settings = std::collections::BTreeMap::new();
    settings.insert("log.dirs".to_string(), dir.display().to_string());
    let config = BrokerConfig::from_settings(&settings).unwrap();
    rt.block_on(async { Broker::open(config).unwrap() })
}

fn peer() -> SocketAddr {
    "127.0.0.1:1".parse().unwrap()
}

/// A well-formed frame (without the size prefix) for `key` at `version` around `body`.
fn frame<B: Encodable>(key: ApiKey, version: i16, body: &B) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = version;
    header.correlation_id = 7;
    header.client_id = Some(StrBytes::from_static_str("prop"));
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

fn sample_frames() -> Vec<Vec<u8>> {
    let mut produce = ProduceRequest::default();
    produce.acks = 1;
    produce.timeout_ms = 1000;
    let mut topic = kafka_protocol::messages::produce_request::TopicProduceData::default();
    topic.name = TopicName(StrBytes::from_static_str("props"));
    let mut part = kafka_protocol::messages::produce_request::PartitionProduceData::default();
    part.records = Some(Bytes::from_static(&[0u8; 70]));
    topic.partition_data.push(part);
    produce.topic_data.push(topic);
    let mut metadata = MetadataRequest::default();
    metadata.topics = None;
    let mut fetch = FetchRequest::default();
    fetch.max_wait_ms = 0;
    vec![
        frame(ApiKey::Produce, 9, &produce),
        frame(ApiKey::Produce, 3, &produce),
        frame(ApiKey::Metadata, 12, &metadata),
        frame(ApiKey::Fetch, 12, &fetch),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any bytes after a valid header of any supported API and version.
    #[test]
    fn random_bodies_never_panic(api in 0..SUPPORTED.len(), version_pick in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&rt, dir.path());
        let (key, lo, hi) = SUPPORTED[api];
        let version = lo + (version_pick % ((hi - lo + 1) as u16)) as i16;
        let mut buf = BytesMut::new();
        let mut header = RequestHeader::default();
        header.request_api_key = key as i16;
        header.request_api_version = version;
        header.encode(&mut buf, key.request_header_version(version)).unwrap();
        buf.put_slice(&body);
        let _ = rt.block_on(dispatch(&broker, buf.freeze(), peer()));
    }

    /// Valid requests with bytes flipped or cut short.
    #[test]
    fn mangled_requests_never_panic(pick in 0..4usize, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&rt, dir.path());
        let mut f = sample_frames().swap_remove(pick);
        for (at, byte) in flips {
            let i = at % f.len();
            // Keep the API key and version so the body decoder is what gets exercised.
            if i >= 4 { f[i] ^= byte; }
        }
        f.truncate(4 + cut % (f.len() - 3));
        let _ = rt.block_on(dispatch(&broker, Bytes::from(f), peer()));
    }
}

/// A tiny frame that claims 2^31-1 topics must be refused without trying to allocate for them.
#[test]
fn huge_array_length_in_tiny_frame_is_refused() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&rt, dir.path());
    for (key, version) in [
        (ApiKey::Metadata, 4i16),
        (ApiKey::Produce, 3),
        (ApiKey::CreateTopics, 4),
    ] {
        let mut buf = BytesMut::new();
        let mut header = RequestHeader::default();
        header.request_api_key = key as i16;
        header.request_api_version = version;
        header
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        if key == ApiKey::Produce {
            buf.put_i16(-1); // transactional id: null
            buf.put_i16(1); // acks
            buf.put_i32(1000); // timeout
        }
        buf.put_i32(i32::MAX);
        let verdict = rt.block_on(dispatch(&broker, buf.freeze(), peer()));
        assert!(verdict.is_err(), "{key:?} v{version} should be refused");
    }
}
