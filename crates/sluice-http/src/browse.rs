//! The console's message browser: records of one partition, read from its log the way a fetch
//! reads them, as JSON.
//!
//! `GET /v1/topics/{name}/partitions/{p}/records?offset=N|timestamp_ms=T&limit=L`
//!
//! Reading goes through [`sluice_log::PartitionLog::read`] (whole batches under the partition
//! lock, bytes pread outside it) and stops at the high watermark, so the browser shows exactly
//! what a `read_uncommitted` consumer would see. Control batches (transaction markers) are
//! skipped as consumers skip them. Keys, values and header values are base64 because they are
//! arbitrary bytes; the console decides how to show them.
//!
//! Keys and values in Confluent's wire format whose schema id the broker's registry knows also
//! get `key_schema` / `value_schema`: the id, the subject versions using it and the payload
//! decoded to JSON ([`sluice_schema::view::Decoder`]), so the browser can show the record rather
//! than its Avro bytes.
//!
//! Work per request is bounded: at most [`MAX_LIMIT`] records, at most [`MAX_SCAN_BYTES`] of
//! log read and at most [`MAX_PAYLOAD_BYTES`] of record data returned (a single larger record is
//! still returned, so the browser can always move forward).

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use kafka_protocol::compression::{Decompressor, Gzip, Lz4, Snappy, Zstd};
use serde::Serialize;
use sluice_broker::partition::Partition;
use sluice_log::{iter_batches, BatchHeader, ReadError, RECORD_BATCH_OVERHEAD};
use sluice_schema::view::{self, Decoder};

use crate::error::ApiError;
use crate::AppState;

/// Records returned when the request names no `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 500;
/// Log bytes read per request at most (whole batches, so one big batch may exceed it once).
pub const MAX_SCAN_BYTES: usize = 8 << 20;
/// Key, value and header bytes returned per request at most (before base64).
pub const MAX_PAYLOAD_BYTES: usize = 2 << 20;
/// Bytes asked of the log per read.
const CHUNK_BYTES: usize = 1 << 20;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/topics/{name}/partitions/{p}/records", get(records))
}

#[derive(Debug, Serialize)]
pub struct RecordsPage {
    pub records: Vec<BrowsedRecord>,
    /// Where the next page starts: one past the last record returned, or where reading stopped.
    pub next_offset: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

#[derive(Debug, Serialize)]
pub struct BrowsedRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    /// "CreateTime" or "LogAppendTime", as Kafka's tools print it.
    pub timestamp_type: &'static str,
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: Vec<BrowsedHeader>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_schema: Option<view::Decoded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_schema: Option<view::Decoded>,
}

#[derive(Debug, Serialize)]
pub struct BrowsedHeader {
    /// Header keys are strings in Kafka; bytes that are not UTF-8 are shown lossily.
    pub key: String,
    pub value: Option<String>,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Beginning,
    Offset(i64),
    Timestamp(i64),
}

#[derive(Debug, PartialEq, Eq)]
struct Params {
    start: Start,
    limit: usize,
}

fn parse_i64(name: &str, v: &str) -> Result<i64, ApiError> {
    v.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!("{name} must be a non-negative integer, got '{v}'"))
        })
}

fn parse_params(query: &[(String, String)]) -> Result<Params, ApiError> {
    let mut offset = None;
    let mut timestamp = None;
    let mut limit = DEFAULT_LIMIT;
    for (k, v) in query {
        match k.as_str() {
            "offset" => offset = Some(parse_i64("offset", v)?),
            "timestamp_ms" => timestamp = Some(parse_i64("timestamp_ms", v)?),
            "limit" => {
                limit = v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "limit must be an integer from 1 to {MAX_LIMIT}, got '{v}'"
                        ))
                    })?
            }
            _ => {}
        }
    }
    let start = match (offset, timestamp) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either offset or timestamp_ms, not both",
            ))
        }
        (Some(o), None) => Start::Offset(o),
        (None, Some(t)) => Start::Timestamp(t),
        (None, None) => Start::Beginning,
    };
    Ok(Params { start, limit })
}

async fn records(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<RecordsPage>, ApiError> {
    let Path((topic_name, p)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let params = parse_params(&query)?;
    let index: i32 = p
        .parse()
        .map_err(|_| ApiError::bad_request(format!("partition must be an integer, got '{p}'")))?;
    let topic = state
        .broker
        .topics
        .get(&topic_name)
        .ok_or_else(|| ApiError::not_found(40401, format!("Topic {topic_name} not found.")))?;
    let partition = topic.partition(index).cloned().ok_or_else(|| {
        ApiError::not_found(
            40402,
            format!("Partition {index} of topic {topic_name} not found."),
        )
    })?;
    // pread and decompression block: keep them off the async workers.
    let mut page = tokio::task::spawn_blocking(move || read_page(&partition, params))
        .await
        .map_err(|e| internal(format!("browse task failed: {e}")))??;
    if let Some(registry) = view::registry(&state.broker) {
        let mut decoder = Decoder::new(registry);
        for r in &mut page.records {
            r.key_schema = decode_payload(&mut decoder, r.key.as_deref()).await;
            r.value_schema = decode_payload(&mut decoder, r.value.as_deref()).await;
        }
    }
    Ok(Json(page))
}

/// The registry's reading of one base64 payload, if it is registry-encoded.
async fn decode_payload(decoder: &mut Decoder, b64: Option<&str>) -> Option<view::Decoded> {
    // Only the wire format's magic byte 0 is worth decoding the base64 for ("A" encodes 0b000000).
    let b64 = b64.filter(|b| b.starts_with('A'))?;
    let bytes = BASE64.decode(b64).ok()?;
    decoder.decode(&bytes).await
}

fn internal(message: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        50001,
        message,
    )
}

fn read_page(partition: &Arc<Partition>, params: Params) -> Result<RecordsPage, ApiError> {
    let hw = partition.high_watermark();
    let log_start = partition.log_start_offset();
    let start = match params.start {
        Start::Beginning => log_start,
        // Before the log start (retention moved it): begin at the oldest record still kept.
        Start::Offset(o) => o.max(log_start),
        Start::Timestamp(ts) => partition
            .with_log(|log| log.offset_for_timestamp(ts))
            .map_err(|e| internal(format!("time index lookup failed: {e}")))?
            .map(|(o, _)| o)
            .filter(|o| *o < hw)
            .unwrap_or(hw),
    };
    let mut page = RecordsPage {
        records: Vec::new(),
        next_offset: start.min(hw),
        high_watermark: hw,
        log_start_offset: log_start,
    };
    let mut pos = start;
    let (mut scanned, mut payload) = (0usize, 0usize);
    'reading: while pos < hw && page.records.len() < params.limit && scanned < MAX_SCAN_BYTES {
        let slice = match partition.with_log(|log| log.read(pos, CHUNK_BYTES, hw)) {
            Ok(Some(slice)) => slice,
            Ok(None) => break,
            // Retention deleted what we were about to read: continue at the new start.
            Err(ReadError::OffsetOutOfRange { log_start, .. }) if pos < log_start => {
                pos = log_start;
                page.log_start_offset = log_start;
                continue;
            }
            Err(e) => return Err(internal(format!("read failed: {e}"))),
        };
        let bytes = slice
            .read_bytes()
            .map_err(|e| internal(format!("read failed: {e}")))?;
        scanned += bytes.len();
        let before = pos;
        for batch in iter_batches(&bytes) {
            let (h, range) = batch.map_err(|e| internal(format!("corrupt batch: {e}")))?;
            if h.base_offset >= hw {
                break 'reading;
            }
            if h.is_control() || h.records_count == 0 || h.last_offset() < pos {
                pos = pos.max(h.next_offset());
                continue;
            }
            for record in decode_batch(&h, bytes.slice(range), partition.index)? {
                if record.offset < pos || record.offset >= hw {
                    continue;
                }
                let size = record.payload_len;
                if page.records.len() >= params.limit
                    || (!page.records.is_empty() && payload + size > MAX_PAYLOAD_BYTES)
                {
                    break 'reading;
                }
                payload += size;
                pos = record.record.offset + 1;
                page.records.push(record.record);
            }
            pos = pos.max(h.next_offset().min(hw));
        }
        if pos == before {
            break; // nothing decodable moved us forward; never spin
        }
    }
    page.next_offset = pos.min(hw);
    Ok(page)
}

/// A record with its raw payload size, for the response bound.
struct Decoded {
    offset: i64,
    payload_len: usize,
    record: BrowsedRecord,
}

/// Every record of one batch. The batch was validated (CRC, counts, decompressed size) when it
/// was appended, so a failure here means the file changed under us and is reported, not hidden.
fn decode_batch(h: &BatchHeader, batch: Bytes, partition: i32) -> Result<Vec<Decoded>, ApiError> {
    let corrupt = |why: &str| internal(format!("corrupt batch at offset {}: {why}", h.base_offset));
    let payload = batch
        .get(RECORD_BATCH_OVERHEAD..)
        .map(|_| batch.slice(RECORD_BATCH_OVERHEAD..))
        .ok_or_else(|| corrupt("shorter than its header"))?;
    let data = decompress(h.compression(), payload).map_err(|e| corrupt(&e.to_string()))?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let r = parse_record(&data, &mut pos).ok_or_else(|| corrupt("bad record encoding"))?;
        let offset = h.base_offset + r.offset_delta as i64;
        let timestamp = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(r.timestamp_delta)
        };
        let b64 = |b: Option<&[u8]>| b.map(|b| BASE64.encode(b));
        let payload_len = r.key.map_or(0, <[u8]>::len)
            + r.value.map_or(0, <[u8]>::len)
            + r.headers
                .iter()
                .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len))
                .sum::<usize>();
        out.push(Decoded {
            offset,
            payload_len,
            record: BrowsedRecord {
                partition,
                offset,
                timestamp,
                timestamp_type: if h.is_log_append_time() {
                    "LogAppendTime"
                } else {
                    "CreateTime"
                },
                key: b64(r.key),
                value: b64(r.value),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| BrowsedHeader {
                        key: String::from_utf8_lossy(k).into_owned(),
                        value: b64(*v),
                    })
                    .collect(),
                key_schema: None,
                value_schema: None,
            },
        });
    }
    Ok(out)
}

/// The batch's record section uncompressed (codec ids as in the batch attributes).
fn decompress(codec: u8, mut payload: Bytes) -> anyhow::Result<Bytes> {
    fn take(b: &mut Bytes) -> anyhow::Result<Bytes> {
        Ok(std::mem::take(b))
    }
    match codec {
        0 => Ok(payload),
        1 => Gzip::decompress(&mut payload, take),
        2 => Snappy::decompress(&mut payload, take),
        3 => Lz4::decompress(&mut payload, take),
        4 => Zstd::decompress(&mut payload, take),
        c => anyhow::bail!("unknown compression codec {c}"),
    }
}

/// One v2 record, borrowed from the decompressed record section.
struct RawRecord<'a> {
    offset_delta: i32,
    timestamp_delta: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: Vec<(&'a [u8], Option<&'a [u8]>)>,
}

fn read_uvarint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let b = *buf.get(*pos)?;
        *pos += 1;
        value |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let v = read_uvarint(buf, pos, 5)? as u32;
    Some(((v >> 1) as i32) ^ -((v & 1) as i32))
}

fn read_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let v = read_uvarint(buf, pos, 10)?;
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// A varint-length-prefixed byte field; `Some(None)` for length -1 (null).
fn read_field<'a>(buf: &'a [u8], pos: &mut usize) -> Option<Option<&'a [u8]>> {
    let len = read_varint(buf, pos)?;
    if len < 0 {
        return Some(None);
    }
    let end = pos.checked_add(len as usize).filter(|e| *e <= buf.len())?;
    let field = &buf[*pos..end];
    *pos = end;
    Some(Some(field))
}

fn parse_record<'a>(buf: &'a [u8], pos: &mut usize) -> Option<RawRecord<'a>> {
    let len = usize::try_from(read_varint(buf, pos)?).ok()?;
    let end = pos.checked_add(len).filter(|e| *e <= buf.len())?;
    let body = &buf[..end];
    let mut p = *pos + 1; // attributes: unused in v2
    let timestamp_delta = read_varlong(body, &mut p)?;
    let offset_delta = read_varint(body, &mut p)?;
    let key = read_field(body, &mut p)?;
    let value = read_field(body, &mut p)?;
    let count = read_varint(body, &mut p)?;
    // Each header takes at least two bytes, which bounds the allocation by the record's size.
    let mut headers = Vec::with_capacity((count.max(0) as usize).min(len / 2));
    for _ in 0..count.max(0) {
        let k = read_field(body, &mut p)??;
        let v = read_field(body, &mut p)?;
        headers.push((k, v));
    }
    if p != end {
        return None;
    }
    *pos = end;
    Some(RawRecord {
        offset_delta,
        timestamp_delta,
        key,
        value,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn params_defaults_and_bounds() {
        let p = parse_params(&[]).unwrap();
        assert_eq!((p.start, p.limit), (Start::Beginning, DEFAULT_LIMIT));
        let p = parse_params(&q(&[("offset", "7"), ("limit", "500")])).unwrap();
        assert_eq!((p.start, p.limit), (Start::Offset(7), 500));
        let p = parse_params(&q(&[("timestamp_ms", "1700000000000")])).unwrap();
        assert_eq!(p.start, Start::Timestamp(1_700_000_000_000));
        for bad in [
            q(&[("limit", "0")]),
            q(&[("limit", "501")]),
            q(&[("limit", "x")]),
            q(&[("offset", "-1")]),
            q(&[("offset", "abc")]),
            q(&[("timestamp_ms", "-5")]),
            q(&[("offset", "1"), ("timestamp_ms", "2")]),
        ] {
            let e = parse_params(&bad).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn garbage_records_are_refused_not_panicked_on() {
        for data in [
            &[][..],
            &[0x7f],
            &[0x02, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ] {
            let mut pos = 0;
            let _ = parse_record(data, &mut pos);
        }
        // length 6: attributes, ts delta 0, offset delta 0, key null, value null, 2^31 headers.
        let mut pos = 0;
        let claims_many_headers = [0x0c, 0, 0, 0, 0x01, 0x01, 0xfe, 0xff, 0xff, 0xff, 0x0f];
        assert!(parse_record(&claims_many_headers, &mut pos).is_none());
    }
}
