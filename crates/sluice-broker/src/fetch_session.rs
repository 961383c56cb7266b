//! Incremental fetch sessions (KIP-227).
//!
//! A consumer fetching from many partitions would otherwise resend every partition on every
//! fetch and get every partition back. With a session the broker remembers the partition set and
//! what it last told the client, so requests carry only changed partitions and responses only
//! partitions with news (records, a moved high watermark or log start, or an error).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use uuid::Uuid;

/// Identifies a partition within a session, by name (Fetch < v13) or id (v13+).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

#[derive(Debug, Clone)]
pub struct SessionPartition {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// What the client was last told, to decide whether the partition has news.
    pub last_high_watermark: i64,
    pub last_log_start: i64,
}

pub struct FetchSession {
    pub epoch: i32,
    /// Insertion order matters: Kafka rotates through partitions in session order.
    pub partitions: Vec<(SessionKey, SessionPartition)>,
    last_used: Instant,
}

impl FetchSession {
    pub fn upsert(&mut self, key: SessionKey, fetch_offset: i64, max_bytes: i32) {
        match self.partitions.iter_mut().find(|(k, _)| *k == key) {
            Some((_, p)) => {
                p.fetch_offset = fetch_offset;
                p.max_bytes = max_bytes;
            }
            None => self.partitions.push((
                key,
                SessionPartition {
                    fetch_offset,
                    max_bytes,
                    last_high_watermark: -1,
                    last_log_start: -1,
                },
            )),
        }
    }

    pub fn forget(&mut self, matches: impl Fn(&SessionKey) -> bool) {
        self.partitions.retain(|(k, _)| !matches(k));
    }
}

/// Why an incremental fetch could not use its session.
pub enum SessionError {
    NotFound,
    InvalidEpoch,
}

pub struct FetchSessionCache {
    max_sessions: usize,
    inner: Mutex<(HashMap<i32, FetchSession>, i32)>,
}

/// Sessions unused this long are evicted when space is needed.
const IDLE_EVICT: Duration = Duration::from_secs(120);

impl FetchSessionCache {
    pub fn new(max_sessions: usize) -> FetchSessionCache {
        FetchSessionCache {
            max_sessions,
            inner: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// Creates a session for a full fetch; `None` when the cache is full (the fetch goes sessionless).
    pub fn create(&self, partitions: Vec<(SessionKey, i64, i32)>) -> Option<i32> {
        let mut guard = self.inner.lock();
        let (sessions, next) = &mut *guard;
        if sessions.len() >= self.max_sessions {
            sessions.retain(|_, s| s.last_used.elapsed() < IDLE_EVICT);
            if sessions.len() >= self.max_sessions {
                return None;
            }
        }
        let id = loop {
            *next = next.wrapping_add(1).max(1);
            if !sessions.contains_key(next) {
                break *next;
            }
        };
        let mut session = FetchSession {
            epoch: 1,
            partitions: Vec::new(),
            last_used: Instant::now(),
        };
        for (k, off, max) in partitions {
            session.upsert(k, off, max);
        }
        sessions.insert(id, session);
        Some(id)
    }

    pub fn remove(&self, id: i32) {
        self.inner.lock().0.remove(&id);
    }

    /// Runs `f` on session `id` if `epoch` is the one it expects next, then advances the epoch.
    pub fn with_session<R>(
        &self,
        id: i32,
        epoch: i32,
        f: impl FnOnce(&mut FetchSession) -> R,
    ) -> Result<R, SessionError> {
        let mut guard = self.inner.lock();
        let session = guard.0.get_mut(&id).ok_or(SessionError::NotFound)?;
        if session.epoch != epoch {
            return Err(SessionError::InvalidEpoch);
        }
        session.epoch = session.epoch.wrapping_add(1).max(1);
        session.last_used = Instant::now();
        Ok(f(session))
    }

    /// Access without epoch checks, for recording what a response told the client.
    pub fn update<R>(&self, id: i32, f: impl FnOnce(&mut FetchSession) -> R) -> Option<R> {
        self.inner.lock().0.get_mut(&id).map(f)
    }
}
