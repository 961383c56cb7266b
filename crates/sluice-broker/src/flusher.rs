//! Group commit: one round of fsyncs covers every partition written since the last round.
//!
//! In durable mode a produce request is acknowledged only after its records are on disk. Rather
//! than one fsync per request, writers enqueue their partition and wait; the flusher takes every
//! partition queued so far, syncs them in parallel outside the log locks, records the new recovery
//! points, moves the high watermarks and wakes all waiters at once. Requests arriving during a
//! round join the next one, so the fsync rate adapts to the load.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::partition::Partition;

struct FlushRequest {
    partition: Arc<Partition>,
    done: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct Flusher {
    tx: mpsc::UnboundedSender<FlushRequest>,
}

impl Flusher {
    /// Starts the flusher task on the current runtime.
    pub fn start() -> Flusher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx));
        Flusher { tx }
    }

    /// Waits until everything appended to `partition` before this call is fsynced.
    pub async fn flush(&self, partition: Arc<Partition>) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(FlushRequest { partition, done })
            .map_err(|_| "flusher stopped".to_string())?;
        wait.await.map_err(|_| "flusher stopped".to_string())?
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<FlushRequest>) {
    while let Some(first) = rx.recv().await {
        let mut round = vec![first];
        while let Ok(more) = rx.try_recv() {
            round.push(more);
        }
        let mut by_partition: HashMap<usize, (Arc<Partition>, Vec<oneshot::Sender<_>>)> =
            HashMap::new();
        for req in round {
            by_partition
                .entry(Arc::as_ptr(&req.partition) as usize)
                .or_insert_with(|| (req.partition.clone(), Vec::new()))
                .1
                .push(req.done);
        }
        let syncs = by_partition
            .into_values()
            .map(|(partition, waiters)| async move {
                let result = sync_partition(partition).await;
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            });
        futures::future::join_all(syncs).await;
    }
}

/// Fsyncs one partition's unflushed data and publishes the new durable offset.
pub async fn sync_partition(partition: Arc<Partition>) -> Result<(), String> {
    let target = partition.with_log(|log| log.flush_target());
    if target.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let target = tokio::task::spawn_blocking(move || target.sync().map(|_| target))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| {
            tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "fsync failed");
            e.to_string()
        })?;
    partition.stats.fsync.observe(started.elapsed());
    partition.with_log(|log| log.mark_flushed(&target));
    partition.advance_high_watermark(target.up_to_offset());
    Ok(())
}
