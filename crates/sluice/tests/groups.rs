//! Consumer groups through librdkafka against a real `sluice serve`: classic rebalancing (eager,
//! cooperative-sticky, static membership), KIP-848 (`group.protocol=consumer`), committed offsets
//! surviving a SIGKILL, and Kafka's error codes for bad commits.
//!
//! Several consumers live in one test thread; each is polled in turn with short timeouts, which
//! also serves their rebalance callbacks.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{produce_all, unique_topic, wait_until, Broker, Rec, WAIT};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// Rebalance deadlines are seconds long; allow a few of them.
const REBALANCE_WAIT: Duration = Duration::from_secs(40);

/// Records what librdkafka's rebalance callbacks saw.
#[derive(Default, Clone)]
struct Recorder {
    revoked: Arc<Mutex<Vec<(String, i32)>>>,
    rebalances: Arc<Mutex<usize>>,
}

impl ClientContext for Recorder {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        // Only with GROUPS_DEBUG=<librdkafka debug contexts>, to diagnose a failing rebalance.
        eprintln!("rdkafka {level:?} {fac}: {log_message}");
    }
}

impl ConsumerContext for Recorder {
    fn pre_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        *self.rebalances.lock().unwrap() += 1;
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut revoked = self.revoked.lock().unwrap();
            for e in tpl.elements() {
                revoked.push((e.topic().to_string(), e.partition()));
            }
        }
    }
}

type Member = BaseConsumer<Recorder>;

/// A broker whose new groups rebalance at once, so tests do not wait out Kafka's 3 s delay.
fn broker() -> Broker {
    Broker::start_with_args(&[
        "--set",
        "group.initial.rebalance.delay.ms=0",
        "--set",
        "group.consumer.heartbeat.interval.ms=500",
    ])
}

fn group_config(broker: &Broker, group: &str) -> ClientConfig {
    let mut c = broker.client_config();
    c.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300")
        .set("fetch.wait.max.ms", "100")
        .set("enable.partition.eof", "false");
    if let Ok(d) = std::env::var("GROUPS_DEBUG") {
        c.set("debug", d);
    }
    c
}

fn member(config: &ClientConfig, topic: &str) -> (Member, Recorder) {
    let recorder = Recorder::default();
    let consumer: Member = config
        .create_with_context(recorder.clone())
        .expect("creating a group consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    (consumer, recorder)
}

fn assigned(c: &Member) -> BTreeSet<i32> {
    c.assignment()
        .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
        .unwrap_or_default()
}

/// Polls every consumer until their assignments are disjoint and together cover `0..partitions`
/// (and each has at least `min_each`), then returns them.
fn wait_for_full_assignment(
    members: &[&Member],
    partitions: i32,
    min_each: usize,
) -> Vec<BTreeSet<i32>> {
    wait_until(
        REBALANCE_WAIT,
        "every partition assigned exactly once",
        || {
            for m in members {
                if let Some(Err(e)) = m.poll(Duration::from_millis(30)) {
                    eprintln!("consumer error while rebalancing: {e}");
                }
            }
            let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| assigned(m)).collect();
            let total: usize = sets.iter().map(|s| s.len()).sum();
            let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
            let complete = total == partitions as usize
                && union == (0..partitions).collect()
                && sets.iter().all(|s| s.len() >= min_each);
            complete.then_some(sets)
        },
    )
}

#[test]
fn classic_group_assigns_every_partition_once_and_reassigns_when_a_member_leaves() {
    let broker = broker();
    let topic = unique_topic("groups-classic");
    broker.create_topic(&topic, 12, &[]);
    let group = unique_topic("g-classic");
    let config = group_config(&broker, &group);
    let (a, _) = member(&config, &topic);
    let (b, _) = member(&config, &topic);
    let (c, _) = member(&config, &topic);

    let sets = wait_for_full_assignment(&[&a, &b, &c], 12, 1);
    assert_eq!(
        sets.iter().map(|s| s.len()).collect::<Vec<_>>(),
        vec![4, 4, 4]
    );

    // c leaves (LeaveGroup on close): a and b take over its partitions.
    drop(c);
    let sets = wait_for_full_assignment(&[&a, &b], 12, 1);
    assert_eq!(sets.iter().map(|s| s.len()).sum::<usize>(), 12);
}

#[test]
fn a_killed_member_is_replaced_after_its_session_times_out() {
    let broker = broker();
    let topic = unique_topic("groups-session");
    broker.create_topic(&topic, 6, &[]);
    let group = unique_topic("g-session");
    let config = group_config(&broker, &group);
    let (a, _) = member(&config, &topic);
    wait_for_full_assignment(&[&a], 6, 6);

    // A second member in another process (kcat), then SIGKILLed: it never sends LeaveGroup.
    let mut other = Command::new("kcat")
        .args(["-b", &broker.bootstrap(), "-G", &group, "-q", "-o", "end"])
        .args([
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=300",
        ])
        .arg(&topic)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running kcat (scripts/install-test-deps.sh installs it)");
    wait_until(
        REBALANCE_WAIT,
        "the kcat member to take half the partitions",
        || {
            a.poll(Duration::from_millis(30));
            (assigned(&a).len() == 3).then_some(())
        },
    );
    other.kill().expect("SIGKILL kcat");
    other.wait().expect("reaping kcat");
    let killed_at = Instant::now();

    wait_for_full_assignment(&[&a], 6, 6);
    // Session timeout (6 s) plus the time a rebalance takes, with room for a loaded machine.
    assert!(
        killed_at.elapsed() < Duration::from_secs(20),
        "reassigned only after {:?}",
        killed_at.elapsed()
    );
}

#[test]
fn cooperative_sticky_only_revokes_partitions_that_move() {
    let broker = broker();
    let topic = unique_topic("groups-coop");
    broker.create_topic(&topic, 12, &[]);
    let group = unique_topic("g-coop");
    let mut config = group_config(&broker, &group);
    config.set("partition.assignment.strategy", "cooperative-sticky");

    let (a, a_events) = member(&config, &topic);
    let first = wait_for_full_assignment(&[&a], 12, 12).remove(0);
    let (b, _) = member(&config, &topic);
    let sets = wait_for_full_assignment(&[&a, &b], 12, 1);
    let (a_now, b_now) = (&sets[0], &sets[1]);
    assert_eq!(a_now.len() + b_now.len(), 12);
    assert!(a_now.is_subset(&first), "a only loses partitions");
    let revoked: BTreeSet<i32> = a_events
        .revoked
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| *p)
        .collect();
    // Every partition revoked from a went to b; none that a kept was revoked and re-assigned.
    assert!(
        revoked.is_disjoint(a_now),
        "revoked {revoked:?}, kept {a_now:?}"
    );
    assert_eq!(&revoked, b_now);
}

#[test]
fn static_member_restart_gets_its_partitions_back_without_rebalancing_others() {
    let broker = broker();
    let topic = unique_topic("groups-static");
    broker.create_topic(&topic, 12, &[]);
    let group = unique_topic("g-static");
    let mut config_a = group_config(&broker, &group);
    config_a
        .set("group.instance.id", "instance-a")
        .set("session.timeout.ms", "30000");
    let mut config_b = group_config(&broker, &group);
    config_b
        .set("group.instance.id", "instance-b")
        .set("session.timeout.ms", "30000");

    let (a, _) = member(&config_a, &topic);
    let (b, b_events) = member(&config_b, &topic);
    let sets = wait_for_full_assignment(&[&a, &b], 12, 1);
    let (a_before, b_before) = (sets[0].clone(), sets[1].clone());
    let b_rebalances = *b_events.rebalances.lock().unwrap();

    // A static member does not leave the group on close; its replacement takes its place.
    drop(a);
    let (a2, _) = member(&config_a, &topic);
    let sets = wait_for_full_assignment(&[&a2, &b], 12, 1);
    assert_eq!(
        sets[0], a_before,
        "the restarted instance gets its partitions back"
    );
    assert_eq!(sets[1], b_before);
    // Keep polling b for a while: it must see no further rebalance.
    for _ in 0..20 {
        a2.poll(Duration::from_millis(50));
        b.poll(Duration::from_millis(50));
    }
    assert_eq!(*b_events.rebalances.lock().unwrap(), b_rebalances);
}

#[test]
fn kip848_consumer_protocol_assigns_and_reassigns() {
    let broker = broker();
    let topic = unique_topic("groups-848");
    broker.create_topic(&topic, 12, &[]);
    let group = unique_topic("g-848");
    let mut config = group_config(&broker, &group);
    config
        .set("group.protocol", "consumer")
        .remove("session.timeout.ms");
    config.remove("heartbeat.interval.ms");
    let (a, _) = member(&config, &topic);
    let (b, _) = member(&config, &topic);
    let (c, _) = member(&config, &topic);
    let sets = wait_for_full_assignment(&[&a, &b, &c], 12, 1);
    assert_eq!(
        sets.iter().map(|s| s.len()).collect::<Vec<_>>(),
        vec![4, 4, 4]
    );

    // Commits carry the member epoch (OffsetCommit v9) and read back.
    let recs: Vec<Rec> = (0..12).map(|p| Rec::value(p, format!("v{p}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);
    let mut tpl = TopicPartitionList::new();
    let first = *sets[0].iter().next().unwrap();
    tpl.add_partition_offset(&topic, first, Offset::Offset(1))
        .unwrap();
    a.commit(&tpl, CommitMode::Sync).expect("KIP-848 commit");
    let committed = a.committed(WAIT).expect("committed");
    let got = committed.find_partition(&topic, first).map(|e| e.offset());
    assert_eq!(got, Some(Offset::Offset(1)));

    drop(c);
    let sets = wait_for_full_assignment(&[&a, &b], 12, 1);
    assert_eq!(sets.iter().map(|s| s.len()).sum::<usize>(), 12);
}

#[test]
fn committed_offsets_survive_a_broker_sigkill() {
    commits_survive_sigkill(broker());
}

#[test]
fn committed_offsets_survive_a_sigkill_of_a_durable_broker() {
    commits_survive_sigkill(Broker::start_with_args(&[
        "--durable",
        "--set",
        "group.initial.rebalance.delay.ms=0",
    ]));
}

fn commits_survive_sigkill(mut broker: Broker) {
    let topic = unique_topic("groups-crash");
    broker.create_topic(&topic, 4, &[]);
    let recs: Vec<Rec> = (0..40)
        .map(|i| Rec::value(i % 4, format!("m{i}")))
        .collect();
    produce_all(&broker.producer(), &topic, &recs);
    let group = unique_topic("g-crash");
    let config = group_config(&broker, &group);

    // Consume a few records per partition and commit exactly after them.
    let mut expected: BTreeMap<i32, i64> = BTreeMap::new();
    {
        let (c, _) = member(&config, &topic);
        wait_for_full_assignment(&[&c], 4, 4);
        wait_until(REBALANCE_WAIT, "a few records from every partition", || {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                if m.offset() < 3 {
                    expected.insert(m.partition(), m.offset() + 1);
                }
            }
            (expected.len() == 4 && expected.values().all(|o| *o == 3)).then_some(())
        });
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &expected {
            tpl.add_partition_offset(&topic, *p, Offset::Offset(*o))
                .unwrap();
        }
        c.commit(&tpl, CommitMode::Sync).expect("commit");
    }

    broker.kill();
    broker.restart();

    let (c, _) = member(&config, &topic);
    wait_for_full_assignment(&[&c], 4, 4);
    let committed = c.committed(WAIT).expect("committed offsets after restart");
    for (p, o) in &expected {
        let got = committed.find_partition(&topic, *p).map(|e| e.offset());
        assert_eq!(got, Some(Offset::Offset(*o)), "partition {p}");
    }
    // The consumer resumes exactly after the last commit.
    let mut firsts: BTreeMap<i32, i64> = BTreeMap::new();
    wait_until(
        REBALANCE_WAIT,
        "the first record of every partition",
        || {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                firsts.entry(m.partition()).or_insert(m.offset());
            }
            (firsts.len() == 4).then_some(())
        },
    );
    assert_eq!(firsts, expected);
}

#[test]
fn bad_commits_get_kafkas_error_codes_and_leave_the_group_healthy() {
    let broker = broker();
    let topic = unique_topic("groups-bad");
    broker.create_topic(&topic, 2, &[]);
    let group = unique_topic("g-bad");
    let config = group_config(&broker, &group);
    let (c, _) = member(&config, &topic);
    wait_for_full_assignment(&[&c], 2, 2);

    let code_of = |result: Result<(), KafkaError>| match result {
        Err(e) => e.rdkafka_error_code(),
        Ok(()) => None,
    };
    // A partition that does not exist.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 7, Offset::Offset(1))
        .unwrap();
    assert_eq!(
        code_of(c.commit(&tpl, CommitMode::Sync)),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition)
    );
    // Metadata longer than offsets.metadata.max.bytes (4096).
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(1))
        .unwrap();
    tpl.find_partition(&topic, 0)
        .unwrap()
        .set_metadata("x".repeat(5000));
    assert_eq!(
        code_of(c.commit(&tpl, CommitMode::Sync)),
        Some(RDKafkaErrorCode::OffsetMetadataTooLarge)
    );
    // The group still works: a normal commit succeeds and reads back.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 1, Offset::Offset(0))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).expect("a valid commit");
    assert_eq!(assigned(&c), BTreeSet::from([0, 1]));
}

// ------------------------------------------------------------------------------------------
// Error codes of the classic protocol, over the wire: librdkafka never sends stale generations
// or foreign member ids on purpose, so these requests are encoded by hand (non-flexible
// versions: int16-length strings, int32-length arrays and bytes).
// ------------------------------------------------------------------------------------------

const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;

struct Wire {
    stream: std::net::TcpStream,
    correlation_id: i32,
}

fn put_str(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            b.extend((s.len() as i16).to_be_bytes());
            b.extend(s.as_bytes());
        }
        None => b.extend((-1i16).to_be_bytes()),
    }
}

fn put_bytes(b: &mut Vec<u8>, v: &[u8]) {
    b.extend((v.len() as i32).to_be_bytes());
    b.extend(v);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.i16();
        if n < 0 {
            return String::new();
        }
        String::from_utf8(self.take(n as usize).to_vec()).unwrap()
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = self.i32();
        self.take(n.max(0) as usize).to_vec()
    }
}

/// What a JoinGroup v5 answered.
struct Joined {
    error: i16,
    generation: i32,
    member_id: String,
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

    fn call(&mut self, api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
        use std::io::{Read, Write};
        self.correlation_id += 1;
        let mut req = Vec::new();
        req.extend(api_key.to_be_bytes());
        req.extend(version.to_be_bytes());
        req.extend(self.correlation_id.to_be_bytes());
        put_str(&mut req, Some("groups-wire-test"));
        req.extend(body);
        let mut frame = (req.len() as i32).to_be_bytes().to_vec();
        frame.extend(req);
        self.stream.write_all(&frame).unwrap();
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).expect("response size");
        let mut resp = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut resp).expect("response");
        assert_eq!(
            i32::from_be_bytes(resp[..4].try_into().unwrap()),
            self.correlation_id
        );
        resp[4..].to_vec()
    }

    /// JoinGroup v5 with the "consumer" protocol type and one "range" protocol.
    fn join(&mut self, group: &str, member: &str, instance: Option<&str>) -> Joined {
        let mut b = Vec::new();
        put_str(&mut b, Some(group));
        b.extend(10_000i32.to_be_bytes()); // session timeout
        b.extend(10_000i32.to_be_bytes()); // rebalance timeout
        put_str(&mut b, Some(member));
        put_str(&mut b, instance);
        put_str(&mut b, Some("consumer"));
        b.extend(1i32.to_be_bytes());
        put_str(&mut b, Some("range"));
        put_bytes(&mut b, b"meta");
        let resp = self.call(11, 5, &b);
        let mut r = Reader(&resp);
        r.i32(); // throttle
        let error = r.i16();
        let generation = r.i32();
        r.string(); // protocol name
        r.string(); // leader
        let member_id = r.string();
        Joined {
            error,
            generation,
            member_id,
        }
    }

    /// SyncGroup v3; the caller's assignment is given to itself.
    fn sync(&mut self, group: &str, generation: i32, member: &str, instance: Option<&str>) -> i16 {
        let mut b = Vec::new();
        put_str(&mut b, Some(group));
        b.extend(generation.to_be_bytes());
        put_str(&mut b, Some(member));
        put_str(&mut b, instance);
        b.extend(1i32.to_be_bytes());
        put_str(&mut b, Some(member));
        put_bytes(&mut b, b"assignment");
        let resp = self.call(14, 3, &b);
        let mut r = Reader(&resp);
        r.i32();
        let error = r.i16();
        if error == 0 {
            assert_eq!(r.bytes(), b"assignment");
        }
        error
    }

    /// Heartbeat v3.
    fn heartbeat(
        &mut self,
        group: &str,
        generation: i32,
        member: &str,
        instance: Option<&str>,
    ) -> i16 {
        let mut b = Vec::new();
        put_str(&mut b, Some(group));
        b.extend(generation.to_be_bytes());
        put_str(&mut b, Some(member));
        put_str(&mut b, instance);
        let resp = self.call(12, 3, &b);
        let mut r = Reader(&resp);
        r.i32();
        r.i16()
    }

    /// OffsetCommit v7 of one partition; the partition's error code.
    fn commit(
        &mut self,
        group: &str,
        generation: i32,
        member: &str,
        instance: Option<&str>,
        topic: &str,
        partition: i32,
    ) -> i16 {
        let mut b = Vec::new();
        put_str(&mut b, Some(group));
        b.extend(generation.to_be_bytes());
        put_str(&mut b, Some(member));
        put_str(&mut b, instance);
        b.extend(1i32.to_be_bytes());
        put_str(&mut b, Some(topic));
        b.extend(1i32.to_be_bytes());
        b.extend(partition.to_be_bytes());
        b.extend(5i64.to_be_bytes());
        b.extend((-1i32).to_be_bytes());
        put_str(&mut b, Some(""));
        let resp = self.call(8, 7, &b);
        let mut r = Reader(&resp);
        r.i32();
        assert_eq!(r.i32(), 1, "one topic");
        r.string();
        assert_eq!(r.i32(), 1, "one partition");
        assert_eq!(r.i32(), partition);
        r.i16()
    }
}

#[test]
fn stale_generations_unknown_members_and_fenced_instances_get_kafkas_codes() {
    let broker = broker();
    let topic = unique_topic("groups-wire");
    broker.create_topic(&topic, 1, &[]);
    let group = unique_topic("g-wire");
    let mut w = Wire::open(&broker);

    // A static member joins (no member-id round for static members) and syncs: generation 1.
    let j = w.join(&group, "", Some("i1"));
    assert_eq!((j.error, j.generation), (0, 1));
    let m1 = j.member_id;
    assert_eq!(w.sync(&group, 1, &m1, Some("i1")), 0);
    assert_eq!(w.heartbeat(&group, 1, &m1, Some("i1")), 0);
    assert_eq!(w.commit(&group, 1, &m1, Some("i1"), &topic, 0), 0);

    // Fencing.
    assert_eq!(w.heartbeat(&group, 0, &m1, Some("i1")), ILLEGAL_GENERATION);
    assert_eq!(w.heartbeat(&group, 1, "bogus", None), UNKNOWN_MEMBER_ID);
    assert_eq!(
        w.heartbeat(&group, 1, "bogus", Some("i1")),
        FENCED_INSTANCE_ID
    );
    assert_eq!(w.sync(&group, 7, &m1, Some("i1")), ILLEGAL_GENERATION);
    assert_eq!(
        w.commit(&group, 0, &m1, Some("i1"), &topic, 0),
        ILLEGAL_GENERATION
    );
    assert_eq!(
        w.commit(&group, 1, "bogus", None, &topic, 0),
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        w.commit(&group, 1, &m1, Some("i1"), &topic, 9),
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        w.commit(&group, 1, &m1, Some("i1"), "no-such-topic", 0),
        UNKNOWN_TOPIC_OR_PARTITION
    );

    // A dynamic member first gets an id (KIP-394), then its join starts a rebalance that waits
    // for m1; meanwhile m1 hears REBALANCE_IN_PROGRESS.
    let mut w2 = Wire::open(&broker);
    let j = w2.join(&group, "", None);
    assert_eq!(j.error, MEMBER_ID_REQUIRED);
    let m2 = j.member_id;
    let (group2, m2c) = (group.clone(), m2.clone());
    let second = std::thread::spawn(move || w2.join(&group2, &m2c, None));
    wait_until(WAIT, "the group to start rebalancing", || {
        (w.heartbeat(&group, 1, &m1, Some("i1")) == REBALANCE_IN_PROGRESS).then_some(())
    });
    let j = w.join(&group, &m1, Some("i1"));
    assert_eq!((j.error, j.generation), (0, 2));
    let j2 = second.join().expect("second member's join");
    assert_eq!((j2.error, j2.generation, j2.member_id), (0, 2, m2));
    // Generation 2 is not synced yet: commits wait for the rebalance; generation 1 is stale.
    assert_eq!(
        w.commit(&group, 2, &m1, Some("i1"), &topic, 0),
        REBALANCE_IN_PROGRESS
    );
    assert_eq!(
        w.commit(&group, 1, &m1, Some("i1"), &topic, 0),
        ILLEGAL_GENERATION
    );
    // The group is still healthy: the leader syncs and commits.
    assert_eq!(w.sync(&group, 2, &m1, Some("i1")), 0);
    assert_eq!(w.commit(&group, 2, &m1, Some("i1"), &topic, 0), 0);
}

#[test]
fn deleting_a_group_deletes_its_offsets_and_refuses_while_members_remain() {
    let broker = broker();
    let topic = unique_topic("groups-delete");
    broker.create_topic(&topic, 2, &[]);
    let group = unique_topic("g-delete");
    let config = group_config(&broker, &group);
    let admin = broker.admin();
    let delete = |g: &str| {
        common::block_on(admin.delete_groups(&[g], &common::admin_options()))
            .expect("DeleteGroups")
            .remove(0)
    };

    let (c, _) = member(&config, &topic);
    wait_for_full_assignment(&[&c], 2, 2);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(1))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).expect("commit");
    assert_eq!(
        delete(&group).map_err(|(_, code)| code),
        Err(RDKafkaErrorCode::NonEmptyGroup)
    );
    assert_eq!(
        delete("no-such-group").map_err(|(_, code)| code),
        Err(RDKafkaErrorCode::GroupIdNotFound)
    );
    drop(c);

    // Once the member left, the group and its offsets go.
    wait_until(WAIT, "the emptied group to be deletable", || {
        delete(&group).ok()
    });
    let reader: BaseConsumer = config.create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&topic, 0);
    let committed = reader.committed_offsets(tpl, WAIT).expect("OffsetFetch");
    assert_eq!(
        committed.find_partition(&topic, 0).map(|e| e.offset()),
        Some(Offset::Invalid)
    );
}
