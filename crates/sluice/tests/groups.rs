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
    let mut broker = broker();
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
