//! Just enough of the v2 record batch header to count offsets and assign them.
//!
//! Layout (big-endian): baseOffset i64 @0, batchLength i32 @8, partitionLeaderEpoch i32 @12,
//! magic i8 @16, crc u32 @17, attributes i16 @21, lastOffsetDelta i32 @23, ... (61 bytes in all).
//! baseOffset and partitionLeaderEpoch lie outside the CRC, so they are patched without
//! recomputing it. The null broker checks structure only: no CRC, no record parsing.

/// Size of the v2 batch header.
pub const HEADER_LEN: usize = 61;
/// The header bytes after the 12-byte (baseOffset, batchLength) prefix.
const MIN_BATCH_LENGTH: i32 = (HEADER_LEN - 12) as i32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("record set ends inside a batch")]
    Truncated,
    #[error("batch length {0} is impossible")]
    BadLength(i32),
    #[error("magic {0} is not supported (only v2 batches)")]
    UnsupportedMagic(i8),
    #[error("lastOffsetDelta {0} is negative")]
    BadOffsetDelta(i32),
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// How many offsets a record set takes (the sum of each batch's lastOffsetDelta + 1), checking
/// that it is a sequence of whole v2 batches.
pub fn offsets_taken(records: &[u8]) -> Result<i64, BatchError> {
    let mut pos = 0;
    let mut offsets = 0i64;
    while pos < records.len() {
        let b = &records[pos..];
        if b.len() < HEADER_LEN {
            return Err(BatchError::Truncated);
        }
        let length = i32_at(b, 8);
        if length < MIN_BATCH_LENGTH {
            return Err(BatchError::BadLength(length));
        }
        let total = 12 + length as usize;
        if total > b.len() {
            return Err(BatchError::Truncated);
        }
        let magic = b[16] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        let delta = i32_at(b, 23);
        if delta < 0 {
            return Err(BatchError::BadOffsetDelta(delta));
        }
        offsets += delta as i64 + 1;
        pos += total;
    }
    Ok(offsets)
}

/// Gives the batches consecutive offsets from `base` and leader epoch 0, in place. Meant for a
/// set that passed [`offsets_taken`]; on any other it stops early rather than panic.
pub fn assign_offsets(records: &mut [u8], base: i64) {
    let mut pos = 0;
    let mut next = base;
    while pos + HEADER_LEN <= records.len() {
        let length = i32_at(records, pos + 8).max(MIN_BATCH_LENGTH) as usize;
        let delta = i32_at(records, pos + 23).max(0) as i64;
        records[pos..pos + 8].copy_from_slice(&next.to_be_bytes());
        records[pos + 12..pos + 16].copy_from_slice(&0i32.to_be_bytes());
        next += delta + 1;
        pos += 12 + length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A structurally valid batch of `records` offsets with `extra` payload bytes.
    fn batch(records: i32, extra: usize) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN + extra];
        let length = (HEADER_LEN - 12 + extra) as i32;
        b[8..12].copy_from_slice(&length.to_be_bytes());
        b[12..16].copy_from_slice(&7i32.to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(records - 1).to_be_bytes());
        b
    }

    #[test]
    fn counts_and_assigns_across_batches() {
        let mut set = batch(3, 10);
        set.extend(batch(5, 0));
        assert_eq!(offsets_taken(&set), Ok(8));
        assign_offsets(&mut set, 100);
        assert_eq!(i64::from_be_bytes(set[0..8].try_into().unwrap()), 100);
        assert_eq!(i32_at(&set, 12), 0);
        let second = HEADER_LEN + 10;
        assert_eq!(
            i64::from_be_bytes(set[second..second + 8].try_into().unwrap()),
            103
        );
    }

    #[test]
    fn rejects_malformed_sets() {
        assert_eq!(offsets_taken(&[0u8; 10]), Err(BatchError::Truncated));
        let mut b = batch(1, 0);
        b[16] = 1;
        assert_eq!(offsets_taken(&b), Err(BatchError::UnsupportedMagic(1)));
        let mut b = batch(1, 0);
        b[8..12].copy_from_slice(&5i32.to_be_bytes());
        assert_eq!(offsets_taken(&b), Err(BatchError::BadLength(5)));
        let mut b = batch(1, 0);
        b[8..12].copy_from_slice(&1000i32.to_be_bytes());
        assert_eq!(offsets_taken(&b), Err(BatchError::Truncated));
        let mut b = batch(1, 0);
        b[23..27].copy_from_slice(&(-2i32).to_be_bytes());
        assert_eq!(offsets_taken(&b), Err(BatchError::BadOffsetDelta(-2)));
    }
}
