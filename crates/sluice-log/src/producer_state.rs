//! Idempotent / transactional producer state: per producer id its epoch and the metadata of its
//! last 5 batches, used to drop retried duplicates and reject sequence gaps exactly as Kafka's
//! ProducerStateManager / ProducerAppendInfo do.
//!
//! State survives restarts through snapshot files (`{offset:020}.producer-snapshot`, a Sluice
//! format holding all 5 batches, CRC32C-protected) plus a header-only scan of the batches after
//! the snapshot offset.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::batch::{BatchHeader, NO_SEQUENCE};
use crate::log::AppendError;

/// Batches remembered per producer (Kafka's NUM_BATCHES_TO_RETAIN).
pub const BATCHES_TO_RETAIN: usize = 5;
const SNAPSHOT_SUFFIX: &str = "producer-snapshot";
const SNAPSHOT_VERSION: i16 = 1;
const NO_EPOCH: i16 = -1;

/// Sequence and offset range of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// What the log knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMeta>,
    pub last_timestamp: i64,
    /// First offset of the open transaction, -1 if none.
    pub txn_first_offset: i64,
}

impl ProducerEntry {
    fn empty() -> ProducerEntry {
        ProducerEntry {
            epoch: NO_EPOCH,
            batches: VecDeque::new(),
            last_timestamp: -1,
            txn_first_offset: -1,
        }
    }

    pub fn last_seq(&self) -> i32 {
        self.batches
            .back()
            .map(|b| b.last_seq)
            .unwrap_or(NO_SEQUENCE)
    }

    fn last_offset(&self) -> i64 {
        self.batches.back().map(|b| b.last_offset).unwrap_or(-1)
    }

    fn find_duplicate(&self, h: &BatchHeader) -> Option<BatchMeta> {
        if h.producer_epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence())
            .copied()
    }

    /// Record an appended batch (offsets already assigned).
    fn add(&mut self, h: &BatchHeader) {
        if h.producer_epoch != self.epoch {
            self.epoch = h.producer_epoch;
            self.batches.clear();
        }
        if h.is_control() {
            // A transaction marker ends the transaction; it carries no sequence.
            self.txn_first_offset = -1;
            return;
        }
        if h.is_transactional() && self.txn_first_offset < 0 {
            self.txn_first_offset = h.base_offset;
        }
        self.last_timestamp = h.max_timestamp;
        if h.base_sequence == NO_SEQUENCE {
            return;
        }
        self.batches.push_back(BatchMeta {
            first_seq: h.base_sequence,
            last_seq: h.last_sequence(),
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
        });
        while self.batches.len() > BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
    }
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq as i64 == last_seq as i64 + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

/// The producer table of one partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

/// Changes validated for one append, committed only if the write succeeds.
#[derive(Debug, Default)]
pub(crate) struct PendingProducers {
    entries: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    pub fn get(&self, pid: i64) -> Option<&ProducerEntry> {
        self.producers.get(&pid)
    }

    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(k, v)| (*k, v))
    }

    /// Check a client batch: Ok(Some(meta)) if it duplicates one of the last 5 batches.
    /// `pending` holds earlier batches of the same request.
    pub fn check_client_batch(
        &self,
        pending: &PendingProducers,
        h: &BatchHeader,
    ) -> Result<Option<BatchMeta>, AppendError> {
        let current = self.producers.get(&h.producer_id);
        let updated = pending.entries.get(&h.producer_id).or(current);
        if let Some(entry) = current {
            if let Some(dup) = entry.find_duplicate(h) {
                return Ok(Some(dup));
            }
        }
        let empty = ProducerEntry::empty();
        let updated = updated.unwrap_or(&empty);
        let current = current.unwrap_or(&empty);
        if h.producer_epoch < updated.epoch {
            return Err(AppendError::InvalidProducerEpoch(format!(
                "producer {} epoch {} is older than current epoch {}",
                h.producer_id, h.producer_epoch, updated.epoch
            )));
        }
        let first_seq = h.base_sequence;
        if h.producer_epoch != updated.epoch {
            if first_seq != 0 && updated.epoch != NO_EPOCH {
                return Err(AppendError::OutOfOrderSequence(format!(
                    "invalid sequence {first_seq} for new epoch {} of producer {} (current epoch {})",
                    h.producer_epoch, h.producer_id, updated.epoch
                )));
            }
        } else {
            let last_seq = updated.last_seq();
            // With no known epoch (all its data deleted by retention) any sequence is accepted.
            if current.epoch != NO_EPOCH && !in_sequence(last_seq, first_seq) {
                return Err(AppendError::OutOfOrderSequence(format!(
                    "out of order sequence {first_seq} for producer {} epoch {}, last sequence {last_seq}",
                    h.producer_id, h.producer_epoch
                )));
            }
        }
        Ok(None)
    }

    /// Stage a batch (with its final offsets) into `pending`.
    pub fn stage(&self, pending: &mut PendingProducers, h: &BatchHeader) {
        if !h.has_producer_id() {
            return;
        }
        pending
            .entries
            .entry(h.producer_id)
            .or_insert_with(|| {
                self.producers
                    .get(&h.producer_id)
                    .cloned()
                    .unwrap_or_else(ProducerEntry::empty)
            })
            .add(h);
    }

    pub fn commit(&mut self, pending: PendingProducers) {
        self.producers.extend(pending.entries);
    }

    /// Replay a batch read back from the log (recovery): no validation.
    pub fn replay(&mut self, h: &BatchHeader) {
        if h.has_producer_id() {
            self.producers
                .entry(h.producer_id)
                .or_insert_with(ProducerEntry::empty)
                .add(h);
        }
    }

    /// The log start moved: forget producers whose data is all gone (Kafka's truncateHead).
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.producers
            .retain(|_, e| e.last_offset() >= log_start_offset || e.txn_first_offset >= 0);
    }

    /// First offset of the oldest open transaction, if any (the last stable offset bound).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers
            .values()
            .filter(|e| e.txn_first_offset >= 0)
            .map(|e| e.txn_first_offset)
            .min()
    }

    /// First offset of the oldest open transaction of any producer but `pid`, counting the
    /// staged changes in `pending` (the LSO an abort marker of `pid` leaves behind).
    pub fn first_unstable_offset_without(
        &self,
        pending: &PendingProducers,
        pid: i64,
    ) -> Option<i64> {
        let staged = pending.entries.iter();
        let committed = self
            .producers
            .iter()
            .filter(|(p, _)| !pending.entries.contains_key(p));
        staged
            .chain(committed)
            .filter(|(p, e)| **p != pid && e.txn_first_offset >= 0)
            .map(|(_, e)| e.txn_first_offset)
            .min()
    }

    // ---- snapshots ----

    /// Write `{offset:020}.producer-snapshot` via a temp file + rename, fsynced when `durable`.
    ///
    /// A snapshot only saves recovery work: a missing or torn one (its CRC fails) is skipped and
    /// the batches after an older one, or the whole log, are replayed instead. So the snapshot a
    /// roll takes inside an append is not synced there (an fsync can wait behind the writeback of
    /// everything just written); the flush after the roll syncs the directory, and the kernel
    /// writes the few bytes out soon after.
    pub fn write_snapshot(&self, dir: &Path, offset: i64, durable: bool) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        let mut pids: Vec<_> = self.producers.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            let e = &self.producers[&pid];
            body.extend_from_slice(&pid.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            body.extend_from_slice(&e.txn_first_offset.to_be_bytes());
            body.push(e.batches.len() as u8);
            for b in &e.batches {
                body.extend_from_slice(&b.first_seq.to_be_bytes());
                body.extend_from_slice(&b.last_seq.to_be_bytes());
                body.extend_from_slice(&b.first_offset.to_be_bytes());
                body.extend_from_slice(&b.last_offset.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        let path = snapshot_path(dir, offset);
        let tmp = path.with_extension("producer-snapshot.tmp");
        {
            use std::io::Write;
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&out)?;
            if durable {
                f.sync_all()?;
            }
        }
        fs::rename(&tmp, &path)?;
        if durable {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Load a snapshot file; InvalidData if it is malformed.
    pub fn read_snapshot(path: &Path) -> io::Result<ProducerStateManager> {
        let data = fs::read(path)?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed producer snapshot");
        if data.len() < 10 || i16::from_be_bytes([data[0], data[1]]) != SNAPSHOT_VERSION {
            return Err(bad());
        }
        let crc = u32::from_be_bytes([data[2], data[3], data[4], data[5]]);
        let body = &data[6..];
        if crc32c::crc32c(body) != crc {
            return Err(bad());
        }
        let mut r = Reader { buf: body, pos: 0 };
        let count = r.i32().ok_or_else(bad)?;
        let mut producers = HashMap::new();
        for _ in 0..count.max(0) {
            let pid = r.i64().ok_or_else(bad)?;
            let mut e = ProducerEntry::empty();
            e.epoch = r.i16().ok_or_else(bad)?;
            e.last_timestamp = r.i64().ok_or_else(bad)?;
            e.txn_first_offset = r.i64().ok_or_else(bad)?;
            let n = r.u8().ok_or_else(bad)?;
            for _ in 0..n {
                e.batches.push_back(BatchMeta {
                    first_seq: r.i32().ok_or_else(bad)?,
                    last_seq: r.i32().ok_or_else(bad)?,
                    first_offset: r.i64().ok_or_else(bad)?,
                    last_offset: r.i64().ok_or_else(bad)?,
                });
            }
            producers.insert(pid, e);
        }
        Ok(ProducerStateManager { producers })
    }
}

/// Snapshot files in `dir`, sorted by offset.
pub(crate) fn list_snapshots(dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(stem) = name.strip_suffix(&format!(".{SNAPSHOT_SUFFIX}")) {
            if let Ok(off) = stem.parse::<i64>() {
                out.push((off, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}.{SNAPSHOT_SUFFIX}"))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.buf.get(self.pos..self.pos + N)?;
        self.pos += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|a| a[0])
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{BatchSpec, RecSpec};

    fn header(pid: i64, epoch: i16, seq: i32, n: usize, base_offset: i64) -> BatchHeader {
        let recs = (0..n).map(|i| RecSpec::kv(&format!("k{i}"), "v")).collect();
        let b = BatchSpec::new(recs)
            .idempotent(pid, epoch, seq)
            .encode(base_offset);
        BatchHeader::parse(&b).unwrap()
    }

    fn append(
        m: &mut ProducerStateManager,
        h: &BatchHeader,
    ) -> Result<Option<BatchMeta>, AppendError> {
        let mut p = PendingProducers::default();
        let dup = m.check_client_batch(&p, h)?;
        if dup.is_none() {
            m.stage(&mut p, h);
            m.commit(p);
        }
        Ok(dup)
    }

    #[test]
    fn sequence_rules_follow_kafka() {
        let mut m = ProducerStateManager::default();
        // Unknown producer: any sequence accepted.
        assert!(append(&mut m, &header(7, 0, 5, 2, 0)).unwrap().is_none());
        assert!(append(&mut m, &header(7, 0, 7, 3, 2)).unwrap().is_none());
        // Exact retry of an earlier batch is a duplicate with its original offsets.
        let dup = append(&mut m, &header(7, 0, 5, 2, 99)).unwrap().unwrap();
        assert_eq!((dup.first_offset, dup.last_offset), (0, 1));
        // Gap.
        assert!(matches!(
            append(&mut m, &header(7, 0, 11, 1, 5)),
            Err(AppendError::OutOfOrderSequence(_))
        ));
        // Old epoch.
        assert!(append(&mut m, &header(7, 1, 0, 1, 5)).unwrap().is_none());
        assert!(matches!(
            append(&mut m, &header(7, 0, 10, 1, 6)),
            Err(AppendError::InvalidProducerEpoch(_))
        ));
        // New epoch must start at 0.
        assert!(matches!(
            append(&mut m, &header(7, 2, 3, 1, 6)),
            Err(AppendError::OutOfOrderSequence(_))
        ));
        assert!(append(&mut m, &header(7, 2, 0, 1, 6)).unwrap().is_none());
        assert_eq!(m.get(7).unwrap().batches.len(), 1);
    }

    #[test]
    fn keeps_only_five_batches_and_wraps() {
        let mut m = ProducerStateManager::default();
        for i in 0..7 {
            append(&mut m, &header(1, 0, i, 1, i as i64)).unwrap();
        }
        let e = m.get(1).unwrap();
        assert_eq!(e.batches.len(), 5);
        // Batch 0 fell out of the window: its retry is now out of order, not a duplicate.
        assert!(append(&mut m, &header(1, 0, 0, 1, 50)).is_err());
        assert!(append(&mut m, &header(1, 0, 3, 1, 50)).unwrap().is_some());
        // Wrap-around at i32::MAX.
        let mut m = ProducerStateManager::default();
        append(&mut m, &header(2, 0, i32::MAX - 1, 2, 0)).unwrap();
        assert!(append(&mut m, &header(2, 0, 0, 1, 2)).unwrap().is_none());
    }

    #[test]
    fn snapshot_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = ProducerStateManager::default();
        for i in 0..6 {
            append(&mut m, &header(3, 1, i * 2, 2, i as i64 * 2)).unwrap();
        }
        m.write_snapshot(dir.path(), 12, true).unwrap();
        let snaps = list_snapshots(dir.path()).unwrap();
        assert_eq!(snaps.len(), 1);
        let back = ProducerStateManager::read_snapshot(&snaps[0].1).unwrap();
        assert_eq!(back.get(3), m.get(3));
        let mut raw = fs::read(&snaps[0].1).unwrap();
        let n = raw.len();
        raw[n - 1] ^= 1;
        fs::write(&snaps[0].1, &raw).unwrap();
        assert!(ProducerStateManager::read_snapshot(&snaps[0].1).is_err());
        fs::write(&snaps[0].1, &raw[..9]).unwrap();
        assert!(ProducerStateManager::read_snapshot(&snaps[0].1).is_err());
    }
}
