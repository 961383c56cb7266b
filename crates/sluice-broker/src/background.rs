//! Periodic log maintenance: flush by `flush.ms`/`flush.messages` and at segment roll, retention,
//! and compaction. Each job takes a partition's lock only for short bookkeeping steps.

use std::sync::Arc;
use std::time::Duration;

use crate::broker::Broker;
use crate::flusher::sync_partition;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Flushes logs whose flush policy is due. Kafka's default policy leaves flushing to the OS except
/// at segment roll, which `flush_target` covers because rolled segments stay unflushed until here.
pub async fn flush_loop(broker: Arc<Broker>) {
    let period = Duration::from_millis(broker.config.log_flush_scheduler_interval_ms.min(1000));
    // Segment counts seen at the last check: growth means a roll, and Kafka flushes at roll.
    let mut segments_seen: std::collections::HashMap<(uuid::Uuid, i32), usize> = Default::default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = broker.shutdown.cancelled() => return,
        }
        let now = now_ms();
        let mut live = std::collections::HashSet::with_capacity(segments_seen.len());
        for topic in broker.topics.list() {
            for p in &topic.partitions {
                live.insert((topic.id, p.index));
                let seen = segments_seen.entry((topic.id, p.index));
                let due = p.with_log(|log| {
                    let c = log.config();
                    let state = LogFlushState {
                        segments: log.segment_count(),
                        unflushed_messages: log.unflushed_messages(),
                        last_flush_ms: log.last_flush_ms(),
                    };
                    flush_due(seen, &state, c.flush_messages, c.flush_ms, now)
                });
                if due {
                    let _ = sync_partition(p.clone()).await;
                }
            }
        }
        // Forget deleted partitions, so a broker that creates and deletes topics all day does
        // not keep an entry for each one.
        segments_seen.retain(|key, _| live.contains(key));
    }
}

/// What the flush policy looks at in one partition's log.
struct LogFlushState {
    segments: usize,
    unflushed_messages: i64,
    last_flush_ms: i64,
}

/// Whether a partition's log is due a flush, updating the segment count last seen for it.
///
/// A partition seen for the first time counts its first segment as seen: only a segment added
/// after that is a roll. (Counting from zero made every new partition "rolled" at its first
/// check, so the default policy, which leaves flushing to the OS, fsynced each new partition's
/// data a second after it was created.)
fn flush_due(
    seen: std::collections::hash_map::Entry<'_, (uuid::Uuid, i32), usize>,
    log: &LogFlushState,
    flush_messages: i64,
    flush_ms: i64,
    now_ms: i64,
) -> bool {
    let seen = seen.or_insert(1);
    let rolled = log.segments > *seen;
    *seen = log.segments;
    log.unflushed_messages > 0
        && (rolled
            || log.unflushed_messages >= flush_messages
            || now_ms.saturating_sub(log.last_flush_ms) >= flush_ms)
}

/// Deletes segments past retention and cleans compacted logs.
pub async fn maintenance_loop(broker: Arc<Broker>) {
    let retention_every =
        Duration::from_millis(broker.config.log_retention_check_interval_ms.max(100));
    let cleaner_every = Duration::from_millis(broker.config.log_cleaner_backoff_ms.max(100));
    let mut last_retention = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(cleaner_every.min(retention_every)) => {}
            _ = broker.shutdown.cancelled() => return,
        }
        let run_retention = last_retention.elapsed() >= retention_every;
        if run_retention {
            last_retention = tokio::time::Instant::now();
        }
        for topic in broker.topics.list() {
            for p in &topic.partitions {
                let now = now_ms();
                if run_retention {
                    if let Err(e) = p.with_log(|log| log.apply_retention(now)) {
                        tracing::warn!(topic = %topic.name, partition = p.index, error = %e, "retention failed");
                    }
                }
                if broker.config.log_cleaner_enable {
                    compact_partition(p.clone(), now).await;
                }
            }
        }
    }
}

/// Compacts one partition if it is due: plan under the lock, rewrite without it, swap under it.
pub async fn compact_partition(p: Arc<crate::partition::Partition>, now: i64) {
    let Some(plan) = p.with_log(|log| log.compaction_plan(now)) else {
        return;
    };
    match tokio::task::spawn_blocking(move || plan.execute()).await {
        Ok(Ok(done)) => {
            if let Err(e) = p.with_log(|log| log.finish_compaction(done)) {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "compaction swap failed");
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "compaction failed")
        }
        Err(e) => tracing::warn!(error = %e, "compaction task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const NEVER: i64 = i64::MAX;

    /// One check of partition 0's log: (segments, unflushed messages), policy (flush.messages,
    /// flush.ms), and the time now, with the last flush at time 0.
    fn due(
        seen: &mut HashMap<(uuid::Uuid, i32), usize>,
        (segments, unflushed_messages): (usize, i64),
        (flush_messages, flush_ms): (i64, i64),
        now_ms: i64,
    ) -> bool {
        let log = LogFlushState {
            segments,
            unflushed_messages,
            last_flush_ms: 0,
        };
        let entry = seen.entry((uuid::Uuid::nil(), 0));
        flush_due(entry, &log, flush_messages, flush_ms, now_ms)
    }

    #[test]
    fn a_new_partition_is_not_a_roll() {
        let mut seen = HashMap::new();
        assert!(!due(&mut seen, (1, 500), (NEVER, NEVER), 1_000), "new");
        assert!(!due(&mut seen, (1, 900), (NEVER, NEVER), 2_000), "no roll");
        assert!(due(&mut seen, (2, 1_000), (NEVER, NEVER), 3_000), "rolled");
        assert!(!due(&mut seen, (2, 1_100), (NEVER, NEVER), 4_000), "since");
    }

    #[test]
    fn a_partition_first_seen_after_a_roll_is_flushed() {
        assert!(due(&mut HashMap::new(), (2, 10), (NEVER, NEVER), 0));
    }

    #[test]
    fn flush_messages_and_flush_ms_still_apply() {
        let mut seen = HashMap::new();
        assert!(due(&mut seen, (1, 5), (5, NEVER), 0));
        assert!(!due(&mut seen, (1, 4), (5, NEVER), 0));
        assert!(due(&mut seen, (1, 1), (NEVER, 100), 100));
        assert!(!due(&mut seen, (1, 1), (NEVER, 100), 99));
        assert!(!due(&mut seen, (1, 0), (1, 0), 100), "nothing to flush");
    }
}
