//! Flushing without holding the partition lock: [`FlushTarget`] captures the files with
//! unflushed data, the broker syncs them unlocked, then records the new recovery point.

use std::fs::File;
use std::sync::Arc;

/// Files to fdatasync and the offset they cover once synced.
#[derive(Debug, Clone, Default)]
pub struct FlushTarget {
    pub(crate) files: Vec<Arc<File>>,
    pub(crate) up_to_offset: i64,
    pub(crate) messages: i64,
    pub(crate) dir: Option<std::path::PathBuf>,
}

impl FlushTarget {
    /// fdatasync every captured file (and the directory, so new segment names are durable).
    pub fn sync(&self) -> std::io::Result<()> {
        for f in &self.files {
            f.sync_data()?;
        }
        if let Some(dir) = &self.dir {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Every offset below this is durable once `sync` returned Ok.
    pub fn up_to_offset(&self) -> i64 {
        self.up_to_offset
    }

    /// True when there is nothing to sync.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
