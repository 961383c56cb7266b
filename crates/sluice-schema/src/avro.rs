//! Avro schemas: parsing (with references), the identity used to find an already registered
//! schema, and Avro's schema-resolution compatibility rules as Confluent's registry applies them.
//!
//! Identity: Confluent's registry (without `normalize=true`) compares the schema as Avro's Java
//! `Schema.toString()` prints it: the parsed schema written back out, so insignificant whitespace,
//! attribute order and the spelling of names (`"ns.R"` or `"R"` with `"namespace": "ns"`) do not
//! matter, but docs, defaults, aliases, custom properties and field order do. We do the same with
//! apache-avro: the parsed schema serialized back to JSON, object keys sorted, and
//! `{"type": "<primitive>"}` (no other attribute) written as `"<primitive>"`. Avro's parsing
//! canonical form is not used because it drops defaults and docs, which Confluent keeps.
//!
//! Compatibility follows Avro's Java `SchemaCompatibility` (which Confluent uses): the reader must
//! be able to resolve every datum the writer can produce, so a union or enum that only partly
//! overlaps is incompatible. Logical types are compared by their underlying type, as in Java.

use std::collections::{BTreeMap, HashMap, HashSet};

use apache_avro::schema::{
    DecimalSchema, EnumSchema, FixedSchema, InnerDecimalSchema, RecordSchema, UuidSchema,
};
use apache_avro::Schema;
use serde_json::Value;

use crate::types::ResolvedReference;

/// A parsed Avro schema with the named types it (and its references) define.
pub struct Parsed {
    schema: Schema,
    names: HashMap<String, Schema>,
    canonical: String,
}

impl Parsed {
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

/// Parses `schema`; `refs` supply the named types it uses (in dependency order).
pub fn parse(schema: &str, refs: &[ResolvedReference]) -> Result<Parsed, String> {
    let json: Value =
        serde_json::from_str(schema).map_err(|e| format!("Invalid schema {schema}: {e}"))?;
    let (parsed, others) = if refs.is_empty() {
        (
            Schema::parse(&json).map_err(|e| invalid(schema, e))?,
            vec![],
        )
    } else {
        Schema::parse_str_with_list(schema, refs.iter().map(|r| r.schema.as_str()))
            .map_err(|e| invalid(schema, e))?
    };
    let mut names = HashMap::new();
    for s in others.iter().chain(std::iter::once(&parsed)) {
        collect_names(s, &mut names);
    }
    // The written-back form; the input's own JSON if apache-avro cannot write it.
    let written = serde_json::to_value(&parsed).unwrap_or(json);
    Ok(Parsed {
        canonical: normalize(&written).to_string(),
        schema: parsed,
        names,
    })
}

fn invalid(schema: &str, e: apache_avro::Error) -> String {
    format!("Invalid schema {schema}, details: {e}")
}

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Sorted keys, no whitespace, bare primitives (see the module comment).
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(t)) = map.get("type") {
                    if PRIMITIVES.contains(&t.as_str()) {
                        return Value::String(t.clone());
                    }
                }
            }
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, normalize(v))).collect();
            let mut out = serde_json::Map::new();
            for (k, v) in sorted {
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// Every named type defined inside `s`, by full name, so `Schema::Ref`s can be followed.
fn collect_names(s: &Schema, names: &mut HashMap<String, Schema>) {
    match s {
        Schema::Record(r) => {
            names.insert(r.name.fullname(None), s.clone());
            for f in &r.fields {
                collect_names(&f.schema, names);
            }
        }
        Schema::Enum(e) => {
            names.insert(e.name.fullname(None), s.clone());
        }
        Schema::Array(a) => collect_names(&a.items, names),
        Schema::Map(m) => collect_names(&m.types, names),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_names(v, names)),
        other => {
            if let Some(f) = fixed_of(other) {
                names.insert(f.name.fullname(None), s.clone());
            }
        }
    }
}

/// The underlying Avro type, with logical types reduced to the type that carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed,
    Enum,
    Record,
    Array,
    Map,
    Union,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Null => "NULL",
            Kind::Boolean => "BOOLEAN",
            Kind::Int => "INT",
            Kind::Long => "LONG",
            Kind::Float => "FLOAT",
            Kind::Double => "DOUBLE",
            Kind::Bytes => "BYTES",
            Kind::String => "STRING",
            Kind::Fixed => "FIXED",
            Kind::Enum => "ENUM",
            Kind::Record => "RECORD",
            Kind::Array => "ARRAY",
            Kind::Map => "MAP",
            Kind::Union => "UNION",
        }
    }
}

fn kind(s: &Schema) -> Kind {
    match s {
        Schema::Null => Kind::Null,
        Schema::Boolean => Kind::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Kind::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Kind::Long,
        Schema::Float => Kind::Float,
        Schema::Double => Kind::Double,
        Schema::Bytes
        | Schema::BigDecimal
        | Schema::Uuid(UuidSchema::Bytes)
        | Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Bytes,
            ..
        }) => Kind::Bytes,
        Schema::String | Schema::Uuid(UuidSchema::String) => Kind::String,
        Schema::Fixed(_)
        | Schema::Duration(_)
        | Schema::Uuid(UuidSchema::Fixed(_))
        | Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(_),
            ..
        }) => Kind::Fixed,
        Schema::Enum(_) => Kind::Enum,
        Schema::Record(_) => Kind::Record,
        Schema::Array(_) => Kind::Array,
        Schema::Map(_) => Kind::Map,
        Schema::Union(_) => Kind::Union,
        // Unresolved references are followed by the checker before asking for a kind.
        Schema::Ref { .. } => Kind::Null,
    }
}

fn fixed_of(s: &Schema) -> Option<&FixedSchema> {
    match s {
        Schema::Fixed(f) | Schema::Duration(f) | Schema::Uuid(UuidSchema::Fixed(f)) => Some(f),
        Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(f),
            ..
        }) => Some(f),
        _ => None,
    }
}

/// Why `reader` cannot read data written with `writer`; empty when it can.
pub fn check(reader: &Parsed, writer: &Parsed) -> Vec<String> {
    let mut checker = Checker {
        reader_names: &reader.names,
        writer_names: &writer.names,
        in_progress: HashSet::new(),
    };
    let mut errors = Vec::new();
    checker.compat(&reader.schema, &writer.schema, "", &mut errors);
    errors
}

struct Checker<'a> {
    reader_names: &'a HashMap<String, Schema>,
    writer_names: &'a HashMap<String, Schema>,
    /// Pairs of named types being compared; meeting one again (a recursive type) counts as
    /// compatible, as in Avro's Java checker.
    in_progress: HashSet<(String, String)>,
}

/// One reason in the shape Confluent's registry reports it. Descriptions speak of the "reader"
/// and "writer" schema; the registry renames them "new" and "old" for the direction it checked.
fn incompatibility(kind: &str, description: String, info: &str) -> String {
    format!("{{errorType:'{kind}', description:'{description}', additionalInfo:'{info}'}}")
}

fn at(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn named(s: &Schema) -> Option<(String, String, Vec<String>)> {
    let (name, aliases) = match s {
        Schema::Record(RecordSchema { name, aliases, .. })
        | Schema::Enum(EnumSchema { name, aliases, .. }) => (name, aliases),
        other => {
            let f = fixed_of(other)?;
            (&f.name, &f.aliases)
        }
    };
    let aliases = aliases
        .iter()
        .flatten()
        .map(|a| a.fullname(name.namespace()))
        .collect();
    Some((name.name().to_string(), name.fullname(None), aliases))
}

impl<'a> Checker<'a> {
    fn follow(&self, s: &'a Schema, names: &'a HashMap<String, Schema>) -> &'a Schema {
        let mut s = s;
        for _ in 0..64 {
            match s {
                Schema::Ref { name } => match names.get(&name.fullname(None)) {
                    Some(t) => s = t,
                    None => return s,
                },
                _ => return s,
            }
        }
        s
    }

    fn compatible(&mut self, reader: &'a Schema, writer: &'a Schema) -> bool {
        let mut errors = Vec::new();
        self.compat(reader, writer, "", &mut errors);
        errors.is_empty()
    }

    fn compat(
        &mut self,
        reader: &'a Schema,
        writer: &'a Schema,
        path: &str,
        out: &mut Vec<String>,
    ) {
        let reader = self.follow(reader, self.reader_names);
        let writer = self.follow(writer, self.writer_names);
        if let (Schema::Ref { name }, _) | (_, Schema::Ref { name }) = (reader, writer) {
            out.push(incompatibility(
                "TYPE_MISMATCH",
                format!(
                    "The type '{}' at path '{}' is not defined",
                    name.fullname(None),
                    at(path)
                ),
                &name.fullname(None),
            ));
            return;
        }
        let (rk, wk) = (kind(reader), kind(writer));
        if let (Some(r), Some(w)) = (named(reader), named(writer)) {
            let key = (r.1.clone(), w.1.clone());
            if !self.in_progress.insert(key.clone()) {
                return;
            }
            self.same_or_promoted(reader, writer, rk, wk, path, out);
            self.in_progress.remove(&key);
        } else {
            self.same_or_promoted(reader, writer, rk, wk, path, out);
        }
    }

    fn same_or_promoted(
        &mut self,
        reader: &'a Schema,
        writer: &'a Schema,
        rk: Kind,
        wk: Kind,
        path: &str,
        out: &mut Vec<String>,
    ) {
        if rk == wk {
            self.same_kind(reader, writer, rk, path, out);
            return;
        }
        if let Schema::Union(w) = writer {
            for (i, branch) in w.variants().iter().enumerate() {
                self.compat(reader, branch, &format!("{path}/{i}"), out);
            }
            return;
        }
        let promoted = match rk {
            Kind::Long => wk == Kind::Int,
            Kind::Float => matches!(wk, Kind::Int | Kind::Long),
            Kind::Double => matches!(wk, Kind::Int | Kind::Long | Kind::Float),
            Kind::Bytes => wk == Kind::String,
            Kind::String => wk == Kind::Bytes,
            Kind::Union => {
                let Schema::Union(r) = reader else {
                    return;
                };
                let found = r.variants().iter().any(|b| self.compatible(b, writer));
                if !found {
                    out.push(incompatibility(
                        "MISSING_UNION_BRANCH",
                        format!(
                            "The reader schema is missing a type inside a union field at path '{}' in the writer schema",
                            at(path)
                        ),
                        &format!("reader union lacking writer type: {}", wk.name()),
                    ));
                }
                return;
            }
            _ => false,
        };
        if !promoted {
            out.push(incompatibility(
                "TYPE_MISMATCH",
                format!(
                    "The type (path '{}') of a field in the reader schema does not match with the writer schema",
                    at(path)
                ),
                &format!(
                    "reader type: {} not compatible with writer type: {}",
                    rk.name(),
                    wk.name()
                ),
            ));
        }
    }

    fn same_kind(
        &mut self,
        reader: &'a Schema,
        writer: &'a Schema,
        k: Kind,
        path: &str,
        out: &mut Vec<String>,
    ) {
        match (reader, writer) {
            (Schema::Array(r), Schema::Array(w)) => {
                self.compat(&r.items, &w.items, &format!("{path}/items"), out)
            }
            (Schema::Map(r), Schema::Map(w)) => {
                self.compat(&r.types, &w.types, &format!("{path}/values"), out)
            }
            (Schema::Union(r), Schema::Union(w)) => {
                for (i, branch) in w.variants().iter().enumerate() {
                    if !r.variants().iter().any(|rb| self.compatible(rb, branch)) {
                        let wk = kind(self.follow(branch, self.writer_names));
                        out.push(incompatibility(
                            "MISSING_UNION_BRANCH",
                            format!(
                                "The reader schema is missing a type inside a union field at path '{path}/{i}' in the writer schema"
                            ),
                            &format!("reader union lacking writer type: {}", wk.name()),
                        ));
                    }
                }
            }
            (Schema::Record(r), Schema::Record(w)) => {
                self.name_check(reader, writer, path, out);
                for (i, rf) in r.fields.iter().enumerate() {
                    let wf = std::iter::once(&rf.name)
                        .chain(rf.aliases.iter())
                        .find_map(|n| w.fields.iter().find(|wf| &wf.name == n));
                    match wf {
                        Some(wf) => {
                            self.compat(&rf.schema, &wf.schema, &format!("{path}/fields/{i}/type"), out)
                        }
                        None if rf.default.is_none() => out.push(incompatibility(
                            "READER_FIELD_MISSING_DEFAULT_VALUE",
                            format!(
                                "The field '{}' at path '{path}/fields/{i}' in the reader schema has no default value and is missing in the writer schema",
                                rf.name
                            ),
                            &rf.name,
                        )),
                        None => {}
                    }
                }
            }
            (Schema::Enum(r), Schema::Enum(w)) => {
                self.name_check(reader, writer, path, out);
                let missing: Vec<&str> = w
                    .symbols
                    .iter()
                    .filter(|s| !r.symbols.contains(s))
                    .map(String::as_str)
                    .collect();
                let has_default = r.default.as_ref().is_some_and(|d| r.symbols.contains(d));
                if !missing.is_empty() && !has_default {
                    out.push(incompatibility(
                        "MISSING_ENUM_SYMBOLS",
                        format!(
                            "The reader schema is missing enum symbols '[{}]' at path '{path}/symbols' in the writer schema",
                            missing.join(", ")
                        ),
                        &format!("[{}]", missing.join(", ")),
                    ));
                }
            }
            _ if k == Kind::Fixed => {
                self.name_check(reader, writer, path, out);
                if let (Some(r), Some(w)) = (fixed_of(reader), fixed_of(writer)) {
                    if r.size != w.size {
                        out.push(incompatibility(
                            "FIXED_SIZE_MISMATCH",
                            format!(
                                "The size of FIXED type field at path '{path}/size' in the reader schema ({}) does not match with the writer schema ({})",
                                r.size, w.size
                            ),
                            &format!("expected: {}, found: {}", w.size, r.size),
                        ));
                    }
                }
            }
            // Primitives (logical types included) of the same underlying type.
            _ => {}
        }
    }

    /// Avro's rule for named types: the same unqualified name, or the writer's full name among
    /// the reader's aliases.
    fn name_check(&self, reader: &Schema, writer: &Schema, path: &str, out: &mut Vec<String>) {
        if let (Some(r), Some(w)) = (named(reader), named(writer)) {
            if r.0 != w.0 && !r.2.contains(&w.1) {
                out.push(incompatibility(
                    "NAME_MISMATCH",
                    format!(
                        "The name of the schema has changed (path '{path}/name'): the reader schema has '{}', the writer schema '{}'",
                        r.1, w.1
                    ),
                    &format!("expected: {}", w.1),
                ));
            }
        }
    }
}

/// Largest allocation apache-avro may make for one decoded collection or byte string. Its
/// default (512 MiB) lets one crafted record take half a gigabyte; a record is at most
/// `message.max.bytes` long, so collections of real data stay far below this.
const MAX_DECODE_ALLOCATION: usize = 64 * 1024 * 1024;

/// Caps apache-avro's allocations (a process-wide setting, fixed at first use).
pub fn bound_decoding() {
    apache_avro::util::max_allocation_bytes(MAX_DECODE_ALLOCATION);
}

/// Why decoding datums of `schema` could take unbounded memory or never finish, if it could.
///
/// Registered schemas come from users, and the broker decodes payloads with them (produce-time
/// validation, the console's message browser). Every Avro value costs at least one byte of
/// input, except values of zero-size types (`null`, `fixed` of size 0, records of only those):
/// an array of such items can claim billions of entries from a few bytes, and a record that
/// contains itself through zero-size fields recurses without reading anything. Such schemas are
/// legal but useless for data. Recursive records are legal and useful (linked lists, trees), but
/// apache-avro decodes them by recursion as deep as the payload says, so a crafted payload can
/// overflow the stack. Payloads of all these schemas are not decoded.
pub fn decode_hazard(schema: &Schema, references: &[Schema]) -> Option<String> {
    let mut names = HashMap::new();
    for s in references.iter().chain(std::iter::once(schema)) {
        collect_names(s, &mut names);
    }
    let mut seen = HashSet::new();
    hazard_in(schema, &names, &mut seen)
}

fn hazard_in(
    s: &Schema,
    names: &HashMap<String, Schema>,
    seen: &mut HashSet<String>,
) -> Option<String> {
    match s {
        Schema::Array(a) => {
            let mut cycle = false;
            if zero_size(&a.items, names, &mut Vec::new(), &mut cycle) {
                return Some("an array whose items encode in zero bytes".into());
            }
            hazard_in(&a.items, names, seen)
        }
        Schema::Map(m) => hazard_in(&m.types, names, seen),
        Schema::Union(u) => u.variants().iter().find_map(|v| hazard_in(v, names, seen)),
        Schema::Record(r) => {
            if !seen.insert(r.name.fullname(None)) {
                return None;
            }
            if contains_itself(s, names) {
                // apache-avro decodes recursively: a payload of a few hundred kilobytes can
                // nest deep enough to overflow the stack, and a record that reaches itself
                // through fields that read nothing recurses forever on any input.
                return Some(format!(
                    "record {} is recursive (nesting depth would be set by the payload)",
                    r.name.fullname(None)
                ));
            }
            r.fields
                .iter()
                .find_map(|f| hazard_in(&f.schema, names, seen))
        }
        Schema::Ref { name } => {
            let full = name.fullname(None);
            if seen.contains(&full) {
                return None;
            }
            let target = names.get(&full)?.clone();
            hazard_in(&target, names, seen)
        }
        _ => None,
    }
}

/// Whether the named record `s` can be reached again from inside itself.
fn contains_itself(s: &Schema, names: &HashMap<String, Schema>) -> bool {
    let Schema::Record(r) = s else { return false };
    let target = r.name.fullname(None);
    let mut stack: Vec<&Schema> = r.fields.iter().map(|f| &f.schema).collect();
    let mut expanded = HashSet::new();
    while let Some(s) = stack.pop() {
        match s {
            Schema::Record(r) => {
                let full = r.name.fullname(None);
                if full == target {
                    return true;
                }
                if expanded.insert(full) {
                    stack.extend(r.fields.iter().map(|f| &f.schema));
                }
            }
            Schema::Ref { name } => {
                let full = name.fullname(None);
                if full == target {
                    return true;
                }
                if let Some(named) = names.get(&full) {
                    if expanded.insert(full) {
                        stack.push(named);
                    }
                }
            }
            Schema::Array(a) => stack.push(&a.items),
            Schema::Map(m) => stack.push(&m.types),
            Schema::Union(u) => stack.extend(u.variants()),
            _ => {}
        }
    }
    false
}

/// Whether values of `s` can encode in zero bytes; sets `cycle` when a record is reached again
/// through fields that read nothing (decoding it would recurse forever).
fn zero_size(
    s: &Schema,
    names: &HashMap<String, Schema>,
    visiting: &mut Vec<String>,
    cycle: &mut bool,
) -> bool {
    match s {
        Schema::Null => true,
        Schema::Record(r) => {
            let full = r.name.fullname(None);
            if visiting.contains(&full) {
                *cycle = true;
                return true;
            }
            visiting.push(full);
            let all = r
                .fields
                .iter()
                .all(|f| zero_size(&f.schema, names, visiting, cycle));
            visiting.pop();
            all
        }
        Schema::Ref { name } => match names.get(&name.fullname(None)) {
            Some(target) => {
                let target = target.clone();
                zero_size(&target, names, visiting, cycle)
            }
            None => false,
        },
        other => fixed_of(other).is_some_and(|f| f.size == 0),
    }
}
