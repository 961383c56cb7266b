//! Log compaction as a Kafka client sees it: after the cleaner has run, a consumer reading a
//! `cleanup.policy=compact` topic from offset 0 gets exactly the latest record of each key, at
//! the offset the producer was told, in every codec; deletes (tombstones) stay visible for
//! `delete.retention.ms` and then vanish; readers racing the cleaner never see an error or an
//! offset going backwards; the cleaned log survives a restart and Kafka's own DumpLogSegments
//! accepts every cleaned segment and index.
//!
//! Why: compaction rewrites data that clients already read, behind their back. The only safe
//! way to trust it is to drive it the way users do (librdkafka producers in all codecs, small
//! segments so the cleaner has closed segments to work on, a reader looping over the log while
//! segments are swapped) and to compare what comes back against the delivery reports.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{delivery, now_ms, send, stored_batches, unique_topic, Broker, Consumed, Rec};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};

/// The key space every update lands in.
const KEYS: usize = 200;
/// Each round updates every key this many times (in the key's round-robin codec).
const UPDATES_PER_KEY_PER_ROUND: usize = 5;
/// 20 rounds x 200 keys x 5 updates = 20,000 records per topic.
const ROUNDS: usize = 20;
/// Kafka's codec names, in the order of their attribute ids 0..=4.
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
/// Small segments so most of the log is closed (the cleaner never touches the active one); set
/// through Kafka's `internal.segment.bytes`, as `segment.bytes` may not go below 1 MiB.
const SEGMENT_BYTES: &str = "32768";
/// Where a topic's tombstones must outlive every cleaning pass of the test.
const LONG_DELETE_RETENTION_MS: &str = "86400000";
/// Where a topic's tombstones expire quickly.
const SHORT_DELETE_RETENTION_MS: i64 = 1000;
/// Whether Kafka's DumpLogSegments must be available (CI sets it; dev boxes may lack Java).
const REQUIRE_KAFKA_TOOLS_ENV: &str = "SLUICE_REQUIRE_KAFKA_TOOLS";
/// Deadline for the cleaner to bring a log to its compacted state.
const CLEAN_WAIT: Duration = Duration::from_secs(30);

/// Broker settings: the cleaner wakes every 200 ms instead of Kafka's 15 s.
fn broker_args() -> Vec<&'static str> {
    vec!["--set", "log.cleaner.backoff.ms=200"]
}

// ------------------------------------------------------------------------------------------
// What was produced
// ------------------------------------------------------------------------------------------

fn key_name(k: usize) -> Vec<u8> {
    format!("key-{k:03}").into_bytes()
}

/// Keys whose last update is a delete (tombstone).
fn deleted_at_end(k: usize) -> bool {
    k % 10 == 3
}

/// Keys deleted half way through and written again afterwards: the old tombstone must go.
fn deleted_and_revived(k: usize) -> bool {
    k % 10 == 7
}

/// One produced record as the delivery report placed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Produced {
    key: Vec<u8>,
    payload: Option<Vec<u8>>,
    /// Index into [`CODECS`] of the producer that sent it.
    codec: usize,
}

impl Produced {
    fn fingerprint(&self) -> u64 {
        fingerprint(Some(&self.key), self.payload.as_deref())
    }
}

fn fingerprint(key: Option<&[u8]>, payload: Option<&[u8]>) -> u64 {
    let mut h = DefaultHasher::new();
    (key, payload).hash(&mut h);
    h.finish()
}

/// Offset -> record, per topic, from the delivery reports.
type ProducedLog = BTreeMap<i64, Produced>;

/// One round of updates: every key `UPDATES_PER_KEY_PER_ROUND` times, all of a key's updates
/// through one codec (rotating with the round, so every codec ends up holding some keys'
/// latest values and many superseded ones). Returns (codec, record) pairs.
fn round_records(round: usize, keys: impl Iterator<Item = usize> + Clone) -> Vec<(usize, Rec)> {
    let mut out = Vec::new();
    for update in 0..UPDATES_PER_KEY_PER_ROUND {
        for k in keys.clone() {
            let last_of_round = update + 1 == UPDATES_PER_KEY_PER_ROUND;
            let tombstone = last_of_round
                && ((round + 1 == ROUNDS && deleted_at_end(k))
                    || (round == ROUNDS / 2 && deleted_and_revived(k)));
            let payload = (!tombstone).then(|| {
                format!("key-{k:03} round {round} update {update}; ")
                    .repeat(4)
                    .into_bytes()
            });
            let rec = Rec {
                partition: 0,
                key: Some(key_name(k)),
                payload,
                ..Rec::default()
            };
            out.push(((k + round) % CODECS.len(), rec));
        }
    }
    out
}

/// One idempotent producer per codec; small batches so segments hold many batches.
fn codec_producers(broker: &Broker) -> Vec<FutureProducer> {
    CODECS
        .iter()
        .map(|codec| {
            broker
                .producer_config()
                .set("compression.type", *codec)
                .set("enable.idempotence", "true")
                .set("batch.size", "8192")
                .create()
                .unwrap_or_else(|e| panic!("creating a {codec} producer: {e}"))
        })
        .collect()
}

/// Sends `recs` to every topic in `logs` and waits for all deliveries (so the next round's
/// offsets are all higher), recording where each record landed.
fn produce_round(
    producers: &[FutureProducer],
    recs: &[(usize, Rec)],
    logs: &mut [(&str, &mut ProducedLog)],
) {
    let mut pending = Vec::new();
    for (topic, _) in logs.iter() {
        for (codec, rec) in recs {
            pending.push((
                topic.to_string(),
                *codec,
                rec,
                send(&producers[*codec], topic, rec),
            ));
        }
    }
    for (topic, codec, rec, fut) in pending {
        let d = delivery(fut)
            .unwrap_or_else(|e| panic!("delivery to {topic} ({}): {e}", CODECS[codec]));
        let (_, log) = logs
            .iter_mut()
            .find(|(t, _)| *t == topic)
            .expect("topic is in logs");
        let key = rec.key.clone().expect("compacted records have keys");
        let previous = log.insert(
            d.offset,
            Produced {
                key,
                payload: rec.payload.clone(),
                codec,
            },
        );
        assert!(
            previous.is_none(),
            "{topic}: offset {} was assigned twice",
            d.offset
        );
    }
}

/// What a fully cleaned log must hold, given that everything from `active_base` on is the
/// active segment (never cleaned): below it the latest record of each key (tombstones
/// included unless `drop_tombstones`), from it on every record.
fn expected_after_cleaning(
    produced: &ProducedLog,
    active_base: i64,
    drop_tombstones: bool,
) -> Vec<(i64, Produced)> {
    let mut latest: HashMap<&[u8], i64> = HashMap::new();
    for (offset, p) in produced.range(..active_base) {
        latest.insert(&p.key, *offset);
    }
    produced
        .iter()
        .filter(|(offset, p)| {
            **offset >= active_base
                || (latest[p.key.as_slice()] == **offset
                    && !(drop_tombstones && p.payload.is_none()))
        })
        .map(|(o, p)| (*o, p.clone()))
        .collect()
}

fn describe_difference(got: &[Consumed], expected: &[(i64, Produced)]) -> String {
    let first_diff = got.iter().zip(expected).position(|(g, (o, p))| {
        g.offset != *o || g.key.as_ref() != Some(&p.key) || g.payload != p.payload
    });
    let at = first_diff.unwrap_or(got.len().min(expected.len()));
    format!(
        "{} records read, {} expected; first difference at index {at}: read {:?}, expected {:?}",
        got.len(),
        expected.len(),
        got.get(at).map(|g| (
            g.offset,
            String::from_utf8_lossy(g.key.as_deref().unwrap_or_default())
        )),
        expected
            .get(at)
            .map(|(o, p)| (*o, String::from_utf8_lossy(&p.key))),
    )
}

/// Polls (reading the whole partition from offset 0 each time) until the log is exactly its
/// cleaned form; returns what was read.
fn wait_until_cleaned(
    broker: &Broker,
    topic: &str,
    produced: &ProducedLog,
    drop_tombstones: bool,
) -> Vec<Consumed> {
    let dir = broker.partition_dir(topic, 0);
    let deadline = Instant::now() + CLEAN_WAIT;
    loop {
        let active = active_segment_base(&dir);
        let expected = expected_after_cleaning(produced, active, drop_tombstones);
        let got = broker.read_all(topic).remove(&0).unwrap_or_default();
        let same = got.len() == expected.len()
            && got.iter().zip(&expected).all(|(g, (o, p))| {
                g.offset == *o && g.key.as_ref() == Some(&p.key) && g.payload == p.payload
            });
        if same {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not cleaned within {CLEAN_WAIT:?} (active segment at {active}): {}",
            describe_difference(&got, &expected)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ------------------------------------------------------------------------------------------
// The partition directory (Kafka's on-disk layout)
// ------------------------------------------------------------------------------------------

/// Top-level files of a partition dir with the given extension, in offset order.
fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

/// Base offset of the newest segment, which is the active one.
fn active_segment_base(dir: &Path) -> i64 {
    files_with_ext(dir, "log")
        .iter()
        .filter_map(|p| p.file_stem()?.to_str()?.parse::<i64>().ok())
        .max()
        .unwrap_or_else(|| panic!("no segments in {}", dir.display()))
}

/// Bytes of the `.log` files (the records themselves).
fn log_bytes(dir: &Path) -> u64 {
    files_with_ext(dir, "log")
        .iter()
        .map(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Bytes of every top-level file (segments, indexes, checkpoints).
fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

// ------------------------------------------------------------------------------------------
// A reader racing the cleaner
// ------------------------------------------------------------------------------------------

/// One read of the partition from offset 0 to the high watermark seen when it began.
struct Pass {
    started: Instant,
    end: i64,
    /// (offset, fingerprint of key and value) in the order consumed.
    seen: Vec<(i64, u64)>,
    /// Offset of the last record of each key in this pass.
    last_per_key: HashMap<Vec<u8>, i64>,
}

struct ReaderReport {
    passes: Vec<Pass>,
    errors: Vec<String>,
}

struct Reader {
    thread: JoinHandle<ReaderReport>,
    /// Completed passes so far, for the test to wait on.
    passes_done: Arc<AtomicUsize>,
}

/// Reads `topic` from offset 0 to its high watermark over and over (a fresh consumer each
/// pass, so nothing from an earlier pass can leak in) until `stop` is set.
fn spawn_reader(config: ClientConfig, topic: String, stop: Arc<AtomicBool>) -> Reader {
    let passes_done = Arc::new(AtomicUsize::new(0));
    let done = passes_done.clone();
    let thread = std::thread::spawn(move || {
        let mut report = ReaderReport {
            passes: Vec::new(),
            errors: Vec::new(),
        };
        while !stop.load(Ordering::Relaxed) && report.errors.is_empty() {
            match read_pass(&config, &topic) {
                Ok(Some(pass)) => {
                    report.passes.push(pass);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)), // nothing produced yet
                Err(e) => report
                    .errors
                    .push(format!("pass {}: {e}", report.passes.len())),
            }
        }
        report
    });
    Reader {
        thread,
        passes_done,
    }
}

fn read_pass(config: &ClientConfig, topic: &str) -> Result<Option<Pass>, String> {
    let started = Instant::now();
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| format!("creating a consumer: {e}"))?;
    let (_, end) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .map_err(|e| format!("ListOffsets: {e}"))?;
    if end == 0 {
        return Ok(None);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(0))
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    let mut pass = Pass {
        started,
        end,
        seen: Vec::new(),
        last_per_key: HashMap::new(),
    };
    let deadline = started + Duration::from_secs(20);
    // The record at end - 1 may itself be cleaned away if its segment rolled meanwhile; any
    // record at or past it ends the pass.
    while pass.seen.last().is_none_or(|(o, _)| *o < end - 1) {
        if Instant::now() > deadline {
            return Err(format!(
                "stuck after offset {:?} (pass end {end})",
                pass.seen.last().map(|s| s.0)
            ));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => {
                return Err(format!(
                    "consumer error after offset {:?}: {e}",
                    pass.seen.last()
                ))
            }
            Some(Ok(m)) => {
                if let Some((prev, _)) = pass.seen.last() {
                    if m.offset() <= *prev {
                        return Err(format!("offset went from {prev} to {}", m.offset()));
                    }
                }
                let key = m
                    .key()
                    .ok_or_else(|| format!("record at {} has no key", m.offset()))?;
                pass.last_per_key.insert(key.to_vec(), m.offset());
                pass.seen
                    .push((m.offset(), fingerprint(Some(key), m.payload())));
            }
        }
    }
    Ok(Some(pass))
}

// ------------------------------------------------------------------------------------------
// Kafka's DumpLogSegments
// ------------------------------------------------------------------------------------------

/// Lines DumpLogSegments prints when a segment or index is not what Kafka would have written
/// (the list tests/python/reference_kafka.py uses).
const DUMP_ERROR_MARKERS: [&str; 9] = [
    "Exception",
    "invalid bytes",
    "Found invalid",
    "is corrupt",
    "Mismatches in",
    "Found timestamp mismatch",
    "Found out of order offset",
    "Index offset",
    "isvalid: false",
];

/// The assembled Kafka distribution (scripts/kafka-dist.sh), if present.
fn kafka_home() -> Option<PathBuf> {
    let cache = std::env::var_os("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"));
    let home = cache.join("kafka");
    home.join("VERSION").is_file().then_some(home)
}

/// Runs `DumpLogSegments --deep-iteration` over `files`; returns its output, or None when the
/// Kafka tools are not installed and not required.
fn kafka_dump_log(files: &[PathBuf]) -> Option<String> {
    let Some(home) = kafka_home() else {
        assert!(
            std::env::var(REQUIRE_KAFKA_TOOLS_ENV).as_deref() != Ok("1"),
            "{REQUIRE_KAFKA_TOOLS_ENV}=1 but the Kafka distribution is missing; run scripts/kafka-dist.sh"
        );
        eprintln!("NOTE: .cache/kafka is missing (scripts/kafka-dist.sh); not checking segments with DumpLogSegments");
        return None;
    };
    let list = files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let output = Command::new("java")
        .args([
            "-Xms64m",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
        ])
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            home.join("config/log4j2.properties").display()
        ))
        .arg("-cp")
        .arg(format!("{}/*", home.join("libs").display()))
        .args([
            "kafka.tools.DumpLogSegments",
            "--deep-iteration",
            "--files",
            &list,
        ])
        .output()
        .unwrap_or_else(|e| panic!("running java for DumpLogSegments: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "DumpLogSegments exited with {}:\n{text}",
        output.status
    );
    Some(text)
}

/// Checks every segment, offset index and time index of a partition with DumpLogSegments and
/// that it decodes exactly `records` records.
fn assert_kafka_accepts_partition(dir: &Path, records: usize) {
    let logs = files_with_ext(dir, "log");
    let mut files = logs.clone();
    files.extend(files_with_ext(dir, "index"));
    files.extend(files_with_ext(dir, "timeindex"));
    let Some(out) = kafka_dump_log(&files) else {
        return;
    };
    for marker in DUMP_ERROR_MARKERS {
        if let Some(line) = out.lines().find(|l| l.contains(marker)) {
            panic!(
                "DumpLogSegments reports `{marker}` for {}: {line}\n{}",
                dir.display(),
                tail(&out, 4000)
            );
        }
    }
    let dumped = out.lines().filter(|l| l.starts_with("| offset:")).count();
    assert_eq!(
        dumped,
        records,
        "records DumpLogSegments decoded in {}:\n{}",
        dir.display(),
        tail(&out, 4000)
    );
    let dumped_files = out.lines().filter(|l| l.starts_with("Dumping ")).count();
    assert_eq!(
        dumped_files,
        files.len(),
        "files DumpLogSegments read:\n{}",
        tail(&out, 4000)
    );
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

/// The main promise of compaction, with the reference topic (`cleanup.policy=delete`, same
/// records) showing how much the cleaner saved, a reader racing the cleaner, a restart, and
/// DumpLogSegments over the result.
#[test]
fn compacted_topic_keeps_latest_value_of_each_key_at_its_original_offset() {
    let mut broker = Broker::start_with_args(&broker_args());
    let compacted = unique_topic("compacted");
    let reference = unique_topic("uncompacted");
    broker.create_topic(
        &compacted,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("internal.segment.bytes", SEGMENT_BYTES),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", LONG_DELETE_RETENTION_MS),
        ],
    );
    broker.create_topic(
        &reference,
        1,
        &[
            ("cleanup.policy", "delete"),
            ("internal.segment.bytes", SEGMENT_BYTES),
        ],
    );
    let stop_reader = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(
        broker.consumer_config(),
        compacted.clone(),
        stop_reader.clone(),
    );

    let producers = codec_producers(&broker);
    let (mut produced, mut reference_log) = (ProducedLog::new(), ProducedLog::new());
    for round in 0..ROUNDS {
        let recs = round_records(round, 0..KEYS);
        produce_round(
            &producers,
            &recs,
            &mut [
                (&compacted, &mut produced),
                (&reference, &mut reference_log),
            ],
        );
    }
    let produced_at = Instant::now();
    assert_eq!(produced.len(), ROUNDS * KEYS * UPDATES_PER_KEY_PER_ROUND);
    let end = *produced.keys().last().expect("records") + 1;

    let dir = broker.partition_dir(&compacted, 0);
    let cleaned = wait_until_cleaned(&broker, &compacted, &produced, false);
    let cleaned_at = Instant::now();

    // Offsets are the original ones: strictly increasing, with gaps, ending at the log end.
    assert!(
        cleaned.windows(2).all(|w| w[0].offset < w[1].offset),
        "offsets not strictly increasing"
    );
    assert_eq!(
        cleaned.last().map(|c| c.offset),
        Some(end - 1),
        "the newest record is never cleaned"
    );
    assert!(
        cleaned.len() < produced.len() / 10,
        "{} of {} records left",
        cleaned.len(),
        produced.len()
    );
    assert_eq!(
        broker.watermarks(&compacted, 0),
        (0, end),
        "cleaning moves neither watermark"
    );
    // Every key is there, its last record a tombstone iff it was deleted last (its
    // delete.retention.ms has not passed).
    let active = active_segment_base(&dir);
    assert!(
        active > end / 2,
        "most of the log should be in closed segments; active segment at {active} of {end}"
    );
    let mut last: HashMap<&[u8], &Consumed> = HashMap::new();
    for c in &cleaned {
        last.insert(c.key.as_deref().unwrap_or_default(), c);
    }
    assert_eq!(last.len(), KEYS, "distinct keys in the cleaned log");
    for k in 0..KEYS {
        let c = last[key_name(k).as_slice()];
        assert_eq!(
            c.payload.is_none(),
            deleted_at_end(k),
            "key {k} at offset {}: tombstone iff deleted last",
            c.offset
        );
    }

    // The producers really compressed (librdkafka silently falls back to uncompressed when the
    // broker's ApiVersions lack what a codec needs), as the uncompacted twin shows...
    let reference_dir = broker.partition_dir(&reference, 0);
    for b in stored_batches(&reference_dir) {
        let codec = reference_log[&b.base_offset].codec;
        assert_eq!(
            b.compression as usize, codec,
            "{reference}: batch {b:?} was sent by the {} producer",
            CODECS[codec]
        );
    }
    // ...and the cleaner re-encoded partially kept batches in their own codec, keeping offsets.
    let batches = stored_batches(&dir);
    let mut reencoded = [0usize; CODECS.len()];
    for b in &batches {
        let codec = produced.get(&b.base_offset).map(|p| p.codec);
        let Some(codec) = codec else {
            panic!("stored batch {b:?} starts at an offset nothing was produced at");
        };
        if b.records == 0 {
            continue; // an emptied batch kept for its producer's sequence numbers
        }
        assert_eq!(
            b.compression as usize, codec,
            "batch {b:?} was produced with {}",
            CODECS[codec]
        );
        if (b.records as i64) < b.last_offset - b.base_offset + 1 {
            reencoded[codec] += 1;
        }
    }
    // Which codecs end up with a partially kept batch depends on how the client batched under
    // load, so require re-encoding to have happened, not one per codec (the storage engine's unit
    // tests re-encode every codec); the codec check above covers every batch that was.
    assert!(
        reencoded.iter().sum::<usize>() > 0,
        "no batch was partially kept (per codec {reencoded:?})"
    );

    // Disk use: the same 20,000 records uncompacted take many times more room.
    let (before, after) = (log_bytes(&reference_dir), log_bytes(&dir));
    let active_bytes = fs::metadata(dir.join(format!("{active:020}.log")))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "compaction: {} -> {} records; .log bytes {before} (uncompacted twin) -> {after} ({active_bytes} in the \
         active segment); partition dir {} -> {} bytes; {} segments, {} of them left empty",
        produced.len(),
        cleaned.len(),
        dir_bytes(&reference_dir),
        dir_bytes(&dir),
        files_with_ext(&dir, "log").len(),
        files_with_ext(&dir, "log").iter().filter(|p| fs::metadata(p).is_ok_and(|m| m.len() == 0)).count(),
    );
    assert!(
        (after - active_bytes) * 10 < before,
        "closed segments should shrink more than tenfold: {before} -> {after} bytes ({active_bytes} active)"
    );

    // The reader raced the cleaner; let it also read the final log from start to end once.
    let passes_then = reader.passes_done.load(Ordering::Relaxed);
    let reader_deadline = Instant::now() + Duration::from_secs(20);
    while reader.passes_done.load(Ordering::Relaxed) < passes_then + 2
        && !reader.thread.is_finished()
    {
        assert!(
            Instant::now() < reader_deadline,
            "the reader made no progress in 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop_reader.store(true, Ordering::Relaxed);
    let report = reader.thread.join().expect("reader thread panicked");
    check_reader_report(&report, &produced, produced_at, cleaned_at);

    // A restart reopens the cleaned segments as they are, and appends continue at the log end.
    broker.restart();
    let reread = broker.read_all(&compacted).remove(&0).unwrap_or_default();
    assert_eq!(reread, cleaned, "the compacted log after a restart");
    let producer = broker.producer();
    let rec = Rec {
        partition: 0,
        key: Some(key_name(0)),
        payload: Some(b"after restart".to_vec()),
        ..Rec::default()
    };
    let d = delivery(send(&producer, &compacted, &rec)).expect("produce after restart");
    assert_eq!(
        d.offset, end,
        "offset of the first record after the restart"
    );
    drop(producer);

    let status = broker.stop();
    assert!(status.success(), "sluice exited with {status}");
    assert_kafka_accepts_partition(&dir, cleaned.len() + 1);
}

fn check_reader_report(
    report: &ReaderReport,
    produced: &ProducedLog,
    produced_at: Instant,
    cleaned_at: Instant,
) {
    assert!(
        report.errors.is_empty(),
        "the reader racing the cleaner failed: {:?}",
        report.errors
    );
    let during = report
        .passes
        .iter()
        .filter(|p| p.started < cleaned_at)
        .count();
    let after = report
        .passes
        .iter()
        .filter(|p| p.started > cleaned_at)
        .count();
    eprintln!(
        "reader: {} passes ({during} before the log was fully cleaned)",
        report.passes.len()
    );
    assert!(
        during >= 2,
        "the reader should have raced the cleaner more than once; passes before clean: {during}"
    );
    assert!(
        after >= 1,
        "the reader should have read the cleaned log at least once"
    );
    let mut final_latest: HashMap<&[u8], i64> = HashMap::new();
    for (offset, p) in produced {
        final_latest.insert(&p.key, *offset);
    }
    for (n, pass) in report.passes.iter().enumerate() {
        for (offset, fp) in &pass.seen {
            let sent = produced
                .get(offset)
                .unwrap_or_else(|| panic!("pass {n} read offset {offset}, never produced"));
            assert_eq!(
                *fp,
                sent.fingerprint(),
                "pass {n}: record at {offset} is not the one produced there"
            );
        }
        // Once nothing more was produced, every pass must end each key on its final record,
        // however the cleaner swapped segments under it.
        if pass.started > produced_at {
            assert_eq!(pass.end, *produced.keys().last().expect("records") + 1);
            for (key, offset) in &final_latest {
                assert_eq!(
                    pass.last_per_key.get(*key),
                    Some(offset),
                    "pass {n}: last record of {}",
                    String::from_utf8_lossy(key)
                );
            }
        }
    }
}

/// `compact,delete` with a short delete.retention.ms: after it passes (and more writes make
/// the cleaner run again) deleted keys are gone entirely, revived keys keep their new value,
/// and DumpLogSegments accepts the result.
#[test]
fn compact_delete_topic_drops_tombstones_after_delete_retention_ms() {
    let mut broker = Broker::start_with_args(&broker_args());
    let topic = unique_topic("compact-delete");
    let retention = SHORT_DELETE_RETENTION_MS.to_string();
    broker.create_topic(
        &topic,
        1,
        &[
            ("cleanup.policy", "compact,delete"),
            ("internal.segment.bytes", SEGMENT_BYTES),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", &retention),
        ],
    );
    let producers = codec_producers(&broker);
    let mut produced = ProducedLog::new();
    for round in 0..ROUNDS {
        produce_round(
            &producers,
            &round_records(round, 0..KEYS),
            &mut [(&topic, &mut produced)],
        );
    }
    // Every tombstone is now older than delete.retention.ms (with a margin); write more
    // (never to the deleted keys) so segments roll and the cleaner has dirty data again.
    let tombstones_expire = now_ms() + SHORT_DELETE_RETENTION_MS + 200;
    while now_ms() < tombstones_expire {
        std::thread::sleep(Duration::from_millis(20));
    }
    let live = (0..KEYS).filter(|k| !deleted_at_end(*k));
    for round in 0..2 {
        produce_round(
            &producers,
            &round_records(round, live.clone()),
            &mut [(&topic, &mut produced)],
        );
    }
    let end = *produced.keys().last().expect("records") + 1;

    let dir = broker.partition_dir(&topic, 0);
    let cleaned = wait_until_cleaned(&broker, &topic, &produced, true);

    let active = active_segment_base(&dir);
    let below: Vec<&Consumed> = cleaned.iter().filter(|c| c.offset < active).collect();
    assert!(
        below.iter().all(|c| c.payload.is_some()),
        "no tombstone survives below the active segment"
    );
    for k in 0..KEYS {
        let key = key_name(k);
        let present = cleaned.iter().any(|c| c.key.as_ref() == Some(&key));
        assert_eq!(
            present,
            !deleted_at_end(k),
            "key {k} present after its delete expired"
        );
    }
    assert_eq!(
        broker.watermarks(&topic, 0),
        (0, end),
        "compaction moves neither watermark"
    );
    assert!(
        cleaned.windows(2).all(|w| w[0].offset < w[1].offset),
        "offsets not strictly increasing"
    );
    let status = broker.stop();
    assert!(status.success(), "sluice exited with {status}");
    assert_kafka_accepts_partition(&dir, cleaned.len());
}
