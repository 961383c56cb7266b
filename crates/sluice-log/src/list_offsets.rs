//! ListOffsets by timestamp and MAX_TIMESTAMP: record-level answers found through the time
//! index, decompressing only the one batch that holds the answer.

use std::io;
use std::ops::ControlFlow;

use crate::batch::BatchHeader;
use crate::log::PartitionLog;
use crate::records::record_offsets_and_timestamps;
use crate::segment::Segment;

impl PartitionLog {
    /// The first record (by offset) whose timestamp is >= `ts`, with that record's timestamp.
    /// None if no such record. May do I/O.
    pub fn offset_for_timestamp(&self, ts: i64) -> io::Result<Option<(i64, i64)>> {
        let log_start = self.log_start_offset;
        for seg in self.segments.values() {
            if seg.next_offset() <= log_start || seg.max_timestamp() < ts {
                continue;
            }
            // Every record up to a time index entry below `ts` is older than `ts`.
            let mut from = seg.base_offset.max(log_start);
            if let Some((_, o)) = seg.time_index.last_below(ts) {
                from = from.max(o + 1);
            }
            let found =
                first_record_matching(seg, from, |h| h.max_timestamp >= ts, |_, t| t >= ts)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: (offset, timestamp) of the first record with the largest
    /// timestamp. None for an empty log or one without timestamps.
    pub fn max_timestamp_offset(&self) -> io::Result<Option<(i64, i64)>> {
        let log_start = self.log_start_offset;
        let live = || {
            self.segments
                .values()
                .filter(move |s| s.next_offset() > log_start)
        };
        let Some(max) = live().map(Segment::max_timestamp).max() else {
            return Ok(None);
        };
        if max < 0 {
            return Ok(None);
        }
        for seg in live().filter(|s| s.max_timestamp() == max) {
            let from = seg.base_offset.max(log_start);
            if let Some(found) =
                first_record_matching(seg, from, |h| h.max_timestamp == max, |_, t| t == max)?
            {
                return Ok(Some(found));
            }
        }
        // The maximum lies below the log start offset: fall back to a full scan of what is left.
        let mut best: Option<(i64, i64)> = None;
        for seg in live() {
            let from = seg.base_offset.max(log_start);
            let mut cands = Vec::new();
            seg.scan_headers(0, |pos, h| {
                if h.last_offset() >= from && best.is_none_or(|b| h.max_timestamp > b.1) {
                    cands.push((pos, *h));
                }
                ControlFlow::Continue(())
            })
            .map_err(|c| io::Error::new(io::ErrorKind::InvalidData, c.reason))?;
            for (pos, h) in cands {
                let bytes = seg.read_bytes(pos, h.total_size())?;
                for (o, t) in record_offsets_and_timestamps(&h, &bytes)? {
                    if o >= from && best.is_none_or(|b| t > b.1) {
                        best = Some((o, t));
                    }
                }
            }
        }
        Ok(best)
    }
}

/// Scan `seg` from the batch holding `from`; for batches passing `batch_ok`, decode records and
/// return the first with offset >= `from` passing `record_ok`.
fn first_record_matching(
    seg: &Segment,
    from: i64,
    batch_ok: impl Fn(&BatchHeader) -> bool,
    record_ok: impl Fn(i64, i64) -> bool,
) -> io::Result<Option<(i64, i64)>> {
    let Some((start, _)) = seg.find_batch(from)? else {
        return Ok(None);
    };
    let mut result = None;
    let mut err = None;
    seg.scan_headers(start, |pos, h| {
        if h.last_offset() < from || !batch_ok(h) || h.is_control() {
            return ControlFlow::Continue(());
        }
        let decoded = seg
            .read_bytes(pos, h.total_size())
            .and_then(|b| record_offsets_and_timestamps(h, &b));
        match decoded {
            Ok(recs) => {
                if let Some(&(o, t)) = recs.iter().find(|&&(o, t)| o >= from && record_ok(o, t)) {
                    result = Some((o, t));
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            }
            Err(e) => {
                err = Some(e);
                ControlFlow::Break(())
            }
        }
    })
    .map_err(|c| io::Error::new(io::ErrorKind::InvalidData, c.reason))?;
    match err {
        Some(e) => Err(e),
        None => Ok(result),
    }
}
