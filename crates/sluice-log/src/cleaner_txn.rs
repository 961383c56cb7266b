//! What compaction does with transactions, as Kafka's `CleanedTransactionMetadata`:
//! - records of aborted transactions are dropped and never enter the key map, so an aborted
//!   value can never stand as the latest for its key;
//! - a transaction marker stays while any batch of its transaction is still in the log (an
//!   abort marker then keeps its `.txnindex` entry in the cleaned segment); once the cleaner
//!   finds none it stamps the marker with a delete horizon (now + delete.retention.ms, in the
//!   batch's base timestamp with the delete-horizon attribute, KIP-534) and a later pass past
//!   that horizon removes it, so consumers that are behind still see it in time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;

use crate::batch::{self, BatchHeader, RECORD_BATCH_OVERHEAD};
use crate::transactions::{marker_is_abort, varint};
use crate::txn_index::AbortedTxn;

/// Attribute bit saying the base timestamp is the batch's delete horizon (Kafka's
/// `DELETE_HORIZON_FLAG_MASK`).
pub(crate) const DELETE_HORIZON_FLAG: i16 = 0x40;

/// An aborted transaction the cleaner is inside of.
#[derive(Debug)]
struct OngoingAbort {
    txn: AbortedTxn,
    /// A batch of it was seen in this pass.
    observed: bool,
}

/// What to do with a control batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MarkerFate {
    /// Its transaction still has data here: keep it as it is.
    Keep,
    /// No data of its transaction is left: it may go once its delete horizon has passed.
    Discardable,
}

/// Transaction state while the cleaner walks batches in offset order.
#[derive(Debug, Default)]
pub(crate) struct TxnTracker {
    /// Aborted transactions not yet reached, by first offset.
    upcoming: VecDeque<AbortedTxn>,
    aborted: HashMap<i64, OngoingAbort>,
    committed: HashSet<i64>,
}

impl TxnTracker {
    /// `aborted`: every aborted transaction whose marker is at or after the first offset the
    /// walk will see.
    pub fn new(mut aborted: Vec<AbortedTxn>) -> TxnTracker {
        aborted.sort_by_key(|t| (t.first_offset, t.last_offset));
        TxnTracker {
            upcoming: aborted.into(),
            ..TxnTracker::default()
        }
    }

    fn reach(&mut self, offset: i64) {
        while self
            .upcoming
            .front()
            .is_some_and(|t| t.first_offset <= offset)
        {
            if let Some(t) = self.upcoming.pop_front() {
                self.aborted.entry(t.producer_id).or_insert(OngoingAbort {
                    txn: t,
                    observed: false,
                });
            }
        }
    }

    /// A data batch: true if it belongs to an aborted transaction.
    pub fn on_batch(&mut self, h: &BatchHeader) -> bool {
        self.reach(h.last_offset());
        if !h.is_transactional() {
            return false;
        }
        match self.aborted.get_mut(&h.producer_id) {
            Some(a) => {
                a.observed = true;
                true
            }
            None => {
                self.committed.insert(h.producer_id);
                false
            }
        }
    }

    /// A control batch (`bytes` is the whole batch): its fate, and for a kept abort marker the
    /// index entry the cleaned segment must carry.
    pub fn on_control(
        &mut self,
        h: &BatchHeader,
        bytes: &[u8],
    ) -> (MarkerFate, Option<AbortedTxn>) {
        self.reach(h.last_offset());
        if h.records_count == 0 {
            return (MarkerFate::Discardable, None);
        }
        match marker_is_abort(bytes) {
            Some(true) => match self.aborted.remove(&h.producer_id) {
                Some(a) if a.observed => (MarkerFate::Keep, Some(a.txn)),
                _ => (MarkerFate::Discardable, None),
            },
            Some(false) => {
                if self.committed.remove(&h.producer_id) {
                    (MarkerFate::Keep, None)
                } else {
                    (MarkerFate::Discardable, None)
                }
            }
            None => (MarkerFate::Keep, None),
        }
    }
}

/// The delete horizon a batch carries, if any.
pub(crate) fn delete_horizon(h: &BatchHeader) -> Option<i64> {
    (h.attributes & DELETE_HORIZON_FLAG != 0).then_some(h.base_timestamp)
}

/// Zigzag varint encoding of `v`.
fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Rewrite an uncompressed (control) batch with `horizon` as its base timestamp and the
/// delete-horizon attribute, keeping every record's timestamp.
pub(crate) fn with_delete_horizon(
    h: &BatchHeader,
    bytes: &[u8],
    horizon: i64,
) -> io::Result<Vec<u8>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unreadable control record");
    let mut out = bytes[..RECORD_BATCH_OVERHEAD].to_vec();
    let mut pos = RECORD_BATCH_OVERHEAD;
    while pos < bytes.len() {
        let (len, n) = varint(&bytes[pos..]).ok_or_else(bad)?;
        let body_start = pos + n;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| body_start.checked_add(l))
            .filter(|&e| e <= bytes.len() && e > body_start)
            .ok_or_else(bad)?;
        let attrs = bytes[body_start];
        let (delta, n) = varint(&bytes[body_start + 1..end]).ok_or_else(bad)?;
        let rest = &bytes[body_start + 1 + n..end];
        let ts = h.base_timestamp.wrapping_add(delta);
        let mut body = vec![attrs];
        put_varlong(&mut body, ts.wrapping_sub(horizon));
        body.extend_from_slice(rest);
        put_varlong(&mut out, body.len() as i64);
        out.extend_from_slice(&body);
        pos = end;
    }
    let len = (out.len() - batch::LOG_OVERHEAD) as i32;
    out[8..12].copy_from_slice(&len.to_be_bytes());
    out[21..23].copy_from_slice(&(h.attributes | DELETE_HORIZON_FLAG).to_be_bytes());
    out[27..35].copy_from_slice(&horizon.to_be_bytes());
    batch::rewrite_crc(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlong_round_trips() {
        for v in [0i64, -1, 1, 63, -64, 64, 300, -300, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            assert_eq!(varint(&out), Some((v, out.len())), "{v}");
        }
    }
}
