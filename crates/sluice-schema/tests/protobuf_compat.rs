//! Protobuf compatibility against Confluent's documented rules: a table of (old, new) `.proto`
//! pairs with the verdict Confluent Schema Registry gives under BACKWARD (the new schema reads
//! data written with the old) and FORWARD (the old reads the new's data).

use sluice_schema::protobuf::{check, parse, Parsed};
use sluice_schema::types::{ResolvedReference, SchemaType};

struct Case {
    name: &'static str,
    old: String,
    new: String,
    backward: bool,
    forward: bool,
}

fn p3(body: &str) -> String {
    format!("syntax = \"proto3\";\npackage t;\n{body}\n")
}

fn p2(body: &str) -> String {
    format!("syntax = \"proto2\";\npackage t;\n{body}\n")
}

/// A proto3 file in package `t` importing `import`.
fn importing(import: &str, body: &str) -> String {
    format!("syntax = \"proto3\";\npackage t;\nimport \"{import}\";\n{body}\n")
}

/// `message M { <type> f = 1; }`
fn field(ty: &str) -> String {
    p3(&format!("message M {{ {ty} f = 1; }}"))
}

fn case(name: &'static str, old: String, new: String, backward: bool, forward: bool) -> Case {
    Case {
        name,
        old,
        new,
        backward,
        forward,
    }
}

fn table() -> Vec<Case> {
    let person = "message Person { string name = 1; int32 age = 2; }";
    vec![
        case("identical", p3(person), p3(person), true, true),
        case(
            "optional field added",
            p3(person),
            p3("message Person { string name = 1; int32 age = 2; string email = 3; }"),
            true,
            true,
        ),
        case(
            "field removed",
            p3(person),
            p3("message Person { string name = 1; }"),
            true,
            true,
        ),
        case(
            "field renamed",
            p3(person),
            p3("message Person { string full_name = 1; int32 age = 2; }"),
            true,
            true,
        ),
        case(
            "field number changed (remove + add)",
            p3(person),
            p3("message Person { string name = 1; int32 age = 3; }"),
            true,
            true,
        ),
        case("int32 -> int64", field("int32"), field("int64"), true, true),
        case(
            "int32 -> uint64",
            field("int32"),
            field("uint64"),
            true,
            true,
        ),
        case("int32 -> bool", field("int32"), field("bool"), true, true),
        case("bool -> uint32", field("bool"), field("uint32"), true, true),
        case(
            "int32 -> string",
            field("int32"),
            field("string"),
            false,
            false,
        ),
        case(
            "string -> bytes",
            field("string"),
            field("bytes"),
            true,
            true,
        ),
        case(
            "sint32 -> sint64",
            field("sint32"),
            field("sint64"),
            true,
            true,
        ),
        case(
            "sint32 -> int32",
            field("sint32"),
            field("int32"),
            false,
            false,
        ),
        case(
            "fixed32 -> sfixed32",
            field("fixed32"),
            field("sfixed32"),
            true,
            true,
        ),
        case(
            "fixed64 -> sfixed64",
            field("fixed64"),
            field("sfixed64"),
            true,
            true,
        ),
        case(
            "fixed32 -> fixed64",
            field("fixed32"),
            field("fixed64"),
            false,
            false,
        ),
        case(
            "float -> double",
            field("float"),
            field("double"),
            false,
            false,
        ),
        case(
            "double -> int64",
            field("double"),
            field("int64"),
            false,
            false,
        ),
        case(
            "enum -> int32",
            p3("enum E { A = 0; B = 1; } message M { E f = 1; }"),
            p3("enum E { A = 0; B = 1; } message M { int32 f = 1; }"),
            true,
            true,
        ),
        case(
            "message field -> string",
            p3("message Inner { string s = 1; } message M { Inner f = 1; }"),
            p3("message Inner { string s = 1; } message M { string f = 1; }"),
            false,
            false,
        ),
        case(
            "bytes field -> message",
            p3("message Inner { string s = 1; } message M { bytes f = 1; }"),
            p3("message Inner { string s = 1; } message M { Inner f = 1; }"),
            false,
            false,
        ),
        case(
            "field's message type renamed",
            p3("message A { string s = 1; } message M { A f = 1; }"),
            p3("message B { string s = 1; } message M { B f = 1; }"),
            false,
            false,
        ),
        case(
            "field's message type changes a field incompatibly",
            p3("message A { string s = 1; } message M { A f = 1; }"),
            p3("message A { int32 s = 1; } message M { A f = 1; }"),
            false,
            false,
        ),
        case(
            "field's message type gains a field",
            p3("message A { string s = 1; } message M { A f = 1; }"),
            p3("message A { string s = 1; int32 n = 2; } message M { A f = 1; }"),
            true,
            true,
        ),
        case(
            "second message removed",
            p3("message M { string s = 1; } message Other { int32 x = 1; }"),
            p3("message M { string s = 1; }"),
            false,
            true,
        ),
        case(
            "message added",
            p3("message M { string s = 1; }"),
            p3("message M { string s = 1; } message Other { int32 x = 1; }"),
            true,
            false,
        ),
        case(
            "messages reordered",
            p3("message M { string s = 1; } message Other { int32 x = 1; }"),
            p3("message Other { int32 x = 1; } message M { string s = 1; }"),
            true,
            true,
        ),
        case(
            "package changed",
            p3(person),
            format!("syntax = \"proto3\";\npackage u;\n{person}\n"),
            false,
            false,
        ),
        case(
            "enum value added",
            p3("enum E { A = 0; } message M { E e = 1; }"),
            p3("enum E { A = 0; B = 1; } message M { E e = 1; }"),
            true,
            true,
        ),
        case(
            "enum value renamed",
            p3("enum E { A = 0; B = 1; } message M { E e = 1; }"),
            p3("enum E { A = 0; C = 1; } message M { E e = 1; }"),
            true,
            true,
        ),
        case(
            "unused enum removed",
            p3("enum E { A = 0; } message M { string s = 1; }"),
            p3("message M { string s = 1; }"),
            true,
            true,
        ),
        case(
            "proto2 required field added",
            p2("message M { optional string s = 1; }"),
            p2("message M { optional string s = 1; required int32 r = 2; }"),
            false,
            false,
        ),
        case(
            "proto2 optional field added",
            p2("message M { optional string s = 1; }"),
            p2("message M { optional string s = 1; optional int32 o = 2; }"),
            true,
            true,
        ),
        case(
            "proto2 required field removed",
            p2("message M { optional string s = 1; required int32 r = 2; }"),
            p2("message M { optional string s = 1; }"),
            false,
            false,
        ),
        case(
            "oneof added with new fields",
            p3("message M { string s = 1; }"),
            p3("message M { string s = 1; oneof choice { int32 a = 2; string b = 3; } }"),
            true,
            true,
        ),
        case(
            "one existing field moved into a new oneof",
            p3("message M { string s = 1; int32 a = 2; }"),
            p3("message M { string s = 1; oneof choice { int32 a = 2; string b = 3; } }"),
            true,
            // The old reader loses oneof member b while member a lives on: a removal.
            false,
        ),
        case(
            "two existing fields moved into one oneof",
            p3("message M { string s = 1; int32 a = 2; }"),
            p3("message M { oneof choice { string s = 1; int32 a = 2; } }"),
            false,
            true,
        ),
        case(
            "whole oneof deleted",
            p3("message M { string s = 1; oneof c { int32 a = 2; string b = 3; } }"),
            p3("message M { string s = 1; }"),
            true,
            true,
        ),
        case(
            "field moved out of a oneof",
            p3("message M { oneof c { int32 a = 1; string b = 2; } }"),
            p3("message M { int32 a = 1; oneof c { string b = 2; } }"),
            true,
            false,
        ),
        case(
            "field moved into another existing oneof",
            p3("message M { oneof x { int32 a = 1; } oneof y { string b = 2; } }"),
            p3("message M { oneof y { int32 a = 1; string b = 2; } }"),
            false,
            true,
        ),
        case(
            "field added to an existing oneof",
            p3("message M { oneof choice { int32 a = 1; } }"),
            p3("message M { oneof choice { int32 a = 1; string b = 2; } }"),
            true,
            false,
        ),
        case(
            "field in a oneof changes type",
            p3("message M { oneof choice { int32 a = 1; } }"),
            p3("message M { oneof choice { string a = 1; } }"),
            false,
            false,
        ),
        case(
            "int32 -> repeated int32",
            field("int32"),
            field("repeated int32"),
            false,
            false,
        ),
        case(
            "string -> repeated string",
            field("string"),
            field("repeated string"),
            true,
            true,
        ),
        case(
            "map value int32 -> int64",
            field("map<string, int32>"),
            field("map<string, int64>"),
            true,
            true,
        ),
        case(
            "map value int32 -> string",
            field("map<string, int32>"),
            field("map<string, string>"),
            false,
            false,
        ),
        case(
            "map -> repeated message",
            field("map<string, int32>"),
            p3("message E { string key = 1; int32 value = 2; } message M { repeated E f = 1; }"),
            false,
            false,
        ),
        case(
            "nested message gains a field",
            p3("message M { message N { string s = 1; } N n = 1; }"),
            p3("message M { message N { string s = 1; int64 x = 2; } N n = 1; }"),
            true,
            true,
        ),
        case(
            "recursive message unchanged",
            p3("message Node { int32 v = 1; Node next = 2; }"),
            p3("message Node { int32 v = 1; Node next = 2; }"),
            true,
            true,
        ),
        case(
            "recursive message value type changed",
            p3("message Node { int32 v = 1; Node next = 2; }"),
            p3("message Node { string v = 1; Node next = 2; }"),
            false,
            false,
        ),
        case(
            "proto3 optional field added",
            p3("message M { string s = 1; }"),
            p3("message M { string s = 1; optional int32 o = 2; }"),
            true,
            true,
        ),
        case(
            "well-known Timestamp field added",
            p3("message M { string s = 1; }"),
            importing(
                "google/protobuf/timestamp.proto",
                "message M { string s = 1; google.protobuf.Timestamp at = 2; }",
            ),
            true,
            true,
        ),
        case(
            "Timestamp -> Duration",
            importing(
                "google/protobuf/timestamp.proto",
                "message M { google.protobuf.Timestamp at = 1; }",
            ),
            importing(
                "google/protobuf/duration.proto",
                "message M { google.protobuf.Duration at = 1; }",
            ),
            false,
            false,
        ),
    ]
}

fn parsed(text: &str) -> Parsed {
    parse(text, &[]).unwrap_or_else(|e| panic!("{text} should compile: {e}"))
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
        let forward = check(&old, &new);
        if forward.is_empty() != c.forward {
            wrong.push(format!(
                "{} FORWARD: expected {} got {forward:?}",
                c.name, c.forward
            ));
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
fn messages_name_the_rule_and_the_path() {
    let messages = check(&parsed(&field("string")), &parsed(&field("int32")));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains("FIELD_SCALAR_KIND_CHANGED"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("#/M/1"), "{}", messages[0]);
}

#[test]
fn invalid_schemas_are_refused() {
    for bad in [
        "this is not protobuf",
        "syntax = \"proto3\"; message M { strin s = 1; }",
        "syntax = \"proto3\"; message M { string s = 1; int32 t = 1; }",
        "syntax = \"proto3\"; import \"missing.proto\"; message M { string s = 1; }",
    ] {
        assert!(parse(bad, &[]).is_err(), "{bad} should be refused");
    }
}

#[test]
fn identity_ignores_comments_and_formatting() {
    let a = parsed("syntax = \"proto3\"; package t; message M { string s = 1; }");
    let b = parsed(
        "// a comment\nsyntax = \"proto3\";\n\npackage t;\n\nmessage M {\n  string s = 1; // why\n}\n",
    );
    assert_eq!(a.canonical(), b.canonical());
    let c = parsed("syntax = \"proto3\"; package t; message M { string t = 1; }");
    assert_ne!(a.canonical(), c.canonical());
}

#[test]
fn serialized_descriptors_are_accepted() {
    let a = parsed(&p3("message M { string s = 1; }"));
    let again = parse(&a.serialized(), &[]).expect("a base64 FileDescriptorProto compiles");
    assert_eq!(a.canonical(), again.canonical());
}

#[test]
fn references_are_imports() {
    let address = |ty: &str| ResolvedReference {
        name: "shared/address.proto".into(),
        subject: "address".into(),
        version: 1,
        schema: format!("syntax = \"proto3\"; package shared; message Address {{ {ty} zip = 1; }}"),
        schema_type: SchemaType::Protobuf,
    };
    let customer = "syntax = \"proto3\"; package t; import \"shared/address.proto\";\
                    message Customer { shared.Address home = 1; }";
    assert!(parse(customer, &[]).is_err(), "a missing import is refused");
    let old = parse(customer, &[address("string")]).expect("compiles with its reference");
    let new = parse(customer, &[address("string")]).expect("compiles with its reference");
    assert!(check(&new, &old).is_empty());
    let mut changed_ref = address("int32");
    changed_ref.version = 2;
    let changed = parse(customer, &[changed_ref]).expect("compiles");
    assert!(
        !check(&changed, &old).is_empty(),
        "a changed referenced type is seen"
    );
}

#[test]
fn payloads_decode_in_the_wire_format() {
    let schema = parsed(&p3(
        "message M { string s = 1; } message Other { int32 x = 1; }",
    ));
    // Message index [0] as the single 0 byte, then field 1 (string "hi").
    assert!(schema.decode(&[0, 0x0a, 2, b'h', b'i']).is_ok());
    // Index path [1] (count 1 = zigzag 2, index 1 = zigzag 2): the second message, field 1 varint.
    assert!(schema.decode(&[2, 2, 0x08, 7]).is_ok());
    assert!(
        schema.decode(&[0, 0x0a, 9, b'h']).is_err(),
        "truncated string"
    );
    assert!(schema.decode(&[2, 8]).is_err(), "no message at index 4");
}

#[test]
fn fanned_out_type_graphs_cannot_make_a_check_take_forever() {
    // Each message holds ten fields of the next one, seven levels deep: 10^7 field comparisons
    // without a bound.
    let mut body = String::from("message L7 { string s = 1; }\n");
    for level in (0..7).rev() {
        let fields: Vec<String> = (1..=10)
            .map(|n| format!("L{} f{n} = {n};", level + 1))
            .collect();
        body.push_str(&format!("message L{level} {{ {} }}\n", fields.join(" ")));
    }
    let old = parsed(&p3(&body));
    let new = parsed(&p3(&body.replace("string s = 1;", "int32 s = 1;")));
    let started = std::time::Instant::now();
    let messages = check(&new, &old);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !messages.is_empty(),
        "the change (or the bound) makes it incompatible"
    );
}
