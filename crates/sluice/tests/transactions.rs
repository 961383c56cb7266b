//! Transactions through librdkafka's transactional producer against a real broker: committed and
//! aborted transactions interleaved across partitions (read_committed consumers see only the
//! committed records, read_uncommitted see all, the last stable offset stops at an open
//! transaction, also the oldest of two concurrent ones), consumer offsets committed inside a
//! transaction, zombie fencing, and transaction state across a broker crash (an open transaction
//! is aborted after its timeout, a committed one stays visible, a kill during EndTxn leaves each
//! transaction whole). The consume-transform-produce test with kills is in eos.rs.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{delivery, send, unique_topic, wait_until, Broker, Rec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(20);

fn txn_producer(broker: &Broker, id: &str, timeout_ms: u32) -> FutureProducer {
    let timeout = timeout_ms.to_string();
    broker.transactional_producer(
        id,
        &[
            ("transaction.timeout.ms", &timeout),
            ("message.timeout.ms", &timeout),
        ],
    )
}

/// Sends records and waits for every delivery report.
fn send_all(producer: &FutureProducer, topic: &str, recs: &[Rec]) {
    let futures: Vec<_> = recs.iter().map(|r| send(producer, topic, r)).collect();
    for (i, f) in futures.into_iter().enumerate() {
        delivery(f).unwrap_or_else(|e| panic!("delivery of record #{i}: {e}"));
    }
}

fn consumer(broker: &Broker, isolation: &str) -> BaseConsumer {
    broker
        .consumer_config()
        .set("isolation.level", isolation)
        .create()
        .expect("creating a consumer")
}

/// (low, high) as a consumer with this isolation level sees them: high is the last stable
/// offset for read_committed.
fn watermarks(broker: &Broker, isolation: &str, topic: &str, p: i32) -> (i64, i64) {
    consumer(broker, isolation)
        .fetch_watermarks(topic, p, Duration::from_secs(10))
        .expect("ListOffsets")
}

/// Reads payloads from every partition until each holds `want[p]` records (then a short grace
/// poll for anything extra would not help: the last transaction is committed, so an extra
/// record would have arrived before the wanted ones).
fn read(
    broker: &Broker,
    isolation: &str,
    topic: &str,
    want: &BTreeMap<i32, usize>,
) -> BTreeMap<i32, Vec<String>> {
    let c = consumer(broker, isolation);
    let mut tpl = TopicPartitionList::new();
    for p in want.keys() {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut out: BTreeMap<i32, Vec<String>> = want.keys().map(|p| (*p, Vec::new())).collect();
    let deadline = Instant::now() + T;
    while want.iter().any(|(p, n)| out[p].len() < *n) {
        assert!(
            Instant::now() < deadline,
            "{isolation}: timed out; got {out:?}, want counts {want:?}"
        );
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out
                .get_mut(&m.partition())
                .expect("assigned")
                .push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()),
            Some(Err(e)) => panic!("consuming: {e}"),
            None => {}
        }
    }
    out
}

fn recs(tag: &str, partitions: i32, per: usize) -> Vec<Rec> {
    (0..partitions)
        .flat_map(|p| (0..per).map(move |k| Rec::value(p, format!("{tag}-p{p}-{k}"))))
        .collect()
}

fn is_fencing(e: &KafkaError) -> bool {
    let code = e.rdkafka_error_code();
    matches!(
        code,
        Some(RDKafkaErrorCode::Fenced)
            | Some(RDKafkaErrorCode::ProducerFenced)
            | Some(RDKafkaErrorCode::InvalidProducerEpoch)
    )
}

#[test]
fn read_committed_sees_only_committed_transactions() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let topic = unique_topic("txn-mix");
    broker.create_topic(&topic, 3, &[]);
    let producer = txn_producer(&broker, "mix", 30_000);

    let mut committed: BTreeMap<i32, Vec<String>> = (0..3).map(|p| (p, Vec::new())).collect();
    let mut all: BTreeMap<i32, Vec<String>> = committed.clone();
    for i in 0..6 {
        let batch = recs(&format!("t{i}"), 3, 4);
        producer.begin_transaction().expect("begin");
        send_all(&producer, &topic, &batch);
        for r in &batch {
            let payload = String::from_utf8(r.payload.clone().unwrap()).unwrap();
            all.get_mut(&r.partition).unwrap().push(payload.clone());
            if i % 2 == 0 {
                committed.get_mut(&r.partition).unwrap().push(payload);
            }
        }
        if i % 2 == 0 {
            producer.commit_transaction(T).expect("commit");
        } else {
            producer.abort_transaction(T).expect("abort");
        }
    }

    // An open transaction holds the last stable offset at its first record, per partition.
    let before: Vec<i64> = (0..3)
        .map(|p| watermarks(&broker, "read_uncommitted", &topic, p).1)
        .collect();
    producer.begin_transaction().expect("begin");
    let open = recs("open", 3, 2);
    send_all(&producer, &topic, &open);
    for p in 0..3 {
        let (_, hw) = watermarks(&broker, "read_uncommitted", &topic, p);
        let (_, lso) = watermarks(&broker, "read_committed", &topic, p);
        assert_eq!(
            hw,
            before[p as usize] + 2,
            "partition {p}: both open records are in the log"
        );
        assert_eq!(
            lso, before[p as usize],
            "partition {p}: LSO stops at the open transaction"
        );
    }
    // Nothing of it reaches a read_committed consumer while it is open.
    let want: BTreeMap<i32, usize> = committed.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_committed", &topic, &want), committed);

    producer.commit_transaction(T).expect("commit");
    for r in &open {
        let payload = String::from_utf8(r.payload.clone().unwrap()).unwrap();
        committed
            .get_mut(&r.partition)
            .unwrap()
            .push(payload.clone());
        all.get_mut(&r.partition).unwrap().push(payload);
    }
    for p in 0..3 {
        let (_, hw) = watermarks(&broker, "read_uncommitted", &topic, p);
        let (_, lso) = watermarks(&broker, "read_committed", &topic, p);
        assert_eq!(
            lso, hw,
            "partition {p}: everything is stable after the commit"
        );
    }
    let want: BTreeMap<i32, usize> = committed.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_committed", &topic, &want), committed);
    let want_all: BTreeMap<i32, usize> = all.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_uncommitted", &topic, &want_all), all);
}

#[test]
fn offsets_sent_to_a_transaction_appear_only_at_commit() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let input = unique_topic("txn-in");
    let output = unique_topic("txn-out");
    broker.create_topic(&input, 1, &[]);
    broker.create_topic(&output, 1, &[]);
    let group = "txn-group";
    // read_uncommitted: OffsetFetch without require_stable answers the last committed offset
    // even while a transaction is about to replace it.
    let member: BaseConsumer = broker
        .consumer_config()
        .set("group.id", group)
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("consumer");
    // read_committed: librdkafka sends require_stable (KIP-447), answered with
    // UNSTABLE_OFFSET_COMMIT while the transaction is open, which it retries until it ends.
    let stable: BaseConsumer = broker
        .consumer_config()
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let metadata = member.group_metadata().expect("group metadata");
    let committed = |c: &BaseConsumer| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&input, 0);
        c.committed_offsets(tpl, Duration::from_secs(10))
            .expect("OffsetFetch")
            .find_partition(&input, 0)
            .map(|e| e.offset())
    };
    let producer = txn_producer(&broker, "offsets", 30_000);
    let offsets = |n: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&input, 0, Offset::Offset(n))
            .expect("tpl");
        tpl
    };

    producer.begin_transaction().expect("begin");
    send_all(&producer, &output, &[Rec::value(0, "a")]);
    producer
        .send_offsets_to_transaction(&offsets(5), &metadata, T)
        .expect("send_offsets_to_transaction");
    assert_eq!(
        committed(&member),
        Some(Offset::Invalid),
        "offsets stay invisible until the commit"
    );
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&input, 0);
    let while_open = stable.committed_offsets(tpl, Duration::from_secs(2));
    assert!(
        while_open.is_err(),
        "a read_committed consumer must not get an offset an open transaction replaces: {while_open:?}"
    );
    producer.commit_transaction(T).expect("commit");
    assert_eq!(committed(&member), Some(Offset::Offset(5)));
    assert_eq!(committed(&stable), Some(Offset::Offset(5)));

    producer.begin_transaction().expect("begin");
    send_all(&producer, &output, &[Rec::value(0, "b")]);
    producer
        .send_offsets_to_transaction(&offsets(9), &metadata, T)
        .expect("send_offsets_to_transaction");
    producer.abort_transaction(T).expect("abort");
    assert_eq!(
        committed(&member),
        Some(Offset::Offset(5)),
        "an aborted transaction's offsets are dropped"
    );
}

#[test]
fn a_newer_producer_fences_the_older_one() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let topic = unique_topic("txn-zombie");
    broker.create_topic(&topic, 2, &[]);
    let zombie = txn_producer(&broker, "zombie", 30_000);
    zombie.begin_transaction().expect("begin");
    send_all(&zombie, &topic, &[Rec::value(0, "zombie-1")]);

    // A second instance with the same transactional.id aborts the first one's transaction.
    let fresh = txn_producer(&broker, "zombie", 30_000);

    // The older instance can neither write to its partition nor to a new one, nor commit.
    let write = delivery(send(&zombie, &topic, &Rec::value(0, "zombie-2")));
    let e = write.expect_err("a fenced producer's write must fail");
    assert!(
        is_fencing(&e),
        "write failed with {e:?}, not the fencing error"
    );
    let commit = zombie.commit_transaction(T);
    let e = commit.expect_err("a fenced producer's commit must fail");
    assert!(
        is_fencing(&e),
        "commit failed with {e:?}, not the fencing error"
    );

    fresh.begin_transaction().expect("begin");
    send_all(
        &fresh,
        &topic,
        &[Rec::value(0, "fresh-1"), Rec::value(1, "fresh-2")],
    );
    fresh.commit_transaction(T).expect("commit");
    let want = BTreeMap::from([(0, 1), (1, 1)]);
    let got = read(&broker, "read_committed", &topic, &want);
    assert_eq!(
        got,
        BTreeMap::from([
            (0, vec!["fresh-1".to_string()]),
            (1, vec!["fresh-2".to_string()])
        ])
    );
    // The zombie's first record is in the log, aborted: read_uncommitted sees it.
    let want = BTreeMap::from([(0, 2), (1, 1)]);
    let got = read(&broker, "read_uncommitted", &topic, &want);
    assert_eq!(got[&0], vec!["zombie-1".to_string(), "fresh-1".to_string()]);
}

#[test]
fn transaction_state_survives_a_broker_crash() {
    crash_and_recover(&[]);
}

#[test]
fn transaction_state_survives_a_broker_crash_in_durable_mode() {
    crash_and_recover(&["--durable"]);
}

fn crash_and_recover(extra: &[&str]) {
    let mut args = vec![
        "--set",
        "transaction.state.log.num.partitions=3",
        "--set",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=200",
    ];
    args.extend_from_slice(extra);
    let mut broker = Broker::start_with_args(&args);
    let topic = unique_topic("txn-crash");
    broker.create_topic(&topic, 2, &[]);
    // Both transactions also commit consumer offsets (of the topic itself, partition 0).
    let group = "crash-group";
    let member: BaseConsumer = broker
        .consumer_config()
        .set("group.id", group)
        .create()
        .expect("consumer");
    let metadata = member.group_metadata().expect("group metadata");
    let offsets = |n: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(n))
            .expect("tpl");
        tpl
    };
    let producer = txn_producer(&broker, "crash", 4_000);
    producer.begin_transaction().expect("begin");
    send_all(&producer, &topic, &recs("committed", 2, 3));
    producer
        .send_offsets_to_transaction(&offsets(3), &metadata, T)
        .expect("send_offsets_to_transaction");
    producer.commit_transaction(T).expect("commit");
    producer.begin_transaction().expect("begin");
    send_all(&producer, &topic, &recs("open", 2, 3));
    producer
        .send_offsets_to_transaction(&offsets(6), &metadata, T)
        .expect("send_offsets_to_transaction");
    let open_at: Vec<i64> = (0..2)
        .map(|p| watermarks(&broker, "read_committed", &topic, p).1)
        .collect();

    broker.kill();
    drop(producer);
    drop(member);
    broker.restart();

    // Right after the restart the open transaction still holds the LSO back; once its
    // timeout passes the coordinator aborts it and the LSO reaches the log end.
    for p in 0..2 {
        let (_, lso) = watermarks(&broker, "read_committed", &topic, p);
        let (_, hw) = watermarks(&broker, "read_uncommitted", &topic, p);
        assert!(
            lso >= open_at[p as usize] && lso < hw,
            "partition {p}: LSO {lso}, HW {hw}"
        );
    }
    wait_until(
        Duration::from_secs(30),
        "the open transaction to be aborted",
        || {
            (0..2)
                .all(|p| {
                    watermarks(&broker, "read_committed", &topic, p).1
                        == watermarks(&broker, "read_uncommitted", &topic, p).1
                })
                .then_some(())
        },
    );
    let want = BTreeMap::from([(0, 3), (1, 3)]);
    let got = read(&broker, "read_committed", &topic, &want);
    for p in 0..2 {
        let expected: Vec<String> = (0..3).map(|k| format!("committed-p{p}-{k}")).collect();
        assert_eq!(got[&p], expected);
    }
    // The committed transaction's offset survived; the aborted one's never became visible.
    let committed = {
        let c: BaseConsumer = broker
            .consumer_config()
            .set("group.id", group)
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&topic, 0);
        c.committed_offsets(tpl, Duration::from_secs(10))
            .expect("OffsetFetch")
            .find_partition(&topic, 0)
            .map(|e| e.offset())
    };
    assert_eq!(committed, Some(Offset::Offset(3)));
    // A new instance of the transactional id works after the restart.
    let producer = txn_producer(&broker, "crash", 4_000);
    producer.begin_transaction().expect("begin");
    send_all(&producer, &topic, &[Rec::value(0, "after")]);
    producer.commit_transaction(T).expect("commit");
    let got = read(&broker, "read_committed", &topic, &BTreeMap::from([(0, 4)]));
    assert_eq!(got[&0].last().map(String::as_str), Some("after"));
}

// ------------------------------------------------------------------------------------------
// Bad input over the wire: requests librdkafka never sends (wrong epochs, unknown ids, EndTxn
// without a transaction, writes outside the transaction) encoded by hand. Non-flexible
// versions use int16-length strings and int32-length arrays; TxnOffsetCommit v3 (the first
// version with a generation) is flexible: compact strings/arrays and empty tagged fields.
// ------------------------------------------------------------------------------------------

const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OPERATION_NOT_ATTEMPTED: i16 = 55;
const ILLEGAL_GENERATION: i16 = 22;

struct Wire {
    stream: std::net::TcpStream,
    correlation_id: i32,
}

/// Big-endian request body builder.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn i8(mut self, v: i8) -> Self {
        self.0.push(v as u8);
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn str(self, s: &str) -> Self {
        let mut b = self.i16(s.len() as i16);
        b.0.extend(s.as_bytes());
        b
    }
    /// Compact string (flexible versions): unsigned varint length + 1 (small values only).
    fn cstr(mut self, s: &str) -> Self {
        assert!(s.len() < 127);
        self.0.push(s.len() as u8 + 1);
        self.0.extend(s.as_bytes());
        self
    }
    fn bytes(self, v: &[u8]) -> Self {
        let mut b = self.i32(v.len() as i32);
        b.0.extend(v);
        b
    }
}

/// Big-endian response reader.
struct Reader(Vec<u8>, usize);

impl Reader {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.0[self.1..self.1 + n];
        self.1 += n;
        s
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn skip_str(&mut self) {
        let n = self.i16();
        self.take(n.max(0) as usize);
    }
    fn skip_cstr(&mut self) {
        let n = self.u8();
        self.take(n.saturating_sub(1) as usize);
    }
    /// Compact string or array length (single-byte varints: small test answers only).
    fn cstring(&mut self) -> String {
        let n = self.u8();
        assert!(n < 128, "multi-byte varint");
        String::from_utf8(self.take(n.saturating_sub(1) as usize).to_vec()).unwrap()
    }
    fn clen(&mut self) -> usize {
        let n = self.u8();
        assert!(n < 128, "multi-byte varint");
        n.saturating_sub(1) as usize
    }
}

/// One DescribeTransactions answer.
#[derive(Debug, PartialEq)]
struct Described {
    error: i16,
    id: String,
    state: String,
    timeout_ms: i32,
    started: bool,
    producer_id: i64,
    topics: Vec<(String, Vec<i32>)>,
}

impl Wire {
    fn open(broker: &Broker) -> Wire {
        let stream = std::net::TcpStream::connect(broker.addr()).expect("connecting");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Wire {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends one request; `flexible` selects request header v2 / response header v1.
    fn call(&mut self, api_key: i16, version: i16, flexible: bool, body: Body) -> Reader {
        use std::io::{Read, Write};
        self.correlation_id += 1;
        let mut req = Body::default()
            .i16(api_key)
            .i16(version)
            .i32(self.correlation_id)
            .str("txn-wire-test");
        if flexible {
            req = req.i8(0);
        }
        req.0.extend(body.0);
        let mut frame = (req.0.len() as i32).to_be_bytes().to_vec();
        frame.extend(req.0);
        self.stream.write_all(&frame).unwrap();
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).expect("response size");
        let mut resp = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut resp).expect("response");
        let mut r = Reader(resp, 0);
        assert_eq!(r.i32(), self.correlation_id);
        if flexible {
            assert_eq!(r.u8(), 0, "response header tagged fields");
        }
        r
    }

    /// InitProducerId v1: (error, producer id, epoch).
    fn init(&mut self, id: &str, timeout_ms: i32) -> (i16, i64, i16) {
        let mut r = self.call(22, 1, false, Body::default().str(id).i32(timeout_ms));
        r.i32();
        (r.i16(), r.i64(), r.i16())
    }

    /// AddPartitionsToTxn v1 for one topic: the code of each partition.
    fn add_partitions(
        &mut self,
        id: &str,
        pid: i64,
        epoch: i16,
        topic: &str,
        ps: &[i32],
    ) -> Vec<i16> {
        let mut b = Body::default()
            .str(id)
            .i64(pid)
            .i16(epoch)
            .i32(1)
            .str(topic);
        b = b.i32(ps.len() as i32);
        for p in ps {
            b = b.i32(*p);
        }
        let mut r = self.call(24, 1, false, b);
        r.i32(); // throttle
        assert_eq!(r.i32(), 1, "one topic result");
        r.skip_str();
        let n = r.i32();
        (0..n)
            .map(|_| {
                r.i32();
                r.i16()
            })
            .collect()
    }

    /// AddOffsetsToTxn v1.
    fn add_offsets(&mut self, id: &str, pid: i64, epoch: i16, group: &str) -> i16 {
        let body = Body::default().str(id).i64(pid).i16(epoch).str(group);
        let mut r = self.call(25, 1, false, body);
        r.i32();
        r.i16()
    }

    /// EndTxn v1.
    fn end(&mut self, id: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
        let body = Body::default().str(id).i64(pid).i16(epoch).i8(commit as i8);
        let mut r = self.call(26, 1, false, body);
        r.i32();
        r.i16()
    }

    /// TxnOffsetCommit v3 for partition 0 of `topic`: that partition's code.
    fn txn_offset_commit(
        &mut self,
        id: &str,
        group: &str,
        pid: i64,
        epoch: i16,
        generation: i32,
        topic: &str,
    ) -> i16 {
        let body = Body::default()
            .cstr(id)
            .cstr(group)
            .i64(pid)
            .i16(epoch)
            .i32(generation)
            .cstr("some-member")
            .i8(0) // group instance id: null
            .i8(2) // one topic
            .cstr(topic)
            .i8(2) // one partition
            .i32(0)
            .i64(7)
            .i32(-1)
            .i8(0) // metadata: null
            .i8(0) // partition tags
            .i8(0) // topic tags
            .i8(0); // request tags
        let mut r = self.call(28, 3, true, body);
        r.i32(); // throttle
        assert_eq!(r.u8(), 2, "one topic result");
        r.skip_cstr();
        assert_eq!(r.u8(), 2, "one partition result");
        r.i32();
        r.i16()
    }

    /// DescribeTransactions v0 (flexible).
    fn describe(&mut self, ids: &[&str]) -> Vec<Described> {
        let mut b = Body::default().i8(ids.len() as i8 + 1);
        for id in ids {
            b = b.cstr(id);
        }
        let mut r = self.call(65, 0, true, b.i8(0));
        r.i32(); // throttle
        (0..r.clen())
            .map(|_| {
                let error = r.i16();
                let id = r.cstring();
                let state = r.cstring();
                let timeout_ms = r.i32();
                let started = r.i64() >= 0;
                let producer_id = r.i64();
                r.i16(); // epoch
                let topics = (0..r.clen())
                    .map(|_| {
                        let t = r.cstring();
                        let ps = (0..r.clen()).map(|_| r.i32()).collect();
                        assert_eq!(r.u8(), 0);
                        (t, ps)
                    })
                    .collect();
                assert_eq!(r.u8(), 0);
                Described {
                    error,
                    id,
                    state,
                    timeout_ms,
                    started,
                    producer_id,
                    topics,
                }
            })
            .collect()
    }

    /// ListTransactions (v1 with a duration filter, else v0): (unknown state filters,
    /// (id, producer id, state) listed).
    fn list(
        &mut self,
        states: &[&str],
        duration_ms: Option<i64>,
    ) -> (Vec<String>, Vec<(String, i64, String)>) {
        let mut b = Body::default().i8(states.len() as i8 + 1);
        for s in states {
            b = b.cstr(s);
        }
        b = b.i8(1); // no producer id filters
        let version = match duration_ms {
            Some(d) => {
                b = b.i64(d);
                1
            }
            None => 0,
        };
        let mut r = self.call(66, version, true, b.i8(0));
        r.i32(); // throttle
        assert_eq!(r.i16(), 0);
        let unknown = (0..r.clen()).map(|_| r.cstring()).collect();
        let listed = (0..r.clen())
            .map(|_| {
                let id = r.cstring();
                let pid = r.i64();
                let state = r.cstring();
                assert_eq!(r.u8(), 0);
                (id, pid, state)
            })
            .collect();
        (unknown, listed)
    }

    /// DescribeProducers v0 (flexible) for partitions of one topic: per partition its error
    /// and (producer id, open transaction's first offset) of each producer.
    fn producers(&mut self, topic: &str, partitions: &[i32]) -> Vec<(i16, Vec<(i64, i64)>)> {
        let mut b = Body::default()
            .i8(2)
            .cstr(topic)
            .i8(partitions.len() as i8 + 1);
        for p in partitions {
            b = b.i32(*p);
        }
        let mut r = self.call(61, 0, true, b.i8(0).i8(0));
        r.i32(); // throttle
        assert_eq!(r.clen(), 1);
        r.skip_cstr();
        (0..r.clen())
            .map(|_| {
                r.i32();
                let error = r.i16();
                r.skip_cstr(); // error message
                let producers = (0..r.clen())
                    .map(|_| {
                        let pid = r.i64();
                        r.i32();
                        r.i32();
                        r.i64();
                        r.i32();
                        let start = r.i64();
                        assert_eq!(r.u8(), 0);
                        (pid, start)
                    })
                    .collect();
                assert_eq!(r.u8(), 0);
                (error, producers)
            })
            .collect()
    }

    /// Produce v3 of one transactional batch holding one record: the partition's code.
    fn produce_txn(&mut self, topic: &str, partition: i32, pid: i64, epoch: i16, seq: i32) -> i16 {
        let batch = txn_batch(pid, epoch, seq);
        let body = Body::default()
            .i16(-1) // transactional id: null
            .i16(-1) // acks
            .i32(10_000)
            .i32(1)
            .str(topic)
            .i32(1)
            .i32(partition)
            .bytes(&batch);
        let mut r = self.call(0, 3, false, body);
        assert_eq!(r.i32(), 1);
        r.skip_str();
        assert_eq!(r.i32(), 1);
        r.i32();
        r.i16()
    }
}

/// A v2 record batch with one record (value "x"), transactional for `pid`/`epoch`.
fn txn_batch(pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    // length 7 (zigzag 14), attributes, timestamp delta, offset delta, key -1, value len 1, "x",
    // no headers.
    let record = [14u8, 0, 0, 0, 1, 2, b'x', 0];
    let now = common::now_ms();
    let mut b = Body::default()
        .i64(0)
        .i32((49 + record.len()) as i32)
        .i32(-1)
        .i8(2)
        .i32(0) // crc, filled in below
        .i16(0x10) // transactional
        .i32(0)
        .i64(now)
        .i64(now)
        .i64(pid)
        .i16(epoch)
        .i32(seq)
        .i32(1);
    b.0.extend(record);
    let crc = sluice_log::crc_of(&b.0);
    b.0[17..21].copy_from_slice(&crc.to_be_bytes());
    b.0
}

#[test]
fn bad_transactional_requests_get_kafkas_error_codes() {
    let broker = Broker::start_with_args(&[
        "--set",
        "transaction.state.log.num.partitions=3",
        "--set",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=100",
    ]);
    let topic = unique_topic("txn-bad");
    broker.create_topic(&topic, 2, &[]);
    let mut w = Wire::open(&broker);

    assert_eq!(
        w.init("too-long", 1_000_000_000).0,
        INVALID_TRANSACTION_TIMEOUT
    );
    let (err, pid, epoch) = w.init("bad", 60_000);
    assert_eq!((err, epoch), (0, 0));

    // EndTxn with no transaction open, or for an id the coordinator never saw.
    assert_eq!(w.end("bad", pid, epoch, true), INVALID_TXN_STATE);
    assert_eq!(
        w.end("never-seen", pid, epoch, true),
        INVALID_PRODUCER_ID_MAPPING
    );
    // AddPartitionsToTxn with a wrong epoch (v1 knows fencing as INVALID_PRODUCER_EPOCH), a
    // wrong producer id, and an unknown partition next to a known one.
    assert_eq!(
        w.add_partitions("bad", pid, epoch + 1, &topic, &[0]),
        vec![INVALID_PRODUCER_EPOCH]
    );
    assert_eq!(
        w.add_partitions("bad", pid + 1000, epoch, &topic, &[0]),
        vec![INVALID_PRODUCER_ID_MAPPING]
    );
    assert_eq!(
        w.add_partitions("bad", pid, epoch, &topic, &[0, 9]),
        vec![OPERATION_NOT_ATTEMPTED, UNKNOWN_TOPIC_OR_PARTITION]
    );
    // A transactional write to a partition that is not in the transaction.
    assert_eq!(w.produce_txn(&topic, 1, pid, epoch, 0), INVALID_TXN_STATE);
    // TxnOffsetCommit before AddOffsetsToTxn, and for a group that does not know the generation.
    assert_eq!(
        w.txn_offset_commit("bad", "g-bad", pid, epoch, -1, &topic),
        INVALID_TXN_STATE
    );
    assert_eq!(w.add_offsets("bad", pid, epoch, "g-bad"), 0);
    assert_eq!(w.add_offsets("bad", pid, epoch, "g-unknown"), 0);
    assert_eq!(
        w.txn_offset_commit("bad", "g-unknown", pid, epoch, 3, &topic),
        ILLEGAL_GENERATION
    );

    // The coordinator is still healthy: the same transaction commits a record.
    assert_eq!(w.add_partitions("bad", pid, epoch, &topic, &[0]), vec![0]);
    assert_eq!(w.produce_txn(&topic, 0, pid, epoch, 0), 0);
    assert_eq!(w.end("bad", pid, epoch, true), 0);
    assert_eq!(
        w.end("bad", pid, epoch, true),
        0,
        "a retried EndTxn succeeds"
    );
    assert_eq!(w.end("bad", pid, epoch, false), INVALID_TXN_STATE);
    let got = read(&broker, "read_committed", &topic, &BTreeMap::from([(0, 1)]));
    assert_eq!(got[&0], vec!["x".to_string()]);

    // A transaction that outlives its timeout is aborted, fencing its producer.
    let (err, pid, epoch) = w.init("expiring", 300);
    assert_eq!(err, 0);
    assert_eq!(
        w.add_partitions("expiring", pid, epoch, &topic, &[1]),
        vec![0]
    );
    assert_eq!(w.produce_txn(&topic, 1, pid, epoch, 0), 0);
    wait_until(
        Duration::from_secs(20),
        "the expired transaction's abort",
        || {
            let (_, lso) = watermarks(&broker, "read_committed", &topic, 1);
            let (_, hw) = watermarks(&broker, "read_uncommitted", &topic, 1);
            (lso == hw).then_some(())
        },
    );
    assert_eq!(w.end("expiring", pid, epoch, true), INVALID_PRODUCER_EPOCH);
    assert_eq!(
        w.produce_txn(&topic, 1, pid, epoch, 1),
        INVALID_PRODUCER_EPOCH
    );
    let (err, _, new_epoch) = w.init("expiring", 60_000);
    assert_eq!(
        (err, new_epoch),
        (0, epoch + 2),
        "aborted at epoch+1, then bumped"
    );
}

#[test]
fn transactions_are_listed_and_described() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let topic = unique_topic("txn-list");
    broker.create_topic(&topic, 2, &[]);
    let producer = txn_producer(&broker, "listed-open", 30_000);
    producer.begin_transaction().expect("begin");
    send_all(&producer, &topic, &[Rec::value(0, "a"), Rec::value(1, "b")]);
    let done = txn_producer(&broker, "listed-done", 20_000);
    done.begin_transaction().expect("begin");
    send_all(&done, &topic, &[Rec::value(0, "c")]);
    done.commit_transaction(T).expect("commit");

    let mut w = Wire::open(&broker);
    let described = w.describe(&["listed-open", "listed-done", "never-seen"]);
    assert_eq!(described.len(), 3);
    assert_eq!(
        (
            described[0].error,
            described[0].state.as_str(),
            described[0].timeout_ms
        ),
        (0, "Ongoing", 30_000)
    );
    assert!(described[0].started);
    assert_eq!(described[0].topics, vec![(topic.clone(), vec![0, 1])]);
    assert_eq!(
        (described[1].state.as_str(), described[1].topics.len()),
        ("CompleteCommit", 0)
    );
    const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    assert_eq!(described[2].error, TRANSACTIONAL_ID_NOT_FOUND);

    let (unknown, all) = w.list(&[], None);
    assert!(unknown.is_empty());
    let ids: Vec<&str> = all.iter().map(|(id, ..)| id.as_str()).collect();
    assert_eq!(ids, vec!["listed-done", "listed-open"]);
    assert_eq!(all[1].1, described[0].producer_id);
    let (unknown, ongoing) = w.list(&["Ongoing", "Bogus"], None);
    assert_eq!(unknown, vec!["Bogus".to_string()]);
    assert_eq!(
        ongoing,
        vec![(
            "listed-open".to_string(),
            described[0].producer_id,
            "Ongoing".to_string()
        )]
    );
    // Running for at least an hour: none.
    assert!(w.list(&[], Some(3_600_000)).1.is_empty());

    // DescribeProducers shows where the open transaction starts in each partition.
    let open_pid = described[0].producer_id;
    let done_pid = described[1].producer_id;
    let producers = w.producers(&topic, &[0, 1, 9]);
    let mut p0 = producers[0].1.clone();
    p0.sort();
    let mut want = vec![(open_pid, 0), (done_pid, -1)];
    want.sort();
    assert_eq!((producers[0].0, p0), (0, want));
    assert_eq!(producers[1], (0, vec![(open_pid, 0)]));
    assert_eq!(producers[2].0, UNKNOWN_TOPIC_OR_PARTITION);
    producer.abort_transaction(T).expect("abort");
}

/// (low, high) of every partition `0..n` as `isolation` sees them.
fn all_watermarks(broker: &Broker, isolation: &str, topic: &str, n: i32) -> Vec<i64> {
    (0..n)
        .map(|p| watermarks(broker, isolation, topic, p).1)
        .collect()
}

#[test]
fn concurrent_transactions_interleave_and_the_lso_waits_for_the_oldest_open_one() {
    let broker = Broker::start_with_args(&["--set", "transaction.state.log.num.partitions=3"]);
    let topic = unique_topic("txn-interleave");
    broker.create_topic(&topic, 3, &[]);
    let a = txn_producer(&broker, "interleave-a", 30_000);
    let b = txn_producer(&broker, "interleave-b", 30_000);
    let payloads = |tag: &str, per: usize| -> BTreeMap<i32, Vec<String>> {
        (0..3)
            .map(|p| (p, (0..per).map(|k| format!("{tag}-p{p}-{k}")).collect()))
            .collect()
    };
    let mut committed: BTreeMap<i32, Vec<String>> = (0..3).map(|p| (p, Vec::new())).collect();
    let mut all = committed.clone();
    let append = |into: &mut BTreeMap<i32, Vec<String>>, tag: &str, per: usize| {
        for (p, v) in payloads(tag, per) {
            into.get_mut(&p).unwrap().extend(v);
        }
    };

    // Round 1: A opens first; B writes after it in every partition and commits while A is
    // still open; then A writes more and aborts.
    let first_open = all_watermarks(&broker, "read_uncommitted", &topic, 3);
    a.begin_transaction().expect("begin a");
    send_all(&a, &topic, &recs("a1", 3, 2));
    b.begin_transaction().expect("begin b");
    send_all(&b, &topic, &recs("b1", 3, 2));
    assert_eq!(
        all_watermarks(&broker, "read_committed", &topic, 3),
        first_open,
        "LSO at A's first records while A and B are open"
    );
    b.commit_transaction(T).expect("commit b");
    send_all(&a, &topic, &recs("a1x", 3, 1));
    let lso = all_watermarks(&broker, "read_committed", &topic, 3);
    let hw = all_watermarks(&broker, "read_uncommitted", &topic, 3);
    for p in 0..3usize {
        assert_eq!(
            lso[p], first_open[p],
            "partition {p}: B's commit must not move the LSO past A's open transaction"
        );
        assert!(
            hw[p] > lso[p] + 4,
            "partition {p}: HW {} LSO {}",
            hw[p],
            lso[p]
        );
    }
    a.abort_transaction(T).expect("abort a");
    append(&mut all, "a1", 2);
    append(&mut all, "b1", 2);
    append(&mut all, "a1x", 1);
    append(&mut committed, "b1", 2);
    assert_eq!(
        all_watermarks(&broker, "read_committed", &topic, 3),
        all_watermarks(&broker, "read_uncommitted", &topic, 3),
        "no transaction open: LSO = HW"
    );

    // Round 2, the other way round: B opens first and aborts after A, opened later, commits.
    let first_open = all_watermarks(&broker, "read_uncommitted", &topic, 3);
    b.begin_transaction().expect("begin b");
    send_all(&b, &topic, &recs("b2", 3, 1));
    a.begin_transaction().expect("begin a");
    send_all(&a, &topic, &recs("a2", 3, 3));
    a.commit_transaction(T).expect("commit a");
    assert_eq!(
        all_watermarks(&broker, "read_committed", &topic, 3),
        first_open,
        "A's commit must not move the LSO past B's open transaction"
    );
    send_all(&b, &topic, &recs("b2x", 3, 1));
    b.abort_transaction(T).expect("abort b");
    append(&mut all, "b2", 1);
    append(&mut all, "a2", 3);
    append(&mut all, "b2x", 1);
    append(&mut committed, "a2", 3);
    assert_eq!(
        all_watermarks(&broker, "read_committed", &topic, 3),
        all_watermarks(&broker, "read_uncommitted", &topic, 3),
    );

    let want: BTreeMap<i32, usize> = committed.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_committed", &topic, &want), committed);
    let want_all: BTreeMap<i32, usize> = all.iter().map(|(p, v)| (*p, v.len())).collect();
    assert_eq!(read(&broker, "read_uncommitted", &topic, &want_all), all);
}

/// SIGKILL lands while EndTxn is in flight (durable mode, so a commit the client saw succeed
/// must survive). After the restart each transaction is whole: committed in every partition or
/// in none; an abort never turns into a commit.
#[test]
fn a_broker_killed_during_commit_or_abort_leaves_each_transaction_whole() {
    const PARTITIONS: i32 = 6;
    const PER: usize = 40;
    let mut broker = Broker::start_with_args(&[
        "--durable",
        "--set",
        "transaction.state.log.num.partitions=3",
        "--set",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=200",
    ]);
    let topic = unique_topic("txn-kill-end");
    broker.create_topic(&topic, PARTITIONS, &[]);
    // How long a commit takes here, so the kill points can be spread over it.
    let calibration = txn_producer(&broker, "kill-calibration", 3_000);
    calibration.begin_transaction().expect("begin");
    send_all(&calibration, &topic, &recs("cal", PARTITIONS, PER));
    let started = Instant::now();
    calibration.commit_transaction(T).expect("commit");
    let end_txn = started.elapsed();
    drop(calibration);
    let mut visible = broker.read_committed_to_end(&topic, PARTITIONS);
    visible.sort();
    assert_eq!(visible.len(), PARTITIONS as usize * PER);
    let mut outcomes = Vec::new();
    for round in 0..6u32 {
        let commit = round % 2 == 0;
        let producer = txn_producer(&broker, "kill-during-end", 3_000);
        producer.begin_transaction().expect("begin");
        let batch = recs(&format!("r{round}"), PARTITIONS, PER);
        send_all(&producer, &topic, &batch);
        // Kill points at 1/6, 3/6 and 5/6 of a commit's duration, for commits and aborts.
        let delay = end_txn * (round / 2 * 2 + 1) / 6;
        let ended = std::thread::scope(|s| {
            let end = s.spawn(|| {
                if commit {
                    producer.commit_transaction(Duration::from_secs(8))
                } else {
                    producer.abort_transaction(Duration::from_secs(8))
                }
            });
            std::thread::sleep(delay);
            broker.kill();
            broker.restart();
            end.join().expect("EndTxn thread")
        });
        drop(producer);
        // Whatever the client saw, the coordinator finishes the transaction: the LSO reaches
        // the end of every partition.
        wait_until(Duration::from_secs(20), "the transaction to end", || {
            (all_watermarks(&broker, "read_committed", &topic, PARTITIONS)
                == all_watermarks(&broker, "read_uncommitted", &topic, PARTITIONS))
            .then_some(())
        });
        let mut now_visible = broker.read_committed_to_end(&topic, PARTITIONS);
        now_visible.sort();
        let (mine, earlier): (Vec<String>, Vec<String>) = now_visible
            .iter()
            .cloned()
            .partition(|v| v.starts_with(&format!("r{round}-")));
        assert_eq!(earlier, visible, "round {round}: earlier rounds changed");
        let whole = mine.len() == batch.len();
        assert!(
            mine.is_empty() || whole,
            "round {round}: {} of {} records visible (a partial transaction)",
            mine.len(),
            batch.len()
        );
        if !commit {
            assert!(
                mine.is_empty(),
                "round {round}: an aborted transaction is visible"
            );
        }
        if commit && ended.is_ok() {
            assert!(
                whole,
                "round {round}: a commit the client saw succeed was lost"
            );
        }
        outcomes.push((commit, ended.is_ok(), whole, delay));
        visible = now_visible;
    }
    println!("EndTxn took {end_txn:?}; (commit?, client ok?, visible?, kill delay): {outcomes:?}");
}
