//! The schema formats the registry knows and the one place that dispatches to each format's
//! parser and compatibility checker.
//!
//! Each format module (`avro`, `json_schema`, `protobuf`) exposes the same three things:
//! `parse(schema, refs) -> Result<Parsed, String>` (the error is the 42201 message),
//! `Parsed::canonical()` (the identity used to decide "same schema") and
//! `check(reader, writer) -> Vec<String>` (empty when the reader can read the writer's data).
//! The rest of the registry sees only [`ParsedSchema`] and the functions below.

use serde::{Deserialize, Serialize};

use crate::{avro, json_schema, protobuf};

/// A schema's format, as named in the REST API (`schemaType`; absent means AVRO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// Parses the REST API's spelling (Confluent accepts any case).
    pub fn from_name(name: &str) -> Option<SchemaType> {
        match name.to_ascii_uppercase().as_str() {
            "AVRO" => Some(SchemaType::Avro),
            "JSON" => Some(SchemaType::Json),
            "PROTOBUF" => Some(SchemaType::Protobuf),
            _ => None,
        }
    }
}

/// A schema reference with the referenced schema's text, resolved by the registry.
/// Listed in dependency order: a reference's own references come before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedReference {
    /// The name the referencing schema imports it by (Avro: the type's full name;
    /// Protobuf: the import path; JSON Schema: the `$ref` URL).
    pub name: String,
    pub subject: String,
    pub version: i32,
    pub schema: String,
    pub schema_type: SchemaType,
}

/// A parsed schema of any supported format.
pub enum ParsedSchema {
    Avro(avro::Parsed),
    Json(json_schema::Parsed),
    Protobuf(protobuf::Parsed),
}

impl ParsedSchema {
    pub fn schema_type(&self) -> SchemaType {
        match self {
            ParsedSchema::Avro(_) => SchemaType::Avro,
            ParsedSchema::Json(_) => SchemaType::Json,
            ParsedSchema::Protobuf(_) => SchemaType::Protobuf,
        }
    }

    /// The identity of the schema: two registrations with equal canonical forms (and equal
    /// type and references) are the same schema and share one id.
    pub fn canonical(&self) -> String {
        match self {
            ParsedSchema::Avro(p) => p.canonical(),
            ParsedSchema::Json(p) => p.canonical(),
            ParsedSchema::Protobuf(p) => p.canonical(),
        }
    }
}

/// The formats this build can parse, for `GET /schemas/types`.
pub fn supported_types() -> Vec<SchemaType> {
    vec![SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro]
}

/// Parses `schema` of type `ty`; the error is the message of a 42201 answer.
pub fn parse(
    ty: SchemaType,
    schema: &str,
    refs: &[ResolvedReference],
) -> Result<ParsedSchema, String> {
    match ty {
        SchemaType::Avro => avro::parse(schema, refs).map(ParsedSchema::Avro),
        SchemaType::Json => json_schema::parse(schema, refs).map(ParsedSchema::Json),
        SchemaType::Protobuf => protobuf::parse(schema, refs).map(ParsedSchema::Protobuf),
    }
}

/// Why `reader` cannot read data written with `writer` (empty: it can). Schemas of different
/// formats never read each other.
pub fn check(reader: &ParsedSchema, writer: &ParsedSchema) -> Vec<String> {
    match (reader, writer) {
        (ParsedSchema::Avro(r), ParsedSchema::Avro(w)) => avro::check(r, w),
        (ParsedSchema::Json(r), ParsedSchema::Json(w)) => json_schema::check(r, w),
        (ParsedSchema::Protobuf(r), ParsedSchema::Protobuf(w)) => protobuf::check(r, w),
        _ => vec![format!(
            "{{errorType:'TYPE_MISMATCH', description:'The new schema is of type {} but the old schema is of type {}'}}",
            reader.schema_type().as_str(),
            writer.schema_type().as_str()
        )],
    }
}
