//! The null broker's whole state: topics, and per partition an offset counter plus, optionally,
//! the newest few MiB of produced batches in memory (so Fetch has something to serve).
//!
//! Each produce's record set for a partition is one chunk: copied once (the request buffer is
//! shared and immutable), offsets patched, kept whole. Fetch hands a chunk out without copying
//! when one suffices.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use uuid::Uuid;

use super::batch;

/// What the null broker was started with.
#[derive(Clone, Debug)]
pub struct Config {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    /// Partitions of a topic created by Metadata/Produce or by CreateTopics without a count.
    pub default_partitions: i32,
    /// Bytes of produced data kept per partition for Fetch (0: keep nothing).
    pub retain_bytes: usize,
}

pub struct Broker {
    pub config: Config,
    topics: RwLock<Topics>,
    next_producer_id: AtomicI64,
    /// Woken on every retained append, for long-polling fetches.
    pub appended: Notify,
}

#[derive(Default)]
struct Topics {
    by_name: HashMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<Partition>,
}

#[derive(Default)]
pub struct Partition {
    log: Mutex<MemLog>,
}

/// Why a topic cannot be created.
#[derive(Debug, PartialEq, Eq)]
pub enum CreateError {
    Exists,
    InvalidName,
    InvalidPartitions,
}

impl Broker {
    pub fn new(config: Config) -> Broker {
        Broker {
            config,
            topics: RwLock::new(Topics::default()),
            next_producer_id: AtomicI64::new(1000),
            appended: Notify::new(),
        }
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().by_name.get(name).cloned()
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics.read().by_id.get(&id).cloned()
    }

    pub fn all_topics(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = self.topics.read().by_name.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn create(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, CreateError> {
        if name.is_empty() || name.len() > 249 || name == "." || name == ".." {
            return Err(CreateError::InvalidName);
        }
        if !(1..=100_000).contains(&partitions) {
            return Err(CreateError::InvalidPartitions);
        }
        let mut topics = self.topics.write();
        if topics.by_name.contains_key(name) {
            return Err(CreateError::Exists);
        }
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id: Uuid::new_v4(),
            partitions: (0..partitions).map(|_| Partition::default()).collect(),
        });
        topics.by_name.insert(name.to_string(), topic.clone());
        topics.by_id.insert(topic.id, topic.clone());
        Ok(topic)
    }

    /// The topic, created with the default partition count if it does not exist yet.
    pub fn topic_or_create(&self, name: &str) -> Option<Arc<Topic>> {
        if let Some(t) = self.topic(name) {
            return Some(t);
        }
        match self.create(name, self.config.default_partitions) {
            Ok(t) => Some(t),
            Err(_) => self.topic(name),
        }
    }

    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id.fetch_add(1, Ordering::Relaxed)
    }
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&Partition> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// Offsets of one partition: [start, next) is what Fetch can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks {
    pub start: i64,
    pub next: i64,
}

/// The fetch offset lies outside [start, next].
#[derive(Debug, PartialEq, Eq)]
pub struct OutOfRange;

impl Partition {
    /// Takes offsets for a validated record set, keeping a patched copy if `retain_bytes` > 0.
    /// Returns the base offset and the marks after the append.
    pub fn append(&self, records: &[u8], offsets: i64, retain_bytes: usize) -> (i64, Marks) {
        let mut log = self.log.lock();
        let base = log.next;
        log.next += offsets;
        if retain_bytes == 0 || records.len() > retain_bytes {
            log.chunks.clear();
            log.bytes = 0;
            log.start = log.next;
        } else {
            let mut copy = BytesMut::from(records);
            batch::assign_offsets(&mut copy, base);
            log.bytes += copy.len();
            log.chunks.push_back(Chunk {
                end: base + offsets,
                data: copy.freeze(),
            });
            while log.bytes > retain_bytes {
                let Some(old) = log.chunks.pop_front() else {
                    break;
                };
                log.bytes -= old.data.len();
                log.start = old.end;
            }
        }
        (base, log.marks())
    }

    pub fn marks(&self) -> Marks {
        self.log.lock().marks()
    }

    /// Whole chunks from the one holding `offset`, up to `max_bytes` (at least one chunk when
    /// `at_least_one`, as Kafka returns one oversized batch rather than nothing).
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        at_least_one: bool,
    ) -> Result<(Bytes, Marks), OutOfRange> {
        // Pick under the lock (reference counts only), copy after it.
        let mut picked: Vec<Bytes> = Vec::new();
        let mut size = 0;
        let marks = {
            let log = self.log.lock();
            if offset < log.start || offset > log.next {
                return Err(OutOfRange);
            }
            let first = log.chunks.partition_point(|c| c.end <= offset);
            for c in log.chunks.range(first..) {
                let fits = size + c.data.len() <= max_bytes;
                let first_anyway = picked.is_empty() && at_least_one;
                if !fits && !first_anyway {
                    break;
                }
                size += c.data.len();
                picked.push(c.data.clone());
            }
            log.marks()
        };
        let data = match picked.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut buf = BytesMut::with_capacity(size);
                for b in many {
                    buf.extend_from_slice(b);
                }
                buf.freeze()
            }
        };
        Ok((data, marks))
    }
}

#[derive(Default)]
struct MemLog {
    start: i64,
    next: i64,
    chunks: VecDeque<Chunk>,
    bytes: usize,
}

impl MemLog {
    fn marks(&self) -> Marks {
        Marks {
            start: self.start,
            next: self.next,
        }
    }
}

/// One produce's record set for a partition, ending before offset `end`.
struct Chunk {
    end: i64,
    data: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(records: i32, size: usize) -> Vec<u8> {
        let mut b = vec![0u8; size.max(batch::HEADER_LEN)];
        let length = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&length.to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(records - 1).to_be_bytes());
        b
    }

    #[test]
    fn keeps_nothing_without_retention() {
        let p = Partition::default();
        let set = batch_of(10, 100);
        assert_eq!(p.append(&set, 10, 0).0, 0);
        let (base, marks) = p.append(&set, 10, 0);
        assert_eq!(base, 10);
        assert_eq!(
            marks,
            Marks {
                start: 20,
                next: 20
            }
        );
        assert_eq!(p.read(20, 1 << 20, true).map(|r| r.0.len()), Ok(0));
        assert_eq!(p.read(5, 1 << 20, true), Err(OutOfRange));
    }

    #[test]
    fn serves_retained_chunks_with_patched_offsets() {
        let p = Partition::default();
        let set = batch_of(4, 100);
        for _ in 0..3 {
            p.append(&set, 4, 1 << 20);
        }
        let (data, marks) = p.read(5, 1 << 20, true).expect("in range");
        assert_eq!(marks, Marks { start: 0, next: 12 });
        assert_eq!(data.len(), 200, "chunks from the one holding offset 5");
        assert_eq!(i64::from_be_bytes(data[0..8].try_into().unwrap()), 4);
        assert_eq!(i64::from_be_bytes(data[100..108].try_into().unwrap()), 8);
        // The budget limits later chunks but not the first.
        assert_eq!(p.read(0, 10, true).map(|r| r.0.len()), Ok(100));
        assert_eq!(p.read(0, 10, false).map(|r| r.0.len()), Ok(0));
    }

    #[test]
    fn evicts_oldest_beyond_the_budget() {
        let p = Partition::default();
        let set = batch_of(1, 100);
        for _ in 0..5 {
            p.append(&set, 1, 250);
        }
        assert_eq!(p.marks(), Marks { start: 3, next: 5 });
        assert_eq!(p.read(2, 1 << 20, true), Err(OutOfRange));
        assert_eq!(p.read(3, 1 << 20, true).map(|r| r.0.len()), Ok(200));
    }
}
