//! Allocation of producer ids for idempotent producers (InitProducerId).
//!
//! Ids must never repeat, even across crashes, or a new producer could be mistaken for an old one
//! and its records dropped as duplicates. Like Kafka's controller, Sluice reserves ids in blocks
//! and persists the end of the current block before handing out any id from it.

use std::fs;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

const BLOCK: i64 = 1000;

pub struct ProducerIdAllocator {
    file: PathBuf,
    state: Mutex<(i64, i64)>, // (next id, end of persisted block)
}

impl ProducerIdAllocator {
    pub fn open(meta_dir: &Path) -> std::io::Result<ProducerIdAllocator> {
        let file = meta_dir.join("producer-id-block");
        let next = match fs::read_to_string(&file) {
            Ok(s) => s.trim().parse::<i64>().unwrap_or(0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(ProducerIdAllocator {
            file,
            state: Mutex::new((next, next)),
        })
    }

    pub fn next_id(&self) -> std::io::Result<i64> {
        let mut st = self.state.lock();
        if st.0 >= st.1 {
            let end = st.1 + BLOCK;
            crate::persist::write_atomic(&self.file, end.to_string().as_bytes())?;
            st.1 = end;
        }
        let id = st.0;
        st.0 += 1;
        Ok(id)
    }
}
