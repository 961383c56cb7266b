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
        for topic in broker.topics.list() {
            for p in &topic.partitions {
                let seen = segments_seen.entry((topic.id, p.index)).or_insert(0);
                let due = p.with_log(|log| {
                    let c = log.config();
                    let unflushed = log.unflushed_messages();
                    let rolled = log.segment_count() > *seen;
                    *seen = log.segment_count();
                    unflushed > 0
                        && (rolled
                            || unflushed >= c.flush_messages
                            || now.saturating_sub(log.last_flush_ms()) >= c.flush_ms)
                });
                if due {
                    let _ = sync_partition(p.clone()).await;
                }
            }
        }
    }
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
