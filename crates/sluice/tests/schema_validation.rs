//! Broker-side schema id validation through librdkafka: with `confluent.value.schema.validation`
//! (or `.key.`) on, records whose value (key) lacks the wire-format prefix of a schema id
//! registered under the topic's subject are refused with INVALID_RECORD; with it off, anything
//! goes. Schemas are registered through the built-in registry's REST API over plain HTTP.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{delivery, send, unique_topic, Broker, Rec};
use rdkafka::admin::{AlterConfig, ResourceSpecifier};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;

/// POSTs `body` to the registry and returns the parsed JSON answer (HTTP/1.1, one request).
fn post(broker: &Broker, path: &str, body: &serde_json::Value) -> serde_json::Value {
    let addr = broker
        .registry_url()
        .trim_start_matches("http://")
        .to_string();
    let mut stream = TcpStream::connect(&addr).expect("connecting to the registry");
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("sending");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reading");
    let (head, json) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP body in {response}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {response}");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{path}: {e}: {json}"))
}

/// Registers an Avro `string` schema under `subject`; returns its id.
fn register_string_schema(broker: &Broker, subject: &str) -> i32 {
    let answer = post(
        broker,
        &format!("/subjects/{subject}/versions"),
        &serde_json::json!({"schema": "\"string\""}),
    );
    answer["id"].as_i64().expect("an id") as i32
}

/// Confluent's wire format: magic byte 0, the big-endian schema id, then the payload.
fn framed(id: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An Avro `string` datum: zigzag length, then the bytes.
fn avro_string(s: &str) -> Vec<u8> {
    let mut out = vec![(s.len() as u8) << 1];
    out.extend_from_slice(s.as_bytes());
    out
}

fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), KafkaError> {
    let rec = Rec {
        key: key.map(<[u8]>::to_vec),
        payload: value.map(<[u8]>::to_vec),
        ..Rec::default()
    };
    delivery(send(producer, topic, &rec)).map(|_| ())
}

fn assert_invalid_record(result: Result<(), KafkaError>, what: &str) {
    match result {
        Err(KafkaError::MessageProduction(RDKafkaErrorCode::InvalidRecord)) => {}
        other => panic!("{what}: expected INVALID_RECORD, got {other:?}"),
    }
}

#[test]
fn value_validation_accepts_only_registered_ids_of_the_topics_subject() {
    let broker = Broker::start();
    let topic = unique_topic("validated");
    broker.create_topic(&topic, 1, &[("confluent.value.schema.validation", "true")]);
    let configs = broker.topic_configs(&topic);
    assert_eq!(
        configs.get("confluent.value.schema.validation"),
        Some(&Some("true".to_string()))
    );
    let id = register_string_schema(&broker, &format!("{topic}-value"));
    let other_id = register_string_schema(&broker, &format!("{}-value", unique_topic("other")));
    let producer = broker.producer();

    assert_invalid_record(
        produce(&producer, &topic, None, Some(b"plain text")),
        "no magic byte",
    );
    assert_invalid_record(
        produce(&producer, &topic, None, Some(&framed(id + 1000, b"x"))),
        "unknown id",
    );
    let other = framed(other_id, &avro_string("hi"));
    if other_id != id {
        assert_invalid_record(
            produce(&producer, &topic, None, Some(&other)),
            "id of another subject",
        );
    }
    assert_invalid_record(
        produce(&producer, &topic, None, Some(&[0, 0])),
        "cut-off id",
    );
    let good = framed(id, &avro_string("hello"));
    produce(&producer, &topic, None, Some(&good)).expect("a registered id is accepted");
    produce(&producer, &topic, Some(b"k"), None).expect("a tombstone is accepted");
    // Keys are not checked unless key validation is on.
    produce(&producer, &topic, Some(b"plain key"), Some(&good)).expect("plain keys pass");

    let stored = broker.read_range(&topic, 0, 0, 3);
    let values: Vec<Option<Vec<u8>>> = stored.into_iter().map(|c| c.payload).collect();
    assert_eq!(values, vec![Some(good.clone()), None, Some(good)]);

    // Turning validation off (AlterConfigs) lets anything through again.
    let admin = broker.admin();
    let alter = AlterConfig::new(ResourceSpecifier::Topic(&topic))
        .set("confluent.value.schema.validation", "false");
    let results = common::block_on(admin.alter_configs([&alter], &common::admin_options()))
        .expect("AlterConfigs");
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    common::wait_until(common::WAIT, "validation to be off", || {
        produce(&producer, &topic, None, Some(b"plain text")).ok()
    });
}

#[test]
fn validation_off_accepts_anything_and_key_and_decode_checks_apply_when_on() {
    let broker = Broker::start();
    let producer = broker.producer();

    let open = unique_topic("unvalidated");
    broker.create_topic(&open, 1, &[]);
    produce(&producer, &open, None, Some(b"plain text")).expect("no validation: plain value");
    produce(&producer, &open, None, Some(&framed(4242, b"x"))).expect("no validation: unknown id");

    let keyed = unique_topic("keyed");
    broker.create_topic(&keyed, 1, &[("confluent.key.schema.validation", "true")]);
    let key_id = register_string_schema(&broker, &format!("{keyed}-key"));
    assert_invalid_record(
        produce(&producer, &keyed, Some(b"plain key"), Some(b"v")),
        "plain key",
    );
    let key = framed(key_id, &avro_string("k"));
    produce(&producer, &keyed, Some(&key), Some(b"any value")).expect("registered key id");
    produce(&producer, &keyed, None, Some(b"any value")).expect("null key passes");

    let decoded = unique_topic("decoded");
    broker.create_topic(
        &decoded,
        1,
        &[
            ("confluent.value.schema.validation", "true"),
            ("sluice.value.schema.validation.decode", "true"),
        ],
    );
    let id = register_string_schema(&broker, &format!("{decoded}-value"));
    // A string claiming 50 bytes with 2 behind it does not decode as Avro.
    assert_invalid_record(
        produce(
            &producer,
            &decoded,
            None,
            Some(&framed(id, &[100, b'h', b'i'])),
        ),
        "undecodable payload",
    );
    produce(
        &producer,
        &decoded,
        None,
        Some(&framed(id, &avro_string("fine"))),
    )
    .expect("a decodable payload");

    // Protobuf: the message-index path, then a message that must parse.
    let proto_topic = unique_topic("decoded-proto");
    broker.create_topic(
        &proto_topic,
        1,
        &[
            ("confluent.value.schema.validation", "true"),
            ("sluice.value.schema.validation.decode", "true"),
        ],
    );
    let answer = post(
        &broker,
        &format!("/subjects/{proto_topic}-value/versions"),
        &serde_json::json!({
            "schemaType": "PROTOBUF",
            "schema": "syntax = \"proto3\"; package t; message M { string s = 1; }",
        }),
    );
    let proto_id = answer["id"].as_i64().expect("an id") as i32;
    produce(
        &producer,
        &proto_topic,
        None,
        Some(&framed(proto_id, &[0, 0x0a, 2, b'h', b'i'])),
    )
    .expect("a message that parses");
    assert_invalid_record(
        produce(
            &producer,
            &proto_topic,
            None,
            Some(&framed(proto_id, &[0, 0x0a, 9, b'h'])),
        ),
        "a truncated Protobuf message",
    );
}
