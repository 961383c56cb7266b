//! Group commit: one fsync covers every write to a partition that arrived while it waited.
//!
//! In durable mode a produce request is acknowledged only after its records are on disk. Rather
//! than one fsync per request, writers enqueue their partition and wait. Each partition has its
//! own pipeline: when nothing is being synced for it, a sync starts at once; requests arriving
//! while it runs wait for the next one, which starts the moment the current one ends and covers
//! all of them. Partitions never wait for each other (no round barrier, like independent
//! `fio --fdatasync=1` jobs), so a slow fsync on one partition does not hold back the others, and
//! the fsync rate adapts to the load.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::partition::Partition;

type Waiter = oneshot::Sender<Result<(), String>>;

struct FlushRequest {
    partition: Arc<Partition>,
    done: Waiter,
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
    ///
    /// The request is queued now, not when the future is first polled: a connection answers
    /// in request order and polls a deferred answer only once the ones before it are sent, so
    /// a lazy request would serialize the syncs of a producer's pipelined requests.
    pub fn flush(
        &self,
        partition: Arc<Partition>,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        let (done, wait) = oneshot::channel();
        let queued = self.tx.send(FlushRequest { partition, done });
        async move {
            queued.map_err(|_| "flusher stopped".to_string())?;
            wait.await.map_err(|_| "flusher stopped".to_string())?
        }
    }
}

/// One partition's pipeline: it exists while a sync of the partition is in flight, and holds
/// the waiters for the next one.
struct Pipeline {
    partition: Arc<Partition>,
    next: Vec<Waiter>,
}

/// Identity of a partition (its `Arc`'s address; the pipeline holds the `Arc`).
type PartitionKey = usize;

async fn run(mut rx: mpsc::UnboundedReceiver<FlushRequest>) {
    let mut pipelines: HashMap<PartitionKey, Pipeline> = HashMap::new();
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            req = rx.recv() => {
                let Some(first) = req else { break };
                // Everything already queued joins before any sync starts, so one burst of
                // requests for a partition shares one sync.
                let mut arrived = vec![first];
                while let Ok(more) = rx.try_recv() {
                    arrived.push(more);
                }
                // Partitions with no pipeline yet: they start a sync once the burst is in.
                let mut idle = Vec::new();
                for req in arrived {
                    let key = Arc::as_ptr(&req.partition) as PartitionKey;
                    let p = pipelines.entry(key).or_insert_with(|| {
                        idle.push(key);
                        Pipeline {
                            partition: req.partition,
                            next: Vec::new(),
                        }
                    });
                    p.next.push(req.done);
                }
                for key in idle {
                    let p = pipelines.get_mut(&key).expect("inserted above");
                    let waiters = std::mem::take(&mut p.next);
                    in_flight.push(sync_and_wake(key, p.partition.clone(), waiters));
                }
            }
            Some(key) = in_flight.next(), if !in_flight.is_empty() => {
                let Some(p) = pipelines.get_mut(&key) else { continue };
                if p.next.is_empty() {
                    pipelines.remove(&key);
                } else {
                    let waiters = std::mem::take(&mut p.next);
                    in_flight.push(sync_and_wake(key, p.partition.clone(), waiters));
                }
            }
        }
    }
    // The channel closed: finish what started; queued waiters see "flusher stopped".
    while in_flight.next().await.is_some() {}
}

/// One sync of `partition`, then every waiter it covers is told the outcome.
async fn sync_and_wake(
    key: PartitionKey,
    partition: Arc<Partition>,
    waiters: Vec<Waiter>,
) -> PartitionKey {
    let result = sync_partition(partition).await;
    for w in waiters {
        let _ = w.send(result.clone());
    }
    key
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
