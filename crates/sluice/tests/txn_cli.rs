//! `sluice txn list|describe` against a running broker: an open transaction of a librdkafka
//! producer shows up with its state, producer id/epoch and partitions; after the commit it is
//! no longer listed and describe shows it completed, without partitions.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{delivery, send, unique_topic, Broker, Rec};
use rdkafka::producer::{FutureProducer, Producer};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const T: Duration = Duration::from_secs(20);

/// Runs `sluice txn <args>` against `broker`; returns stdout, failing on a non-zero exit.
fn txn(broker: &Broker, args: &[&str]) -> String {
    let out = Command::new(SLUICE)
        .arg("txn")
        .args(args)
        .args(["--bootstrap-server", &broker.bootstrap()])
        .output()
        .expect("running sluice txn");
    assert!(
        out.status.success(),
        "sluice txn {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The value of `field` in `describe` output.
fn field<'a>(describe: &'a str, field: &str) -> &'a str {
    describe
        .lines()
        .find_map(|l| l.strip_prefix(field).map(str::trim))
        .unwrap_or_else(|| panic!("no {field} in:\n{describe}"))
}

#[test]
fn open_transaction_is_listed_with_its_partitions_until_committed() {
    let broker = Broker::start();
    let topic = unique_topic("txn-cli");
    broker.create_topic(&topic, 3, &[]);
    let id = format!("{topic}-producer");
    let p: FutureProducer = broker
        .producer_config()
        .set("transactional.id", &id)
        .create()
        .expect("producer");
    p.init_transactions(T).expect("init_transactions");

    assert!(
        !txn(&broker, &["list"]).contains(&id),
        "no transaction open yet"
    );
    p.begin_transaction().expect("begin");
    for partition in [0, 2] {
        delivery(send(&p, &topic, &Rec::value(partition, "v"))).expect("delivery");
    }
    let listed = txn(&broker, &["list"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{listed}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert!(listed.starts_with("TRANSACTIONAL_ID"), "{listed}");
    assert_eq!(cols[1], "Ongoing", "{row}");
    assert!(cols[2].ends_with('s'), "an age: {row}");
    let pid: i64 = cols[3].parse().expect("producer id");
    assert!(pid >= 0, "{row}");
    assert_eq!(cols[4], "0", "first epoch: {row}");
    assert_eq!(cols[5], format!("{topic}:0,2"), "{row}");

    let described = txn(&broker, &["describe", &id]);
    assert_eq!(field(&described, "State"), "Ongoing");
    assert_eq!(field(&described, "ProducerId"), pid.to_string());
    assert_eq!(field(&described, "Partitions"), format!("{topic}:0,2"));

    p.commit_transaction(T).expect("commit");
    assert!(
        !txn(&broker, &["list"]).contains(&id),
        "listed after the commit"
    );
    assert!(
        txn(&broker, &["list", "--all"]).contains(&id),
        "--all lists it"
    );
    let described = txn(&broker, &["describe", &id]);
    assert_eq!(field(&described, "State"), "CompleteCommit");
    assert_eq!(field(&described, "Partitions"), "");
    assert_eq!(field(&described, "Age"), "-");

    let missing = Command::new(SLUICE)
        .args(["txn", "describe", "no-such-id", "--bootstrap-server"])
        .arg(broker.bootstrap())
        .output()
        .expect("running sluice txn");
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("TRANSACTIONAL_ID_NOT_FOUND"), "{err}");
}
