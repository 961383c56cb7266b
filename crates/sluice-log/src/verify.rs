//! The result of [`crate::PartitionLog::verify`]: a whole-log consistency check for tests and tools.

/// What verify saw; `errors` is empty for a healthy log.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub batches: u64,
    pub records: u64,
    pub errors: Vec<String>,
}
