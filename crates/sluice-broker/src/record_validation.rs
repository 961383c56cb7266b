//! Broker-side schema id validation (Confluent's `confluent.value.schema.validation` and
//! `confluent.key.schema.validation` topic settings).
//!
//! A topic that turns it on only accepts records whose value (or key) starts with the schema
//! registry wire format, magic byte 0 and a 4-byte big-endian schema id, where the id is registered
//! under the subject the topic's subject name strategy derives (`<topic>-value` by default).
//! Null values and null keys always pass, as in Confluent Server (tombstones in compacted topics).
//! Sluice's own setting `sluice.value.schema.validation.decode` (and `.key.`) additionally asks
//! that the payload decode with that schema.
//!
//! The registry lives in another crate that depends on this one, so it plugs in through
//! [`SchemaIdValidator`], installed once on the broker at start-up. Topics without these settings
//! pay one map lookup per produced partition.

use std::collections::BTreeMap;
use std::io;

use sluice_log::{iter_batches, BatchHeader, RECORD_BATCH_OVERHEAD};

use crate::broker::Broker;

pub const VALUE_VALIDATION: &str = "confluent.value.schema.validation";
pub const KEY_VALIDATION: &str = "confluent.key.schema.validation";
pub const VALUE_STRATEGY: &str = "confluent.value.subject.name.strategy";
pub const KEY_STRATEGY: &str = "confluent.key.subject.name.strategy";
pub const VALUE_DECODE: &str = "sluice.value.schema.validation.decode";
pub const KEY_DECODE: &str = "sluice.key.schema.validation.decode";

/// Confluent's default strategy class, as topic configs name it.
pub const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
pub const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
pub const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";

/// How the subject a schema id must be registered under is derived (Confluent's strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value`.
    TopicName,
    /// The schema's fully-qualified record name.
    RecordName,
    /// `<topic>-<record name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// The strategy a config value names (the class name, or its short name).
    pub fn parse(value: &str) -> Option<SubjectNameStrategy> {
        let short = value.trim().rsplit('.').next().unwrap_or_default();
        match short {
            "TopicNameStrategy" => Some(SubjectNameStrategy::TopicName),
            "RecordNameStrategy" => Some(SubjectNameStrategy::RecordName),
            "TopicRecordNameStrategy" => Some(SubjectNameStrategy::TopicRecordName),
            _ => None,
        }
    }
}

/// What the schema registry answers for the produce path.
pub trait SchemaIdValidator: Send + Sync {
    /// `Err(reason)` unless schema `id` is registered under a subject `strategy` derives for
    /// `topic` (the key's subject when `is_key`).
    fn check_id(
        &self,
        topic: &str,
        is_key: bool,
        strategy: SubjectNameStrategy,
        id: i32,
    ) -> Result<(), String>;

    /// `Err(reason)` unless `payload` (the bytes after the 5-byte prefix) decodes with schema `id`.
    fn check_payload(&self, id: i32, payload: &[u8]) -> Result<(), String>;
}

/// One side's (key or value) validation settings.
#[derive(Debug, Clone, Copy)]
struct Side {
    strategy: SubjectNameStrategy,
    decode: bool,
}

fn is_true(configs: &BTreeMap<String, String>, name: &str) -> bool {
    configs
        .get(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn side(
    configs: &BTreeMap<String, String>,
    on: &str,
    strategy: &str,
    decode: &str,
) -> Option<Side> {
    if !is_true(configs, on) {
        return None;
    }
    Some(Side {
        strategy: configs
            .get(strategy)
            .and_then(|s| SubjectNameStrategy::parse(s))
            .unwrap_or(SubjectNameStrategy::TopicName),
        decode: is_true(configs, decode),
    })
}

/// Checks every record of a produce request's `records` for a topic with `configs`. `Err` is
/// the message sent back with INVALID_RECORD. Batches that cannot be parsed pass through: the
/// log's own validation rejects them with the error Kafka gives.
pub fn check(
    broker: &Broker,
    topic: &str,
    configs: &BTreeMap<String, String>,
    records: &[u8],
) -> Result<(), String> {
    let value = side(configs, VALUE_VALIDATION, VALUE_STRATEGY, VALUE_DECODE);
    let key = side(configs, KEY_VALIDATION, KEY_STRATEGY, KEY_DECODE);
    if value.is_none() && key.is_none() {
        return Ok(());
    }
    let Some(validator) = broker.schema_validator.get() else {
        return Err(format!(
            "Topic {topic} requires schema id validation, but the schema registry is not running"
        ));
    };
    let check_one =
        |field: Option<&[u8]>, side: Option<Side>, is_key: bool| -> Result<(), String> {
            let (Some(side), Some(bytes)) = (side, field) else {
                return Ok(());
            };
            let what = if is_key { "key" } else { "value" };
            let id = match bytes {
                [0, a, b, c, d, ..] => i32::from_be_bytes([*a, *b, *c, *d]),
                _ => {
                    return Err(format!(
                        "Record {what} does not carry a schema id (magic byte 0 and a 4-byte id)"
                    ))
                }
            };
            validator
                .check_id(topic, is_key, side.strategy, id)
                .map_err(|e| format!("Record {what} has an invalid schema id {id}: {e}"))?;
            if side.decode {
                validator
                    .check_payload(id, &bytes[5..])
                    .map_err(|e| format!("Record {what} does not match schema {id}: {e}"))?;
            }
            Ok(())
        };
    for batch in iter_batches(records) {
        let Ok((header, range)) = batch else {
            return Ok(());
        };
        let batch = &records[range];
        let Ok(data) = record_section(&header, batch) else {
            return Ok(());
        };
        for record in sluice_log::iter_records(&data) {
            let Ok(record) = record else {
                return Ok(());
            };
            check_one(record.key, key, true)?;
            check_one(record.value, value, false)?;
        }
    }
    Ok(())
}

fn corrupt(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

/// A batch's record section, decompressed by the log's bounded codecs (batches come from the
/// network); an uncompressed one is borrowed as it is.
fn record_section<'a>(h: &BatchHeader, batch: &'a [u8]) -> io::Result<std::borrow::Cow<'a, [u8]>> {
    let payload = batch
        .get(RECORD_BATCH_OVERHEAD..)
        .ok_or_else(|| corrupt("short batch"))?;
    match h.compression() {
        0 => Ok(payload.into()),
        codec => sluice_log::decompress(codec, payload).map(|b| Vec::from(b).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_by_class_or_short_name() {
        assert_eq!(
            SubjectNameStrategy::parse(TOPIC_RECORD_NAME_STRATEGY),
            Some(SubjectNameStrategy::TopicRecordName)
        );
        assert_eq!(
            SubjectNameStrategy::parse("RecordNameStrategy"),
            Some(SubjectNameStrategy::RecordName)
        );
        assert_eq!(SubjectNameStrategy::parse("Nope"), None);
    }

    #[test]
    fn records_walk_to_their_keys_and_values() {
        // length, attributes, ts delta 0, offset delta 0, key "k", value [0,0,0,0,7], 0 headers
        let rec = [0u8, 0, 0, 2, b'k', 10, 0, 0, 0, 0, 7, 0];
        let mut buf = vec![(rec.len() as u8) << 1];
        buf.extend_from_slice(&rec);
        let records: Vec<_> = sluice_log::iter_records(&buf).collect();
        assert_eq!(records.len(), 1, "one record, using the whole buffer");
        let r = records[0].as_ref().expect("parses");
        assert_eq!(r.key, Some(&b"k"[..]));
        assert_eq!(r.value, Some(&[0u8, 0, 0, 0, 7][..]));
        let cut: Vec<_> = sluice_log::iter_records(&buf[..5]).collect();
        assert!(cut[0].is_err());
    }
}
