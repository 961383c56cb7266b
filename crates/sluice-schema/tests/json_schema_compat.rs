//! JSON Schema compatibility against Confluent's documented rules: a table of (old, new)
//! schema pairs with the verdict Confluent Schema Registry gives under BACKWARD (the new schema
//! reads data written with the old) and, where it tells something, FORWARD (the old reads the
//! new's data, i.e. the same check with the roles swapped).

use serde_json::{json, Value};
use sluice_schema::json_schema::{check, parse};
use sluice_schema::types::{ResolvedReference, SchemaType};

struct Case {
    name: &'static str,
    old: Value,
    new: Value,
    backward: bool,
    forward: Option<bool>,
}

fn case(name: &'static str, old: Value, new: Value, backward: bool, forward: bool) -> Case {
    Case {
        name,
        old,
        new,
        backward,
        forward: Some(forward),
    }
}

fn obj(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

fn closed(props: Value) -> Value {
    json!({"type": "object", "properties": props, "additionalProperties": false})
}

fn closed_req(props: Value, required: Value) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

fn table() -> Vec<Case> {
    let s = json!({"type": "string"});
    let i = json!({"type": "integer"});
    vec![
        case(
            "identical object",
            obj(json!({"a": s})),
            obj(json!({"a": s})),
            true,
            true,
        ),
        case(
            "property added to open content model",
            obj(json!({"a": s})),
            obj(json!({"a": s, "b": i})),
            false,
            true,
        ),
        case(
            "optional property added to closed content model",
            closed(json!({"a": s})),
            closed(json!({"a": s, "b": i})),
            true,
            false,
        ),
        case(
            "required property without default added to closed model",
            closed(json!({"a": s})),
            closed_req(json!({"a": s, "b": i}), json!(["b"])),
            false,
            false,
        ),
        case(
            "required property with default added to closed model",
            closed(json!({"a": s})),
            closed_req(
                json!({"a": s, "b": {"type": "integer", "default": 0}}),
                json!(["b"]),
            ),
            true,
            false,
        ),
        case(
            "property removed from open content model",
            obj(json!({"a": s, "b": i})),
            obj(json!({"a": s})),
            true,
            false,
        ),
        case(
            "property removed from closed content model",
            closed(json!({"a": s, "b": i})),
            closed(json!({"a": s})),
            false,
            true,
        ),
        case(
            "property type string -> integer",
            obj(json!({"a": s})),
            obj(json!({"a": i})),
            false,
            false,
        ),
        case(
            "integer -> number is an extension",
            obj(json!({"a": i})),
            obj(json!({"a": {"type": "number"}})),
            true,
            false,
        ),
        case(
            "string -> string or null",
            obj(json!({"a": s})),
            obj(json!({"a": {"type": ["string", "null"]}})),
            true,
            false,
        ),
        case(
            "boolean -> string",
            json!({"type": "boolean"}),
            s.clone(),
            false,
            false,
        ),
        case(
            "maxLength increased",
            json!({"type": "string", "maxLength": 10}),
            json!({"type": "string", "maxLength": 20}),
            true,
            false,
        ),
        case(
            "maxLength added",
            s.clone(),
            json!({"type": "string", "maxLength": 20}),
            false,
            true,
        ),
        case(
            "minLength decreased",
            json!({"type": "string", "minLength": 5}),
            json!({"type": "string", "minLength": 2}),
            true,
            false,
        ),
        case(
            "pattern added",
            s.clone(),
            json!({"type": "string", "pattern": "^a"}),
            false,
            true,
        ),
        case(
            "pattern changed",
            json!({"type": "string", "pattern": "^a"}),
            json!({"type": "string", "pattern": "^b"}),
            false,
            false,
        ),
        case(
            "maximum increased",
            json!({"type": "number", "maximum": 100}),
            json!({"type": "number", "maximum": 200}),
            true,
            false,
        ),
        case(
            "minimum added",
            json!({"type": "number"}),
            json!({"type": "number", "minimum": 0}),
            false,
            true,
        ),
        case(
            "exclusiveMaximum decreased",
            json!({"type": "number", "exclusiveMaximum": 10}),
            json!({"type": "number", "exclusiveMaximum": 5}),
            false,
            true,
        ),
        case(
            "multipleOf reduced (4 -> 2)",
            json!({"type": "integer", "multipleOf": 4}),
            json!({"type": "integer", "multipleOf": 2}),
            true,
            false,
        ),
        case(
            "multipleOf changed (3 -> 5)",
            json!({"type": "integer", "multipleOf": 3}),
            json!({"type": "integer", "multipleOf": 5}),
            false,
            false,
        ),
        case(
            "enum extended",
            json!({"enum": ["a", "b"]}),
            json!({"enum": ["a", "b", "c"]}),
            true,
            false,
        ),
        case(
            "typed enum extended",
            json!({"type": "string", "enum": ["a", "b"]}),
            json!({"type": "string", "enum": ["a", "b", "c"]}),
            true,
            false,
        ),
        case(
            "enum changed",
            json!({"enum": ["a", "b"]}),
            json!({"enum": ["a", "c"]}),
            false,
            false,
        ),
        case(
            "required attribute removed",
            json!({"type": "object", "properties": {"a": s}, "required": ["a"]}),
            obj(json!({"a": s})),
            true,
            false,
        ),
        case(
            "required attribute added without default",
            obj(json!({"a": s})),
            json!({"type": "object", "properties": {"a": s}, "required": ["a"]}),
            false,
            true,
        ),
        case(
            "required attribute added with default",
            obj(json!({"a": s})),
            json!({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "required": ["a"]}),
            true,
            true,
        ),
        case(
            "additionalProperties false -> allowed",
            closed(json!({"a": s})),
            obj(json!({"a": s})),
            true,
            false,
        ),
        case(
            "additionalProperties schema added",
            json!({"type": "object"}),
            json!({"type": "object", "additionalProperties": s}),
            false,
            true,
        ),
        case(
            "array items string -> integer",
            json!({"type": "array", "items": s}),
            json!({"type": "array", "items": i}),
            false,
            false,
        ),
        case(
            "array items integer -> number",
            json!({"type": "array", "items": i}),
            json!({"type": "array", "items": {"type": "number"}}),
            true,
            false,
        ),
        case(
            "maxItems increased",
            json!({"type": "array", "maxItems": 5}),
            json!({"type": "array", "maxItems": 10}),
            true,
            false,
        ),
        case(
            "minItems added",
            json!({"type": "array"}),
            json!({"type": "array", "minItems": 1}),
            false,
            true,
        ),
        case(
            "uniqueItems added",
            json!({"type": "array"}),
            json!({"type": "array", "uniqueItems": true}),
            false,
            true,
        ),
        case(
            "item added to closed tuple",
            json!({"type": "array", "items": [s], "additionalItems": false}),
            json!({"type": "array", "items": [s, i], "additionalItems": false}),
            true,
            false,
        ),
        case(
            "item added to open tuple",
            json!({"type": "array", "items": [s]}),
            json!({"type": "array", "items": [s, i]}),
            false,
            true,
        ),
        case(
            "prefixItems closed tuple grows",
            json!({"type": "array", "prefixItems": [s], "items": false}),
            json!({"type": "array", "prefixItems": [s, i], "items": false}),
            true,
            false,
        ),
        case(
            "oneOf gains a member",
            json!({"oneOf": [s, i]}),
            json!({"oneOf": [s, i, {"type": "boolean"}]}),
            true,
            false,
        ),
        case(
            "allOf -> anyOf",
            json!({"allOf": [obj(json!({"a": s})), obj(json!({"b": i}))]}),
            json!({"anyOf": [obj(json!({"a": s})), obj(json!({"b": i}))]}),
            true,
            false,
        ),
        case(
            "anyOf -> oneOf",
            json!({"anyOf": [s, i]}),
            json!({"oneOf": [s, i]}),
            false,
            true,
        ),
        case(
            "referenced definition changes type",
            json!({"definitions": {"A": s}, "$ref": "#/definitions/A"}),
            json!({"definitions": {"A": i}, "$ref": "#/definitions/A"}),
            false,
            false,
        ),
        case(
            "same type under another definition name",
            json!({"definitions": {"A": s}, "$ref": "#/definitions/A"}),
            json!({"definitions": {"B": s}, "$ref": "#/definitions/B"}),
            true,
            true,
        ),
        case(
            "nested property type change",
            obj(json!({"o": obj(json!({"x": s}))})),
            obj(json!({"o": obj(json!({"x": i}))})),
            false,
            false,
        ),
        case(
            "property added to nested open model",
            obj(json!({"o": obj(json!({"x": s}))})),
            obj(json!({"o": obj(json!({"x": s, "y": s}))})),
            false,
            true,
        ),
        case(
            "property with empty schema added to open model",
            obj(json!({"a": s})),
            obj(json!({"a": s, "b": {}})),
            true,
            true,
        ),
        case(
            "property added, covered by patternProperties",
            json!({"type": "object", "properties": {"a": s}, "patternProperties": {"^s_": s}, "additionalProperties": false}),
            json!({"type": "object", "properties": {"a": s, "s_x": s}, "patternProperties": {"^s_": s}, "additionalProperties": false}),
            true,
            true,
        ),
        case(
            "property added, not covered by patternProperties",
            json!({"type": "object", "properties": {"a": s}, "patternProperties": {"^s_": s}, "additionalProperties": false}),
            json!({"type": "object", "properties": {"a": s, "s_x": i}, "patternProperties": {"^s_": s}, "additionalProperties": false}),
            false,
            false,
        ),
        case(
            "title and description changed",
            json!({"type": "string", "title": "A", "description": "x"}),
            json!({"type": "string", "title": "B", "description": "y"}),
            true,
            true,
        ),
        case(
            "recursive linked list unchanged",
            json!({"type": "object", "properties": {"v": i, "next": {"$ref": "#"}}}),
            json!({"type": "object", "properties": {"v": i, "next": {"$ref": "#"}}}),
            true,
            true,
        ),
        case(
            "recursive linked list value type changed",
            json!({"type": "object", "properties": {"v": i, "next": {"$ref": "#"}}}),
            json!({"type": "object", "properties": {"v": s, "next": {"$ref": "#"}}}),
            false,
            false,
        ),
        case(
            "not widened",
            json!({"not": s}),
            json!({"not": {"type": ["string", "null"]}}),
            false,
            true,
        ),
        case("reader accepts anything", s.clone(), json!({}), true, false),
        case(
            "property whose schema is false removed from closed model",
            closed(json!({"a": s, "b": false})),
            closed(json!({"a": s})),
            true,
            true,
        ),
        case(
            "maxProperties decreased",
            json!({"type": "object", "maxProperties": 5}),
            json!({"type": "object", "maxProperties": 3}),
            false,
            true,
        ),
        case(
            "enum dropped from a typed string (product narrowed)",
            json!({"type": "string", "enum": ["a", "b"]}),
            s.clone(),
            true,
            false,
        ),
        case(
            "const changed",
            json!({"const": "a"}),
            json!({"const": "b"}),
            false,
            false,
        ),
        case(
            "allOf -> anyOf with fewer members",
            json!({"allOf": [obj(json!({"a": s})), obj(json!({"b": i}))]}),
            json!({"anyOf": [obj(json!({"a": s}))]}),
            true,
            false,
        ),
        case(
            "number -> integer narrows",
            json!({"type": "number"}),
            i.clone(),
            false,
            true,
        ),
    ]
}

fn parsed(v: &Value) -> sluice_schema::json_schema::Parsed {
    parse(&v.to_string(), &[]).unwrap_or_else(|e| panic!("{v} should parse: {e}"))
}

#[test]
fn backward_and_forward_verdicts_match_confluent() {
    let cases = table();
    assert!(cases.len() >= 40, "the table has {} pairs", cases.len());
    let mut wrong = Vec::new();
    for c in &cases {
        let (old, new) = (parsed(&c.old), parsed(&c.new));
        let backward = check(&new, &old);
        if backward.is_empty() != c.backward {
            wrong.push(format!(
                "{} BACKWARD: expected {} got {backward:?}",
                c.name, c.backward
            ));
        }
        if let Some(f) = c.forward {
            let forward = check(&old, &new);
            if forward.is_empty() != f {
                wrong.push(format!("{} FORWARD: expected {f} got {forward:?}", c.name));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn incompatibility_messages_name_the_rule_and_the_path() {
    let old = parsed(&obj(json!({"a": {"type": "string"}})));
    let new = parsed(&obj(json!({"a": {"type": "integer"}})));
    let messages = check(&new, &old);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("TYPE_CHANGED"), "{}", messages[0]);
    assert!(messages[0].contains("#/properties/a"), "{}", messages[0]);
}

#[test]
fn invalid_schemas_are_refused() {
    for bad in [
        "not json",
        "42",
        r#"{"type": "strnig"}"#,
        r#"{"type": "object", "required": "a"}"#,
        r##"{"$ref": "#/definitions/missing"}"##,
        r#"{"properties": []}"#,
        r#"{"anyOf": []}"#,
    ] {
        assert!(parse(bad, &[]).is_err(), "{bad} should be refused");
    }
}

#[test]
fn identity_ignores_formatting() {
    let a = parse(
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        &[],
    )
    .unwrap();
    let b = parse(
        "{\n  \"type\" : \"object\",\n  \"properties\" : { \"a\" : { \"type\" : \"string\" } }\n}",
        &[],
    )
    .unwrap();
    assert_eq!(a.canonical(), b.canonical());
}

#[test]
fn references_resolve_into_other_schemas() {
    let address = |t: &str| ResolvedReference {
        name: "address.json".into(),
        subject: "address".into(),
        version: 1,
        schema: json!({"type": "object", "properties": {"zip": {"type": t}}}).to_string(),
        schema_type: SchemaType::Json,
    };
    let customer =
        json!({"type": "object", "properties": {"home": {"$ref": "address.json"}}}).to_string();
    assert!(
        parse(&customer, &[]).is_err(),
        "an unknown reference is refused"
    );
    let old = parse(&customer, &[address("string")]).unwrap();
    let same = parse(&customer, &[address("string")]).unwrap();
    let changed = parse(&customer, &[address("integer")]).unwrap();
    assert!(check(&same, &old).is_empty());
    assert!(
        !check(&changed, &old).is_empty(),
        "a referenced type change is seen"
    );
}

#[test]
fn nested_unions_cannot_make_a_check_take_forever() {
    // Six levels of six distinct union members: comparing every member with every member at
    // every level would take 6^12 steps; the check gives up early as incompatible instead.
    fn build(depth: usize) -> Value {
        if depth == 0 {
            return json!({"type": "string"});
        }
        let members: Vec<Value> = (0..6)
            .map(|i| {
                let mut m = build(depth - 1);
                m["title"] = json!(format!("t{depth}-{i}"));
                m
            })
            .collect();
        json!({ "anyOf": members })
    }
    let schema = parsed(&build(6));
    let started = std::time::Instant::now();
    let messages = check(&schema, &schema);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("SCHEMA_TOO_COMPLEX_TO_COMPARE")),
        "{messages:?}"
    );
}
