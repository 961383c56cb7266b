//! A read-only view of a broker's registry for other parts of the same process, such as the web
//! console on the HTTP listener, which runs on another port than the registry's REST API.
//!
//! The console reaches the registry in memory instead of over HTTP: it needs no second
//! listener address (the registry may listen anywhere, or on several), and what it shows is
//! exactly the index the registry answers from. [`registry`] finds the broker's registry in the
//! table [`crate::router`] fills, so there is none when `schema.registry.listeners` is empty:
//! the console then says the registry is off rather than starting one.
//!
//! [`Decoder`] turns a payload in Confluent's wire format (magic byte 0, the schema id as a
//! 4-byte big-endian integer, then the data) into JSON with the registered schema: Avro datums
//! through `apache-avro`, JSON Schema payloads as the JSON they are. Protobuf payloads are
//! named (id, subject, version) but not decoded here yet: the compiled descriptor is private
//! to [`crate::protobuf`].

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sluice_broker::Broker;

use crate::error::RegistryError;
use crate::registry::{Registry, VersionSel};
use crate::store::{Reference, SchemaValue};
use crate::types::{ResolvedReference, SchemaType};

/// The broker's registry, if it serves one (`schema.registry.listeners` is not empty).
pub fn registry(broker: &Arc<Broker>) -> Option<Arc<Registry>> {
    let target = Arc::downgrade(broker);
    crate::REGISTRIES
        .lock()
        .iter()
        .find(|(b, _)| b.ptr_eq(&target))
        .map(|(_, r)| r.clone())
}

/// One line of the console's subject list.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectSummary {
    pub subject: String,
    /// The newest version that is not soft-deleted.
    pub latest_version: i32,
    pub id: i32,
    pub schema_type: &'static str,
    /// The subject's level, or the global one it falls back to.
    pub compatibility: String,
    pub versions: usize,
}

/// Every subject with live versions, with its latest version and compatibility level.
pub async fn subjects(registry: &Registry) -> Result<Vec<SubjectSummary>, RegistryError> {
    let names: Vec<String> =
        serde_json::from_value(registry.list_subjects("", false).await?).unwrap_or_default();
    let mut out = Vec::with_capacity(names.len());
    for subject in names {
        // A subject deleted between the two reads is simply left out.
        let (Ok(latest), Ok(versions)) = (
            registry
                .get_version(&subject, VersionSel::Latest, false)
                .await,
            registry.list_versions(&subject, false).await,
        ) else {
            continue;
        };
        out.push(SubjectSummary {
            latest_version: latest.version,
            id: latest.id,
            schema_type: latest.schema_type().as_str(),
            compatibility: compatibility(registry, &subject).await?,
            versions: versions.as_array().map_or(0, Vec::len),
            subject,
        });
    }
    Ok(out)
}

/// The compatibility level that applies to `subject`.
pub async fn compatibility(registry: &Registry, subject: &str) -> Result<String, RegistryError> {
    let level = registry.get_config(Some(subject), true).await?;
    Ok(level["compatibilityLevel"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// A registry-encoded payload: which schema wrote it and, when it could be read, the data.
#[derive(Debug, Clone, Serialize)]
pub struct Decoded {
    pub schema_id: i32,
    pub schema_type: &'static str,
    /// Subject and version pairs registered with this id (usually one).
    pub versions: Vec<(String, i32)>,
    /// The payload as JSON (Avro unions unwrapped, bytes as arrays of numbers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<Value>,
    /// Why the payload could not be shown as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Decodes payloads in Confluent's wire format, parsing each schema id once (a page of records
/// usually shares one or two).
pub struct Decoder {
    registry: Arc<Registry>,
    /// id -> the schema, or `None` for an id the registry does not know.
    schemas: HashMap<i32, Option<Arc<Loaded>>>,
}

/// A schema ready to read payloads.
struct Loaded {
    schema_type: SchemaType,
    versions: Vec<(String, i32)>,
    reader: Result<Reader, String>,
}

enum Reader {
    /// The writer's schema and the named schemas its references define.
    Avro(apache_avro::Schema, Vec<apache_avro::Schema>),
    Json,
    Protobuf,
}

impl Decoder {
    pub fn new(registry: Arc<Registry>) -> Decoder {
        Decoder {
            registry,
            schemas: HashMap::new(),
        }
    }

    /// Decodes `bytes` if they are in Confluent's wire format with an id this registry knows;
    /// `None` for anything else (plain text, other binary, ids never registered).
    pub async fn decode(&mut self, bytes: &[u8]) -> Option<Decoded> {
        let (&magic, rest) = bytes.split_first()?;
        if magic != 0 || rest.len() < 4 {
            return None;
        }
        let id = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let payload = &rest[4..];
        let loaded = match self.schemas.get(&id) {
            Some(l) => l.clone(),
            None => {
                let l = self.load(id).await.map(Arc::new);
                self.schemas.insert(id, l.clone());
                l
            }
        }?;
        let result = match &loaded.reader {
            Err(e) => Err(e.clone()),
            Ok(Reader::Avro(schema, others)) => decode_avro(id, schema, others, payload),
            Ok(Reader::Json) => serde_json::from_slice::<Value>(payload)
                .map_err(|e| format!("the payload is not JSON: {e}")),
            Ok(Reader::Protobuf) => {
                Err("Protobuf payloads are not decoded by the console yet".into())
            }
        };
        let (decoded, error) = match result {
            Ok(value) => (Some(value), None),
            Err(e) => (None, Some(e)),
        };
        Some(Decoded {
            schema_id: id,
            schema_type: loaded.schema_type.as_str(),
            versions: loaded.versions.clone(),
            decoded,
            error,
        })
    }

    async fn load(&self, id: i32) -> Option<Loaded> {
        let v = self.registry.schema_by_id(id).await.ok()?;
        let versions = self
            .registry
            .id_versions(id, true)
            .await
            .unwrap_or_default();
        let reader = match v.schema_type() {
            SchemaType::Avro => match resolve(&self.registry, &v.references).await {
                Ok(refs) => parse_avro(&v.schema, &refs).map(|(s, o)| Reader::Avro(s, o)),
                Err(e) => Err(e),
            },
            SchemaType::Json => Ok(Reader::Json),
            SchemaType::Protobuf => Ok(Reader::Protobuf),
        };
        Some(Loaded {
            schema_type: v.schema_type(),
            versions,
            reader,
        })
    }
}

/// The referenced schemas, their own references first, each once (as the registry resolves
/// them when it parses a schema).
pub async fn resolve(
    registry: &Registry,
    refs: &[Reference],
) -> Result<Vec<ResolvedReference>, String> {
    // Depth-first with an explicit stack: (reference, its own references already pushed?).
    let mut out: Vec<ResolvedReference> = Vec::new();
    let mut stack: Vec<(Reference, Option<SchemaValue>)> =
        refs.iter().rev().map(|r| (r.clone(), None)).collect();
    let mut steps = 0;
    while let Some((r, fetched)) = stack.pop() {
        steps += 1;
        if steps > 1024 {
            return Err("references nest too deeply".into());
        }
        if out
            .iter()
            .any(|o| o.subject == r.subject && (r.version == -1 || o.version == r.version))
        {
            continue;
        }
        match fetched {
            Some(v) => out.push(ResolvedReference {
                name: r.name.clone(),
                subject: r.subject.clone(),
                version: v.version,
                schema: v.schema.clone(),
                schema_type: v.schema_type(),
            }),
            None => {
                let sel = if r.version == -1 {
                    VersionSel::Latest
                } else {
                    VersionSel::Number(r.version)
                };
                let v = registry
                    .get_version(&r.subject, sel, r.version != -1)
                    .await
                    .map_err(|_| {
                        format!(
                            "reference '{}' to subject '{}' version {} not found",
                            r.name, r.subject, r.version
                        )
                    })?;
                let inner: Vec<Reference> = v.references.clone();
                stack.push((r, Some(v)));
                stack.extend(inner.into_iter().rev().map(|i| (i, None)));
            }
        }
    }
    Ok(out)
}

/// An Avro schema with the schemas its references define.
fn parse_avro(
    schema: &str,
    refs: &[ResolvedReference],
) -> Result<(apache_avro::Schema, Vec<apache_avro::Schema>), String> {
    if refs.is_empty() {
        Ok((
            apache_avro::Schema::parse_str(schema).map_err(|e| e.to_string())?,
            Vec::new(),
        ))
    } else {
        apache_avro::Schema::parse_str_with_list(schema, refs.iter().map(|r| r.schema.as_str()))
            .map_err(|e| e.to_string())
    }
}

/// One Avro datum as JSON, read with the writer's schema (no reader schema: the console shows
/// what was written).
fn decode_avro(
    id: i32,
    schema: &apache_avro::Schema,
    others: &[apache_avro::Schema],
    payload: &[u8],
) -> Result<Value, String> {
    let mut reader = payload;
    #[allow(deprecated)] // the builder that replaces these does the same
    let value = if others.is_empty() {
        apache_avro::from_avro_datum(schema, &mut reader, None)
    } else {
        apache_avro::from_avro_datum_schemata(schema, others.iter().collect(), &mut reader, None)
    }
    .map_err(|e| format!("the payload does not decode with schema {id}: {e}"))?;
    // A datum cut short decodes as nulls in apache-avro: say so rather than show them.
    let fits = if others.is_empty() {
        value.validate(schema)
    } else {
        let schemata: Vec<&apache_avro::Schema> =
            std::iter::once(schema).chain(others.iter()).collect();
        // validate_schemata panics on schemata that do not resolve: check first.
        apache_avro::schema::ResolvedSchema::try_from(schemata.clone()).is_ok()
            && value.validate_schemata(&schemata)
    };
    if !fits {
        return Err(format!("the payload does not decode with schema {id}"));
    }
    if !reader.is_empty() {
        return Err(format!("{} bytes left after the Avro datum", reader.len()));
    }
    Value::try_from(value).map_err(|e| e.to_string())
}
