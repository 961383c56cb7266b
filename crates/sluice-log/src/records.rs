//! Walking the records inside a batch without building owned `Record`s.
//!
//! ListOffsets-by-timestamp and the cleaner need record-level data (timestamps, keys). This
//! module decompresses a batch's record section with kafka_protocol's codecs and walks the v2
//! record encoding over the raw bytes, so the cleaner can copy retained records verbatim and no
//! allocation is sized by an untrusted count.

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};
use std::io;

use crate::batch::{BatchHeader, RECORD_BATCH_OVERHEAD};

/// One record, borrowed from a decompressed record section.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub is_tombstone: bool,
    /// The whole record, including its length prefix (copied verbatim by the cleaner).
    pub bytes: &'a [u8],
}

fn corrupt(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt record: {why}"))
}

/// Decode an unsigned LEB128 varint of at most `max_bytes` bytes.
#[inline]
fn read_uvarint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> io::Result<u64> {
    // Most varints of a record (the deltas in small batches, key lengths, header counts) fit in
    // one byte; produce validation reads several per record, so that case skips the loop.
    if let Some(&b) = buf.get(*pos) {
        if b & 0x80 == 0 {
            *pos += 1;
            return Ok(b as u64);
        }
    }
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
pub fn iter_records(buf: &[u8]) -> impl Iterator<Item = io::Result<RawRecord<'_>>> + '_ {
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

/// The record starting at `*pos`; on success `*pos` is the start of the next one.
pub fn parse_record<'a>(buf: &'a [u8], pos: &mut usize) -> io::Result<RawRecord<'a>> {
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
        value,
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

/// The most bytes one batch may decompress to. A producer's batch is at most `max.message.bytes`
/// compressed (1 MiB by default); this leaves room for ratios far beyond real data while a
/// "compression bomb" (a few KiB claiming gigabytes) is refused before the memory is taken.
pub const MAX_DECOMPRESSED_BATCH: usize = 128 << 20;

/// Xerial's framing, which Kafka's Java clients put around snappy blocks.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";

fn too_large() -> io::Error {
    corrupt(&format!(
        "batch decompresses to more than {MAX_DECOMPRESSED_BATCH} bytes"
    ))
}

/// Reads a decoder to its end, refusing output past the bound.
fn read_bounded(decoder: impl io::Read) -> io::Result<Bytes> {
    use std::io::Read;
    let mut out = Vec::new();
    decoder
        .take(MAX_DECOMPRESSED_BATCH as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("decompress: {e}")))?;
    if out.len() > MAX_DECOMPRESSED_BATCH {
        return Err(too_large());
    }
    Ok(Bytes::from(out))
}

/// One raw snappy block, its claimed length checked against what is still allowed.
fn snappy_block(block: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let len =
        snap::raw::decompress_len(block).map_err(|e| corrupt(&format!("snappy header: {e}")))?;
    if out.len() + len > MAX_DECOMPRESSED_BATCH {
        return Err(too_large());
    }
    let start = out.len();
    out.resize(start + len, 0);
    snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| corrupt(&format!("snappy: {e}")))?;
    Ok(())
}

fn snappy(payload: &[u8]) -> io::Result<Bytes> {
    let mut out = Vec::new();
    if payload.len() >= 16 && payload.starts_with(XERIAL_MAGIC) {
        // 8-byte magic, 4-byte version, 4-byte compatible version, then [u32 length, block]*.
        let mut rest = &payload[16..];
        while !rest.is_empty() {
            let header = rest
                .get(..4)
                .ok_or_else(|| corrupt("truncated xerial block length"))?;
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let block = rest
                .get(4..4usize.saturating_add(len))
                .ok_or_else(|| corrupt("xerial block past end"))?;
            snappy_block(block, &mut out)?;
            rest = &rest[4 + len..];
        }
    } else {
        snappy_block(payload, &mut out)?;
    }
    Ok(Bytes::from(out))
}

/// Decompress with the batch codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), never producing
/// more than [`MAX_DECOMPRESSED_BATCH`] bytes: batches come from the network.
pub fn decompress(codec: u8, payload: &[u8]) -> io::Result<Bytes> {
    match codec {
        0 => Ok(Bytes::copy_from_slice(payload)),
        1 => read_bounded(flate2::read::MultiGzDecoder::new(payload)),
        2 => snappy(payload),
        3 => read_bounded(
            lz4::Decoder::new(payload)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("lz4: {e}")))?,
        ),
        4 => read_bounded(
            zstd::stream::read::Decoder::new(payload)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?,
        ),
        c => Err(corrupt(&format!("unknown compression codec {c}"))),
    }
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

    /// Compression bombs: tiny payloads that would expand past the bound are refused, and the
    /// refusal does not first allocate what the payload claims.
    #[test]
    fn decompression_is_bounded() {
        let zeros = vec![0u8; MAX_DECOMPRESSED_BATCH + 1];
        let zstd_bomb = zstd::bulk::compress(&zeros, 3).unwrap();
        assert!(zstd_bomb.len() < 64 * 1024);
        assert!(decompress(4, &zstd_bomb).is_err());

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &zeros).unwrap();
        let gzip_bomb = gz.finish().unwrap();
        assert!(decompress(1, &gzip_bomb).is_err());

        // A raw snappy header claiming ~4 GiB in five bytes.
        let snappy_bomb = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(decompress(2, &snappy_bomb).is_err());
        let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        xerial.extend_from_slice(&(snappy_bomb.len() as u32).to_be_bytes());
        xerial.extend_from_slice(&snappy_bomb);
        assert!(decompress(2, &xerial).is_err());

        // Just under the bound still works.
        let ok = zstd::bulk::compress(&zeros[..1 << 20], 3).unwrap();
        assert_eq!(decompress(4, &ok).unwrap().len(), 1 << 20);
    }

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
