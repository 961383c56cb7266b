//! Fetch: serve stored batches to consumers, long-polling until `min_bytes` are available or
//! `max_wait_ms` passes, with sessionless and incremental-session (KIP-227) requests.
//!
//! Record data is not read here: a partition's answer is a file range of its segment, which the
//! connection writer sends with `sendfile(2)` (see [`crate::fetch_encode`]). Only small ranges,
//! cheaper to copy than to send separately, are read into the response.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId, TopicName};
use uuid::Uuid;

use super::str_bytes;
use crate::broker::Broker;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{code, Code, KafkaCode};
use crate::fetch_encode::{FetchReply, READ_BUDGET, READ_RECORDS_UP_TO};
use crate::fetch_session::{SessionError, SessionKey};

/// One partition a fetch asks about.
#[derive(Clone)]
struct Wanted {
    key: SessionKey,
    fetch_offset: i64,
    max_bytes: i32,
}

/// What the log answered for one partition.
struct Served {
    key: SessionKey,
    error: i16,
    high_watermark: i64,
    last_stable: i64,
    log_start: i64,
    /// Small record sets, read; `file` holds the larger ones.
    records: Bytes,
    file: Option<sluice_log::FileSlice>,
    /// For read_committed: aborted transactions overlapping what is served.
    aborted: Option<Vec<sluice_log::AbortedTxn>>,
}

/// Sessionless (`None`) or a session with its id.
#[derive(Clone, Copy)]
enum Mode {
    Sessionless,
    Full(i32),
    Incremental(i32),
}

impl Served {
    fn bytes(&self) -> usize {
        self.records.len() + self.file.as_ref().map_or(0, |f| f.len)
    }
}

pub async fn handle(ctx: &Ctx, req: FetchRequest) -> Outcome<FetchReply> {
    let v = ctx.api_version;
    let broker = ctx.broker.clone();
    let by_id = v >= 13;
    let key_of = |name: &TopicName, id: Uuid, partition: i32| {
        if by_id {
            let topic = broker
                .topics
                .get_by_id(id)
                .map(|t| t.name.to_string())
                .unwrap_or_default();
            SessionKey {
                topic,
                topic_id: id,
                partition,
            }
        } else {
            SessionKey {
                topic: name.0.to_string(),
                topic_id: Uuid::nil(),
                partition,
            }
        }
    };
    let requested: Vec<Wanted> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| Wanted {
                key: key_of(&t.topic, t.topic_id, p.partition),
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
            })
        })
        .collect();

    let sessions = &broker.fetch_sessions;
    let (mode, wanted) = match (req.session_id, req.session_epoch) {
        (0, -1) => (Mode::Sessionless, requested),
        (id, -1) => {
            sessions.remove(id);
            (Mode::Sessionless, requested)
        }
        (id, 0) => {
            if id != 0 {
                sessions.remove(id);
            }
            let entries = requested
                .iter()
                .map(|w| (w.key.clone(), w.fetch_offset, w.max_bytes))
                .collect();
            match sessions.create(entries) {
                Some(new_id) => (Mode::Full(new_id), requested),
                None => (Mode::Sessionless, requested),
            }
        }
        (id, epoch) => {
            let forgotten: Vec<(String, Uuid, i32)> = req
                .forgotten_topics_data
                .iter()
                .flat_map(|f| {
                    f.partitions
                        .iter()
                        .map(move |p| (f.topic.0.to_string(), f.topic_id, *p))
                })
                .collect();
            let result = sessions.with_session(id, epoch, |s| {
                for w in &requested {
                    s.upsert(w.key.clone(), w.fetch_offset, w.max_bytes);
                }
                s.forget(|k| {
                    forgotten.iter().any(|(name, tid, p)| {
                        k.partition == *p
                            && if by_id {
                                k.topic_id == *tid
                            } else {
                                k.topic == *name
                            }
                    })
                });
                s.partitions
                    .iter()
                    .map(|(k, p)| Wanted {
                        key: k.clone(),
                        fetch_offset: p.fetch_offset,
                        max_bytes: p.max_bytes,
                    })
                    .collect::<Vec<_>>()
            });
            match result {
                Ok(all) => (Mode::Incremental(id), all),
                Err(e) => {
                    let mut resp = FetchResponse::default();
                    resp.error_code = match e {
                        SessionError::NotFound => code(Code::FetchSessionIdNotFound),
                        SessionError::InvalidEpoch => code(Code::InvalidFetchSessionEpoch),
                    };
                    return Outcome::Now(FetchReply {
                        resp,
                        files: Vec::new(),
                    });
                }
            }
        }
    };

    // isolation_level 1 (read_committed): serve only below the last stable offset.
    let read_committed = req.isolation_level == 1;
    let max_bytes = if req.max_bytes <= 0 {
        i32::MAX
    } else {
        req.max_bytes
    } as usize;
    // Subscribe before the first read so data landing in between still wakes the long poll.
    let mut receivers: Vec<_> = if req.max_wait_ms > 0 {
        wanted
            .iter()
            .filter_map(|w| {
                lookup(&broker, &w.key, by_id)
                    .ok()
                    .map(|p| p.watch_high_watermark())
            })
            .collect()
    } else {
        Vec::new()
    };
    let served = gather(&broker, &wanted, max_bytes, by_id, read_committed);
    let ready = |s: &[Served]| {
        let bytes: usize = s.iter().map(Served::bytes).sum();
        bytes >= req.min_bytes.max(0) as usize || s.iter().any(|p| p.error != 0)
    };
    if req.max_wait_ms <= 0 || ready(&served) {
        return Outcome::Now(build(&broker, v, mode, served));
    }
    drop(served);

    let wait = Duration::from_millis(req.max_wait_ms as u64);
    let min_bytes = req.min_bytes.max(0) as usize;
    Outcome::Later(
        async move {
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                if receivers.is_empty() {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => {}
                        _ = broker.shutdown.cancelled() => {}
                    }
                    break;
                }
                let changed =
                    futures::future::select_all(receivers.iter_mut().map(|r| r.changed().boxed()));
                tokio::select! {
                    _ = changed => {}
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = broker.shutdown.cancelled() => break,
                }
                let served = gather(&broker, &wanted, max_bytes, by_id, read_committed);
                let bytes: usize = served.iter().map(Served::bytes).sum();
                if bytes >= min_bytes || served.iter().any(|p| p.error != 0) {
                    return build(&broker, v, mode, served);
                }
            }
            build(
                &broker,
                v,
                mode,
                gather(&broker, &wanted, max_bytes, by_id, read_committed),
            )
        }
        .boxed(),
    )
}

fn lookup(
    broker: &Broker,
    key: &SessionKey,
    by_id: bool,
) -> Result<Arc<crate::partition::Partition>, Code> {
    let topic = if by_id {
        broker
            .topics
            .get_by_id(key.topic_id)
            .ok_or(Code::UnknownTopicId)?
    } else {
        broker
            .topics
            .get(&key.topic)
            .ok_or(Code::UnknownTopicOrPartition)?
    };
    topic
        .partition(key.partition)
        .cloned()
        .ok_or(Code::UnknownTopicOrPartition)
}

/// Reads what each partition can serve now, within the response's byte budget.
fn gather(
    broker: &Broker,
    wanted: &[Wanted],
    max_bytes: usize,
    by_id: bool,
    read_committed: bool,
) -> Vec<Served> {
    let mut remaining = max_bytes;
    let mut read_budget = READ_BUDGET;
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let mut s = Served {
            key: w.key.clone(),
            error: 0,
            high_watermark: -1,
            last_stable: -1,
            log_start: -1,
            records: Bytes::new(),
            file: None,
            aborted: None,
        };
        let partition = match lookup(broker, &w.key, by_id) {
            Ok(p) => p,
            Err(c) => {
                s.error = c.code();
                out.push(s);
                continue;
            }
        };
        let hw = partition.high_watermark();
        s.high_watermark = hw;
        let limit = (w.max_bytes.max(0) as usize).min(remaining);
        let read = partition.with_log(|log| {
            s.log_start = log.log_start_offset();
            s.last_stable = log.last_stable_offset(hw);
            let upper = if read_committed { s.last_stable } else { hw };
            if read_committed {
                s.aborted = Some(Vec::new());
            }
            if limit == 0 && remaining < max_bytes {
                return Ok(None);
            }
            let slice = log.read(w.fetch_offset, limit.max(1), upper)?;
            if let (true, Some(sl)) = (read_committed, &slice) {
                // Only the aborts the served data overlaps, as Kafka bounds them.
                let end = log.slice_end_offset(sl).min(upper);
                s.aborted = Some(log.aborted_transactions(w.fetch_offset, end));
            }
            Ok::<_, sluice_log::ReadError>(slice)
        });
        match read {
            Ok(Some(slice)) => {
                // Past the first partition with data, a batch that overflows the budget waits
                // for the next fetch rather than growing the response (Kafka's rule).
                if remaining < max_bytes && slice.len > remaining {
                    out.push(s);
                    continue;
                }
                if slice.len > READ_RECORDS_UP_TO || slice.len > read_budget {
                    remaining = remaining.saturating_sub(slice.len);
                    s.file = Some(slice);
                } else {
                    match slice.read_bytes() {
                        Ok(bytes) => {
                            remaining = remaining.saturating_sub(bytes.len());
                            read_budget = read_budget.saturating_sub(bytes.len());
                            s.records = bytes;
                        }
                        Err(e) => s.error = e.code(),
                    }
                }
                partition
                    .stats
                    .fetched(&s.records, s.file.as_ref(), w.fetch_offset);
            }
            Ok(None) => {}
            Err(e) => {
                // Kafka reports no watermarks alongside a failed read.
                s.error = e.code();
                s.high_watermark = -1;
                s.last_stable = -1;
                s.log_start = -1;
                s.aborted = None;
            }
        }
        out.push(s);
    }
    out
}

fn build(broker: &Broker, v: i16, mode: Mode, served: Vec<Served>) -> FetchReply {
    let mut resp = FetchResponse::default();
    let session_id = match mode {
        Mode::Sessionless => 0,
        Mode::Full(id) | Mode::Incremental(id) => id,
    };
    if v >= 7 {
        resp.session_id = session_id;
    }
    let incremental = matches!(mode, Mode::Incremental(_));
    let mut included: Vec<Served> = Vec::with_capacity(served.len());
    if session_id != 0 {
        broker.fetch_sessions.update(session_id, |session| {
            for s in served {
                let Some((_, sp)) = session.partitions.iter_mut().find(|(k, _)| *k == s.key) else {
                    continue;
                };
                let news = s.bytes() > 0
                    || s.error != 0
                    || sp.last_high_watermark != s.high_watermark
                    || sp.last_log_start != s.log_start;
                sp.last_high_watermark = s.high_watermark;
                sp.last_log_start = s.log_start;
                if news || !incremental {
                    included.push(s);
                }
            }
        });
    } else {
        included = served;
    }

    let mut files = Vec::with_capacity(included.len());
    for s in included {
        let same_topic = |t: &FetchableTopicResponse| {
            if v >= 13 {
                t.topic_id == s.key.topic_id
            } else {
                t.topic.0.as_str() == s.key.topic
            }
        };
        if !resp.responses.last().is_some_and(same_topic) {
            let mut t = FetchableTopicResponse::default();
            if v >= 13 {
                t.topic_id = s.key.topic_id;
            } else {
                t.topic = TopicName(str_bytes(s.key.topic.clone()));
            }
            resp.responses.push(t);
        }
        let mut p = PartitionData::default();
        p.partition_index = s.key.partition;
        p.error_code = s.error;
        p.high_watermark = s.high_watermark;
        p.last_stable_offset = s.last_stable;
        if v >= 5 {
            p.log_start_offset = s.log_start;
        }
        // Null for read_uncommitted, as Kafka sends; the overlapping aborts for read_committed.
        p.aborted_transactions = s.aborted.map(|list| {
            list.into_iter()
                .map(|t| {
                    let mut a = AbortedTransaction::default();
                    a.producer_id = ProducerId(t.producer_id);
                    a.first_offset = t.first_offset;
                    a
                })
                .collect()
        });
        if s.file.is_none() {
            p.records = Some(s.records);
        }
        files.push(s.file);
        if let Some(last) = resp.responses.last_mut() {
            last.partitions.push(p);
        }
    }
    FetchReply { resp, files }
}
