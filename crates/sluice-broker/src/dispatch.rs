//! Request dispatch: the table of implemented APIs, header parsing, and response framing.
//!
//! Every handler is listed once in [`apis!`] with the version range it implements; the same list
//! drives dispatch and the ApiVersions answer, so Sluice never advertises a version it cannot serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::FutureExt;
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::broker::Broker;
use crate::connection::{Frame, Reply};
use crate::handlers;

/// Why a request ends the connection instead of getting an answer (as Kafka closes it).
#[derive(Debug)]
pub enum DispatchError {
    Close(String),
}

/// What a handler needs to know about the request it serves.
#[derive(Clone)]
pub struct Ctx {
    pub broker: Arc<Broker>,
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    pub peer: SocketAddr,
}

/// A handler's answer: now, later (it waits on data or fsync), or never (acks=0).
pub enum Outcome<R> {
    Now(R),
    Later(BoxFuture<'static, R>),
    Silent,
}

macro_rules! apis {
    ($( $key:ident => $min:literal ..= $max:literal, $handler:path; )*) => {
        /// (API key, min version, max version) for every API Sluice implements.
        pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[ $( (ApiKey::$key, $min, $max), )* ];

        async fn route(ctx: Ctx, mut body: Bytes, received: Instant) -> Result<Reply, DispatchError> {
            match ctx.api_key {
                $( ApiKey::$key => {
                    let req = Decodable::decode(&mut body, ctx.api_version).map_err(|e| {
                        DispatchError::Close(format!(
                            "malformed {:?} v{} request: {e:#}", ctx.api_key, ctx.api_version
                        ))
                    })?;
                    ctx.broker.metrics.request_started(ctx.api_key, received);
                    Ok(respond(&ctx, $handler(&ctx, req).await, received))
                } )*
                other => Err(DispatchError::Close(format!("unsupported API {other:?}"))),
            }
        }
    };
}

apis! {
    Produce => 3..=13, handlers::produce::handle;
    Fetch => 4..=18, handlers::fetch::handle;
    ListOffsets => 1..=10, handlers::list_offsets::handle;
    Metadata => 0..=13, handlers::metadata::handle;
    ApiVersions => 0..=4, handlers::api_versions::handle;
    CreateTopics => 2..=7, handlers::create_topics::handle;
    DeleteTopics => 1..=6, handlers::delete_topics::handle;
    InitProducerId => 0..=6, handlers::init_producer_id::handle;
    DeleteRecords => 0..=2, handlers::delete_records::handle;
    OffsetForLeaderEpoch => 2..=4, handlers::offset_for_leader_epoch::handle;
    DescribeConfigs => 1..=4, handlers::describe_configs::handle;
    AlterConfigs => 0..=2, handlers::alter_configs::handle;
    DescribeLogDirs => 1..=4, handlers::describe_log_dirs::handle;
    CreatePartitions => 0..=3, handlers::create_partitions::handle;
    IncrementalAlterConfigs => 0..=1, handlers::incremental_alter_configs::handle;
    DescribeCluster => 0..=2, handlers::describe_cluster::handle;
    FindCoordinator => 0..=6, handlers::find_coordinator::handle;
    JoinGroup => 0..=9, handlers::join_group::handle;
    SyncGroup => 0..=5, handlers::sync_group::handle;
    Heartbeat => 0..=4, handlers::heartbeat::handle;
    LeaveGroup => 0..=5, handlers::leave_group::handle;
    OffsetCommit => 2..=9, handlers::offset_commit::handle;
    OffsetFetch => 1..=9, handlers::offset_fetch::handle;
    DescribeGroups => 0..=6, handlers::describe_groups::handle;
    ListGroups => 0..=5, handlers::list_groups::handle;
    DeleteGroups => 0..=2, handlers::delete_groups::handle;
    OffsetDelete => 0..=0, handlers::offset_delete::handle;
    ConsumerGroupHeartbeat => 0..=1, handlers::consumer_group_heartbeat::handle;
    ConsumerGroupDescribe => 0..=1, handlers::consumer_group_describe::handle;
    AddPartitionsToTxn => 0..=5, handlers::add_partitions_to_txn::handle;
    AddOffsetsToTxn => 0..=4, handlers::add_offsets_to_txn::handle;
    // v5 of both is transactions v2 (KIP-890 part 2; see txn/tv2.rs).
    EndTxn => 0..=5, handlers::end_txn::handle;
    TxnOffsetCommit => 0..=5, handlers::txn_offset_commit::handle;
    DescribeTransactions => 0..=0, handlers::describe_transactions::handle;
    DescribeProducers => 0..=0, handlers::describe_producers::handle;
    // v2 adds a transactional-id regex filter (KIP-1152), not implemented.
    ListTransactions => 0..=1, handlers::list_transactions::handle;
}

pub fn supported_range(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// Encodes a response with its header and size prefix.
pub fn encode_response<R: Encodable>(ctx: &Ctx, version: i16, body: &R) -> BytesMut {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = ctx.correlation_id;
    let header_version = ctx.api_key.response_header_version(version);
    let encoded = header
        .encode(&mut buf, header_version)
        .and_then(|_| body.encode(&mut buf, version));
    if let Err(e) = encoded {
        // A bug on our side (a field set that this version lacks). Say so loudly; the client
        // gets a bare header and will time out or reconnect rather than misread data.
        tracing::error!(api = ?ctx.api_key, version, error = %e, "failed to encode response");
        buf.truncate(4);
        let _ = header.encode(&mut buf, header_version);
    }
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf
}

/// Encodes a handler's response. Fetch responses keep their record data in separate chunks
/// (see [`crate::fetch_encode`]) so it is not copied again on its way to the socket.
fn encode_frame<R: Encodable + 'static>(ctx: &Ctx, version: i16, body: &R) -> Frame {
    let any: &dyn std::any::Any = body;
    if let Some(fetch) = any.downcast_ref::<crate::fetch_encode::FetchReply>() {
        if let Some(chunks) =
            crate::fetch_encode::encode_chunked(ctx.correlation_id, version, fetch)
        {
            return Frame::Chunks(chunks);
        }
    }
    Frame::Contiguous(encode_response(ctx, version, body))
}

/// Encodes a handler's answer (now or when it resolves) and counts the request as done then.
fn respond<R: Encodable + Send + 'static>(
    ctx: &Ctx,
    outcome: Outcome<R>,
    received: Instant,
) -> Reply {
    let metrics = &ctx.broker.metrics;
    match outcome {
        Outcome::Now(r) => {
            metrics.request_done(ctx.api_key, received, Some(&r));
            Reply::Ready(encode_frame(ctx, ctx.api_version, &r))
        }
        Outcome::Later(fut) => {
            let ctx = ctx.clone();
            Reply::Deferred(
                fut.map(move |r| {
                    ctx.broker
                        .metrics
                        .request_done(ctx.api_key, received, Some(&r));
                    encode_frame(&ctx, ctx.api_version, &r)
                })
                .boxed(),
            )
        }
        Outcome::Silent => {
            metrics.request_done(ctx.api_key, received, None);
            Reply::None
        }
    }
}

/// Parses the header of one request frame and routes it.
pub async fn dispatch(
    broker: &Arc<Broker>,
    mut frame: Bytes,
    peer: SocketAddr,
) -> Result<Reply, DispatchError> {
    // Called as soon as the frame's last byte is read: the start of queue time and latency.
    let received = Instant::now();
    if frame.len() < 8 {
        return Err(DispatchError::Close(
            "request shorter than its header".into(),
        ));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key = ApiKey::try_from(key)
        .map_err(|_| DispatchError::Close(format!("unknown API key {key}")))?;
    let supported = supported_range(api_key);
    let in_range = supported.is_some_and(|(lo, hi)| version >= lo && version <= hi);
    if api_key == ApiKey::ApiVersions && !in_range {
        // KIP-511: answer an unknown ApiVersions version with a v0 response carrying
        // UNSUPPORTED_VERSION and our ranges, so the client can pick a version and retry.
        let ctx = Ctx {
            broker: broker.clone(),
            api_key,
            api_version: 0,
            correlation_id,
            client_id: None,
            peer,
        };
        let body = handlers::api_versions::unsupported_version_response();
        return Ok(Reply::Ready(Frame::Contiguous(encode_response(
            &ctx, 0, &body,
        ))));
    }
    let Some((lo, hi)) = supported else {
        return Err(DispatchError::Close(format!(
            "API {api_key:?} is not supported"
        )));
    };
    if !in_range {
        return Err(DispatchError::Close(format!(
            "{api_key:?} v{version} is not supported (supported {lo}..={hi})"
        )));
    }
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| DispatchError::Close(format!("malformed request header: {e:#}")))?;
    let ctx = Ctx {
        broker: broker.clone(),
        api_key,
        api_version: version,
        correlation_id,
        client_id: header.client_id.map(|s| s.to_string()),
        peer,
    };
    route(ctx, frame, received).await
}
