//! Protobuf support: compiling a `.proto` schema (with its references as imports) and
//! Confluent's compatibility rules for Protobuf.
//!
//! A schema arrives as `.proto` text or, as Confluent's Python and Go clients send it, as a
//! base64-encoded `FileDescriptorProto`. It is compiled with `protox` from memory: the schema
//! itself, the referenced schemas under their import paths (the reference `name`), and the
//! well-known `google/protobuf/*.proto` files protox carries.
//!
//! Compatibility compares the writer's file with the reader's, message by message and field by
//! field *number*, the way Confluent does: removing a message, changing a field's kind or its
//! wire-incompatible scalar type, changing the package, adding or removing a proto2 `required`
//! field, or moving several existing fields into one `oneof` is incompatible; adding and removing
//! optional fields, renaming, and switching within a wire-compatible group (int32, uint32, int64,
//! uint64, bool and enums; sint32/sint64; string/bytes; fixed32/sfixed32; fixed64/sfixed64) is not.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use prost_reflect::prost::Message as _;
use prost_reflect::prost_types::FileDescriptorProto;
use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind,
    MessageDescriptor,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::types::ResolvedReference;

/// The import name the schema itself is compiled under.
pub(crate) const ROOT: &str = "sluice/registered_schema.proto";

/// A compiled Protobuf schema.
#[derive(Debug, Clone)]
pub struct Parsed {
    file: FileDescriptor,
    /// Subject and version of each referenced file, by import name: types from the same
    /// subject-version on both sides need no comparison.
    refs: BTreeMap<String, (String, i32)>,
}

/// Resolves the schema and its references from memory.
struct MemoryResolver {
    files: BTreeMap<String, File>,
}

impl FileResolver for MemoryResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.files
            .get(name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

/// One schema text as a protox file: `.proto` source, or a base64 `FileDescriptorProto`.
fn load(name: &str, text: &str) -> Result<File, String> {
    match File::from_source(name, text) {
        Ok(f) => Ok(f),
        Err(parse_error) => {
            let bytes = base64_decode(text.trim()).ok_or_else(|| parse_error.to_string())?;
            let mut proto = FileDescriptorProto::decode(bytes.as_slice())
                .map_err(|_| parse_error.to_string())?;
            proto.name = Some(name.to_string());
            Ok(File::from_file_descriptor_proto(proto))
        }
    }
}

/// Compiles `schema`; the error is the compiler's message.
pub fn parse(schema: &str, refs: &[ResolvedReference]) -> Result<Parsed, String> {
    let mut files = BTreeMap::new();
    files.insert(ROOT.to_string(), load(ROOT, schema)?);
    for r in refs {
        let file =
            load(&r.name, &r.schema).map_err(|e| format!("Invalid reference {}: {e}", r.name))?;
        files.insert(r.name.clone(), file);
    }
    let mut resolver = ChainFileResolver::new();
    resolver.add(MemoryResolver { files });
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler
        .open_file(ROOT)
        .map_err(|e| format!("Invalid Protobuf schema: {e}"))?;
    let pool = compiler.descriptor_pool();
    let file = pool
        .get_file_by_name(ROOT)
        .ok_or_else(|| "Invalid Protobuf schema: nothing compiled".to_string())?;
    Ok(Parsed {
        file,
        refs: refs
            .iter()
            .map(|r| (r.name.clone(), (r.subject.clone(), r.version)))
            .collect(),
    })
}

impl Parsed {
    /// The compiled file without source positions and under a fixed name: formatting and
    /// comments do not make a different schema.
    pub fn canonical(&self) -> String {
        let mut proto = self.file.file_descriptor_proto().clone();
        proto.source_code_info = None;
        proto.name = None;
        format!("{proto:?}")
    }

    /// The schema as a base64 `FileDescriptorProto` (Confluent's `format=serialized`).
    pub fn serialized(&self) -> String {
        let mut proto = self.file.file_descriptor_proto().clone();
        proto.source_code_info = None;
        base64_encode(&proto.encode_to_vec())
    }

    /// Full name of the first message, the record name Confluent's strategies use.
    pub fn first_message_name(&self) -> Option<String> {
        self.file
            .messages()
            .next()
            .map(|m| m.full_name().to_string())
    }

    /// The compiled file, for reading the schema's messages (the console decodes payloads with it).
    pub fn descriptor(&self) -> &FileDescriptor {
        &self.file
    }

    /// Checks a payload in Confluent's Protobuf wire format (after magic byte and id): the
    /// message-index path and the message itself.
    pub fn decode(&self, payload: &[u8]) -> Result<(), String> {
        let (message, body) = self.message_for(payload)?;
        DynamicMessage::decode(message, body)
            .map(|_| ())
            .map_err(|e| format!("not a valid {}: {e}", self.file.package_name()))
    }

    /// Splits a payload (after magic byte and id) into the message its message-index path names
    /// (zigzag varints: a count, then indexes; a single 0 means the first message) and the
    /// message's bytes.
    pub fn message_for<'p>(
        &self,
        payload: &'p [u8],
    ) -> Result<(MessageDescriptor, &'p [u8]), String> {
        let mut pos = 0;
        let count = read_zigzag(payload, &mut pos)?;
        let path: Vec<i64> = if count == 0 {
            vec![0]
        } else {
            if !(0..=64).contains(&count) {
                return Err(format!("invalid message index count {count}"));
            }
            (0..count)
                .map(|_| read_zigzag(payload, &mut pos))
                .collect::<Result<_, _>>()?
        };
        let mut message: Option<MessageDescriptor> = None;
        for index in path {
            let i = usize::try_from(index).map_err(|_| format!("invalid message index {index}"))?;
            let next = match &message {
                None => self.file.messages().nth(i),
                Some(m) => m.child_messages().filter(|c| !c.is_map_entry()).nth(i),
            };
            message = Some(next.ok_or_else(|| format!("no message at index {i}"))?);
        }
        let message = message.ok_or("no message")?;
        Ok((message, &payload[pos..]))
    }
}

fn read_zigzag(buf: &[u8], pos: &mut usize) -> Result<i64, String> {
    let mut value = 0u64;
    for i in 0..10 {
        let b = *buf.get(*pos).ok_or("truncated message index")?;
        *pos += 1;
        value |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    Err("message index varint too long".into())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Compatibility
// ---------------------------------------------------------------------------------------------

/// The difference types that keep the reader able to read the writer's messages.
fn is_compatible(kind: &str) -> bool {
    matches!(
        kind,
        "MESSAGE_ADDED"
            | "MESSAGE_MOVED"
            | "ENUM_ADDED"
            | "ENUM_REMOVED"
            | "ENUM_CONST_ADDED"
            | "ENUM_CONST_CHANGED"
            | "ENUM_CONST_REMOVED"
            | "FIELD_ADDED"
            | "FIELD_REMOVED"
            | "FIELD_NAME_CHANGED"
            | "FIELD_STRING_OR_BYTES_LABEL_CHANGED"
            | "ONEOF_ADDED"
            | "ONEOF_REMOVED"
            | "ONEOF_FIELD_ADDED"
            | "ONEOF_FIELD_MOVED_TO_TOP_LEVEL"
    )
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "PACKAGE_CHANGED" => "The package changed",
        "MESSAGE_REMOVED" => "A message of the old schema is missing in the new one",
        "FIELD_KIND_CHANGED" => "A field changed between scalar, message and map",
        "FIELD_SCALAR_KIND_CHANGED" => "A field's scalar type changed to a wire-incompatible one",
        "FIELD_NAMED_TYPE_CHANGED" => "A field's message type changed incompatibly",
        "FIELD_NUMERIC_LABEL_CHANGED" => "A numeric field changed between single and repeated",
        "REQUIRED_FIELD_ADDED" => "A required field was added",
        "REQUIRED_FIELD_REMOVED" => "A required field was removed",
        "ONEOF_FIELD_REMOVED" => "A field was removed from a oneof",
        "SCHEMA_TOO_COMPLEX_TO_COMPARE" => "The schemas are too complex to compare",
        "MULTIPLE_FIELDS_MOVED_TO_ONEOF" => "Several existing fields were moved into one oneof",
        "FIELD_MOVED_TO_EXISTING_ONEOF" => "A field was moved into an existing oneof",
        _ => "Incompatible change",
    }
}

#[derive(Clone)]
struct Diff {
    path: String,
    kind: &'static str,
}

struct Ctx<'a> {
    old: &'a Parsed,
    new: &'a Parsed,
    path: Vec<String>,
    diffs: Vec<Diff>,
    /// Messages of the old schema being compared (recursive types stop here).
    visiting: HashSet<String>,
    /// Message comparisons left: a type graph where every field fans out to the same types
    /// again must not make one check take exponential time.
    budget: std::rc::Rc<std::cell::Cell<usize>>,
    /// Verdict per (old, new) message type pair: a type used by many fields is compared once.
    memo: std::rc::Rc<std::cell::RefCell<HashMap<(String, String), bool>>>,
}

/// How many message comparisons one compatibility check may make.
const COMPARISON_BUDGET: usize = 20_000;

impl<'a> Ctx<'a> {
    fn add(&mut self, kind: &'static str) {
        self.diffs.push(Diff {
            path: self.path.join("/"),
            kind,
        });
    }

    fn within(&mut self, segment: impl ToString, f: impl FnOnce(&mut Ctx<'a>)) {
        self.path.push(segment.to_string());
        f(self);
        self.path.pop();
    }

    fn sub(&self) -> Ctx<'a> {
        Ctx {
            old: self.old,
            new: self.new,
            path: self.path.clone(),
            diffs: Vec::new(),
            visiting: self.visiting.clone(),
            budget: self.budget.clone(),
            memo: self.memo.clone(),
        }
    }

    fn compatible(&self) -> bool {
        self.diffs.iter().all(|d| is_compatible(d.kind))
    }
}

/// Why `reader` cannot read messages written with `writer` (empty: it can).
pub fn check(reader: &Parsed, writer: &Parsed) -> Vec<String> {
    let mut ctx = Ctx {
        old: writer,
        new: reader,
        path: vec!["#".to_string()],
        diffs: Vec::new(),
        visiting: HashSet::new(),
        budget: std::rc::Rc::new(std::cell::Cell::new(COMPARISON_BUDGET)),
        memo: Default::default(),
    };
    if writer.file.package_name() != reader.file.package_name() {
        ctx.add("PACKAGE_CHANGED");
    }
    compare_types(
        &mut ctx,
        writer.file.messages().collect(),
        writer.file.enums().collect(),
        reader.file.messages().collect(),
        reader.file.enums().collect(),
    );
    if ctx.budget.get() == 0 {
        ctx.add("SCHEMA_TOO_COMPLEX_TO_COMPARE");
    }
    ctx.diffs
        .iter()
        .filter(|d| !is_compatible(d.kind))
        .map(|d| {
            format!(
                "{{errorType:'{}', description:'{} at path '{}''}}",
                d.kind,
                describe(d.kind),
                d.path
            )
        })
        .collect()
}

/// Compares the messages and enums declared at one scope (file or message), by name.
fn compare_types(
    ctx: &mut Ctx<'_>,
    old_messages: Vec<MessageDescriptor>,
    old_enums: Vec<EnumDescriptor>,
    new_messages: Vec<MessageDescriptor>,
    new_enums: Vec<EnumDescriptor>,
) {
    // Map entries are not messages of their own in a .proto file.
    let index = |ms: &[MessageDescriptor]| -> BTreeMap<String, (usize, MessageDescriptor)> {
        ms.iter()
            .filter(|m| !m.is_map_entry())
            .enumerate()
            .map(|(i, m)| (m.name().to_string(), (i, m.clone())))
            .collect()
    };
    let (om, nm) = (index(&old_messages), index(&new_messages));
    let names: BTreeSet<&String> = om.keys().chain(nm.keys()).collect();
    for name in names {
        ctx.within(name, |ctx| match (om.get(name), nm.get(name)) {
            (Some(_), None) => ctx.add("MESSAGE_REMOVED"),
            (None, Some(_)) => ctx.add("MESSAGE_ADDED"),
            (Some((oi, o)), Some((ni, n))) => {
                compare_message(ctx, o, n);
                if oi != ni {
                    ctx.add("MESSAGE_MOVED");
                }
            }
            (None, None) => {}
        });
    }
    let index = |es: &[EnumDescriptor]| -> BTreeMap<String, EnumDescriptor> {
        es.iter()
            .map(|e| (e.name().to_string(), e.clone()))
            .collect()
    };
    let (oe, ne) = (index(&old_enums), index(&new_enums));
    let names: BTreeSet<&String> = oe.keys().chain(ne.keys()).collect();
    for name in names {
        ctx.within(name, |ctx| match (oe.get(name), ne.get(name)) {
            (Some(_), None) => ctx.add("ENUM_REMOVED"),
            (None, Some(_)) => ctx.add("ENUM_ADDED"),
            (Some(o), Some(n)) => compare_enum(ctx, o, n),
            (None, None) => {}
        });
    }
}

fn compare_enum(ctx: &mut Ctx<'_>, old: &EnumDescriptor, new: &EnumDescriptor) {
    let by_number = |e: &EnumDescriptor| -> BTreeMap<i32, String> {
        e.values()
            .map(|v| (v.number(), v.name().to_string()))
            .collect()
    };
    let (o, n) = (by_number(old), by_number(new));
    let numbers: BTreeSet<&i32> = o.keys().chain(n.keys()).collect();
    for number in numbers {
        ctx.within(number, |ctx| match (o.get(number), n.get(number)) {
            (Some(_), None) => ctx.add("ENUM_CONST_REMOVED"),
            (None, Some(_)) => ctx.add("ENUM_CONST_ADDED"),
            (Some(a), Some(b)) if a != b => ctx.add("ENUM_CONST_CHANGED"),
            _ => {}
        });
    }
}

/// The real (not proto3-`optional` synthetic) oneof a field belongs to.
fn oneof_of(f: &FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
}

fn compare_message(ctx: &mut Ctx<'_>, old: &MessageDescriptor, new: &MessageDescriptor) {
    match ctx.budget.get() {
        0 => return ctx.add("SCHEMA_TOO_COMPLEX_TO_COMPARE"),
        left => ctx.budget.set(left - 1),
    }
    if !ctx.visiting.insert(old.full_name().to_string()) {
        return;
    }
    let fields = |m: &MessageDescriptor| -> BTreeMap<u32, FieldDescriptor> {
        m.fields().map(|f| (f.number(), f)).collect()
    };
    let (all_old, all_new) = (fields(old), fields(new));
    let oneof_of_each = |all: &BTreeMap<u32, FieldDescriptor>| -> BTreeMap<u32, String> {
        all.iter()
            .filter_map(|(n, f)| oneof_of(f).map(|o| (*n, o)))
            .collect()
    };
    let (old_oneof, new_oneof) = (oneof_of_each(&all_old), oneof_of_each(&all_new));
    let old_names: BTreeSet<&String> = old_oneof.values().collect();
    let new_names: BTreeSet<&String> = new_oneof.values().collect();

    // A oneof gone by name with none of its members left anywhere was deleted as a whole
    // (compatible); members dropped from a oneof that lives on are removals.
    let deleted: BTreeSet<&String> = old_names
        .iter()
        .copied()
        .filter(|name| {
            !new_names.contains(name)
                && !old_oneof
                    .iter()
                    .any(|(n, o)| o == *name && all_new.contains_key(n))
        })
        .collect();

    // New mutual exclusivity: a oneof of the new schema whose existing members came from more
    // than one place in the old one (separate top-level fields, or different oneofs).
    for name in &new_names {
        let mut origins = BTreeSet::new();
        let mut moved_from_top = 0;
        for (number, _) in new_oneof.iter().filter(|(_, o)| o == name) {
            if let Some(o) = old_oneof.get(number) {
                origins.insert(format!("oneof:{o}"));
            } else if all_old.contains_key(number) {
                origins.insert(format!("field:{number}"));
                moved_from_top += 1;
            }
        }
        if origins.len() > 1 {
            ctx.within(name, |ctx| {
                ctx.add(if moved_from_top > 1 {
                    "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
                } else {
                    "FIELD_MOVED_TO_EXISTING_ONEOF"
                })
            });
        }
    }
    for name in old_names.union(&new_names) {
        match (old_names.contains(name), new_names.contains(name)) {
            (true, false) => ctx.within(name, |ctx| ctx.add("ONEOF_REMOVED")),
            (false, true) => ctx.within(name, |ctx| ctx.add("ONEOF_ADDED")),
            _ => {}
        }
    }

    // Every field by number, wherever it lives.
    let numbers: BTreeSet<&u32> = all_old.keys().chain(all_new.keys()).collect();
    for number in numbers {
        let (oo, no) = (old_oneof.get(number), new_oneof.get(number));
        match (all_old.get(number), all_new.get(number)) {
            (Some(o), None) => match oo {
                Some(oneof) if deleted.contains(oneof) => {}
                Some(oneof) => ctx.within(format!("{oneof}/{number}"), |ctx| {
                    ctx.add("ONEOF_FIELD_REMOVED")
                }),
                None => ctx.within(number, |ctx| {
                    ctx.add(if o.cardinality() == Cardinality::Required {
                        "REQUIRED_FIELD_REMOVED"
                    } else {
                        "FIELD_REMOVED"
                    })
                }),
            },
            (None, Some(n)) => match no {
                Some(oneof) => ctx.within(format!("{oneof}/{number}"), |ctx| {
                    ctx.add("ONEOF_FIELD_ADDED")
                }),
                None => ctx.within(number, |ctx| {
                    ctx.add(if n.cardinality() == Cardinality::Required {
                        "REQUIRED_FIELD_ADDED"
                    } else {
                        "FIELD_ADDED"
                    })
                }),
            },
            (Some(o), Some(n)) => {
                if oo.is_some() && no.is_none() {
                    ctx.within(number, |ctx| ctx.add("ONEOF_FIELD_MOVED_TO_TOP_LEVEL"));
                }
                let at = match no {
                    Some(oneof) => format!("{oneof}/{number}"),
                    None => number.to_string(),
                };
                ctx.within(at, |ctx| compare_field(ctx, o, n));
            }
            (None, None) => {}
        }
    }
    compare_types(
        ctx,
        old.child_messages().collect(),
        old.child_enums().collect(),
        new.child_messages().collect(),
        new.child_enums().collect(),
    );
    ctx.visiting.remove(old.full_name());
}

#[derive(PartialEq, Eq, Debug)]
enum FieldKind {
    Scalar,
    Message,
    Map,
}

/// Scalar types that read each other's wire encoding (enums are varints like int32).
fn scalar_group(kind: &Kind) -> &'static str {
    match kind {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => {
            "varint"
        }
        Kind::Sint32 | Kind::Sint64 => "zigzag",
        Kind::String | Kind::Bytes => "length-delimited",
        Kind::Fixed32 | Kind::Sfixed32 => "fixed32",
        Kind::Fixed64 | Kind::Sfixed64 => "fixed64",
        Kind::Float => "float",
        Kind::Double => "double",
        Kind::Message(_) => "message",
    }
}

fn field_kind(f: &FieldDescriptor) -> FieldKind {
    if f.is_map() {
        FieldKind::Map
    } else if matches!(f.kind(), Kind::Message(_)) {
        FieldKind::Message
    } else {
        FieldKind::Scalar
    }
}

fn compare_field(ctx: &mut Ctx<'_>, old: &FieldDescriptor, new: &FieldDescriptor) {
    if old.name() != new.name() {
        ctx.add("FIELD_NAME_CHANGED");
    }
    let (ok, nk) = (field_kind(old), field_kind(new));
    if ok != nk {
        return ctx.add("FIELD_KIND_CHANGED");
    }
    match ok {
        FieldKind::Scalar => {
            if scalar_group(&old.kind()) != scalar_group(&new.kind()) {
                ctx.add("FIELD_SCALAR_KIND_CHANGED");
            } else if old.is_list() != new.is_list() {
                ctx.add(if matches!(old.kind(), Kind::String | Kind::Bytes) {
                    "FIELD_STRING_OR_BYTES_LABEL_CHANGED"
                } else {
                    "FIELD_NUMERIC_LABEL_CHANGED"
                });
            }
        }
        FieldKind::Message => {
            if let (Kind::Message(o), Kind::Message(n)) = (old.kind(), new.kind()) {
                compare_named(ctx, &o, &n);
            }
        }
        FieldKind::Map => {
            if let (Kind::Message(o), Kind::Message(n)) = (old.kind(), new.kind()) {
                let (ok, nk) = (o.map_entry_key_field(), n.map_entry_key_field());
                let (ov, nv) = (o.map_entry_value_field(), n.map_entry_value_field());
                compare_value_types(ctx, &ok, &nk);
                compare_value_types(ctx, &ov, &nv);
            }
        }
    }
}

/// A map's key or value type.
fn compare_value_types(ctx: &mut Ctx<'_>, old: &FieldDescriptor, new: &FieldDescriptor) {
    let (ok, nk) = (field_kind(old), field_kind(new));
    if ok != nk {
        return ctx.add("FIELD_KIND_CHANGED");
    }
    match (old.kind(), new.kind()) {
        (Kind::Message(o), Kind::Message(n)) => compare_named(ctx, &o, &n),
        (o, n) if scalar_group(&o) != scalar_group(&n) => ctx.add("FIELD_SCALAR_KIND_CHANGED"),
        _ => {}
    }
}

/// The name of a message type relative to its package.
fn local_name(m: &MessageDescriptor) -> &str {
    let package = m.package_name();
    m.full_name()
        .strip_prefix(package)
        .and_then(|s| s.strip_prefix('.'))
        .unwrap_or(m.full_name())
}

fn compare_named(ctx: &mut Ctx<'_>, old: &MessageDescriptor, new: &MessageDescriptor) {
    if local_name(old) != local_name(new) {
        return ctx.add("FIELD_NAMED_TYPE_CHANGED");
    }
    // Types from the same subject and version of a reference are the same type.
    let origin = |p: &Parsed, m: &MessageDescriptor| p.refs.get(m.parent_file().name()).cloned();
    if let (Some(a), Some(b)) = (origin(ctx.old, old), origin(ctx.new, new)) {
        if a == b {
            return;
        }
    }
    let key = (old.full_name().to_string(), new.full_name().to_string());
    let cached = ctx.memo.borrow().get(&key).copied();
    let ok = match cached {
        // Seen before: its verdict counts again, its details were reported the first time.
        Some(ok) => ok,
        None => {
            let mut sub = ctx.sub();
            compare_message(&mut sub, old, new);
            let ok = sub.compatible();
            ctx.memo.borrow_mut().insert(key, ok);
            ctx.diffs.append(&mut sub.diffs);
            ok
        }
    };
    if !ok {
        ctx.add("FIELD_NAMED_TYPE_CHANGED");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for n in 0..10 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&data)), Some(data));
        }
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }

    #[test]
    fn serialized_form_parses_back_to_the_same_schema() {
        let p = parse(
            "syntax = \"proto3\"; package a; message M { string s = 1; }",
            &[],
        )
        .expect("parses");
        let again = parse(&p.serialized(), &[]).expect("serialized form parses");
        assert_eq!(p.canonical(), again.canonical());
        assert_eq!(again.first_message_name().as_deref(), Some("a.M"));
    }
}
