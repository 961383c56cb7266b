//! Shared fixture for the librdkafka integration tests: a real `sluice serve` process on a
//! loopback port with its own temporary data directory, and librdkafka clients tuned for tests.
//!
//! Why it exists: every Rust integration test meets the broker the way users do, as a separate
//! process spoken to over TCP by a real Kafka client. This module owns that process (free port,
//! readiness poll with a deadline, SIGTERM / SIGKILL / restart in place, a Drop guard) and the
//! small helpers every test needs (topic creation, producing, reading a partition back,
//! polling a condition with a deadline). On a failing test the Drop guard prints the tail of the
//! broker's log so the failure explains itself.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::future_producer::{Delivery, DeliveryFuture};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, Timestamp, TopicPartitionList};

/// How long the broker may take to accept connections after being spawned.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a clean (SIGTERM) shutdown may take.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Default deadline for waiting on a client-visible condition.
pub const WAIT: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------------------------------
// Waiting
// ------------------------------------------------------------------------------------------

/// Polls `probe` until it returns `Some`, panicking with `what` after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Milliseconds since the Unix epoch, as Kafka timestamps are.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A topic name no other test (or earlier run) uses.
pub fn unique_topic(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

// ------------------------------------------------------------------------------------------
// The broker process
// ------------------------------------------------------------------------------------------

/// How to start a broker beyond the defaults.
#[derive(Default, Clone)]
pub struct BrokerOptions {
    /// Extra `sluice serve` arguments, e.g. `["--set", "num.partitions=6"]` or `["--durable"]`.
    pub args: Vec<String>,
    /// Address to advertise to clients instead of the listener (e.g. a proxy in front of it).
    pub advertised: Option<SocketAddr>,
}

/// One `sluice serve` process on a fixed port and data dir, restartable in place.
pub struct Broker {
    port: u16,
    http_port: u16,
    registry_port: u16,
    options: BrokerOptions,
    // Holds `data/` (the broker's data dir) and `broker.log` (its stderr, across restarts).
    root: tempfile::TempDir,
    child: Option<Child>,
    starts: usize,
}

impl Broker {
    /// A fresh broker with default settings.
    pub fn start() -> Broker {
        Broker::start_with(BrokerOptions::default())
    }

    /// A fresh broker with extra `sluice serve` arguments.
    pub fn start_with_args(args: &[&str]) -> Broker {
        Broker::start_with(BrokerOptions {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..BrokerOptions::default()
        })
    }

    pub fn start_with(options: BrokerOptions) -> Broker {
        let root = tempfile::Builder::new()
            .prefix("sluice-it-")
            .tempdir()
            .expect("tempdir");
        fs::create_dir_all(root.path().join("data")).expect("creating the data dir");
        let mut broker = Broker {
            port: 0,
            http_port: 0,
            registry_port: 0,
            options,
            root,
            child: None,
            starts: 0,
        };
        // The free port can be taken between probing and the broker binding it; retry then.
        for attempt in 0..3 {
            broker.port = free_port();
            broker.http_port = free_port();
            broker.registry_port = free_port();
            match broker.spawn() {
                Ok(()) => return broker,
                Err(e) if attempt < 2 && e.contains("in use") => continue,
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Base URL of the HTTP server (admin API, `/metrics`, REST proxy, console).
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Base URL of the built-in schema registry.
    pub fn registry_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.registry_port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The broker's data directory (Kafka's `log.dirs`).
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The directory of one partition's segments.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.data_dir().join(format!("{topic}-{partition}"))
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("broker.log")
    }

    /// The last `max_bytes` of the broker's stderr.
    pub fn log_tail(&self, max_bytes: u64) -> String {
        let Ok(mut f) = File::open(self.log_path()) else {
            return "<no broker log>".into();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(max_bytes)));
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn spawn(&mut self) -> Result<(), String> {
        let listener = format!("PLAINTEXT://127.0.0.1:{}", self.port);
        let advertised = match self.options.advertised {
            Some(addr) => format!("PLAINTEXT://{addr}"),
            None => listener.clone(),
        };
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("opening the broker log: {e}"))?;
        let _ = writeln!(log, "\n===== start #{} on {listener}", self.starts);
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("serve")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listeners")
            .arg(&listener)
            .arg("--advertised-listeners")
            .arg(&advertised)
            .arg("--set")
            .arg(format!(
                "http.listeners=http://127.0.0.1:{}",
                self.http_port
            ))
            .arg("--set")
            .arg(format!(
                "schema.registry.listeners=http://127.0.0.1:{}",
                self.registry_port
            ))
            .args(&self.options.args)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", env!("CARGO_BIN_EXE_sluice")))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = self.addr();
        loop {
            let child = self.child.as_mut().expect("spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!(
                    "sluice exited with {status} during startup; log tail:\n{}",
                    self.log_tail(6000)
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "sluice did not accept connections on {addr} within {READY_TIMEOUT:?}; log tail:\n{}",
                    self.log_tail(6000)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: a crash, nothing gets flushed or checkpointed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the process to exit; returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("broker is not running");
        // SAFETY: kill(2) on a pid we spawned and have not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("sluice did not exit within {STOP_TIMEOUT:?} of SIGTERM");
                }
            }
        }
    }

    /// Starts the broker again on the same port and data dir (stopping it first if running).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.stop();
            assert!(status.success(), "sluice exited with {status} on SIGTERM");
        }
        if let Err(e) = self.spawn() {
            panic!("{e}");
        }
    }

    // -- client configs ------------------------------------------------------------------

    /// Settings every test client shares: this broker, quick reconnects.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap())
            .set("reconnect.backoff.ms", "20")
            .set("reconnect.backoff.max.ms", "500")
            .set("socket.connection.setup.timeout.ms", "5000");
        c
    }

    /// A producer config: bounded delivery time, small linger so batches form but tests stay fast.
    pub fn producer_config(&self) -> ClientConfig {
        let mut c = self.client_config();
        c.set("message.timeout.ms", "15000")
            .set("request.timeout.ms", "10000")
            .set("linger.ms", "5")
            .set("retry.backoff.ms", "20")
            .set("retry.backoff.max.ms", "200");
        c
    }

    /// A consumer config for manual assignment: CRCs checked, short fetch waits. librdkafka
    /// refuses `assign` without a group.id, but nothing here joins or commits to the group.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut c = self.client_config();
        c.set("group.id", "sluice-it-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100")
            .set("check.crcs", "true")
            .set("enable.partition.eof", "false");
        c
    }

    pub fn producer(&self) -> FutureProducer {
        self.producer_config()
            .create()
            .expect("creating a producer")
    }

    pub fn consumer(&self) -> BaseConsumer {
        self.consumer_config()
            .create()
            .expect("creating a consumer")
    }

    /// A producer with `transactional.id` = `id` (and `configs` on top), its transactions
    /// initialised.
    pub fn transactional_producer(&self, id: &str, configs: &[(&str, &str)]) -> FutureProducer {
        let mut config = self.producer_config();
        config.set("transactional.id", id);
        for (k, v) in configs {
            config.set(*k, *v);
        }
        let producer: FutureProducer = config.create().expect("creating a transactional producer");
        rdkafka::producer::Producer::init_transactions(&producer, Duration::from_secs(20))
            .expect("init_transactions");
        producer
    }

    /// Every payload a read_committed consumer sees, reading partitions `0..partitions` of
    /// `topic` to their end.
    pub fn read_committed_to_end(&self, topic: &str, partitions: i32) -> Vec<String> {
        let c: BaseConsumer = self
            .consumer_config()
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .expect("tpl");
        }
        c.assign(&tpl).expect("assign");
        let mut at_end = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while at_end.len() < partitions as usize {
            assert!(Instant::now() < deadline, "timed out reading {topic}");
            match c.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    at_end.remove(&m.partition());
                    out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => panic!("consuming {topic}: {e}"),
                None => {}
            }
        }
        out
    }

    pub fn admin(&self) -> AdminClient<DefaultClientContext> {
        self.client_config()
            .create()
            .expect("creating an admin client")
    }

    // -- topics --------------------------------------------------------------------------

    /// Creates a topic through AdminClient and waits until metadata shows all its partitions led.
    pub fn create_topic(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let admin = self.admin();
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let results = block_on(admin.create_topics([&topic], &admin_options()))
            .unwrap_or_else(|e| panic!("CreateTopics {name}: {e}"));
        assert_eq!(results, vec![Ok(name.to_string())], "CreateTopics {name}");
        self.wait_for_partitions(name, partitions as usize);
    }

    /// Waits until metadata lists `topic` with exactly `partitions` partitions, each with a leader.
    pub fn wait_for_partitions(&self, topic: &str, partitions: usize) {
        let consumer = self.consumer();
        wait_until(
            WAIT,
            &format!("metadata to show {topic} with {partitions} led partitions"),
            || {
                let md = consumer.fetch_metadata(None, Duration::from_secs(5)).ok()?;
                let t = md.topics().iter().find(|t| t.name() == topic)?;
                let led = t
                    .partitions()
                    .iter()
                    .filter(|p| p.leader() >= 0 && p.error().is_none())
                    .count();
                (t.error().is_none() && t.partitions().len() == partitions && led == partitions)
                    .then_some(())
            },
        );
    }

    /// Partition count of `topic` in a full metadata listing (never auto-creates), or None.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        let consumer = self.consumer();
        let md = consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("Metadata: {e}"));
        md.topics()
            .iter()
            .find(|t| t.name() == topic)
            .map(|t| t.partitions().len())
    }

    /// The topic's configs as DescribeConfigs reports them: name -> value.
    pub fn topic_configs(&self, topic: &str) -> BTreeMap<String, Option<String>> {
        let admin = self.admin();
        let results =
            block_on(admin.describe_configs([&ResourceSpecifier::Topic(topic)], &admin_options()))
                .unwrap_or_else(|e| panic!("DescribeConfigs {topic}: {e}"));
        let resource = match results.into_iter().next() {
            Some(Ok(r)) => r,
            other => panic!("DescribeConfigs {topic}: {other:?}"),
        };
        resource
            .entries
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect()
    }

    /// The topic id (base64, as Kafka tools print it), through librdkafka's DescribeTopics.
    pub fn topic_id(&self, topic: &str) -> String {
        describe_topic_id(&self.admin(), topic)
    }

    // -- data ----------------------------------------------------------------------------

    /// (low, high) watermarks of one partition via ListOffsets.
    pub fn watermarks(&self, topic: &str, partition: i32) -> (i64, i64) {
        self.consumer()
            .fetch_watermarks(topic, partition, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("ListOffsets {topic}/{partition}: {e}"))
    }

    /// Reads `[from, to)` of one partition with a manually assigned consumer.
    pub fn read_range(&self, topic: &str, partition: i32, from: i64, to: i64) -> Vec<Consumed> {
        let mut ranges = BTreeMap::new();
        ranges.insert(partition, (from, to));
        self.read_ranges(topic, &ranges)
            .remove(&partition)
            .unwrap_or_default()
    }

    /// Reads every partition of `topic` from its low to its high watermark.
    pub fn read_all(&self, topic: &str) -> BTreeMap<i32, Vec<Consumed>> {
        let partitions = self
            .partition_count(topic)
            .unwrap_or_else(|| panic!("{topic} not in metadata"));
        let ranges = (0..partitions as i32)
            .map(|p| (p, self.watermarks(topic, p)))
            .collect();
        self.read_ranges(topic, &ranges)
    }

    /// Reads `[from, to)` of each listed partition, all through one consumer.
    pub fn read_ranges(
        &self,
        topic: &str,
        ranges: &BTreeMap<i32, (i64, i64)>,
    ) -> BTreeMap<i32, Vec<Consumed>> {
        let mut out: BTreeMap<i32, Vec<Consumed>> =
            ranges.keys().map(|p| (*p, Vec::new())).collect();
        let mut tpl = TopicPartitionList::new();
        for (p, (from, to)) in ranges {
            if to > from {
                tpl.add_partition_offset(topic, *p, Offset::Offset(*from))
                    .expect("tpl");
            }
        }
        if tpl.count() == 0 {
            return out;
        }
        let consumer = self.consumer();
        consumer.assign(&tpl).expect("assign");
        let done = |out: &BTreeMap<i32, Vec<Consumed>>| {
            ranges
                .iter()
                .all(|(p, (from, to))| out[p].last().map_or(from >= to, |m| m.offset + 1 >= *to))
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&out) {
            assert!(
                Instant::now() < deadline,
                "timed out reading {topic} {ranges:?}; got {:?}",
                out.iter()
                    .map(|(p, v)| (*p, v.len(), v.last().map(|m| m.offset)))
                    .collect::<Vec<_>>()
            );
            match consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(m)) => {
                    let (_, to) = ranges[&m.partition()];
                    if m.offset() < to {
                        out.get_mut(&m.partition())
                            .expect("assigned partition")
                            .push(Consumed::from_message(&m));
                    }
                }
                Some(Err(e)) => panic!("consuming {topic}: {e}"),
            }
        }
        out
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- sluice log tail ({}) ----\n{}",
                self.log_path().display(),
                self.log_tail(8000)
            );
        }
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on a pid we spawned and have not yet reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(10)))
        .operation_timeout(Some(Duration::from_secs(10)))
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// DescribeTopics is not wrapped by the rdkafka crate; call librdkafka's C API directly.
fn describe_topic_id(admin: &AdminClient<DefaultClientContext>, topic: &str) -> String {
    use rdkafka::bindings as rd;
    let rk = admin.inner().native_ptr();
    let name = CString::new(topic).expect("topic name without NUL");
    // SAFETY: plain use of librdkafka's admin C API; every object created here is destroyed
    // here, and borrowed results are copied out before the event that owns them is destroyed.
    unsafe {
        let queue = rd::rd_kafka_queue_new(rk);
        let mut names = [name.as_ptr()];
        let topics = rd::rd_kafka_TopicCollection_of_topic_names(names.as_mut_ptr(), 1);
        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
        );
        let mut errstr = [0 as std::ffi::c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            10_000,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        rd::rd_kafka_DescribeTopics(rk, topics, options, queue);
        let event = rd::rd_kafka_queue_poll(queue, 15_000);
        let result = (|| {
            if event.is_null() {
                return Err("no DescribeTopics result within 15s".to_string());
            }
            if rd::rd_kafka_event_error(event)
                != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                let msg = CStr::from_ptr(rd::rd_kafka_event_error_string(event));
                return Err(format!("DescribeTopics failed: {}", msg.to_string_lossy()));
            }
            let res = rd::rd_kafka_event_DescribeTopics_result(event);
            let mut count = 0usize;
            let descs = rd::rd_kafka_DescribeTopics_result_topics(res, &mut count);
            if count != 1 {
                return Err(format!("DescribeTopics returned {count} topics"));
            }
            let desc = *descs;
            let err = rd::rd_kafka_TopicDescription_error(desc);
            if !err.is_null()
                && rd::rd_kafka_error_code(err)
                    != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                let msg = CStr::from_ptr(rd::rd_kafka_error_string(err));
                return Err(format!("DescribeTopics {topic}: {}", msg.to_string_lossy()));
            }
            let id = rd::rd_kafka_TopicDescription_topic_id(desc);
            if id.is_null() {
                return Err("DescribeTopics returned no topic id".into());
            }
            Ok(CStr::from_ptr(rd::rd_kafka_Uuid_base64str(id))
                .to_string_lossy()
                .into_owned())
        })();
        if !event.is_null() {
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_TopicCollection_destroy(topics);
        rd::rd_kafka_queue_destroy(queue);
        result.unwrap_or_else(|e| panic!("{e}"))
    }
}

// ------------------------------------------------------------------------------------------
// Records
// ------------------------------------------------------------------------------------------

/// A record to produce, owned so tests can keep it to compare against what they read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rec {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Explicit CreateTime; None lets the client stamp it.
    pub timestamp: Option<i64>,
}

impl Rec {
    pub fn value(partition: i32, payload: impl Into<Vec<u8>>) -> Rec {
        Rec {
            partition,
            payload: Some(payload.into()),
            ..Rec::default()
        }
    }
}

/// A record as a consumer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Timestamp,
}

impl Consumed {
    fn from_message<M: Message>(m: &M) -> Consumed {
        let headers = m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Consumed {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: m.timestamp(),
        }
    }

    /// Whether this is byte for byte the record that was produced (timestamp included if set).
    pub fn matches(&self, rec: &Rec) -> bool {
        self.partition == rec.partition
            && self.key == rec.key
            && self.payload == rec.payload
            && self.headers == rec.headers
            && rec
                .timestamp
                .is_none_or(|t| self.timestamp == Timestamp::CreateTime(t))
    }
}

/// Enqueues one record; the returned future resolves with its delivery report.
pub fn send(producer: &FutureProducer, topic: &str, rec: &Rec) -> DeliveryFuture {
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).partition(rec.partition);
    if let Some(k) = &rec.key {
        record = record.key(k.as_slice());
    }
    if let Some(p) = &rec.payload {
        record = record.payload(p.as_slice());
    }
    if let Some(t) = rec.timestamp {
        record = record.timestamp(t);
    }
    if !rec.headers.is_empty() {
        let mut hs = OwnedHeaders::new_with_capacity(rec.headers.len());
        for (key, value) in &rec.headers {
            hs = hs.insert(Header {
                key,
                value: value.as_deref(),
            });
        }
        record = record.headers(hs);
    }
    match producer.send_result(record) {
        Ok(f) => f,
        Err((e, _)) => panic!("enqueueing a record for {topic}: {e}"),
    }
}

/// Waits for one delivery report (the producer's own message.timeout.ms bounds it).
pub fn delivery(fut: DeliveryFuture) -> Result<Delivery, KafkaError> {
    block_on(fut)
        .expect("producer dropped before delivery")
        .map_err(|(e, _)| e)
}

/// Produces every record (enqueued all at once, so they batch) and returns their deliveries,
/// panicking on any failure.
pub fn produce_all(producer: &FutureProducer, topic: &str, recs: &[Rec]) -> Vec<Delivery> {
    let futures: Vec<_> = recs.iter().map(|r| send(producer, topic, r)).collect();
    futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            delivery(f).unwrap_or_else(|e| panic!("delivery of record #{i} to {topic}: {e}"))
        })
        .collect()
}

/// Deterministic incompressible-ish bytes (xorshift), so large payloads don't shrink to nothing.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// The on-disk log (Kafka's segment format, documented in TESTING.md)
// ------------------------------------------------------------------------------------------

/// One record batch's header as stored in a `.log` segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub last_offset: i64,
    pub magic: i8,
    /// attributes & 0x7: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub compression: u8,
    /// attributes bit 3: the batch carries LogAppendTime.
    pub log_append_time: bool,
    pub max_timestamp: i64,
    pub records: i32,
}

/// Batch headers of every segment of one partition, in offset order. Stops at a torn tail
/// (fewer bytes than the header announces), as recovery would.
pub fn stored_batches(partition_dir: &Path) -> Vec<StoredBatch> {
    let mut logs: Vec<PathBuf> = fs::read_dir(partition_dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", partition_dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    let mut out = Vec::new();
    for path in logs {
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut pos = 0usize;
        while pos + 61 <= bytes.len() {
            let b = &bytes[pos..];
            let i64_at = |o: usize| i64::from_be_bytes(b[o..o + 8].try_into().expect("8 bytes"));
            let i32_at = |o: usize| i32::from_be_bytes(b[o..o + 4].try_into().expect("4 bytes"));
            let length = i32_at(8);
            if length <= 0 || pos + 12 + length as usize > bytes.len() {
                break;
            }
            let attributes = i16::from_be_bytes([b[21], b[22]]);
            out.push(StoredBatch {
                base_offset: i64_at(0),
                last_offset: i64_at(0) + i32_at(23) as i64,
                magic: b[16] as i8,
                compression: (attributes & 0x7) as u8,
                log_append_time: attributes & 0x8 != 0,
                max_timestamp: i64_at(35),
                records: i32_at(57),
            });
            pos += 12 + length as usize;
        }
    }
    out
}
