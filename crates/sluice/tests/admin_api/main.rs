//! The admin APIs as clients use them: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs,
//! CreatePartitions, DeleteRecords, DescribeCluster, DescribeLogDirs and OffsetForLeaderEpoch.
//!
//! Why: operators and tools (kafka-configs, kafka-delete-records, Cruise Control, UIs) drive a
//! cluster through these, and they read the exact error codes and messages Kafka sends. Each test
//! proves one such promise against a real `sluice serve` process. librdkafka is the client where
//! it has the API (through the rdkafka crate, or its C API where the crate has no wrapper or
//! drops the per-resource errors). DescribeCluster, DescribeLogDirs and OffsetForLeaderEpoch,
//! which librdkafka does not send (its DescribeCluster asks Metadata instead), and requests
//! librdkafka refuses to build, go through the small [`wire`] client.

#[path = "../common/mod.rs"]
mod common;
mod librdkafka;
mod wire;

use std::collections::BTreeMap;

use common::{admin_options, block_on, produce_all, unique_topic, Broker, Rec};
use librdkafka::{alter, alter_topic, describe, describe_topic, Api, Op, Outcome};
use rdkafka::admin::{AlterConfig, NewPartitions, ResourceSpecifier};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use wire::{
    alter_configs_raw, describe_cluster, describe_configs_raw, describe_log_dirs,
    offset_for_leader_epoch, Cluster, RawResource,
};

// Kafka error codes the tests expect.
const UNKNOWN_TOPIC_OR_PARTITION: i32 = 3;
const INVALID_CONFIG: i32 = 40;
const INVALID_REQUEST: i32 = 42;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

// Kafka's ConfigSource ids.
const DYNAMIC_TOPIC: i32 = 1;
const STATIC_BROKER: i32 = 4;
const DEFAULT: i32 = 5;

// ------------------------------------------------------------------------------------------
// DescribeConfigs
// ------------------------------------------------------------------------------------------

#[test]
fn describe_configs_reports_overrides_defaults_sources_and_synonyms() {
    let broker = Broker::start_with_args(&["--set", "log.retention.hours=48"]);
    let topic = unique_topic("describe");
    broker.create_topic(&topic, 1, &[("retention.bytes", "12345")]);
    let configs = describe_topic(&broker, &topic);

    let bytes = &configs["retention.bytes"];
    assert_eq!(bytes.value.as_deref(), Some("12345"));
    assert_eq!(bytes.source, DYNAMIC_TOPIC);
    assert!(!bytes.read_only && !bytes.sensitive);
    // As Kafka 4.1 lists them: the override, then the broker-level default it replaces.
    let synonym =
        |name: &str, value: &str, source| (name.to_string(), Some(value.to_string()), source);
    assert_eq!(
        bytes.synonyms,
        vec![
            synonym("retention.bytes", "12345", DYNAMIC_TOPIC),
            synonym("log.retention.bytes", "-1", DEFAULT)
        ]
    );

    // Defaulted from the broker's static setting, converted to the topic's unit.
    assert_eq!(configs["retention.ms"].value.as_deref(), Some("172800000"));

    let cleanup = &configs["cleanup.policy"];
    assert_eq!(cleanup.value.as_deref(), Some("delete"));
    assert_eq!(cleanup.source, DEFAULT);
    assert_eq!(
        cleanup.synonyms,
        vec![synonym("log.cleanup.policy", "delete", DEFAULT)]
    );

    // Asking for named keys answers only those (unknown names are simply absent).
    let some = describe(
        &broker,
        ResourceSpecifier::Topic(&topic),
        &["segment.bytes", "no.such.config"],
    )
    .unwrap();
    assert_eq!(some.keys().collect::<Vec<_>>(), vec!["segment.bytes"]);
    assert_eq!(some["segment.bytes"].value.as_deref(), Some("1073741824"));
}

#[test]
fn describe_configs_of_a_missing_or_invalid_topic_is_an_error() {
    let broker = Broker::start();
    let missing = describe(&broker, ResourceSpecifier::Topic("no-such-topic"), &[]).unwrap_err();
    assert_eq!(missing.code, UNKNOWN_TOPIC_OR_PARTITION);

    let invalid = describe(&broker, ResourceSpecifier::Topic("bad/name"), &[]).unwrap_err();
    assert_eq!(invalid.code, 17, "INVALID_TOPIC_EXCEPTION: {invalid:?}");
}

#[test]
fn describe_configs_v4_adds_types_and_documentation() {
    let broker = Broker::start();
    let topic = unique_topic("describe-v4");
    broker.create_topic(&topic, 1, &[("retention.ms", "60000")]);
    let results = describe_configs_raw(
        &broker,
        &[(2, topic.as_str()), (4, ""), (4, "7"), (8, "0"), (8, "")],
        false,
        true,
    );

    let configs = &results[0].configs;
    assert_eq!(results[0].error, 0);
    let retention = &configs["retention.ms"];
    assert_eq!(
        (retention.value.as_deref(), retention.source),
        (Some("60000"), DYNAMIC_TOPIC as i8)
    );
    assert_eq!(retention.config_type, 5, "LONG");
    assert_eq!(retention.synonyms, 0, "synonyms were not asked for");
    assert!(
        retention
            .documentation
            .as_ref()
            .is_some_and(|d| !d.is_empty()),
        "documentation was asked for"
    );
    assert_eq!(configs["cleanup.policy"].config_type, 7, "LIST");
    assert_eq!(configs["preallocate"].config_type, 1, "BOOLEAN");

    // The unnamed broker resource holds cluster-wide dynamic settings: none in Sluice.
    assert_eq!((results[1].error, results[1].configs.len()), (0, 0));
    assert_eq!(
        (results[2].error, results[2].message.as_deref()),
        (
            INVALID_REQUEST as i16,
            Some("Unexpected broker id, expected 0 or empty string, but received 7")
        )
    );
    // Sluice has no run-time adjustable loggers.
    assert_eq!((results[3].error, results[3].configs.len()), (0, 0));
    assert_eq!(
        (results[4].error, results[4].message.as_deref()),
        (INVALID_REQUEST as i16, Some("Broker id must not be empty"))
    );

    // A resource type Kafka does not know fails the whole request.
    let results = describe_configs_raw(&broker, &[(2, topic.as_str()), (99, "x")], false, false);
    assert!(results
        .iter()
        .all(|r| r.error == INVALID_REQUEST as i16 && r.configs.is_empty()));
}

#[test]
fn describe_configs_of_the_broker_lists_static_settings_and_defaults() {
    let broker = Broker::start_with_args(&[
        "--set",
        "num.partitions=3",
        "--set",
        "log.retention.ms=7200000",
    ]);
    let configs =
        describe(&broker, ResourceSpecifier::Broker(0), &[]).expect("DescribeConfigs broker 0");

    let partitions = &configs["num.partitions"];
    assert_eq!(partitions.value.as_deref(), Some("3"));
    assert_eq!(partitions.source, STATIC_BROKER);
    assert!(
        partitions.read_only,
        "num.partitions cannot change at run time in Kafka"
    );

    // Kafka lists a group of unit synonyms from the most specific, given value first.
    let retention = &configs["log.retention.ms"];
    assert_eq!(retention.value.as_deref(), Some("7200000"));
    let names: Vec<_> = retention
        .synonyms
        .iter()
        .map(|(n, _, s)| (n.as_str(), *s))
        .collect();
    assert_eq!(
        names,
        vec![
            ("log.retention.ms", STATIC_BROKER),
            ("log.retention.hours", DEFAULT)
        ]
    );

    let max = &configs["message.max.bytes"];
    assert_eq!(
        (max.value.as_deref(), max.source, max.read_only),
        (Some("1048588"), DEFAULT, false)
    );
    assert!(
        configs.values().all(|e| !e.sensitive || e.value.is_none()),
        "sensitive values are hidden"
    );

    let listeners = &configs["listeners"];
    assert_eq!(
        listeners.value.as_deref(),
        Some(format!("PLAINTEXT://{}", broker.bootstrap()).as_str())
    );
}

// ------------------------------------------------------------------------------------------
// AlterConfigs and IncrementalAlterConfigs
// ------------------------------------------------------------------------------------------

#[test]
fn alter_configs_replaces_the_whole_override_set() {
    let broker = Broker::start();
    let topic = unique_topic("alter");
    broker.create_topic(
        &topic,
        1,
        &[("retention.ms", "60000"), ("segment.ms", "3600000")],
    );
    let admin = broker.admin();

    let change =
        AlterConfig::new(ResourceSpecifier::Topic(&topic)).set("cleanup.policy", "compact");
    let results = block_on(admin.alter_configs([&change], &admin_options())).expect("AlterConfigs");
    assert!(results[0].is_ok(), "{:?}", results[0]);

    let configs = describe_topic(&broker, &topic);
    assert_eq!(configs["cleanup.policy"].value.as_deref(), Some("compact"));
    assert_eq!(configs["cleanup.policy"].source, DYNAMIC_TOPIC);
    // Settings left out of a legacy AlterConfigs return to their defaults.
    assert_eq!(configs["retention.ms"].value.as_deref(), Some("604800000"));
    assert_eq!(configs["retention.ms"].source, DEFAULT);
    assert_eq!(configs["segment.ms"].source, DEFAULT);

    // Survives a restart: the overrides are stored, not only applied.
    drop(admin);
    let mut broker = broker;
    broker.restart();
    assert_eq!(
        describe_topic(&broker, &topic)["cleanup.policy"]
            .value
            .as_deref(),
        Some("compact")
    );
}

#[test]
fn alter_configs_refuses_invalid_values_and_validate_only_changes_nothing() {
    let broker = Broker::start();
    let topic = unique_topic("alter-invalid");
    broker.create_topic(&topic, 1, &[("retention.ms", "60000")]);
    let legacy = |topic: &str, ops: &[Op<'_>], validate_only: bool| {
        alter(
            &broker,
            Api::Legacy,
            &[(ResourceSpecifier::Topic(topic), ops)],
            validate_only,
        )
        .remove(0)
    };

    assert_eq!(
        legacy(&topic, &[Op::Set("retention.ms", "soon")], false),
        Outcome::err(
            INVALID_CONFIG,
            "Invalid value soon for configuration retention.ms: Not a number of type LONG"
        )
    );
    assert_eq!(
        legacy(&topic, &[Op::Set("retention.ms", "120000")], true),
        Outcome::ok()
    );
    assert_eq!(
        describe_topic(&broker, &topic)["retention.ms"]
            .value
            .as_deref(),
        Some("60000")
    );
    assert_eq!(
        legacy("no-such-topic", &[Op::Set("retention.ms", "1")], false),
        Outcome::err(
            UNKNOWN_TOPIC_OR_PARTITION,
            "The topic 'no-such-topic' does not exist."
        )
    );
    // Kafka checks the new settings before it looks the topic up.
    assert_eq!(
        legacy("no-such-topic", &[Op::Set("retention.ms", "x")], false).code,
        INVALID_CONFIG
    );
}

#[test]
fn alter_configs_checks_the_request_shape_like_kafkas_broker() {
    let broker = Broker::start();
    let topic = unique_topic("shape");
    broker.create_topic(&topic, 1, &[]);
    let invalid = |m: &str| (INVALID_REQUEST as i16, Some(m.to_string()));
    let set: &[(&str, Option<&str>)] = &[("retention.ms", Some("1000"))];

    // The same resource twice: both refused, and neither applied.
    assert_eq!(
        alter_configs_raw(&broker, &[(2, &topic, set), (2, &topic, set)]),
        vec![invalid("Each resource must appear at most once."); 2]
    );
    assert_eq!(
        describe_topic(&broker, &topic)["retention.ms"].source,
        DEFAULT
    );

    let cases: Vec<(RawResource<'_>, (i16, Option<String>))> = vec![
        (
            (
                2,
                &topic,
                &[("retention.ms", Some("1")), ("retention.ms", Some("2"))],
            ),
            invalid("Error due to duplicate config keys"),
        ),
        (
            (2, &topic, &[("retention.ms", None), ("segment.ms", None)]),
            invalid("Null value not supported for : retention.ms, segment.ms"),
        ),
        ((99, "x", set), invalid("Unknown resource type 99")),
        ((8, "0", set), invalid("Unknown resource type 8")),
        (
            (4, "abc", set),
            invalid("Node id must be an integer, but it is: abc"),
        ),
        (
            (4, "5", set),
            invalid("Unexpected broker id, expected 0, but received 5"),
        ),
        (
            (2, "", set),
            invalid("Default topic resources are not allowed."),
        ),
        ((4, "", &[]), (0, None)),
    ];
    for (resource, expected) in cases {
        assert_eq!(
            alter_configs_raw(&broker, &[resource]),
            vec![expected],
            "{resource:?}"
        );
    }
}

#[test]
fn incremental_alter_configs_sets_deletes_appends_and_subtracts() {
    let broker = Broker::start();
    let topic = unique_topic("incremental");
    broker.create_topic(&topic, 1, &[("retention.ms", "60000")]);

    // APPEND starts from the default list ("delete").
    assert_eq!(
        alter_topic(&broker, &topic, &[Op::Append("cleanup.policy", "compact")]),
        Outcome::ok()
    );
    assert_eq!(
        describe_topic(&broker, &topic)["cleanup.policy"]
            .value
            .as_deref(),
        Some("delete,compact")
    );

    assert_eq!(
        alter_topic(
            &broker,
            &topic,
            &[
                Op::Subtract("cleanup.policy", "delete"),
                Op::Set("segment.bytes", "1048576")
            ]
        ),
        Outcome::ok()
    );
    let configs = describe_topic(&broker, &topic);
    assert_eq!(configs["cleanup.policy"].value.as_deref(), Some("compact"));
    assert_eq!(configs["segment.bytes"].value.as_deref(), Some("1048576"));
    assert_eq!(
        configs["retention.ms"].value.as_deref(),
        Some("60000"),
        "untouched settings stay"
    );

    assert_eq!(
        alter_topic(&broker, &topic, &[Op::Delete("retention.ms")]),
        Outcome::ok()
    );
    let configs = describe_topic(&broker, &topic);
    assert_eq!(configs["retention.ms"].source, DEFAULT);
    assert_eq!(configs["cleanup.policy"].value.as_deref(), Some("compact"));

    // validate_only answers as a real change would, and changes nothing.
    let dry = alter(
        &broker,
        Api::Incremental,
        &[(
            ResourceSpecifier::Topic(&topic),
            &[Op::Set("retention.ms", "5")],
        )],
        true,
    );
    assert_eq!(dry, vec![Outcome::ok()]);
    assert_eq!(
        describe_topic(&broker, &topic)["retention.ms"].source,
        DEFAULT
    );
}

#[test]
fn incremental_alter_configs_answers_with_kafkas_errors() {
    let broker = Broker::start();
    let topic = unique_topic("incremental-errors");
    broker.create_topic(&topic, 1, &[]);

    let cases: Vec<(&[Op<'_>], Outcome)> = vec![
        (
            &[Op::Append("retention.ms", "1")],
            Outcome::err(INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."),
        ),
        (&[Op::Set("no.such.config", "1")], Outcome::err(INVALID_CONFIG, "Unknown topic config name: no.such.config")),
        (
            &[Op::Set("retention.ms", "soon")],
            Outcome::err(INVALID_CONFIG, "Invalid value soon for configuration retention.ms: Not a number of type LONG"),
        ),
        (
            &[Op::Set("cleanup.policy", "forever")],
            Outcome::err(INVALID_CONFIG, "Invalid value forever for configuration cleanup.policy: String must be one of: compact, delete"),
        ),
        (
            &[Op::Set("min.compaction.lag.ms", "10"), Op::Set("max.compaction.lag.ms", "5")],
            Outcome::err(INVALID_CONFIG, "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"),
        ),
    ];
    for (ops, expected) in cases {
        assert_eq!(alter_topic(&broker, &topic, ops), expected);
    }
    // Nothing above was applied.
    assert!(describe_topic(&broker, &topic)
        .values()
        .all(|e| e.source != DYNAMIC_TOPIC));

    assert_eq!(
        alter_topic(&broker, "no-such-topic", &[Op::Set("retention.ms", "1")]),
        Outcome::err(
            UNKNOWN_TOPIC_OR_PARTITION,
            "The topic 'no-such-topic' does not exist."
        )
    );
}

#[test]
fn one_bad_resource_does_not_fail_the_others() {
    let broker = Broker::start();
    let (good, bad) = (unique_topic("good"), unique_topic("bad"));
    broker.create_topic(&good, 1, &[]);
    broker.create_topic(&bad, 1, &[]);
    let outcomes = alter(
        &broker,
        Api::Incremental,
        &[
            (
                ResourceSpecifier::Topic(&good),
                &[Op::Set("retention.ms", "90000")],
            ),
            (
                ResourceSpecifier::Topic(&bad),
                &[Op::Set("retention.ms", "-7")],
            ),
        ],
        false,
    );
    assert_eq!(outcomes[0], Outcome::ok());
    assert_eq!(outcomes[1].code, INVALID_CONFIG, "{:?}", outcomes[1]);
    assert_eq!(
        describe_topic(&broker, &good)["retention.ms"]
            .value
            .as_deref(),
        Some("90000")
    );
    assert_eq!(
        describe_topic(&broker, &bad)["retention.ms"].source,
        DEFAULT
    );
}

#[test]
fn broker_settings_cannot_be_changed_at_run_time() {
    let broker = Broker::start();
    let outcomes = alter(
        &broker,
        Api::Incremental,
        &[(
            ResourceSpecifier::Broker(0),
            &[
                Op::Set("num.partitions", "4"),
                Op::Set("log.retention.ms", "1000"),
            ],
        )],
        false,
    );
    assert_eq!(
        outcomes,
        vec![Outcome::err(
            INVALID_REQUEST,
            "Cannot update these configs dynamically: Set(num.partitions, log.retention.ms)"
        )]
    );
    let legacy = alter(
        &broker,
        Api::Legacy,
        &[(
            ResourceSpecifier::Broker(0),
            &[Op::Set("num.partitions", "4")],
        )],
        false,
    );
    assert_eq!(
        legacy,
        vec![Outcome::err(
            INVALID_REQUEST,
            "Cannot update these configs dynamically: Set(num.partitions)"
        )]
    );
    // Changing nothing is fine.
    let nothing = alter(
        &broker,
        Api::Incremental,
        &[(
            ResourceSpecifier::Broker(0),
            &[Op::Delete("log.retention.ms")],
        )],
        false,
    );
    assert_eq!(nothing, vec![Outcome::ok()]);
    let configs = describe(&broker, ResourceSpecifier::Broker(0), &["num.partitions"])
        .expect("DescribeConfigs");
    assert_eq!(configs["num.partitions"].value.as_deref(), Some("1"));
}

// ------------------------------------------------------------------------------------------
// CreatePartitions
// ------------------------------------------------------------------------------------------

#[test]
fn create_partitions_validates_like_kafka() {
    let broker = Broker::start();
    let topic = unique_topic("grow");
    broker.create_topic(&topic, 2, &[]);
    let admin = broker.admin();
    let create = |p: &NewPartitions<'_>, validate_only: bool| {
        let results =
            block_on(admin.create_partitions([p], &admin_options().validate_only(validate_only)))
                .expect("CreatePartitions");
        results
            .into_iter()
            .next()
            .expect("one result")
            .map(|_| ())
            .map_err(|(_, code)| code)
    };

    assert_eq!(create(&NewPartitions::new(&topic, 4), true), Ok(()));
    assert_eq!(
        broker.partition_count(&topic),
        Some(2),
        "validate_only creates nothing"
    );
    assert_eq!(
        create(&NewPartitions::new(&topic, 2), false),
        Err(RDKafkaErrorCode::InvalidPartitions)
    );
    assert_eq!(
        create(&NewPartitions::new(&topic, 1), false),
        Err(RDKafkaErrorCode::InvalidPartitions)
    );
    assert_eq!(
        create(&NewPartitions::new("no-such-topic", 3), false),
        Err(RDKafkaErrorCode::UnknownTopicOrPartition)
    );
    // Assignments must name registered brokers, one list per new partition.
    let unknown_broker: &[&[i32]] = &[&[7]];
    assert_eq!(
        create(&NewPartitions::new(&topic, 3).assign(unknown_broker), false),
        Err(RDKafkaErrorCode::InvalidReplicaAssignment)
    );
    let this_broker: &[&[i32]] = &[&[0], &[0]];
    assert_eq!(
        create(&NewPartitions::new(&topic, 4).assign(this_broker), false),
        Ok(())
    );
    broker.wait_for_partitions(&topic, 4);

    // The new partitions take records.
    let recs: Vec<Rec> = (0..4).map(|p| Rec::value(p, format!("to {p}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);
    assert_eq!(broker.watermarks(&topic, 3), (0, 1));
}

// ------------------------------------------------------------------------------------------
// DeleteRecords
// ------------------------------------------------------------------------------------------

/// DeleteRecords for one partition: the new low watermark or the error code.
fn delete_records(
    broker: &Broker,
    topic: &str,
    partition: i32,
    before: Offset,
) -> Result<i64, RDKafkaErrorCode> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, before)
        .expect("tpl");
    let answer =
        block_on(broker.admin().delete_records(&tpl, &admin_options())).expect("DeleteRecords");
    let elem = answer
        .find_partition(topic, partition)
        .expect("partition in the answer");
    match elem.error() {
        Ok(()) => match elem.offset() {
            Offset::Offset(o) => Ok(o),
            other => panic!("low watermark {other:?}"),
        },
        Err(e) => Err(e.rdkafka_error_code().expect("a broker error code")),
    }
}

#[test]
fn delete_records_moves_the_low_watermark_and_consumers_start_there() {
    let broker = Broker::start();
    let topic = unique_topic("delete-records");
    broker.create_topic(&topic, 2, &[]);
    let recs: Vec<Rec> = (0..10).map(|i| Rec::value(0, format!("r{i}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);

    assert_eq!(delete_records(&broker, &topic, 0, Offset::Offset(4)), Ok(4));
    assert_eq!(broker.watermarks(&topic, 0), (4, 10));
    let read = broker.read_range(&topic, 0, 4, 10);
    assert_eq!(read.first().map(|m| m.offset), Some(4));
    assert_eq!(read[0].payload.as_deref(), Some(b"r4".as_slice()));

    // Deleting below the current start changes nothing.
    assert_eq!(delete_records(&broker, &topic, 0, Offset::Offset(2)), Ok(4));
    // Beyond the high watermark is out of range; the end means "everything".
    assert_eq!(
        delete_records(&broker, &topic, 0, Offset::Offset(11)),
        Err(RDKafkaErrorCode::OffsetOutOfRange)
    );
    assert_eq!(delete_records(&broker, &topic, 0, Offset::End), Ok(10));
    assert_eq!(broker.watermarks(&topic, 0), (10, 10));
    assert_eq!(
        delete_records(&broker, &topic, 1, Offset::End),
        Ok(0),
        "an empty partition"
    );

    // The new start offset survives a restart.
    let mut broker = broker;
    broker.restart();
    assert_eq!(broker.watermarks(&topic, 0), (10, 10));
}

#[test]
fn delete_records_is_refused_on_a_compacted_topic() {
    let broker = Broker::start();
    let topic = unique_topic("compacted");
    broker.create_topic(&topic, 1, &[("cleanup.policy", "compact")]);
    let recs: Vec<Rec> = (0..3)
        .map(|i| Rec {
            key: Some(format!("k{i}").into_bytes()),
            ..Rec::value(0, "v")
        })
        .collect();
    produce_all(&broker.producer(), &topic, &recs);
    assert_eq!(
        delete_records(&broker, &topic, 0, Offset::Offset(1)),
        Err(RDKafkaErrorCode::PolicyViolation)
    );
    assert_eq!(broker.watermarks(&topic, 0), (0, 3));
}

// ------------------------------------------------------------------------------------------
// DescribeCluster, DescribeLogDirs, OffsetForLeaderEpoch
// ------------------------------------------------------------------------------------------

#[test]
fn describe_cluster_lists_this_broker_as_the_only_node_and_controller() {
    let broker = Broker::start();
    let meta = std::fs::read_to_string(broker.data_dir().join("meta.properties"))
        .expect("meta.properties");
    let stored_id = meta
        .lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .expect("cluster.id line");
    let port = i32::from(broker.addr().port());
    for version in [1, 2] {
        let cluster = describe_cluster(&broker, version, 1);
        assert_eq!(
            cluster,
            Cluster {
                error: 0,
                message: None,
                cluster_id: stored_id.to_string(),
                controller: 0,
                brokers: vec![(0, "127.0.0.1".to_string(), port, false)],
                // Without an authorizer every cluster operation is allowed: CREATE, ALTER,
                // DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
                authorized_operations: (1 << 5)
                    | (1 << 7)
                    | (1 << 8)
                    | (1 << 9)
                    | (1 << 10)
                    | (1 << 11)
                    | (1 << 12),
            },
            "DescribeCluster v{version}"
        );
    }
    // Sluice has no separate controller endpoint.
    let wrong = describe_cluster(&broker, 1, 2);
    assert_eq!(wrong.error, 114, "MISMATCHED_ENDPOINT_TYPE");
    assert_eq!(
        wrong.message.as_deref(),
        Some("The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")
    );
}

#[test]
fn describe_log_dirs_reports_partition_sizes_and_disk_space() {
    let broker = Broker::start();
    let topic = unique_topic("log-dirs");
    broker.create_topic(&topic, 2, &[]);
    let recs: Vec<Rec> = (0..20)
        .map(|i| Rec::value(1, vec![b'x'; 100 + i]))
        .collect();
    produce_all(&broker.producer(), &topic, &recs);
    let on_disk: u64 = std::fs::read_dir(broker.partition_dir(&topic, 1))
        .expect("partition dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| e.metadata().expect("metadata").len())
        .sum();
    assert!(on_disk > 2000, "records are on disk ({on_disk} bytes)");

    let dirs = describe_log_dirs(&broker, None);
    assert_eq!(dirs.len(), 1, "one data directory");
    let dir = &dirs[0];
    assert_eq!(dir.error, 0);
    assert_eq!(std::path::Path::new(&dir.path), broker.data_dir().as_path());
    assert_eq!(
        dir.sizes[&topic],
        BTreeMap::from([(0, 0), (1, on_disk as i64)])
    );
    assert!(dir.total_bytes > 0 && dir.usable_bytes > 0 && dir.usable_bytes <= dir.total_bytes);

    // Asking for some partitions answers only those that exist.
    let dirs = describe_log_dirs(
        &broker,
        Some(&[(topic.as_str(), &[1, 5]), ("no-such-topic", &[0])]),
    );
    assert_eq!(
        dirs[0].sizes,
        BTreeMap::from([(topic.clone(), BTreeMap::from([(1, on_disk as i64)]))])
    );
}

#[test]
fn offset_for_leader_epoch_answers_the_epoch_end_and_checks_the_callers_epoch() {
    let broker = Broker::start();
    let topic = unique_topic("epochs");
    broker.create_topic(&topic, 2, &[]);
    let recs: Vec<Rec> = (0..5).map(|i| Rec::value(0, format!("r{i}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);
    assert_eq!(broker.watermarks(&topic, 0), (0, 5));
    let leo = 5;

    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, 0, 0),
        (0, 0, leo)
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, -1, 0),
        (0, 0, leo),
        "-1: epoch not checked"
    );
    // Like Kafka, a partition knows its leader's epoch before anything is written to it.
    assert_eq!(offset_for_leader_epoch(&broker, &topic, 1, 0, 0), (0, 0, 0));
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, 0, 3),
        (0, -1, -1),
        "a newer epoch is unknown"
    );
    // A caller ahead of the broker's epoch gets UNKNOWN, one behind it FENCED.
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, 3, 0),
        (UNKNOWN_LEADER_EPOCH, -1, -1)
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, -2, 0),
        (FENCED_LEADER_EPOCH, -1, -1)
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 7, 0, 0).0,
        UNKNOWN_TOPIC_OR_PARTITION as i16
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, "no-such-topic", 0, 0, 0).0,
        UNKNOWN_TOPIC_OR_PARTITION as i16
    );
}
