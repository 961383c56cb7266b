//! Exactly-once consume-transform-produce through rdkafka's transactional API, with the processor
//! killed (SIGKILL) at random points and restarted until it has consumed its input.
//!
//! Why: exactly-once is the sum of many broker duties (fencing by InitProducerId, aborting the
//! killed instance's open transaction, consumer offsets decided by the transaction's markers,
//! read_committed fetches that skip aborted data). A processor that dies mid-transaction,
//! mid-commit or between transactions and comes back must still leave each input record's result
//! in the output exactly once, with the group's committed offsets at the input's end.
//!
//! The processor must be its own process so SIGKILL takes only it: the test spawns its own test
//! binary, running this same test with `SLUICE_EOS_PROCESSOR` set, which makes it the processor.
//! The confluent-kafka and Java-client variants are in tests/python/test_eos.py.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{produce_all, unique_topic, wait_until, Broker, Rec};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

const RECORDS: usize = 100_000;
const PARTITIONS: i32 = 3;
/// Records per transaction.
const BATCH: usize = 250;
const KILLS: usize = 3;
const GROUP: &str = "eos-group";
const T: Duration = Duration::from_secs(30);
/// Set in the spawned processor: `bootstrap input output`.
const PROCESSOR_ENV: &str = "SLUICE_EOS_PROCESSOR";
const TEST_NAME: &str = "exactly_once_with_the_processor_killed_and_restarted";

#[test]
fn exactly_once_with_the_processor_killed_and_restarted() {
    if let Ok(spec) = std::env::var(PROCESSOR_ENV) {
        let args: Vec<&str> = spec.split(' ').collect();
        match processor(args[0], args[1], args[2]) {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("processor failed: {e}");
                std::process::exit(1);
            }
        }
    }

    let broker = Broker::start_with_args(&[
        "--set",
        "transaction.state.log.num.partitions=3",
        "--set",
        "offsets.topic.num.partitions=3",
    ]);
    let input = unique_topic("eos-in");
    let output = unique_topic("eos-out");
    broker.create_topic(&input, PARTITIONS, &[]);
    broker.create_topic(&output, PARTITIONS, &[]);
    let inputs = input_records();
    let producer = broker
        .producer_config()
        .set("queue.buffering.max.messages", "500000")
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    produce_all(&producer, &input, &inputs);

    let workdir = tempfile::tempdir().expect("tempdir");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = XorShift(seed | 1);
    let mut runs = Runs {
        spec: format!("{} {input} {output}", broker.bootstrap()),
        dir: workdir.path().to_path_buf(),
        count: 0,
    };
    // One kill point in each of the KILLS slices of the input's first 70%, then a random delay
    // so the kill lands anywhere in the transaction cycle (the margin keeps that delay from
    // reaching the end of the input on a fast machine).
    let slice = RECORDS * 7 / 10 / KILLS;
    let mut kill_points = Vec::new();
    for i in 0..KILLS {
        let target = (i * slice) as i64 + rng.below(slice as u64) as i64;
        let mut child = runs.start();
        let out = runs.stdout(runs.count);
        wait_until(
            Duration::from_secs(60),
            &format!("processor run {} to commit {target} records", runs.count),
            || {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    panic!(
                        "run {} exited ({status}) before its kill\n{}",
                        runs.count,
                        runs.context()
                    );
                }
                (last_committed(&out) >= target).then_some(())
            },
        );
        // The random kill point, not synchronisation.
        std::thread::sleep(Duration::from_millis(rng.below(100)));
        let at = last_committed(&out);
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "run {} ended on its own before the kill\n{}",
            runs.count,
            runs.context()
        );
        kill_points.push(at);
    }
    let mut last = runs.start();
    let status = wait_until(Duration::from_secs(150), "the last run to finish", || {
        last.try_wait().expect("try_wait")
    });
    assert!(status.success(), "the last run failed\n{}", runs.context());
    println!("seed {seed}: killed after committed input offsets {kill_points:?}");

    let got = read_committed_output(&broker, &output, RECORDS);
    for p in 0..PARTITIONS {
        let want: Records = inputs
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| {
                let mut v = r.payload.clone().unwrap();
                v.extend_from_slice(b":done");
                (r.key.clone().unwrap(), v)
            })
            .collect();
        assert_exactly_once(p, &got[&p], &want);
    }
    let ends: BTreeMap<i32, Offset> = (0..PARTITIONS)
        .map(|p| {
            (
                p,
                Offset::Offset(inputs.iter().filter(|r| r.partition == p).count() as i64),
            )
        })
        .collect();
    assert_eq!(committed_offsets(&broker, &input), ends);
}

/// Deterministic ~100-byte records, round-robin over the partitions.
fn input_records() -> Vec<Rec> {
    let filler = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(3);
    (0..RECORDS)
        .map(|i| {
            let value = format!("v{i:06}-{filler}");
            Rec {
                partition: i as i32 % PARTITIONS,
                key: Some(format!("k{i:06}").into_bytes()),
                payload: Some(value.as_bytes()[..100].to_vec()),
                ..Rec::default()
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// The processor (runs in the spawned child)
// ------------------------------------------------------------------------------------------

/// Copies every input record of partition p to output partition p (same key, value + ":done")
/// in transactions of up to BATCH records that also commit the consumed offsets, until the
/// input's end offsets (the input is complete before the processor starts). Prints
/// "committed N" after each commit, N the sum of the committed input offsets.
fn processor(bootstrap: &str, input: &str, output: &str) -> Result<(), KafkaError> {
    // The producer first: its InitProducerId fences a killed predecessor and ends that
    // instance's transaction before this one reads the group's committed offsets.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", "eos-rdkafka")
        .set("transaction.timeout.ms", "10000")
        .set("linger.ms", "5")
        .create()?;
    producer.init_transactions(T)?;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50")
        .create()?;
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        ends.insert(p, consumer.fetch_watermarks(input, p, T)?.1);
        tpl.add_partition(input, p);
    }
    let committed = consumer.committed_offsets(tpl, T)?;
    let mut next: BTreeMap<i32, i64> = (0..PARTITIONS)
        .map(|p| {
            let at = committed.find_partition(input, p).map(|e| e.offset());
            let at = match at {
                Some(Offset::Offset(o)) => o,
                _ => 0,
            };
            (p, at)
        })
        .collect();
    // Manual assignment at the group's committed offsets: a restarted instance resumes at once,
    // without waiting for the killed member's session to expire.
    let mut assignment = TopicPartitionList::new();
    for (p, o) in &next {
        assignment.add_partition_offset(input, *p, Offset::Offset(*o))?;
    }
    consumer.assign(&assignment)?;
    let metadata = consumer
        .group_metadata()
        .ok_or(KafkaError::Subscription("no group metadata".into()))?;

    while next.iter().any(|(p, o)| *o < ends[p]) {
        // Up to BATCH records, waiting at most 100 ms for more once the first has arrived.
        let mut batch: Vec<(i32, i64, Vec<u8>, Vec<u8>)> = Vec::with_capacity(BATCH);
        let mut fill_until: Option<Instant> = None;
        while batch.len() < BATCH {
            let wait = fill_until.map_or(Duration::from_millis(500), |t| {
                t.saturating_duration_since(Instant::now())
            });
            match consumer.poll(wait) {
                Some(m) => {
                    let m = m?;
                    let mut value = m.payload().unwrap_or_default().to_vec();
                    value.extend_from_slice(b":done");
                    let key = m.key().unwrap_or_default().to_vec();
                    batch.push((m.partition(), m.offset(), key, value));
                    fill_until.get_or_insert_with(|| Instant::now() + Duration::from_millis(100));
                }
                None if batch.is_empty() => continue,
                None => break,
            }
        }
        producer.begin_transaction()?;
        for (p, offset, key, value) in &batch {
            let mut record = BaseRecord::to(output).partition(*p).key(key).payload(value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(e),
                }
            }
            next.insert(*p, offset + 1);
        }
        let mut offsets = TopicPartitionList::new();
        for (p, o) in &next {
            offsets.add_partition_offset(input, *p, Offset::Offset(*o))?;
        }
        producer.send_offsets_to_transaction(&offsets, &metadata, T)?;
        // Serve the delivery reports here: BaseProducer's own flush in commit_transaction
        // polls in 100 ms steps, which would make every transaction take 100 ms.
        let deadline = Instant::now() + T;
        while producer.in_flight_count() > 0 && Instant::now() < deadline {
            producer.poll(Duration::from_millis(1));
        }
        producer.commit_transaction(T)?;
        println!("committed {}", next.values().sum::<i64>());
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The driver's helpers
// ------------------------------------------------------------------------------------------

/// Processor runs: each one's stdout and stderr in `dir`.
struct Runs {
    spec: String,
    dir: PathBuf,
    count: usize,
}

impl Runs {
    fn stdout(&self, run: usize) -> PathBuf {
        self.dir.join(format!("run-{run}.out"))
    }

    fn stderr(&self, run: usize) -> PathBuf {
        self.dir.join(format!("run-{run}.err"))
    }

    fn start(&mut self) -> Child {
        self.count += 1;
        let out = File::create(self.stdout(self.count)).expect("stdout file");
        let err = File::create(self.stderr(self.count)).expect("stderr file");
        Command::new(std::env::current_exe().expect("current_exe"))
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(PROCESSOR_ENV, &self.spec)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawning the processor")
    }

    fn context(&self) -> String {
        (1..=self.count)
            .map(|i| {
                let out = fs::read_to_string(self.stdout(i)).unwrap_or_default();
                let err = fs::read_to_string(self.stderr(i)).unwrap_or_default();
                let last = out.lines().last().unwrap_or("<no output>").to_string();
                let tail = &err[err.len().saturating_sub(1500)..];
                format!("run {i}: last line {last:?}; stderr tail:\n{tail}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The last "committed N" a run printed (0 before its first commit).
fn last_committed(stdout: &Path) -> i64 {
    let text = fs::read_to_string(stdout).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| l.strip_prefix("committed "))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// (key, value) pairs of one partition, in offset order.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Everything a read_committed consumer sees in `topic`, to the end of every partition.
fn read_committed_output(broker: &Broker, topic: &str, expected: usize) -> BTreeMap<i32, Records> {
    let c: BaseConsumer = broker
        .consumer_config()
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut got: BTreeMap<i32, Records> = (0..PARTITIONS).map(|p| (p, Vec::new())).collect();
    let mut at_end = std::collections::BTreeSet::new();
    let mut have = 0;
    let deadline = Instant::now() + Duration::from_secs(90);
    // The processor has finished, so nothing more arrives: the end of every partition with at
    // least the expected number of records read means everything was read.
    while at_end.len() < PARTITIONS as usize || have < expected {
        assert!(
            Instant::now() < deadline,
            "timed out reading {topic}: {have}/{expected}, at end: {at_end:?}"
        );
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                let entry = (
                    m.key().unwrap_or_default().to_vec(),
                    m.payload().unwrap_or_default().to_vec(),
                );
                got.get_mut(&m.partition()).expect("assigned").push(entry);
                have += 1;
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("consuming {topic}: {e}"),
            None => {}
        }
    }
    got
}

fn assert_exactly_once(p: i32, have: &[(Vec<u8>, Vec<u8>)], want: &[(Vec<u8>, Vec<u8>)]) {
    if have == want {
        return;
    }
    let mut seen: BTreeMap<&(Vec<u8>, Vec<u8>), usize> = BTreeMap::new();
    for rec in have {
        *seen.entry(rec).or_default() += 1;
    }
    let dups = seen.values().filter(|n| **n > 1).count();
    let missing = want.iter().filter(|r| !seen.contains_key(r)).count();
    let first = have
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(have.len().min(want.len()));
    panic!(
        "output partition {p}: {} records, want {}; {dups} duplicated, {missing} missing; \
         first difference at position {first}",
        have.len(),
        want.len()
    );
}

fn committed_offsets(broker: &Broker, topic: &str) -> BTreeMap<i32, Offset> {
    let c: BaseConsumer = broker
        .consumer_config()
        .set("group.id", GROUP)
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let committed = c.committed_offsets(tpl, T).expect("OffsetFetch");
    (0..PARTITIONS)
        .map(|p| {
            let e = committed.find_partition(topic, p).expect("partition");
            (p, e.offset())
        })
        .collect()
}

/// A tiny PRNG for kill points (no extra dependency); the seed is printed for reruns.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
