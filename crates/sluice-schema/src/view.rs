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
//! through `apache-avro`, JSON Schema payloads as the JSON they are, Protobuf messages (after
//! their message-index path) as `prost-reflect` dynamic messages in proto3's JSON mapping.
//! Protobuf schemas are compiled by [`crate::protobuf`], the same way the registry does.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor};
use protox::file::File;
use serde::Serialize;
use serde_json::Value;
use sluice_broker::Broker;

use crate::error::RegistryError;
use crate::protobuf::{self, base64_encode};
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
    pub decoded: Option<Json>,
    /// Why the payload could not be shown as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// JSON whose objects keep their members in order (`serde_json::Value` sorts them): a record's
/// fields as its schema lists them, a JSON payload's members as they were written.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// Null, a boolean, a number or a string.
    Scalar(Value),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Json::Scalar(v) => v.serialize(s),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Scalar(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(n)))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(n)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::Scalar(Value::String(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Scalar(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(i) = a.next_element()? {
                    items.push(i);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    members.push(entry);
                }
                Ok(Json::Object(members))
            }
        }
        d.deserialize_any(Visit)
    }
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
    /// The compiled schema file (its messages are what the index path points into).
    Protobuf(protobuf::Parsed),
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
            Ok(Reader::Json) => serde_json::from_slice::<Json>(payload)
                .map_err(|e| format!("the payload is not JSON: {e}")),
            Ok(Reader::Protobuf(file)) => decode_protobuf(file, payload),
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
            SchemaType::Protobuf => match resolve(&self.registry, &v.references).await {
                Ok(refs) => protobuf::parse(&v.schema, &refs).map(Reader::Protobuf),
                Err(e) => Err(e),
            },
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
) -> Result<Json, String> {
    crate::avro::bound_decoding();
    if let Some(why) = crate::avro::decode_hazard(schema, others) {
        return Err(format!("payloads of this schema are not decoded: {why}"));
    }
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
    avro_json(value)
}

/// An Avro value as JSON, record fields in schema order.
fn avro_json(value: apache_avro::types::Value) -> Result<Json, String> {
    use apache_avro::types::Value as A;
    Ok(match value {
        A::Record(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(k, v)| Ok((k, avro_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        A::Map(entries) => {
            let mut members = entries
                .into_iter()
                .map(|(k, v)| Ok((k, avro_json(v)?)))
                .collect::<Result<Vec<_>, String>>()?;
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(members)
        }
        A::Array(items) => Json::Array(
            items
                .into_iter()
                .map(avro_json)
                .collect::<Result<_, String>>()?,
        ),
        A::Union(_, inner) => avro_json(*inner)?,
        scalar => Json::Scalar(Value::try_from(scalar).map_err(|e| e.to_string())?),
    })
}

/// A Protobuf schema registered as a base64 `FileDescriptorProto` (as Confluent's Python and Go
/// serializers send it), written out as `.proto` text for reading and diffing; `None` for a
/// schema that is `.proto` text already (or does not compile).
pub async fn protobuf_text(registry: &Registry, v: &SchemaValue) -> Option<String> {
    if v.schema_type() != SchemaType::Protobuf
        || File::from_source(protobuf::ROOT, &v.schema).is_ok()
    {
        return None;
    }
    let refs = resolve(registry, &v.references).await.ok()?;
    let parsed = protobuf::parse(&v.schema, &refs).ok()?;
    let file = parsed.descriptor();
    let mut out = String::new();
    let syntax = match file.syntax() {
        prost_reflect::Syntax::Proto2 => "proto2",
        prost_reflect::Syntax::Proto3 => "proto3",
    };
    out.push_str(&format!("syntax = \"{syntax}\";\n"));
    if !file.package_name().is_empty() {
        out.push_str(&format!("package {};\n", file.package_name()));
    }
    for dep in file.dependencies() {
        out.push_str(&format!("import \"{}\";\n", dep.name()));
    }
    for e in file.enums() {
        out.push('\n');
        write_enum(&mut out, &e, 0);
    }
    for m in file.messages() {
        out.push('\n');
        write_message(&mut out, &m, 0, syntax == "proto2");
    }
    Some(out)
}

fn write_enum(out: &mut String, e: &prost_reflect::EnumDescriptor, depth: usize) {
    let pad = "  ".repeat(depth);
    out.push_str(&format!("{pad}enum {} {{\n", e.name()));
    for v in e.values() {
        out.push_str(&format!("{pad}  {} = {};\n", v.name(), v.number()));
    }
    out.push_str(&format!("{pad}}}\n"));
}

fn write_message(out: &mut String, m: &MessageDescriptor, depth: usize, proto2: bool) {
    let pad = "  ".repeat(depth);
    out.push_str(&format!("{pad}message {} {{\n", m.name()));
    for e in m.child_enums() {
        write_enum(out, &e, depth + 1);
    }
    for c in m.child_messages().filter(|c| !c.is_map_entry()) {
        write_message(out, &c, depth + 1, proto2);
    }
    let mut oneofs_done = Vec::new();
    for f in m.fields() {
        match f.containing_oneof().filter(|o| !o.is_synthetic()) {
            Some(o) => {
                if oneofs_done.contains(&o.name().to_string()) {
                    continue;
                }
                oneofs_done.push(o.name().to_string());
                out.push_str(&format!("{pad}  oneof {} {{\n", o.name()));
                for of in o.fields() {
                    out.push_str(&format!("{pad}    {};\n", field_line(&of, proto2, true)));
                }
                out.push_str(&format!("{pad}  }}\n"));
            }
            None => out.push_str(&format!("{pad}  {};\n", field_line(&f, proto2, false))),
        }
    }
    out.push_str(&format!("{pad}}}\n"));
}

fn field_line(f: &prost_reflect::FieldDescriptor, proto2: bool, in_oneof: bool) -> String {
    let kind = |k: &Kind| match k {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_ascii_lowercase(),
    };
    let ty = match f.kind() {
        Kind::Message(entry) if f.is_map() => format!(
            "map<{}, {}>",
            kind(&entry.map_entry_key_field().kind()),
            kind(&entry.map_entry_value_field().kind())
        ),
        k => kind(&k),
    };
    let label = match f.cardinality() {
        _ if in_oneof || f.is_map() => "",
        prost_reflect::Cardinality::Repeated => "repeated ",
        prost_reflect::Cardinality::Required => "required ",
        prost_reflect::Cardinality::Optional
            if proto2 || f.field_descriptor_proto().proto3_optional() =>
        {
            "optional "
        }
        prost_reflect::Cardinality::Optional => "",
    };
    format!("{label}{ty} {} = {}", f.name(), f.number())
}

/// A Protobuf payload after the schema id: the message-index path, then the message.
fn decode_protobuf(schema: &protobuf::Parsed, payload: &[u8]) -> Result<Json, String> {
    let (message, body) = schema.message_for(payload)?;
    let name = message.full_name().to_string();
    let decoded =
        DynamicMessage::decode(message, body).map_err(|e| format!("not a valid {name}: {e}"))?;
    Ok(message_json(&decoded))
}

/// A message in proto3's JSON mapping, close enough for reading: fields that are set, by JSON
/// name; 64-bit integers as strings; enums by name; bytes as base64.
fn message_json(m: &DynamicMessage) -> Json {
    Json::Object(
        m.fields()
            .map(|(field, value)| {
                let json = value_json(&field.kind(), value);
                (field.json_name().to_string(), json)
            })
            .collect(),
    )
}

fn value_json(kind: &Kind, v: &prost_reflect::Value) -> Json {
    use prost_reflect::Value as V;
    let scalar = match v {
        V::Bool(b) => Value::Bool(*b),
        V::I32(n) => Value::from(*n),
        V::U32(n) => Value::from(*n),
        V::I64(n) => Value::String(n.to_string()),
        V::U64(n) => Value::String(n.to_string()),
        V::F32(f) => serde_json::Number::from_f64(f64::from(*f))
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        V::F64(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        V::String(s) => Value::String(s.clone()),
        V::Bytes(b) => Value::String(base64_encode(b)),
        V::EnumNumber(n) => match kind {
            Kind::Enum(e) => e.get_value(*n).map_or_else(
                || Value::from(*n),
                |ev| Value::String(ev.name().to_string()),
            ),
            _ => Value::from(*n),
        },
        V::Message(m) => return message_json(m),
        V::List(items) => return Json::Array(items.iter().map(|i| value_json(kind, i)).collect()),
        V::Map(entries) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                _ => kind.clone(),
            };
            let mut out: Vec<(String, Json)> = entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                        MapKey::String(s) => s.clone(),
                    };
                    (key, value_json(&value_kind, v))
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            return Json::Object(out);
        }
    };
    Json::Scalar(scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_protobuf_is_written_back_as_proto_text() {
        let file = protobuf::parse(
            "syntax = \"proto3\"; package shop; enum S { NEW = 0; PAID = 1; } \
             message Order { message Line { int32 qty = 1; } string sku = 1; repeated Line lines = 2; \
             map<string, int64> tags = 3; S status = 4; oneof pay { string card = 5; bytes token = 6; } \
             optional double discount = 7; }",
            &[],
        )
        .unwrap();
        let mut out = String::new();
        write_message(
            &mut out,
            &file.descriptor().messages().next().unwrap(),
            0,
            false,
        );
        assert_eq!(
            out,
            "message Order {\n  message Line {\n    int32 qty = 1;\n  }\n  string sku = 1;\n  \
             repeated shop.Order.Line lines = 2;\n  map<string, int64> tags = 3;\n  shop.S status = 4;\n  \
             oneof pay {\n    string card = 5;\n    bytes token = 6;\n  }\n  optional double discount = 7;\n}\n"
        );
    }

    #[test]
    fn json_keeps_member_order() {
        let text = r#"{"z":1,"a":[true,null,{"y":"s","b":2.5}],"m":-3}"#;
        let parsed: Json = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
    }

    #[test]
    fn protobuf_payload_with_nested_index_path_decodes() {
        let file = protobuf::parse(
            "syntax = \"proto3\"; package t; message A { int32 x = 1; } \
             message B { message Inner { string s = 1; map<string, int64> m = 2; } }",
            &[],
        )
        .unwrap();
        // First message: a lone 0, then x = 5.
        let json = |j: Json| serde_json::to_value(j).unwrap();
        assert_eq!(
            json(decode_protobuf(&file, &[0, 0x08, 5]).unwrap()),
            serde_json::json!({"x": 5})
        );
        // B.Inner: count 2, indexes 1 and 0 (zigzag 4, 2, 0), then s = "hi", m = {"k": 7}.
        let payload = [
            4, 2, 0, 0x0a, 2, b'h', b'i', 0x12, 5, 0x0a, 1, b'k', 0x10, 7,
        ];
        assert_eq!(
            json(decode_protobuf(&file, &payload).unwrap()),
            serde_json::json!({"s": "hi", "m": {"k": "7"}})
        );
        assert!(decode_protobuf(&file, &[2, 18]).is_err()); // no message at index 9
        assert!(decode_protobuf(&file, &[0, 0x08]).is_err()); // truncated
    }
}
