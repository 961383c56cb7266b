//! The registry's side of broker-side schema id validation: answers the produce path's
//! [`SchemaIdValidator`] questions (is this id registered under the topic's subject? does this
//! payload decode with it?).
//!
//! The answers come from the registry's own log: this validator keeps a [`State`] (the same
//! in-memory index the REST API uses) built by tailing `_schemas`. Lookups take a read lock; only
//! an id or subject it has not seen makes it read the records appended since its last look, so
//! a schema registered a moment ago is found, and the REST API's locks are never touched from
//! the produce path.

use std::sync::{Arc, Weak};

use std::collections::HashMap;

use parking_lot::{Mutex, RwLock};
use sluice_broker::record_validation::{SchemaIdValidator, SubjectNameStrategy};
use sluice_broker::Broker;

use crate::state::State;
use crate::store::{Key, SchemaValue};
use crate::types::{ResolvedReference, SchemaType};

const SCHEMAS_TOPIC: &str = "_schemas";

/// Installs the validator on `broker` (once; later calls keep the first).
pub fn install(broker: &Arc<Broker>) {
    let _ = broker
        .schema_validator
        .set(Arc::new(RegistryValidator::new(broker)));
}

pub struct RegistryValidator {
    /// Weak: the broker owns this validator.
    broker: Weak<Broker>,
    index: RwLock<Index>,
    /// Per schema id (ids never change meaning): its record name, and its parsed form for
    /// payload checks, so neither is recomputed per record.
    record_names: Mutex<HashMap<i32, Option<String>>>,
    decoders: Mutex<HashMap<i32, Arc<Decoder>>>,
}

/// How many schemas the per-id caches hold before they start over.
const CACHE_LIMIT: usize = 10_000;

/// A schema ready to check payloads with.
enum Decoder {
    Avro {
        schema: apache_avro::Schema,
        /// Named types from the references.
        others: Vec<apache_avro::Schema>,
    },
    Protobuf(crate::protobuf::Parsed),
    Json,
}

fn remember<T: Clone>(cache: &Mutex<HashMap<i32, T>>, id: i32, value: T) -> T {
    let mut cache = cache.lock();
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(id, value.clone());
    value
}

#[derive(Default)]
struct Index {
    state: State,
    /// The next `_schemas` offset to read.
    next_offset: i64,
}

impl RegistryValidator {
    pub fn new(broker: &Arc<Broker>) -> RegistryValidator {
        RegistryValidator {
            broker: Arc::downgrade(broker),
            index: RwLock::new(Index::default()),
            record_names: Mutex::new(HashMap::new()),
            decoders: Mutex::new(HashMap::new()),
        }
    }

    /// Applies the `_schemas` records appended since the last call.
    fn catch_up(&self) {
        let Some(broker) = self.broker.upgrade() else {
            return;
        };
        let Some(topic) = broker.topics.get(SCHEMAS_TOPIC) else {
            return;
        };
        let Some(p) = topic.partition(0) else {
            return;
        };
        let mut index = self.index.write();
        let (start, end) = p.with_log(|l| (l.log_start_offset(), l.log_end_offset()));
        let mut offset = index.next_offset.max(start);
        while offset < end {
            let bytes = match p.with_log(|l| l.read(offset, 1 << 20, end)) {
                Ok(Some(slice)) => match slice.read_bytes() {
                    Ok(b) => b,
                    Err(_) => break,
                },
                _ => break,
            };
            let mut next = offset;
            for batch in sluice_log::iter_batches(&bytes) {
                let Ok((header, range)) = batch else { break };
                next = next.max(header.last_offset() + 1);
                if header.is_control() || header.last_offset() < offset {
                    continue;
                }
                let mut raw = bytes.slice(range);
                let Ok(set) = kafka_protocol::records::RecordBatchDecoder::decode(&mut raw) else {
                    continue;
                };
                for r in set.records {
                    if r.offset < offset {
                        continue;
                    }
                    let Some(key) = r.key else { continue };
                    if let Ok(k) = serde_json::from_slice::<Key>(&key) {
                        index.state.apply(&k, r.value.as_deref());
                    }
                }
            }
            if next <= offset {
                break;
            }
            offset = next;
        }
        index.next_offset = offset;
    }

    /// Runs `f` on the index; if it answers `None` (not known yet), catches up and asks again.
    fn lookup<T>(&self, f: impl Fn(&State) -> Option<T>) -> Option<T> {
        if let Some(t) = f(&self.index.read().state) {
            return Some(t);
        }
        self.catch_up();
        f(&self.index.read().state)
    }
}

/// The record name Confluent's record-name strategies use: Avro's full name, a JSON Schema's
/// `title`, a Protobuf schema's first message.
fn record_name(v: &SchemaValue, state: &State) -> Option<String> {
    match v.schema_type() {
        SchemaType::Avro => {
            let json: serde_json::Value = serde_json::from_str(&v.schema).ok()?;
            let name = json.get("name")?.as_str()?;
            match json.get("namespace").and_then(|n| n.as_str()) {
                Some(ns) if !ns.is_empty() && !name.contains('.') => Some(format!("{ns}.{name}")),
                _ => Some(name.to_string()),
            }
        }
        SchemaType::Json => {
            let json: serde_json::Value = serde_json::from_str(&v.schema).ok()?;
            json.get("title")?.as_str().map(str::to_string)
        }
        SchemaType::Protobuf => {
            let refs = state.resolve_references(&v.references).ok()?;
            crate::protobuf::parse(&v.schema, &refs)
                .ok()?
                .first_message_name()
        }
    }
}

/// Whether any version of `subject` (soft-deleted ones included, as their ids stay readable)
/// uses schema `id`.
fn subject_has(state: &State, subject: &str, id: i32) -> bool {
    state
        .subjects
        .get(subject)
        .is_some_and(|versions| versions.values().any(|v| v.id == id))
}

impl SchemaIdValidator for RegistryValidator {
    fn check_id(
        &self,
        topic: &str,
        is_key: bool,
        strategy: SubjectNameStrategy,
        id: i32,
    ) -> Result<(), String> {
        let suffix = if is_key { "key" } else { "value" };
        let found = self.lookup(|state| {
            let v = state.ids.get(&id)?;
            let subject = match strategy {
                SubjectNameStrategy::TopicName => format!("{topic}-{suffix}"),
                SubjectNameStrategy::RecordName => self.record_name(id, v, state)?,
                SubjectNameStrategy::TopicRecordName => {
                    format!("{topic}-{}", self.record_name(id, v, state)?)
                }
            };
            subject_has(state, &subject, id).then_some(())
        });
        found.ok_or_else(|| match strategy {
            SubjectNameStrategy::TopicName => {
                format!("schema id {id} is not registered under subject {topic}-{suffix}")
            }
            _ => {
                format!("schema id {id} is not registered under the subject its record name gives")
            }
        })
    }

    fn check_payload(&self, id: i32, payload: &[u8]) -> Result<(), String> {
        let cached = self.decoders.lock().get(&id).cloned();
        let decoder = match cached {
            Some(d) => d,
            None => {
                let (v, refs) = self
                    .lookup(|state| {
                        let v = state.ids.get(&id)?;
                        Some((v.clone(), state.resolve_references(&v.references).ok()?))
                    })
                    .ok_or_else(|| format!("schema id {id} is unknown"))?;
                remember(&self.decoders, id, Arc::new(decoder(&v, &refs)?))
            }
        };
        match &*decoder {
            Decoder::Avro { schema, others } => decode_avro(schema, others, payload),
            Decoder::Protobuf(parsed) => parsed.decode(payload),
            // JSON payloads are checked to be JSON; validating them against the schema is left
            // to the consumers' deserializers.
            Decoder::Json => serde_json::from_slice::<serde_json::Value>(payload)
                .map(|_| ())
                .map_err(|e| format!("not JSON: {e}")),
        }
    }
}

impl RegistryValidator {
    fn record_name(&self, id: i32, v: &SchemaValue, state: &State) -> Option<String> {
        if let Some(name) = self.record_names.lock().get(&id) {
            return name.clone();
        }
        remember(&self.record_names, id, record_name(v, state))
    }
}

fn decoder(v: &SchemaValue, refs: &[ResolvedReference]) -> Result<Decoder, String> {
    Ok(match v.schema_type() {
        SchemaType::Avro if refs.is_empty() => Decoder::Avro {
            schema: apache_avro::Schema::parse_str(&v.schema).map_err(|e| e.to_string())?,
            others: Vec::new(),
        },
        SchemaType::Avro => {
            let (schema, others) = apache_avro::Schema::parse_str_with_list(
                &v.schema,
                refs.iter().map(|r| r.schema.as_str()),
            )
            .map_err(|e| e.to_string())?;
            Decoder::Avro { schema, others }
        }
        SchemaType::Protobuf => Decoder::Protobuf(crate::protobuf::parse(&v.schema, refs)?),
        SchemaType::Json => Decoder::Json,
    })
}

/// One Avro datum that must use the whole payload.
fn decode_avro(
    schema: &apache_avro::Schema,
    others: &[apache_avro::Schema],
    payload: &[u8],
) -> Result<(), String> {
    crate::avro::bound_decoding();
    if crate::avro::decode_hazard(schema, others).is_some() {
        // Decoding could exhaust memory or the stack (see `decode_hazard`): the schema id was
        // checked, the payload check is skipped rather than rejecting well-formed data.
        return Ok(());
    }
    let mut reader = payload;
    // apache-avro answers a datum cut short with nulls rather than an error, so the value
    // must also fit the schema (and nothing may be left over).
    #[allow(deprecated)] // the builder that replaces these does the same
    let fits = if others.is_empty() {
        apache_avro::from_avro_datum(schema, &mut reader, None)
            .map_err(|e| e.to_string())?
            .validate(schema)
    } else {
        let value = apache_avro::from_avro_datum_schemata(
            schema,
            others.iter().collect(),
            &mut reader,
            None,
        )
        .map_err(|e| e.to_string())?;
        let schemata: Vec<&apache_avro::Schema> =
            std::iter::once(schema).chain(others.iter()).collect();
        // validate_schemata panics on schemata that do not resolve: check first.
        apache_avro::schema::ResolvedSchema::try_from(schemata.clone()).is_ok()
            && value.validate_schemata(&schemata)
    };
    if !fits {
        return Err("the payload does not decode with the schema".into());
    }
    if !reader.is_empty() {
        return Err(format!("{} bytes left after the Avro datum", reader.len()));
    }
    Ok(())
}
