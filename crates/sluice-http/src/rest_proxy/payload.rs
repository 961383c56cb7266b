//! Embedded data formats: how a key or value travels inside JSON (base64 for BINARY, the JSON
//! value itself for JSON, a JSON string for STRING) and its bytes on the Kafka side.

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::ApiError;

/// Confluent's code for a record whose embedded data cannot be converted to bytes.
pub const BAD_PAYLOAD: u32 = 42206;

/// An embedded format; v3 names them in upper case, v2 in the content type in lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Binary,
    Json,
    String,
}

impl Format {
    pub fn v3_name(self) -> &'static str {
        match self {
            Format::Binary => "BINARY",
            Format::Json => "JSON",
            Format::String => "STRING",
        }
    }

    pub fn v2_name(self) -> &'static str {
        match self {
            Format::Binary => "binary",
            Format::Json => "json",
            Format::String => "string",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "binary" => Some(Format::Binary),
            "json" => Some(Format::Json),
            "string" => Some(Format::String),
            _ => None,
        }
    }
}

/// A key or value as given: its embedded format and its bytes (`None`: a null datum).
pub type Data = (Format, Option<Vec<u8>>);

pub fn bad_payload(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, BAD_PAYLOAD, message)
}

/// The bytes of one embedded datum; `None` for JSON null, which is a null key or value in Kafka.
pub fn to_bytes(format: Format, data: &Value, what: &str) -> Result<Option<Vec<u8>>, ApiError> {
    match (format, data) {
        (_, Value::Null) => Ok(None),
        (Format::Binary, Value::String(text)) => BASE64
            .decode(text.as_bytes())
            .map(Some)
            .map_err(|e| bad_payload(format!("{what}: data is not valid base64: {e}"))),
        (Format::Binary, _) => Err(bad_payload(format!(
            "{what}: BINARY data must be a base64 string"
        ))),
        (Format::String, Value::String(text)) => Ok(Some(text.as_bytes().to_vec())),
        (Format::String, _) => Err(bad_payload(format!("{what}: STRING data must be a string"))),
        (Format::Json, value) => serde_json::to_vec(value)
            .map(Some)
            .map_err(|e| bad_payload(format!("{what}: {e}"))),
    }
}

/// A REST v3 `key` / `value` object as sent.
#[derive(serde::Deserialize)]
struct Embedded<'a> {
    #[serde(rename = "type")]
    kind: Option<Value>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    schema: Option<Value>,
    schema_id: Option<Value>,
    schema_version: Option<Value>,
    subject: Option<Value>,
}

/// A REST v3 `key` / `value` object: `{"type": "BINARY"|"JSON"|"STRING", "data": ...}`.
/// Returns the format and bytes; an absent or null field is `None` (no key / null value).
/// JSON data keeps its member order and number text (only insignificant whitespace goes), so
/// the record holds what the client wrote.
pub fn parse_v3(field: Option<&RawValue>, what: &str) -> Result<Option<Data>, ApiError> {
    let Some(raw) = field else { return Ok(None) };
    if raw.get() == "null" {
        return Ok(None);
    }
    let embedded: Embedded<'_> = serde_json::from_str(raw.get())
        .map_err(|e| bad_payload(format!("{what} must be an object with type and data: {e}")))?;
    let format = match &embedded.kind {
        // Without a type Confluent looks up the topic's schema in the schema registry; this
        // proxy has no registry integration, so it answers as Confluent's does without one.
        None => {
            return Err(bad_payload(format!(
                "{what}: type is required (BINARY, JSON or STRING); schema lookup by subject \
                 is not supported"
            )))
        }
        Some(Value::String(name)) => match name.as_str() {
            "BINARY" | "JSON" | "STRING" => Format::from_name(name).unwrap_or(Format::Json),
            "AVRO" | "PROTOBUF" | "JSONSCHEMA" => {
                return Err(bad_payload(format!(
                    "{what}: type {name} needs schema registry integration, which this proxy \
                     does not have; use BINARY, JSON or STRING"
                )))
            }
            other => return Err(bad_payload(format!("{what}: unknown type {other:?}"))),
        },
        Some(_) => return Err(bad_payload(format!("{what}: type must be a string"))),
    };
    let schema_fields = [
        ("schema", &embedded.schema),
        ("schema_id", &embedded.schema_id),
        ("schema_version", &embedded.schema_version),
        ("subject", &embedded.subject),
    ];
    for (name, value) in schema_fields {
        if value.is_some() {
            return Err(bad_payload(format!(
                "{what}: {name} needs schema registry integration, which this proxy does not have"
            )));
        }
    }
    let data = match embedded.data {
        None => return Ok(Some((format, None))),
        Some(raw) if raw.get() == "null" => return Ok(Some((format, None))),
        Some(raw) => raw,
    };
    let bytes = match format {
        Format::Json => compact_json(data.get()).into_bytes(),
        _ => {
            let value: Value = serde_json::from_str(data.get())
                .map_err(|e| bad_payload(format!("{what}: {e}")))?;
            to_bytes(format, &value, what)?.unwrap_or_default()
        }
    };
    Ok(Some((format, Some(bytes))))
}

/// Valid JSON text without the whitespace between tokens.
fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The JSON form of record bytes for a v2 consumer of `format`.
pub fn to_json(format: Format, bytes: Option<&[u8]>) -> Result<Value, String> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    match format {
        Format::Binary => Ok(Value::String(BASE64.encode(bytes))),
        Format::String => std::str::from_utf8(bytes)
            .map(|s| Value::String(s.to_string()))
            .map_err(|e| format!("record is not UTF-8: {e}")),
        Format::Json => {
            serde_json::from_slice(bytes).map_err(|e| format!("record is not valid JSON: {e}"))
        }
    }
}

pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    BASE64.decode(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_data_keeps_order_and_strings() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"type": "JSON", "data": {"z": 1, "a": " x \" y ", "n": 1.50}}"#,
        )
        .unwrap();
        let (f, bytes) = parse_v3(Some(&raw), "value").unwrap().unwrap();
        assert_eq!(f, Format::Json);
        assert_eq!(bytes.unwrap(), br#"{"z":1,"a":" x \" y ","n":1.50}"#);
    }
}
