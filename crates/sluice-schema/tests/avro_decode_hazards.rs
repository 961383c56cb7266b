//! Schemas whose payloads the broker refuses to decode: a few input bytes could otherwise
//! claim unbounded memory (arrays of zero-size items) or recurse forever (a record that
//! contains itself through fields that read nothing), and recursive records nest as deep as a
//! crafted payload says (a stack overflow). Other schemas decode as usual.

use apache_avro::Schema;
use sluice_schema::avro::decode_hazard;

fn hazard(schema: &str) -> Option<String> {
    let parsed = Schema::parse_str(schema).expect("a valid Avro schema");
    decode_hazard(&parsed, &[])
}

#[test]
fn zero_size_array_items_are_a_hazard() {
    for schema in [
        r#"{"type":"array","items":"null"}"#,
        r#"{"type":"array","items":{"type":"fixed","name":"F","size":0}}"#,
        r#"{"type":"array","items":{"type":"record","name":"E","fields":[]}}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"xs","type":{"type":"array","items":{"type":"array","items":"null"}}}]}"#,
        r#"{"type":"record","name":"R","fields":[
            {"name":"e","type":{"type":"record","name":"E","fields":[{"name":"n","type":"null"}]}},
            {"name":"es","type":{"type":"array","items":"E"}}]}"#,
        r#"{"type":"map","values":{"type":"array","items":"null"}}"#,
    ] {
        assert!(hazard(schema).is_some(), "{schema} should be refused");
    }
}

#[test]
fn recursive_records_are_a_hazard() {
    for schema in [
        r#"{"type":"record","name":"R","fields":[{"name":"r","type":"R"}]}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"r","type":"R"},{"name":"x","type":"int"}]}"#,
        r#"{"type":"record","name":"A","fields":[{"name":"b","type":
            {"type":"record","name":"B","fields":[{"name":"a","type":"A"}]}}]}"#,
        r#"{"type":"record","name":"Node","fields":[
            {"name":"value","type":"int"},{"name":"next","type":["null","Node"]}]}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"x","type":"int"},{"name":"r","type":"R"}]}"#,
        r#"{"type":"record","name":"Tree","fields":[{"name":"kids","type":{"type":"array","items":"Tree"}}]}"#,
    ] {
        assert!(hazard(schema).is_some(), "{schema} should be refused");
    }
}

#[test]
fn ordinary_schemas_decode() {
    for schema in [
        r#""string""#,
        r#"{"type":"array","items":"int"}"#,
        r#"{"type":"array","items":["null","string"]}"#,
        r#"{"type":"map","values":"null"}"#,
        r#"{"type":"record","name":"E","fields":[]}"#,
        r#"{"type":"record","name":"Outer","fields":[
            {"name":"a","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int"}]}},
            {"name":"b","type":"Inner"},{"name":"c","type":{"type":"array","items":"Inner"}}]}"#,
    ] {
        assert_eq!(hazard(schema), None, "{schema} should decode");
    }
}
