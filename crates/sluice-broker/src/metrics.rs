//! The broker's metrics: what operators graph and alert on.
//!
//! Two kinds, kept apart so the request path stays cheap:
//! - *events* (requests, errors, latencies, bytes and records in/out, fsyncs, connections) are
//!   counted on the hot path with relaxed atomics in structures created up front: one
//!   [`ApiStats`] per implemented API, one [`PartitionStats`] inside every partition. No map is
//!   looked up and no lock is taken to record one;
//! - *state* (log sizes, offsets, consumer lag, open transactions, process CPU and memory) is read
//!   from the broker when Prometheus scrapes, so nothing keeps it up to date in between.
//!
//! [`render`] writes both in the OpenMetrics text format with `prometheus-client`'s encoder; the
//! HTTP crate serves it at `/metrics`. [`group_lags`] is shared with the admin API so the lag it
//! shows is the lag Prometheus sees.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::background::now_ms;
use crate::broker::Broker;
use crate::partition::Partition;

/// Request latency buckets (seconds): 100 µs to 30 s, long polls and fsync waits included.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Queue-time and fsync buckets (seconds): 10 µs to 10 s.
pub const SHORT_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 10.0,
];

/// Batch headers read to count the records of one sendfile range (see [`PartitionStats::fetched`]).
const MAX_HEADER_READS: usize = 32;

/// Kafka error codes are small (-1 ..= ~130); one slot each, the last for anything beyond.
const ERROR_SLOTS: usize = 160;

/// A histogram made of atomics: observing is a few relaxed adds, never a lock.
pub struct AtomicHistogram {
    bounds: &'static [f64],
    /// Non-cumulative counts; one more than `bounds` for +Inf.
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    pub fn new(bounds: &'static [f64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Adds this histogram into `acc` (same bounds): per-bucket counts and the sum in seconds.
    fn add_to(&self, acc: &mut HistogramSnapshot) {
        if acc.counts.len() != self.counts.len() {
            acc.counts = vec![0; self.counts.len()];
        }
        for (a, c) in acc.counts.iter_mut().zip(self.counts.iter()) {
            *a += c.load(Relaxed);
        }
        acc.sum += self.sum_nanos.load(Relaxed) as f64 / 1e9;
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut s = HistogramSnapshot::new(self.bounds);
        self.add_to(&mut s);
        s
    }
}

/// A histogram's values at one instant, ready to encode.
struct HistogramSnapshot {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
}

impl HistogramSnapshot {
    fn new(bounds: &'static [f64]) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    fn encode(&self, mut m: prometheus_client::encoding::MetricEncoder) -> fmt::Result {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(self.counts.iter().copied())
            .collect();
        let count = self.counts.iter().sum();
        m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.sum, count, &buckets, None,
        )
    }
}

/// Everything counted for one Kafka API.
pub struct ApiStats {
    pub requests: AtomicU64,
    /// From the request's last byte read to its response being ready (long polls included).
    pub latency: AtomicHistogram,
    /// From the request's last byte read to its handler starting.
    pub queue: AtomicHistogram,
    /// Error codes found in responses (per partition, topic or request, as the API reports them).
    errors: Box<[AtomicU64]>,
}

impl ApiStats {
    fn new() -> ApiStats {
        ApiStats {
            requests: AtomicU64::new(0),
            latency: AtomicHistogram::new(LATENCY_BUCKETS),
            queue: AtomicHistogram::new(SHORT_BUCKETS),
            errors: (0..ERROR_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn count_error(&self, code: i16) {
        if code != 0 {
            let slot = ((code as i32 + 1).max(0) as usize).min(ERROR_SLOTS - 1);
            self.errors[slot].fetch_add(1, Relaxed);
        }
    }

    fn errors(&self) -> impl Iterator<Item = (i16, u64)> + '_ {
        self.errors
            .iter()
            .enumerate()
            .map(|(slot, c)| (slot as i16 - 1, c.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
    }
}

/// Traffic of one partition, kept inside [`Partition`] so recording needs no lookup.
pub struct PartitionStats {
    pub bytes_in: AtomicU64,
    pub records_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub records_out: AtomicU64,
    pub fsync: AtomicHistogram,
}

impl Default for PartitionStats {
    fn default() -> PartitionStats {
        PartitionStats {
            bytes_in: AtomicU64::new(0),
            records_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            fsync: AtomicHistogram::new(SHORT_BUCKETS),
        }
    }
}

impl PartitionStats {
    /// A client's batches were appended: `bytes` on the wire, offsets `base..=last`.
    pub fn appended(&self, bytes: usize, base_offset: i64, last_offset: i64) {
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
        self.records_in
            .fetch_add((last_offset - base_offset + 1).max(0) as u64, Relaxed);
    }

    /// Record data served to a fetch at `fetch_offset`: bytes already read, or a file range the
    /// connection will send as is. Counts the records at or past the fetch offset from the batch
    /// headers (never the records); control batches are not records.
    pub fn fetched(&self, inline: &[u8], file: Option<&sluice_log::FileSlice>, fetch_offset: i64) {
        let mut records = 0u64;
        let count = |h: &sluice_log::BatchHeader| -> u64 {
            if h.is_control() {
                return 0;
            }
            let last = h.base_offset + h.last_offset_delta as i64;
            let from = h.base_offset.max(fetch_offset);
            let span = (last - from + 1).max(0) as u64;
            span.min(h.records_count.max(0) as u64)
        };
        let mut bytes = inline.len();
        let mut rest = inline;
        while let Ok(h) = sluice_log::BatchHeader::parse(rest) {
            records += count(&h);
            rest = rest.get(h.total_size()..).unwrap_or_default();
        }
        if let Some(f) = file {
            use std::os::unix::fs::FileExt;
            bytes += f.len;
            // A range the connection sends with sendfile was never read: read its batch headers,
            // but at most MAX_HEADER_READS of them, so a fetch of many small batches does not
            // pay a read per batch; the rest is estimated at the records per byte seen so far.
            let mut head = [0u8; sluice_log::RECORD_BATCH_OVERHEAD];
            let (mut at, mut reads, before) = (0usize, 0usize, records);
            while at + head.len() <= f.len && reads < MAX_HEADER_READS {
                if f.file
                    .read_exact_at(&mut head, f.position + at as u64)
                    .is_err()
                {
                    break;
                }
                let Ok(h) = sluice_log::BatchHeader::parse(&head) else {
                    break;
                };
                records += count(&h);
                at += h.total_size();
                reads += 1;
            }
            if at < f.len && reads == MAX_HEADER_READS && at > 0 {
                let seen = records - before;
                records += (seen as u128 * (f.len - at) as u128 / at as u128) as u64;
            }
        }
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
        self.records_out.fetch_add(records, Relaxed);
    }
}

/// The broker-wide event counters.
pub struct BrokerMetrics {
    /// Indexed by API key; `None` for APIs Sluice does not implement.
    apis: Vec<Option<ApiStats>>,
    connections_open: AtomicI64,
    connections_accepted: AtomicU64,
    rebalances: AtomicU64,
}

impl Default for BrokerMetrics {
    fn default() -> BrokerMetrics {
        BrokerMetrics::new()
    }
}

/// Keeps a connection counted as open until dropped.
pub struct OpenConnection<'a>(&'a BrokerMetrics);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Relaxed);
    }
}

impl BrokerMetrics {
    pub fn new() -> BrokerMetrics {
        let max = crate::dispatch::SUPPORTED
            .iter()
            .map(|(k, _, _)| *k as i16)
            .max()
            .unwrap_or(0);
        let mut apis: Vec<Option<ApiStats>> = (0..=max).map(|_| None).collect();
        for (k, _, _) in crate::dispatch::SUPPORTED {
            apis[*k as i16 as usize] = Some(ApiStats::new());
        }
        BrokerMetrics {
            apis,
            connections_open: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
            rebalances: AtomicU64::new(0),
        }
    }

    pub fn api(&self, key: ApiKey) -> Option<&ApiStats> {
        self.apis.get(key as i16 as usize).and_then(Option::as_ref)
    }

    /// A connection was accepted; it counts as open until the guard drops.
    pub fn connection_opened(&self) -> OpenConnection<'_> {
        self.connections_accepted.fetch_add(1, Relaxed);
        self.connections_open.fetch_add(1, Relaxed);
        OpenConnection(self)
    }

    pub fn open_connections(&self) -> i64 {
        self.connections_open.load(Relaxed)
    }

    /// A consumer group completed a rebalance (a classic generation or a KIP-848 group epoch).
    pub fn rebalanced(&self, n: u64) {
        self.rebalances.fetch_add(n, Relaxed);
    }

    /// A request's handler is about to run.
    pub fn request_started(&self, key: ApiKey, received: Instant) {
        if let Some(a) = self.api(key) {
            a.queue.observe(received.elapsed());
        }
    }

    /// A request's response is ready (`body` is `None` for acks=0 produce).
    pub fn request_done(&self, key: ApiKey, received: Instant, body: Option<&dyn Any>) {
        if let Some(a) = self.api(key) {
            a.requests.fetch_add(1, Relaxed);
            a.latency.observe(received.elapsed());
            if let Some(body) = body {
                response_error_codes(body, &mut |c| a.count_error(c));
            }
        }
    }
}

/// Calls `f` with every error code in a response, the way Kafka's per-API error counts do: one
/// per partition, topic, group or request as the response carries them. Responses not listed
/// report only through their request count.
fn response_error_codes(body: &dyn Any, f: &mut dyn FnMut(i16)) {
    use kafka_protocol::messages::*;
    if let Some(r) = body.downcast_ref::<ProduceResponse>() {
        r.responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .for_each(|p| f(p.error_code));
    } else if let Some(r) = body
        .downcast_ref::<crate::fetch_encode::FetchReply>()
        .map(|f| &f.resp)
        .or_else(|| body.downcast_ref::<FetchResponse>())
    {
        f(r.error_code);
        r.responses
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code));
    } else if let Some(r) = body.downcast_ref::<ListOffsetsResponse>() {
        r.topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code));
    } else if let Some(r) = body.downcast_ref::<MetadataResponse>() {
        r.topics.iter().for_each(|t| f(t.error_code));
    } else if let Some(r) = body.downcast_ref::<OffsetCommitResponse>() {
        r.topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code));
    } else if let Some(r) = body.downcast_ref::<OffsetFetchResponse>() {
        f(r.error_code);
        r.topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code));
        r.groups.iter().for_each(|g| f(g.error_code));
    } else if let Some(r) = body.downcast_ref::<CreateTopicsResponse>() {
        r.topics.iter().for_each(|t| f(t.error_code));
    } else if let Some(r) = body.downcast_ref::<DeleteTopicsResponse>() {
        r.responses.iter().for_each(|t| f(t.error_code));
    } else if let Some(r) = body.downcast_ref::<CreatePartitionsResponse>() {
        r.results.iter().for_each(|t| f(t.error_code));
    } else if let Some(r) = body.downcast_ref::<IncrementalAlterConfigsResponse>() {
        r.responses.iter().for_each(|t| f(t.error_code));
    } else if let Some(r) = body.downcast_ref::<JoinGroupResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<SyncGroupResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<HeartbeatResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<LeaveGroupResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<FindCoordinatorResponse>() {
        f(r.error_code);
        r.coordinators.iter().for_each(|c| f(c.error_code));
    } else if let Some(r) = body.downcast_ref::<InitProducerIdResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<EndTxnResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<AddOffsetsToTxnResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<ConsumerGroupHeartbeatResponse>() {
        f(r.error_code);
    } else if let Some(r) = body.downcast_ref::<DeleteGroupsResponse>() {
        r.results.iter().for_each(|g| f(g.error_code));
    } else if let Some(r) = body.downcast_ref::<DescribeGroupsResponse>() {
        r.groups.iter().for_each(|g| f(g.error_code));
    } else if let Some(r) = body.downcast_ref::<ApiVersionsResponse>() {
        f(r.error_code);
    }
}

// ---------------------------------------------------------------------------------------------
// State read at scrape time.

/// One committed offset of a group compared with its partition.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LagRow {
    pub group_id: String,
    pub topic: String,
    pub partition: i32,
    pub committed_offset: i64,
    /// The high watermark (what a consumer can reach), as Kafka's tools report LOG-END-OFFSET.
    pub log_end_offset: i64,
    pub lag: i64,
    /// Age of the oldest unconsumed record (now minus its timestamp); 0 when caught up.
    pub lag_seconds: f64,
}

/// The lag of every committed offset of every group (or of `only` one group), sorted.
pub fn group_lags(broker: &Broker, only: Option<&str>) -> Vec<LagRow> {
    let now = now_ms();
    let mut rows = Vec::new();
    for (group_id, offsets) in broker.groups.committed_offsets(only) {
        for ((topic, partition), committed) in offsets {
            let Some(p) = broker
                .topics
                .get(&topic)
                .and_then(|t| t.partition(partition).cloned())
            else {
                continue;
            };
            let hw = p.high_watermark();
            let lag = (hw - committed).max(0);
            let lag_seconds = if lag == 0 {
                0.0
            } else {
                oldest_unconsumed_timestamp(&p, committed, hw)
                    .map(|ts| ((now - ts).max(0) as f64) / 1000.0)
                    .unwrap_or(0.0)
            };
            rows.push(LagRow {
                group_id: group_id.clone(),
                topic,
                partition,
                committed_offset: committed,
                log_end_offset: hw,
                lag,
                lag_seconds,
            });
        }
    }
    rows
}

/// Timestamp of the record at `offset` (or the first one after it still in the log): the
/// batch's first timestamp, refined to the record's own for uncompressed batches.
fn oldest_unconsumed_timestamp(p: &Partition, offset: i64, hw: i64) -> Option<i64> {
    let slice = p
        .with_log(|log| {
            let at = offset.max(log.log_start_offset());
            log.read(at, 1, hw).map(|s| s.map(|s| (s, at)))
        })
        .ok()??;
    let (slice, at) = slice;
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; sluice_log::RECORD_BATCH_OVERHEAD];
    if slice.len < head.len() {
        return None;
    }
    slice.file.read_exact_at(&mut head, slice.position).ok()?;
    let h = sluice_log::BatchHeader::parse(&head).ok()?;
    if h.is_log_append_time() {
        return Some(h.max_timestamp);
    }
    if at <= h.base_offset || h.compression() != 0 || h.total_size() > slice.len.max(head.len()) {
        return Some(h.base_timestamp);
    }
    let mut batch = vec![0u8; h.total_size()];
    slice.file.read_exact_at(&mut batch, slice.position).ok()?;
    record_timestamp(
        &batch[sluice_log::RECORD_BATCH_OVERHEAD..],
        at - h.base_offset,
    )
    .map(|delta| h.base_timestamp + delta)
    .or(Some(h.base_timestamp))
}

/// Walks uncompressed v2 records to the one with `offset_delta`, returning its timestamp delta.
fn record_timestamp(mut records: &[u8], offset_delta: i64) -> Option<i64> {
    fn varint(b: &mut &[u8]) -> Option<i64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            value |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Some(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        None
    }
    loop {
        let len = varint(&mut records)?;
        if len < 0 || len as usize > records.len() {
            return None;
        }
        let (mut record, rest) = records.split_at(len as usize);
        records = rest;
        record = record.get(1..)?; // attributes
        let ts_delta = varint(&mut record)?;
        let od = varint(&mut record)?;
        if od >= offset_delta {
            return Some(ts_delta);
        }
    }
}

/// Kafka's name for an error code, as its documentation spells it (`INVALID_CONFIG`).
pub fn kafka_error_name(code: i16) -> String {
    let Some(e) = kafka_protocol::ResponseError::try_from_code(code) else {
        return "NONE".into();
    };
    let camel = e.to_string();
    if camel.starts_with("Unknown error code") {
        return camel;
    }
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Free (to unprivileged users) and total bytes of the file system holding `dir`.
pub fn filesystem_space(dir: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `path` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    Some((st.f_bavail as u64 * unit, st.f_blocks as u64 * unit))
}

/// CPU seconds (user + system) and resident bytes of this process, from /proc/self.
pub fn process_usage() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let rss_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        (utime + stime) / ticks.max(1) as f64,
        rss_pages * page.max(1) as u64,
    ))
}

/// Totals the admin API's `/v1/stats` reports (the console differentiates them).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Totals {
    pub bytes_in_total: u64,
    pub bytes_out_total: u64,
    pub records_in_total: u64,
    pub records_out_total: u64,
    pub disk_bytes: u64,
    pub topics: usize,
    pub partitions: usize,
}

/// Sums of the partition counters (counters of deleted topics go with them).
pub fn totals(broker: &Broker) -> Totals {
    let mut t = Totals::default();
    for topic in broker.topics.list() {
        t.topics += 1;
        for p in &topic.partitions {
            t.partitions += 1;
            t.bytes_in_total += p.stats.bytes_in.load(Relaxed);
            t.bytes_out_total += p.stats.bytes_out.load(Relaxed);
            t.records_in_total += p.stats.records_in.load(Relaxed);
            t.records_out_total += p.stats.records_out.load(Relaxed);
            t.disk_bytes += p.with_log(|log| log.size_bytes());
        }
    }
    t
}

/// The whole exposition in OpenMetrics text. Reads partition state and files: call it from a
/// blocking thread.
pub fn render(broker: Arc<Broker>) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("sluice");
    registry.register_collector(Box::new(Scrape { broker }));
    let mut out = String::with_capacity(64 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

struct Scrape {
    broker: Arc<Broker>,
}

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrape")
    }
}

type Labels = Vec<(&'static str, String)>;

/// A family's name, help and samples.
type Family<'a, V> = (&'a str, &'a str, &'a [(Labels, V)]);

/// Writes one metric family: a descriptor and one sample per label set.
fn family<V: Copy>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    kind: MetricType,
    samples: &[(Labels, V)],
    sample: impl Fn(V, prometheus_client::encoding::MetricEncoder) -> fmt::Result,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, unit.as_ref(), kind)?;
    for (labels, v) in samples {
        sample(*v, m.encode_family(labels)?)?;
    }
    Ok(())
}

fn counters<V: Copy + EncodeCounterValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    samples: &[(Labels, V)],
) -> fmt::Result {
    family(
        enc,
        name,
        help,
        unit,
        MetricType::Counter,
        samples,
        |v, e| ConstCounter::new(v).encode(e),
    )
}

fn gauges<V: Copy + EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    samples: &[(Labels, V)],
) -> fmt::Result {
    family(enc, name, help, unit, MetricType::Gauge, samples, |v, e| {
        ConstGauge::new(v).encode(e)
    })
}

fn tp(topic: &str, partition: i32) -> Labels {
    vec![
        ("topic", topic.to_string()),
        ("partition", partition.to_string()),
    ]
}

impl prometheus_client::collector::Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let b = &*self.broker;
        let m = &b.metrics;

        // Requests per API.
        let mut requests: Vec<(Labels, u64)> = Vec::new();
        let mut errors: Vec<(Labels, u64)> = Vec::new();
        for (key, _, _) in crate::dispatch::SUPPORTED {
            let Some(a) = m.api(*key) else { continue };
            let api = format!("{key:?}");
            requests.push((vec![("api", api.clone())], a.requests.load(Relaxed)));
            for (code, n) in a.errors() {
                let name = kafka_error_name(code);
                errors.push((
                    vec![
                        ("api", api.clone()),
                        ("error_code", code.to_string()),
                        ("error", name),
                    ],
                    n,
                ));
            }
        }
        counters(
            &mut enc,
            "requests",
            "Requests answered, by API.",
            None,
            &requests,
        )?;
        counters(&mut enc, "request_errors",
            "Error codes in responses (per partition/topic/group as the API reports them), by API and Kafka error code.",
            None, &errors,
        )?;
        for (name, help, queue) in [
            (
                "request_latency",
                "Time from a request's last byte read to its response being ready, by API.",
                false,
            ),
            (
                "request_queue_time",
                "Time from a request's last byte read to its handler starting, by API.",
                true,
            ),
        ] {
            let mut fam =
                enc.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
            for (key, _, _) in crate::dispatch::SUPPORTED {
                let Some(a) = m.api(*key) else { continue };
                let h = if queue { &a.queue } else { &a.latency };
                // Unused APIs stay out of the exposition (Produce and Fetch always appear).
                if !matches!(key, ApiKey::Produce | ApiKey::Fetch) && h.count() == 0 {
                    continue;
                }
                let labels: Labels = vec![("api", format!("{key:?}"))];
                h.snapshot().encode(fam.encode_family(&labels)?)?;
            }
        }

        // Connections.
        gauges(
            &mut enc,
            "connections_open",
            "Open Kafka client connections.",
            None,
            &[(vec![], m.connections_open.load(Relaxed))],
        )?;
        counters(
            &mut enc,
            "connections_accepted",
            "Kafka client connections accepted.",
            None,
            &[(vec![], m.connections_accepted.load(Relaxed))],
        )?;

        // Partitions: traffic counters and log state.
        let topics = b.topics.list();
        let mut bytes_in = Vec::new();
        let mut bytes_out = Vec::new();
        let mut records_in = Vec::new();
        let mut records_out = Vec::new();
        let mut size = Vec::new();
        let mut segments = Vec::new();
        let mut log_start = Vec::new();
        let mut log_end = Vec::new();
        let mut hw = Vec::new();
        let mut lso = Vec::new();
        let mut lso_lag = Vec::new();
        let mut fsync = HistogramSnapshot::new(SHORT_BUCKETS);
        for t in &topics {
            for p in &t.partitions {
                let l = tp(&t.name, p.index);
                bytes_in.push((l.clone(), p.stats.bytes_in.load(Relaxed)));
                bytes_out.push((l.clone(), p.stats.bytes_out.load(Relaxed)));
                records_in.push((l.clone(), p.stats.records_in.load(Relaxed)));
                records_out.push((l.clone(), p.stats.records_out.load(Relaxed)));
                p.stats.fsync.add_to(&mut fsync);
                let high = p.high_watermark();
                let (sz, segs, start, end, stable) = p.with_log(|log| {
                    (
                        log.size_bytes(),
                        log.segment_count(),
                        log.log_start_offset(),
                        log.log_end_offset(),
                        log.last_stable_offset(high),
                    )
                });
                size.push((l.clone(), sz as i64));
                segments.push((l.clone(), segs as i64));
                log_start.push((l.clone(), start));
                log_end.push((l.clone(), end));
                hw.push((l.clone(), high));
                lso.push((l.clone(), stable));
                lso_lag.push((l, high - stable));
            }
        }
        let traffic: [Family<u64>; 4] = [
            ("bytes_in", "Record bytes produced by clients.", &bytes_in),
            ("bytes_out", "Record bytes served to fetches.", &bytes_out),
            ("records_in", "Records produced by clients.", &records_in),
            ("records_out", "Records served to fetches.", &records_out),
        ];
        for (name, help, samples) in traffic {
            counters(&mut enc, name, help, None, samples)?;
        }
        let state: [Family<i64>; 7] = [
            (
                "log_size_bytes",
                "Bytes in the partition's segment files.",
                &size,
            ),
            (
                "log_segments",
                "Segments in the partition's log.",
                &segments,
            ),
            (
                "log_start_offset",
                "First offset still in the log.",
                &log_start,
            ),
            ("log_end_offset", "Next offset to be assigned.", &log_end),
            (
                "high_watermark",
                "Offset below which records are visible to consumers.",
                &hw,
            ),
            (
                "last_stable_offset",
                "Offset below which read_committed consumers read.",
                &lso,
            ),
            (
                "lso_lag",
                "High watermark minus last stable offset (records held back by open transactions).",
                &lso_lag,
            ),
        ];
        for (name, help, samples) in state {
            gauges(&mut enc, name, help, None, samples)?;
        }
        fsync.encode(enc.encode_descriptor(
            "log_fsync",
            "Time of one partition fsync (group commit and scheduled flushes).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?)?;
        gauges(
            &mut enc,
            "under_replicated_partitions",
            "Partitions with fewer in-sync replicas than replicas (always 0 on a single node).",
            None,
            &[(vec![], 0i64)],
        )?;
        gauges(
            &mut enc,
            "topics",
            "Topics, internal ones included.",
            None,
            &[(vec![], topics.len() as i64)],
        )?;

        // Consumer groups.
        let lags = group_lags(b, None);
        let lag: Vec<(Labels, i64)> = lags
            .iter()
            .map(|r| {
                let mut l = vec![("group", r.group_id.clone())];
                l.extend(tp(&r.topic, r.partition));
                (l, r.lag)
            })
            .collect();
        let lag_secs: Vec<(Labels, f64)> = lags
            .iter()
            .map(|r| {
                let mut l = vec![("group", r.group_id.clone())];
                l.extend(tp(&r.topic, r.partition));
                (l, r.lag_seconds)
            })
            .collect();
        gauges(
            &mut enc,
            "consumer_group_lag",
            "High watermark minus the group's committed offset, in records.",
            None,
            &lag,
        )?;
        gauges(&mut enc, "consumer_group_lag",
            "Age of the oldest record the group has not consumed (now minus its timestamp); 0 when caught up.",
            Some(Unit::Seconds), &lag_secs,
        )?;
        gauges(
            &mut enc,
            "consumer_groups",
            "Consumer groups known to the coordinator.",
            None,
            &[(vec![], b.groups.list(&[], &[]).len() as i64)],
        )?;
        counters(
            &mut enc,
            "group_rebalances",
            "Completed consumer group rebalances (classic generations and KIP-848 epoch bumps).",
            None,
            &[(vec![], m.rebalances.load(Relaxed))],
        )?;

        // Transactions.
        let open = b
            .txns
            .list()
            .into_iter()
            .filter(|(_, t)| {
                use crate::txn::state::TxnState::*;
                matches!(t.state, Ongoing | PrepareCommit | PrepareAbort)
            })
            .count();
        gauges(
            &mut enc,
            "transactions_open",
            "Transactions begun and not yet completed.",
            None,
            &[(vec![], open as i64)],
        )?;

        // The data directory's file system (for "disk filling" alerts).
        if let Some((free, total)) = filesystem_space(b.data_dir()) {
            gauges(
                &mut enc,
                "data_dir_free_bytes",
                "Bytes available to the broker on the data directory's file system.",
                None,
                &[(vec![], free)],
            )?;
            gauges(
                &mut enc,
                "data_dir_total_bytes",
                "Size of the data directory's file system.",
                None,
                &[(vec![], total)],
            )?;
        }

        // The process.
        if let Some((cpu, rss)) = process_usage() {
            counters(
                &mut enc,
                "process_cpu",
                "User and system CPU time of the broker process.",
                Some(Unit::Seconds),
                &[(vec![], cpu)],
            )?;
            gauges(
                &mut enc,
                "process_resident_memory",
                "Resident memory of the broker process.",
                Some(Unit::Bytes),
                &[(vec![], rss as f64)],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_sum() {
        let h = AtomicHistogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(1));
        let s = h.snapshot();
        assert_eq!(s.counts, vec![1, 1, 1]);
        assert!((s.sum - 1.0055).abs() < 1e-9);
    }

    /// A header-only v2 batch: `count` records at `base..base+count`.
    fn batch(base: i64, count: i32, control: bool) -> Vec<u8> {
        let mut b = Vec::with_capacity(61);
        b.extend(base.to_be_bytes());
        b.extend(49i32.to_be_bytes()); // batch length: the header after offset and length
        b.extend(0i32.to_be_bytes()); // leader epoch
        b.push(2); // magic
        b.extend(0u32.to_be_bytes()); // crc (not checked here)
        b.extend((if control { 0x20i16 } else { 0 }).to_be_bytes());
        b.extend((count - 1).to_be_bytes()); // last offset delta
        b.extend([0u8; 16]); // timestamps
        b.extend((-1i64).to_be_bytes());
        b.extend((-1i16).to_be_bytes());
        b.extend((-1i32).to_be_bytes());
        b.extend(count.to_be_bytes());
        b
    }

    #[test]
    fn fetched_counts_records_from_headers() {
        let stats = PartitionStats::default();
        let mut inline = batch(10, 5, false);
        inline.extend(batch(15, 1, true)); // a commit marker is not a record
        inline.extend(batch(16, 4, false));
        // Fetching from offset 12: the first batch's records 10 and 11 were asked for before.
        stats.fetched(&inline, None, 12);
        assert_eq!(stats.records_out.load(Relaxed), 3 + 4);
        assert_eq!(stats.bytes_out.load(Relaxed), inline.len() as u64);

        // A sendfile range of 40 batches: 32 headers read, the rest estimated (same sizes here).
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..40).flat_map(|i| batch(i * 3, 3, false)).collect();
        file.write_all(&data).unwrap();
        let slice = sluice_log::FileSlice {
            file: Arc::new(file),
            position: 0,
            len: data.len(),
        };
        let stats = PartitionStats::default();
        stats.fetched(&[], Some(&slice), 0);
        assert_eq!(stats.records_out.load(Relaxed), 120);
        assert_eq!(stats.bytes_out.load(Relaxed), data.len() as u64);
    }

    #[test]
    fn record_timestamp_walks_varints() {
        // Two records: (len 6, attrs, ts_delta, offset_delta, key/value/headers) in zigzag varints.
        let rec = |ts: u8, od: u8| vec![12u8, 0, ts * 2, od * 2, 0, 0, 0];
        let mut data = rec(3, 0);
        data.extend(rec(9, 1));
        assert_eq!(record_timestamp(&data, 1), Some(9));
        assert_eq!(record_timestamp(&data, 0), Some(3));
        assert_eq!(record_timestamp(&data, 2), None);
    }
}
