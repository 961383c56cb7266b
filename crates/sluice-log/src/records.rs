//! Walking the records inside a batch without building owned `Record`s.
//!
//! ListOffsets-by-timestamp and the cleaner need record-level data (timestamps, keys). This
//! module decompresses a batch's record section with kafka_protocol's codecs and walks the v2
//! record encoding over the raw bytes, so the cleaner can copy retained records verbatim and no
//! allocation is sized by an untrusted count.

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};
use std::io;

use crate::batch::{BatchHeader, RECORD_BATCH_OVERHEAD};

/// One record, borrowed from a decompressed record section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord<'a> {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    pub is_tombstone: bool,
    /// The whole record, including its length prefix (copied verbatim by the cleaner).
    pub bytes: &'a [u8],
}

fn corrupt(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt record: {why}"))
}

/// Decode an unsigned LEB128 varint of at most `max_bytes` bytes.
fn read_uvarint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> io::Result<u64> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let b = *buf.get(*pos).ok_or_else(|| corrupt("truncated varint"))?;
        *pos += 1;
        value |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(corrupt("varint too long"))
}

fn read_varint(buf: &[u8], pos: &mut usize) -> io::Result<i32> {
    let v = read_uvarint(buf, pos, 5)? as u32;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

fn read_varlong(buf: &[u8], pos: &mut usize) -> io::Result<i64> {
    let v = read_uvarint(buf, pos, 10)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// A length-prefixed field: None for length -1.
fn read_bytes_field<'a>(buf: &'a [u8], pos: &mut usize) -> io::Result<Option<&'a [u8]>> {
    let len = read_varint(buf, pos)?;
    if len < 0 {
        return Ok(None);
    }
    let end = pos
        .checked_add(len as usize)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| corrupt("field past end"))?;
    let field = &buf[*pos..end];
    *pos = end;
    Ok(Some(field))
}

/// Iterate the records of a decompressed record section.
pub(crate) fn iter_records(buf: &[u8]) -> impl Iterator<Item = io::Result<RawRecord<'_>>> + '_ {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= buf.len() {
            return None;
        }
        let r = parse_record(buf, &mut pos);
        if r.is_err() {
            failed = true;
        }
        Some(r)
    })
}

fn parse_record<'a>(buf: &'a [u8], pos: &mut usize) -> io::Result<RawRecord<'a>> {
    let start = *pos;
    let len = read_varint(buf, pos)?;
    if len < 0 {
        return Err(corrupt("negative record length"));
    }
    let body_start = *pos;
    let end = body_start
        .checked_add(len as usize)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| corrupt("record past end"))?;
    let body = &buf[..end];
    let mut p = body_start;
    p += 1; // attributes (unused in v2)
    if p > end {
        return Err(corrupt("record too short"));
    }
    let timestamp_delta = read_varlong(body, &mut p)?;
    let offset_delta = read_varint(body, &mut p)?;
    let key = read_bytes_field(body, &mut p)?;
    let value = read_bytes_field(body, &mut p)?;
    let headers = read_varint(body, &mut p)?;
    for _ in 0..headers.max(0) {
        read_bytes_field(body, &mut p)?;
        read_bytes_field(body, &mut p)?;
    }
    if p != end {
        return Err(corrupt("record length mismatch"));
    }
    *pos = end;
    Ok(RawRecord {
        offset_delta,
        timestamp_delta,
        key,
        is_tombstone: value.is_none(),
        bytes: &buf[start..end],
    })
}

/// Decompress a batch's record section (everything after the 61-byte header).
pub(crate) fn decompressed_records(h: &BatchHeader, batch: &[u8]) -> io::Result<Bytes> {
    let payload = batch
        .get(RECORD_BATCH_OVERHEAD..)
        .ok_or_else(|| corrupt("batch shorter than header"))?;
    decompress(h.compression(), payload)
}

/// Decompress with the batch codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
pub(crate) fn decompress(codec: u8, payload: &[u8]) -> io::Result<Bytes> {
    let mut src = Bytes::copy_from_slice(payload);
    let take = |b: &mut Bytes| Ok(std::mem::take(b));
    let out = match codec {
        0 => return Ok(src),
        1 => Gzip::decompress(&mut src, take),
        2 => Snappy::decompress(&mut src, take),
        3 => Lz4::decompress(&mut src, take),
        4 => Zstd::decompress(&mut src, take),
        c => return Err(corrupt(&format!("unknown compression codec {c}"))),
    };
    out.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("decompress: {e}")))
}

/// Compress a record section with the batch codec.
pub(crate) fn compress(codec: u8, records: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = BytesMut::new();
    let fill = |b: &mut BytesMut| {
        b.extend_from_slice(records);
        Ok(())
    };
    let r = match codec {
        0 => {
            out.extend_from_slice(records);
            Ok(())
        }
        1 => Gzip::compress(&mut out, fill),
        2 => Snappy::compress(&mut out, fill),
        3 => Lz4::compress(&mut out, fill),
        4 => Zstd::compress(&mut out, fill),
        c => return Err(corrupt(&format!("unknown compression codec {c}"))),
    };
    r.map_err(|e| io::Error::other(format!("compress: {e}")))?;
    Ok(out.to_vec())
}

/// (offset, timestamp) of every record in `batch`, honouring LogAppendTime (all records take
/// the batch max timestamp).
pub(crate) fn record_offsets_and_timestamps(
    h: &BatchHeader,
    batch: &[u8],
) -> io::Result<Vec<(i64, i64)>> {
    let data = decompressed_records(h, batch)?;
    let mut out = Vec::new();
    for r in iter_records(&data) {
        let r = r?;
        let ts = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(r.timestamp_delta)
        };
        out.push((h.base_offset + r.offset_delta as i64, ts));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{BatchSpec, RecSpec};
    use kafka_protocol::records::Compression;
    use proptest::prelude::*;

    #[test]
    fn walks_records_of_every_codec() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let spec = BatchSpec::new(vec![
                RecSpec::kv("a", "1").at(100),
                RecSpec::tombstone("b").at(50),
                RecSpec::kv("c", "3").at(300),
            ])
            .compressed(c);
            let b = spec.encode(10);
            let h = BatchHeader::parse(&b).unwrap();
            let ts = record_offsets_and_timestamps(&h, &b).unwrap();
            assert_eq!(ts, vec![(10, 100), (11, 50), (12, 300)], "{c:?}");
            let data = decompressed_records(&h, &b).unwrap();
            let recs: Vec<_> = iter_records(&data).map(|r| r.unwrap()).collect();
            assert_eq!(recs[0].key, Some(&b"a"[..]));
            assert!(recs[1].is_tombstone && !recs[0].is_tombstone);
            let again = compress(h.compression(), &data).unwrap();
            assert_eq!(decompress(h.compression(), &again).unwrap(), data);
        }
    }

    proptest! {
        #[test]
        fn garbage_records_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            for r in iter_records(&data) {
                if r.is_err() { break; }
            }
            for c in 0..6u8 {
                let _ = decompress(c, &data);
            }
        }
    }
}
