//! The result of [`crate::PartitionLog::verify`]: a whole-log consistency check for tests and tools.

/// What verify saw; `errors` is empty for a healthy log.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub batches: u64,
    pub records: u64,
    pub errors: Vec<String>,
}

impl crate::log::PartitionLog {
    /// Verify the whole log: CRC of every batch, offsets increasing, indexes pointing at batch
    /// starts with matching offsets. Reads everything; for tests and tools.
    pub fn verify(&self) -> Result<VerifyReport, std::io::Error> {
        use std::collections::HashMap;
        let mut report = VerifyReport::default();
        let mut prev_next = i64::MIN;
        for seg in self.segments.values() {
            let name = seg.log_path().display().to_string();
            let mut starts: HashMap<u64, i64> = HashMap::new();
            let mut pos = 0u64;
            while pos < seg.size() {
                let h = match seg.read_header_at(pos) {
                    Ok(Some(h)) => h,
                    Ok(None) => {
                        report
                            .errors
                            .push(format!("{name}: partial header at {pos}"));
                        break;
                    }
                    Err(e) => {
                        report
                            .errors
                            .push(format!("{name}: bad header at {pos}: {e}"));
                        break;
                    }
                };
                let size = h.total_size() as u64;
                if pos + size > seg.size() {
                    report
                        .errors
                        .push(format!("{name}: batch at {pos} runs past the end"));
                    break;
                }
                let bytes = seg.read_bytes(pos, size as usize)?;
                if let Err(e) = h.verify_crc(&bytes) {
                    report.errors.push(format!("{name}: batch at {pos}: {e}"));
                }
                if h.base_offset < prev_next || h.base_offset < seg.base_offset {
                    report.errors.push(format!(
                        "{name}: batch at {pos} has base offset {} below {}",
                        h.base_offset,
                        prev_next.max(seg.base_offset)
                    ));
                }
                prev_next = h.next_offset();
                starts.insert(pos, h.last_offset());
                report.batches += 1;
                report.records += h.records_count.max(0) as u64;
                pos += size;
            }
            if seg.next_offset() != prev_next.max(seg.base_offset) {
                report.errors.push(format!(
                    "{name}: in-memory next offset {} != scanned {}",
                    seg.next_offset(),
                    prev_next
                ));
            }
            for (offset, position) in seg.index.entries() {
                if starts.get(&position) != Some(&offset) {
                    report.errors.push(format!(
                        "{name}: index entry ({offset}, {position}) does not match a batch"
                    ));
                }
            }
            let mut last_ts = i64::MIN;
            for (ts, offset) in seg.time_index.entries() {
                if ts <= last_ts
                    || offset < seg.base_offset
                    || offset >= seg.next_offset().max(seg.base_offset + 1)
                {
                    report
                        .errors
                        .push(format!("{name}: bad time index entry ({ts}, {offset})"));
                }
                last_ts = ts;
            }
        }
        Ok(report)
    }
}
