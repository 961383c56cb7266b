//! The v2 record batch header (Kafka "magic 2"): parsing, validation and in-place patching.
//!
//! Sluice stores batches exactly as producers sent them, so the only bytes the broker ever
//! rewrites are header fields: the base offset and partition leader epoch (both outside the CRC)
//! and, for LogAppendTime topics, the attributes and max timestamp (which requires a new CRC).
//!
//! Layout (big endian), offsets from the start of the batch:
//! ```text
//!  0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32
//! 21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64
//! 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 | 57 recordsCount i32 | 61 records
//! ```

use std::ops::Range;

/// Size of a v2 batch header, including baseOffset and batchLength.
pub const RECORD_BATCH_OVERHEAD: usize = 61;
/// baseOffset(8) + batchLength(4): the prefix not counted in batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// The only message format Sluice accepts.
pub const MAGIC_V2: i8 = 2;
/// Value of baseSequence / producerId when the producer is not idempotent.
pub const NO_SEQUENCE: i32 = -1;
/// Value of producerId for non-idempotent producers.
pub const NO_PRODUCER_ID: i64 = -1;

pub(crate) const BASE_OFFSET_POS: usize = 0;
pub(crate) const LENGTH_POS: usize = 8;
pub(crate) const LEADER_EPOCH_POS: usize = 12;
pub(crate) const MAGIC_POS: usize = 16;
pub(crate) const CRC_POS: usize = 17;
pub(crate) const ATTRIBUTES_POS: usize = 21;
pub(crate) const LAST_OFFSET_DELTA_POS: usize = 23;
pub(crate) const BASE_TIMESTAMP_POS: usize = 27;
pub(crate) const MAX_TIMESTAMP_POS: usize = 35;
pub(crate) const RECORDS_COUNT_POS: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;
/// Set by the cleaner (KIP-534) when baseTimestamp holds the tombstone delete horizon.
pub(crate) const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// A decoded v2 record batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

/// Error for a malformed batch; the broker maps it to CORRUPT_MESSAGE / INVALID_RECORD etc.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Fewer bytes than a header needs.
    #[error("record batch truncated: need {needed} bytes, have {available}")]
    Truncated { needed: usize, available: usize },
    /// Magic byte other than 2 (legacy message sets are not supported).
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// batchLength smaller than a header or larger than the data can hold.
    #[error("invalid record batch length {0}")]
    InvalidLength(i32),
    /// Stored CRC does not match the CRC32C of the batch contents.
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    /// recordsCount / lastOffsetDelta inconsistent or out of range.
    #[error("invalid record count: {0}")]
    InvalidCount(String),
    /// Compression codec bits not in 0..=4.
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parse the 61-byte header at the start of `buf`. Checks the magic byte and that
    /// batchLength is at least a header; does not check the CRC (see [`BatchHeader::verify_crc`]).
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        if buf.len() > MAGIC_POS {
            let magic = buf[MAGIC_POS] as i8;
            if magic != MAGIC_V2 {
                return Err(BatchError::UnsupportedMagic(magic));
            }
        }
        if buf.len() < RECORD_BATCH_OVERHEAD {
            return Err(BatchError::Truncated {
                needed: RECORD_BATCH_OVERHEAD,
                available: buf.len(),
            });
        }
        let h = BatchHeader {
            base_offset: be_i64(buf, BASE_OFFSET_POS),
            batch_length: be_i32(buf, LENGTH_POS),
            partition_leader_epoch: be_i32(buf, LEADER_EPOCH_POS),
            magic: buf[MAGIC_POS] as i8,
            crc: be_i32(buf, CRC_POS) as u32,
            attributes: be_i16(buf, ATTRIBUTES_POS),
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_POS),
            base_timestamp: be_i64(buf, BASE_TIMESTAMP_POS),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_POS),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, RECORDS_COUNT_POS),
        };
        if (h.batch_length as i64) < (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i64 {
            return Err(BatchError::InvalidLength(h.batch_length));
        }
        Ok(h)
    }

    /// Size of the whole batch on disk / on the wire.
    pub fn total_size(&self) -> usize {
        (self.batch_length.max(0) as usize) + LOG_OVERHEAD
    }

    /// Offset of the last record of the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(self.last_offset_delta as i64)
    }

    /// Offset right after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence of the last record; sequences wrap from i32::MAX to 0 as in Kafka.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }

    /// Check the structural rules Kafka enforces on produce: a known codec, recordsCount > 0,
    /// lastOffsetDelta == recordsCount - 1.
    pub fn validate_counts(&self) -> Result<(), BatchError> {
        if self.compression() > 4 {
            return Err(BatchError::UnknownCompression(self.compression()));
        }
        if self.records_count <= 0 {
            return Err(BatchError::InvalidCount(format!(
                "recordsCount {} must be positive",
                self.records_count
            )));
        }
        if self.last_offset_delta != self.records_count - 1 {
            return Err(BatchError::InvalidCount(format!(
                "lastOffsetDelta {} != recordsCount {} - 1",
                self.last_offset_delta, self.records_count
            )));
        }
        Ok(())
    }

    /// The CRC check: `batch` must be exactly this batch's bytes.
    pub fn verify_crc(&self, batch: &[u8]) -> Result<(), BatchError> {
        if batch.len() != self.total_size() {
            return Err(BatchError::InvalidLength(self.batch_length));
        }
        self.check_crc(crc_of(batch))
    }

    /// Compares a CRC computed elsewhere (over bytes 21.., as `crc_of`) with the stored one.
    pub fn check_crc(&self, computed: u32) -> Result<(), BatchError> {
        if computed != self.crc {
            return Err(BatchError::CrcMismatch {
                stored: self.crc,
                computed,
            });
        }
        Ok(())
    }
}

/// Kafka's DefaultRecordBatch.incrementSequence: sequences wrap to 0 after i32::MAX.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// CRC32C over bytes [21..] (attributes to the end of the batch). 0 for a too-short slice.
pub fn crc_of(batch: &[u8]) -> u32 {
    batch.get(ATTRIBUTES_POS..).map(crc32c::crc32c).unwrap_or(0)
}

/// Iterate the batches of a byte slice of concatenated batches (header-only parse, no
/// decompression). Stops at a partial trailing batch; yields one error and stops on a bad header.
pub fn iter_batches(
    buf: &[u8],
) -> impl Iterator<Item = Result<(BatchHeader, Range<usize>), BatchError>> + '_ {
    let mut pos = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let rest = &buf[pos..];
        if rest.len() < LOG_OVERHEAD {
            done = true;
            return None;
        }
        // A header that is cut off counts as a partial trailing batch, not as corruption.
        if rest.len() < RECORD_BATCH_OVERHEAD {
            done = true;
            let len = be_i32(rest, LENGTH_POS);
            if (len as i64) < (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i64 {
                return Some(Err(BatchError::InvalidLength(len)));
            }
            if rest.len() > MAGIC_POS && rest[MAGIC_POS] as i8 != MAGIC_V2 {
                return Some(Err(BatchError::UnsupportedMagic(rest[MAGIC_POS] as i8)));
            }
            return None;
        }
        match BatchHeader::parse(rest) {
            Err(e) => {
                done = true;
                Some(Err(e))
            }
            Ok(h) => {
                let size = h.total_size();
                if size > rest.len() {
                    done = true;
                    return None;
                }
                let range = pos..pos + size;
                pos += size;
                Some(Ok((h, range)))
            }
        }
    })
}

/// Overwrite baseOffset (outside the CRC, no recomputation needed).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    if batch.len() >= LOG_OVERHEAD {
        batch[BASE_OFFSET_POS..BASE_OFFSET_POS + 8].copy_from_slice(&base_offset.to_be_bytes());
    }
}

/// Overwrite partitionLeaderEpoch (outside the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    if batch.len() >= LEADER_EPOCH_POS + 4 {
        batch[LEADER_EPOCH_POS..LEADER_EPOCH_POS + 4].copy_from_slice(&epoch.to_be_bytes());
    }
}

/// Switch the batch to LogAppendTime with `now_ms` as max timestamp and recompute the CRC.
pub fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    if batch.len() < RECORD_BATCH_OVERHEAD {
        return;
    }
    let attrs = be_i16(batch, ATTRIBUTES_POS) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_POS..ATTRIBUTES_POS + 2].copy_from_slice(&attrs.to_be_bytes());
    batch[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&now_ms.to_be_bytes());
    rewrite_crc(batch);
}

/// [`set_log_append_time`] for a batch whose 61-byte header was copied out of the records it
/// heads (the produce path patches a copy of the header and writes the records from the request
/// as they are): the CRC is computed over the patched header's covered part and then `records`.
pub fn set_log_append_time_split(
    header: &mut [u8; RECORD_BATCH_OVERHEAD],
    records: &[u8],
    now_ms: i64,
) {
    let attrs = be_i16(header, ATTRIBUTES_POS) | TIMESTAMP_TYPE_BIT;
    header[ATTRIBUTES_POS..ATTRIBUTES_POS + 2].copy_from_slice(&attrs.to_be_bytes());
    header[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES_POS..]), records);
    header[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Recompute and store the CRC after changing bytes covered by it.
pub fn rewrite_crc(batch: &mut [u8]) {
    if batch.len() < RECORD_BATCH_OVERHEAD {
        return;
    }
    let crc = crc_of(batch);
    batch[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{batch_bytes, RecSpec};
    use proptest::prelude::*;

    /// The produce path patches a copy of the header; the result must equal patching the whole
    /// batch in place, CRC included.
    #[test]
    fn split_log_append_time_matches_in_place() {
        let mut whole = batch_bytes(&[RecSpec::kv("a", "1"), RecSpec::kv("b", "2")], 0);
        let mut header = [0u8; RECORD_BATCH_OVERHEAD];
        header.copy_from_slice(&whole[..RECORD_BATCH_OVERHEAD]);
        set_log_append_time_split(&mut header, &whole[RECORD_BATCH_OVERHEAD..], 1234);
        set_log_append_time(&mut whole, 1234);
        assert_eq!(&header[..], &whole[..RECORD_BATCH_OVERHEAD]);
        let h = BatchHeader::parse(&whole).unwrap();
        h.verify_crc(&whole).unwrap();
        assert!(h.is_log_append_time());
    }

    #[test]
    fn parses_encoder_output() {
        let b = batch_bytes(
            &[
                RecSpec::kv("a", "1"),
                RecSpec::kv("b", "2"),
                RecSpec::kv("c", "3"),
            ],
            0,
        );
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.magic, 2);
        assert_eq!(h.records_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.total_size(), b.len());
        assert_eq!(h.crc, crc_of(&b));
        h.verify_crc(&b).unwrap();
        h.validate_counts().unwrap();
        assert_eq!(h.compression(), 0);
        assert!(!h.has_producer_id());
        assert_eq!(h.last_sequence(), -1);
    }

    #[test]
    fn patching_offset_and_epoch_keeps_crc_valid() {
        let mut b = batch_bytes(&[RecSpec::kv("a", "1")], 0);
        set_base_offset(&mut b, 1234);
        set_partition_leader_epoch(&mut b, 7);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (1234, 7));
        h.verify_crc(&b).unwrap();
    }

    #[test]
    fn log_append_time_patch_recomputes_crc() {
        let mut b = batch_bytes(&[RecSpec::kv("a", "1")], 0);
        set_log_append_time(&mut b, 99);
        let h = BatchHeader::parse(&b).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 99);
        h.verify_crc(&b).unwrap();
    }

    #[test]
    fn detects_corruption() {
        let mut b = batch_bytes(&[RecSpec::kv("a", "1")], 0);
        let n = b.len();
        b[n - 1] ^= 0xff;
        let h = BatchHeader::parse(&b).unwrap();
        assert!(matches!(
            h.verify_crc(&b),
            Err(BatchError::CrcMismatch { .. })
        ));
        b[MAGIC_POS] = 1;
        assert_eq!(BatchHeader::parse(&b), Err(BatchError::UnsupportedMagic(1)));
    }

    #[test]
    fn sequence_wraps() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(5, 3), 8);
    }

    #[test]
    fn iter_stops_at_partial_tail() {
        let mut buf = batch_bytes(&[RecSpec::kv("a", "1")], 0);
        let one = buf.len();
        buf.extend_from_slice(&batch_bytes(&[RecSpec::kv("b", "2")], 1));
        let full: Vec<_> = iter_batches(&buf).collect();
        assert_eq!(full.len(), 2);
        let cut: Vec<_> = iter_batches(&buf[..buf.len() - 3]).collect();
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].as_ref().unwrap().1, 0..one);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = BatchHeader::parse(&data);
            let mut total = 0usize;
            for (h, r) in iter_batches(&data).flatten() {
                prop_assert!(r.end <= data.len());
                prop_assert_eq!(r.len(), h.total_size());
                let _ = h.verify_crc(&data[r.clone()]);
                let _ = h.last_sequence();
                let _ = h.last_offset();
                total += 1;
            }
            prop_assert!(total <= data.len() / RECORD_BATCH_OVERHEAD + 1);
            let _ = crc_of(&data);
        }

        #[test]
        fn mutated_batches_never_panic(pos in 0usize..200, byte in any::<u8>(), magic2 in any::<bool>()) {
            let mut b = batch_bytes(&[RecSpec::kv("k", "v"), RecSpec::kv("k2", "v2")], 0);
            let p = pos % b.len();
            b[p] = byte;
            if magic2 { b[MAGIC_POS] = 2; }
            for (h, r) in iter_batches(&b).flatten() {
                let _ = h.verify_crc(&b[r]);
                let _ = h.validate_counts();
            }
        }
    }
}
