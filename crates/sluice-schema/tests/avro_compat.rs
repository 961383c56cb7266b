//! Avro compatibility as Confluent's registry decides it: a table of (old, new) schema pairs with
//! the BACKWARD and FORWARD verdicts Avro's resolution rules give (FULL is both). BACKWARD means
//! the new schema reads data written with the old one; FORWARD the reverse.

use sluice_schema::avro::{check, parse};

fn rec(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"R","namespace":"ns","fields":[{fields}]}}"#)
}

fn field(name: &str, ty: &str) -> String {
    format!(r#"{{"name":"{name}","type":{ty}}}"#)
}

fn field_default(name: &str, ty: &str, default: &str) -> String {
    format!(r#"{{"name":"{name}","type":{ty},"default":{default}}}"#)
}

/// (case, old schema, new schema, BACKWARD ok, FORWARD ok)
fn cases() -> Vec<(&'static str, String, String, bool, bool)> {
    let a = field("a", r#""int""#);
    let enum_ab = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
    let enum_abc = r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#;
    let nested = |inner: &str| {
        rec(&format!(
            r#"{{"name":"n","type":{{"type":"record","name":"Inner","fields":[{inner}]}}}}"#
        ))
    };
    let list = |extra: &str| {
        format!(
            r#"{{"type":"record","name":"Node","fields":[{{"name":"v","type":"int"}},{{"name":"next","type":["null","Node"],"default":null}}{extra}]}}"#
        )
    };
    vec![
        ("identical record", rec(&a), rec(&a), true, true),
        ("add field with default", rec(&a), rec(&format!("{a},{}", field_default("b", r#""string""#, r#""x""#))), true, true),
        ("add field without default", rec(&a), rec(&format!("{a},{}", field("b", r#""string""#))), false, true),
        ("remove field with default", rec(&format!("{a},{}", field_default("b", r#""string""#, r#""x""#))), rec(&a), true, true),
        ("remove field without default", rec(&format!("{a},{}", field("b", r#""string""#))), rec(&a), true, false),
        ("add optional field (null default)", rec(&a), rec(&format!("{a},{}", field_default("b", r#"["null","string"]"#, "null"))), true, true),
        ("int to long", rec(&a), rec(&field("a", r#""long""#)), true, false),
        ("long to int", rec(&field("a", r#""long""#)), rec(&a), false, true),
        ("int to float", rec(&a), rec(&field("a", r#""float""#)), true, false),
        ("int to double", rec(&a), rec(&field("a", r#""double""#)), true, false),
        ("long to float", rec(&field("a", r#""long""#)), rec(&field("a", r#""float""#)), true, false),
        ("long to double", rec(&field("a", r#""long""#)), rec(&field("a", r#""double""#)), true, false),
        ("float to double", rec(&field("a", r#""float""#)), rec(&field("a", r#""double""#)), true, false),
        ("double to float", rec(&field("a", r#""double""#)), rec(&field("a", r#""float""#)), false, true),
        ("double to long", rec(&field("a", r#""double""#)), rec(&field("a", r#""long""#)), false, true),
        ("string to bytes", rec(&field("a", r#""string""#)), rec(&field("a", r#""bytes""#)), true, true),
        ("bytes to string", rec(&field("a", r#""bytes""#)), rec(&field("a", r#""string""#)), true, true),
        ("int to string", rec(&a), rec(&field("a", r#""string""#)), false, false),
        ("boolean to int", rec(&field("a", r#""boolean""#)), rec(&a), false, false),
        ("enum add symbol", rec(&field("e", enum_ab)), rec(&field("e", enum_abc)), true, false),
        ("enum remove symbol", rec(&field("e", enum_abc)), rec(&field("e", enum_ab)), false, true),
        (
            "enum add symbol, old reader has a default",
            rec(&field("e", r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}"#)),
            rec(&field("e", r#"{"type":"enum","name":"E","symbols":["A","B","C"],"default":"A"}"#)),
            true,
            true,
        ),
        (
            "enum remove symbol, new reader has a default",
            rec(&field("e", enum_abc)),
            rec(&field("e", r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}"#)),
            true,
            true,
        ),
        ("enum renamed", rec(&field("e", enum_ab)), rec(&field("e", r#"{"type":"enum","name":"F","symbols":["A","B"]}"#)), false, false),
        ("string to nullable string", rec(&field("a", r#""string""#)), rec(&field("a", r#"["null","string"]"#)), true, false),
        ("nullable string to string", rec(&field("a", r#"["null","string"]"#)), rec(&field("a", r#""string""#)), false, true),
        ("union add branch", rec(&field("a", r#"["null","string"]"#)), rec(&field("a", r#"["null","string","int"]"#)), true, false),
        ("union remove branch", rec(&field("a", r#"["null","string","int"]"#)), rec(&field("a", r#"["null","string"]"#)), false, true),
        ("union reordered", rec(&field("a", r#"["null","string"]"#)), rec(&field("a", r#"["string","null"]"#)), true, true),
        ("int to union with long", rec(&a), rec(&field("a", r#"["null","long"]"#)), true, false),
        ("string to union without string", rec(&field("a", r#""string""#)), rec(&field("a", r#"["null","int"]"#)), false, false),
        ("nested record add field with default", nested(&a), nested(&format!("{a},{}", field_default("b", r#""long""#, "0"))), true, true),
        ("nested record add field without default", nested(&a), nested(&format!("{a},{}", field("b", r#""long""#))), false, true),
        ("nested record int to long", nested(&a), nested(&field("a", r#""long""#)), true, false),
        ("nested record remove field without default", nested(&format!("{a},{}", field("b", r#""long""#))), nested(&a), true, false),
        (
            "record renamed without alias",
            rec(&a),
            r#"{"type":"record","name":"S","namespace":"ns","fields":[{"name":"a","type":"int"}]}"#.to_string(),
            false,
            false,
        ),
        (
            "record renamed with alias to the old name",
            rec(&a),
            r#"{"type":"record","name":"S","namespace":"ns","aliases":["R"],"fields":[{"name":"a","type":"int"}]}"#.to_string(),
            true,
            false,
        ),
        (
            "record moved to another namespace",
            rec(&a),
            r#"{"type":"record","name":"R","namespace":"other","fields":[{"name":"a","type":"int"}]}"#.to_string(),
            true,
            true,
        ),
        ("field renamed with alias", rec(&a), rec(r#"{"name":"b","type":"int","aliases":["a"]}"#), true, false),
        ("field renamed without alias", rec(&a), rec(&field("b", r#""int""#)), false, false),
        ("array items int to long", rec(&field("a", r#"{"type":"array","items":"int"}"#)), rec(&field("a", r#"{"type":"array","items":"long"}"#)), true, false),
        ("map values long to int", rec(&field("a", r#"{"type":"map","values":"long"}"#)), rec(&field("a", r#"{"type":"map","values":"int"}"#)), false, true),
        ("map values int to double", rec(&field("a", r#"{"type":"map","values":"int"}"#)), rec(&field("a", r#"{"type":"map","values":"double"}"#)), true, false),
        (
            "array of records, add field with default",
            rec(&field("a", r#"{"type":"array","items":{"type":"record","name":"I","fields":[{"name":"x","type":"int"}]}}"#)),
            rec(&field("a", r#"{"type":"array","items":{"type":"record","name":"I","fields":[{"name":"x","type":"int"},{"name":"y","type":"int","default":1}]}}"#)),
            true,
            true,
        ),
        ("fixed size changed", rec(&field("f", r#"{"type":"fixed","name":"F","size":4}"#)), rec(&field("f", r#"{"type":"fixed","name":"F","size":8}"#)), false, false),
        ("fixed same size", rec(&field("f", r#"{"type":"fixed","name":"F","size":4}"#)), rec(&field("f", r#"{"type":"fixed","name":"F","size":4}"#)), true, true),
        ("string to record", r#""string""#.to_string(), rec(&a), false, false),
        ("record to array", rec(&a), r#"{"type":"array","items":"int"}"#.to_string(), false, false),
        ("logical date to int", rec(&field("a", r#"{"type":"int","logicalType":"date"}"#)), rec(&a), true, true),
        ("timestamp-millis to long", rec(&field("a", r#"{"type":"long","logicalType":"timestamp-millis"}"#)), rec(&field("a", r#""long""#)), true, true),
        ("decimal bytes to bytes", rec(&field("a", r#"{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}"#)), rec(&field("a", r#""bytes""#)), true, true),
        ("recursive record identical", list(""), list(""), true, true),
        ("recursive record add field with default", list(""), list(r#",{"name":"w","type":"long","default":0}"#), true, true),
        ("recursive record add field without default", list(""), list(r#",{"name":"w","type":"long"}"#), false, true),
        ("primitive int to long", r#""int""#.to_string(), r#""long""#.to_string(), true, false),
    ]
}

#[test]
fn confluent_verdicts_for_backward_forward_and_full() {
    let cases = cases();
    assert!(cases.len() >= 40, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for (name, old, new, backward, forward) in &cases {
        let old_p = parse(old, &[]).unwrap_or_else(|e| panic!("{name}: old schema: {e}"));
        let new_p = parse(new, &[]).unwrap_or_else(|e| panic!("{name}: new schema: {e}"));
        let b = check(&new_p, &old_p);
        let f = check(&old_p, &new_p);
        if b.is_empty() != *backward {
            failures.push(format!("{name}: BACKWARD expected {backward}, got {b:?}"));
        }
        if f.is_empty() != *forward {
            failures.push(format!("{name}: FORWARD expected {forward}, got {f:?}"));
        }
        let full = b.is_empty() && f.is_empty();
        if full != (*backward && *forward) {
            failures.push(format!("{name}: FULL expected {}", *backward && *forward));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn incompatibilities_name_the_avro_error_type() {
    let old = parse(&rec(&field("a", r#""int""#)), &[]).unwrap();
    let new = parse(
        &rec(&format!(
            "{},{}",
            field("a", r#""int""#),
            field("b", r#""string""#)
        )),
        &[],
    )
    .unwrap();
    let reasons = check(&new, &old);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{}",
        reasons[0]
    );
    assert!(reasons[0].contains("'/fields/1'"), "{}", reasons[0]);

    let long = parse(&rec(&field("a", r#""long""#)), &[]).unwrap();
    let reasons = check(&old, &long);
    assert!(reasons[0].contains("TYPE_MISMATCH"), "{reasons:?}");

    let ab = parse(
        &rec(&field(
            "e",
            r#"{"type":"enum","name":"E","symbols":["A","B"]}"#,
        )),
        &[],
    )
    .unwrap();
    let abc = parse(
        &rec(&field(
            "e",
            r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#,
        )),
        &[],
    )
    .unwrap();
    let reasons = check(&ab, &abc);
    assert!(
        reasons[0].contains("MISSING_ENUM_SYMBOLS") && reasons[0].contains("[C]"),
        "{reasons:?}"
    );
}

#[test]
fn identity_ignores_layout_but_not_content() {
    let a = parse(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#,
        &[],
    )
    .unwrap();
    let spaced = parse(
        r#"{ "fields" : [ { "type" : {"type": "int"}, "name" : "a" } ], "name" : "R", "type" : "record" }"#,
        &[],
    )
    .unwrap();
    assert_eq!(a.canonical(), spaced.canonical());
    let full_name = parse(
        r#"{"type":"record","name":"ns.R","fields":[{"name":"a","type":"int"}]}"#,
        &[],
    )
    .unwrap();
    let namespaced = parse(
        r#"{"type":"record","name":"R","namespace":"ns","fields":[{"name":"a","type":"int"}]}"#,
        &[],
    )
    .unwrap();
    assert_eq!(full_name.canonical(), namespaced.canonical());
    assert_ne!(a.canonical(), namespaced.canonical());
    let ordered = parse(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"descending"}]}"#,
        &[],
    )
    .unwrap();
    assert_ne!(a.canonical(), ordered.canonical());
    let custom = parse(
        r#"{"type":"record","name":"R","owner":"me","fields":[{"name":"a","type":"int"}]}"#,
        &[],
    )
    .unwrap();
    assert_ne!(a.canonical(), custom.canonical());
    let with_doc = parse(
        r#"{"type":"record","name":"R","doc":"d","fields":[{"name":"a","type":"int"}]}"#,
        &[],
    )
    .unwrap();
    assert_ne!(a.canonical(), with_doc.canonical());
    let with_default = parse(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]}"#,
        &[],
    )
    .unwrap();
    assert_ne!(a.canonical(), with_default.canonical());
}

#[test]
fn malformed_schemas_are_refused_with_a_message() {
    for bad in [
        "",
        "{",
        r#"{"type":"record","name":"R"}"#,
        r#"{"type":"nosuchtype"}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}"#,
        r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
        r#"{"type":"fixed","name":"F"}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
        r#"{"type":"record","name":"1bad","fields":[]}"#,
        r#"{"type":"array"}"#,
        r#"["int","int"]"#,
    ] {
        let err = parse(bad, &[])
            .err()
            .unwrap_or_else(|| panic!("accepted {bad:?}"));
        assert!(!err.is_empty());
    }
}

mod hostile_input {
    use proptest::prelude::*;
    use sluice_schema::avro::{check, parse};

    const SEEDS: [&str; 3] = [
        r#"{"type":"record","name":"R","namespace":"ns","fields":[{"name":"a","type":["null",{"type":"array","items":"long"}],"default":null},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}}]}"#,
        r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]},{"name":"f","type":{"type":"fixed","name":"F","size":16,"logicalType":"decimal","precision":4}}]}"#,
        r#"{"type":"map","values":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}"#,
    ];

    /// A seed schema with a few random bytes replaced, inserted or removed.
    fn mutated() -> impl Strategy<Value = String> {
        (
            0..SEEDS.len(),
            prop::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..6),
        )
            .prop_map(|(seed, edits)| {
                let mut bytes = SEEDS[seed].as_bytes().to_vec();
                for (pos, byte, op) in edits {
                    let at = pos as usize % (bytes.len() + 1);
                    let alphabet = b"{}[]\":,0a -";
                    let byte = alphabet[byte as usize % alphabet.len()];
                    match op {
                        0 if at < bytes.len() => bytes[at] = byte,
                        1 => bytes.insert(at, byte),
                        _ if at < bytes.len() => {
                            bytes.remove(at);
                        }
                        _ => {}
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Whatever a client sends is either refused with a message or parsed and checkable,
        /// both ways, against the seeds; nothing panics.
        #[test]
        fn mutated_schemas_never_panic(text in mutated()) {
            if let Ok(p) = parse(&text, &[]) {
                let _ = p.canonical();
                for seed in SEEDS {
                    let s = parse(seed, &[]).expect("seed parses");
                    let _ = check(&p, &s);
                    let _ = check(&s, &p);
                }
            }
        }
    }
}
