//! JSON Schema support: parsing (with `$ref`s into the schema itself and into referenced
//! schemas) and Confluent's compatibility rules.
//!
//! Compatibility follows Confluent's JSON Schema provider: the old schema (the writer) and the new
//! one (the reader) are compared structurally, every difference gets a type (`TYPE_CHANGED`,
//! `PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`, `MAX_LENGTH_DECREASED`, ...), and the change is
//! compatible when every difference is one of the kinds that cannot make a document valid under
//! the writer invalid under the reader. Schemas are classified the way Confluent's loader (everit)
//! sees them: one "kind" per schema (object, array, string, number, boolean, null, enum, combined
//! `allOf`/`anyOf`/`oneOf`, `not`, empty, false); a list of types is an `anyOf`, and a schema that
//! mixes kinds (say `"type": "string"` with `enum`) is an implicit `allOf` of them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::types::ResolvedReference;

/// A parsed JSON Schema and the referenced schemas its `$ref`s may point into.
#[derive(Debug, Clone)]
pub struct Parsed {
    root: Value,
    /// Referenced documents by the name they are `$ref`ed by (and by their `$id`, if any).
    refs: BTreeMap<String, Value>,
}

impl Parsed {
    /// The schema as compact JSON (formatting differences do not make a different schema).
    pub fn canonical(&self) -> String {
        self.root.to_string()
    }

    /// The schema document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The schema's `title`, which Confluent's record name strategies use as the record name.
    pub fn title(&self) -> Option<&str> {
        self.root.get("title").and_then(Value::as_str)
    }
}

/// How deep `$ref` chains and nested schemas may go before a schema is refused.
const MAX_DEPTH: usize = 64;

/// Parses `schema`; the error explains why it is not a valid JSON Schema.
pub fn parse(schema: &str, refs: &[ResolvedReference]) -> Result<Parsed, String> {
    let root: Value =
        serde_json::from_str(schema).map_err(|e| format!("Invalid JSON Schema: {e}"))?;
    let mut docs = BTreeMap::new();
    for r in refs {
        let doc: Value = serde_json::from_str(&r.schema)
            .map_err(|e| format!("Invalid JSON Schema reference {}: {e}", r.name))?;
        if let Some(id) = doc.get("$id").and_then(Value::as_str) {
            docs.insert(id.to_string(), doc.clone());
        }
        docs.insert(r.name.clone(), doc);
    }
    let parsed = Parsed { root, refs: docs };
    let mut seen = HashSet::new();
    check_schema(&parsed, &parsed.root, None, "#", 0, &mut seen)?;
    Ok(parsed)
}

/// Where a schema node lives: `None` for the root document, or the name of a referenced one.
type Doc<'a> = Option<&'a str>;

fn document<'a>(p: &'a Parsed, doc: Doc<'_>) -> Option<&'a Value> {
    match doc {
        None => Some(&p.root),
        Some(name) => p.refs.get(name),
    }
}

/// Follows a JSON pointer fragment (`/definitions/x`) inside `doc`.
fn pointer<'a>(doc: &'a Value, fragment: &str) -> Option<&'a Value> {
    if fragment.is_empty() || fragment == "/" {
        return Some(doc);
    }
    let decoded = fragment.replace("%25", "%");
    doc.pointer(&decoded)
}

/// Resolves a `$ref` seen in document `doc` to the target node and its document.
fn resolve<'a>(p: &'a Parsed, doc: Doc<'a>, reference: &str) -> Option<(&'a Value, Doc<'a>)> {
    let (url, fragment) = match reference.split_once('#') {
        Some((u, f)) => (u, f),
        None => (reference, ""),
    };
    if url.is_empty() {
        let d = document(p, doc)?;
        return pointer(d, fragment).map(|v| (v, doc));
    }
    // A referenced schema by its exact name, or by the last path segment of the URL.
    let name = p.refs.keys().find(|k| k.as_str() == url).or_else(|| {
        p.refs.keys().find(|k| {
            let tail = url.rsplit('/').next().unwrap_or(url);
            k.rsplit('/').next() == Some(tail)
        })
    })?;
    let d = p.refs.get(name)?;
    pointer(d, fragment).map(|v| (v, Some(name.as_str())))
}

const TYPES: [&str; 7] = [
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Structural checks of one schema node (and everything under it): what Confluent's loader would
/// refuse as an invalid schema.
fn check_schema<'a>(
    p: &'a Parsed,
    v: &'a Value,
    doc: Doc<'a>,
    path: &str,
    depth: usize,
    seen: &mut HashSet<usize>,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("Invalid JSON Schema: nested too deep at {path}"));
    }
    let obj = match v {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        _ => {
            return Err(format!(
                "Invalid JSON Schema: {path} must be an object or a boolean"
            ))
        }
    };
    if !seen.insert(v as *const Value as usize) {
        return Ok(());
    }
    let bad = |what: &str| format!("Invalid JSON Schema: {what} at {path}");
    if let Some(t) = obj.get("type") {
        let names: Vec<&Value> = match t {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for n in names {
            match n.as_str() {
                Some(s) if TYPES.contains(&s) => {}
                _ => return Err(bad(&format!("unknown type {n}"))),
            }
        }
    }
    if let Some(r) = obj.get("required") {
        if !r.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
            return Err(bad("'required' must be an array of strings"));
        }
    }
    if let Some(e) = obj.get("enum") {
        if !e.is_array() {
            return Err(bad("'enum' must be an array"));
        }
    }
    for k in [
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    ] {
        if let Some(n) = obj.get(k) {
            if n.as_u64().is_none() && !n.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0) {
                return Err(bad(&format!("'{k}' must be a non-negative integer")));
            }
        }
    }
    for k in ["minimum", "maximum", "multipleOf"] {
        if obj.get(k).is_some_and(|n| !n.is_number()) {
            return Err(bad(&format!("'{k}' must be a number")));
        }
    }
    if let Some(pat) = obj.get("pattern") {
        if !pat.is_string() {
            return Err(bad("'pattern' must be a string"));
        }
    }
    if let Some(r) = obj.get("$ref") {
        let r = r.as_str().ok_or_else(|| bad("'$ref' must be a string"))?;
        let (target, tdoc) =
            resolve(p, doc, r).ok_or_else(|| bad(&format!("cannot resolve $ref {r}")))?;
        check_schema(p, target, tdoc, &format!("{path}/$ref"), depth + 1, seen)?;
    }
    let sub = |key: &str| obj.get(key);
    for key in [
        "additionalProperties",
        "additionalItems",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
    ] {
        if let Some(s) = sub(key) {
            check_schema(p, s, doc, &format!("{path}/{key}"), depth + 1, seen)?;
        }
    }
    if let Some(items) = sub("items") {
        match items {
            Value::Array(a) => {
                for (i, s) in a.iter().enumerate() {
                    check_schema(p, s, doc, &format!("{path}/items/{i}"), depth + 1, seen)?;
                }
            }
            s => check_schema(p, s, doc, &format!("{path}/items"), depth + 1, seen)?,
        }
    }
    for key in [
        "properties",
        "patternProperties",
        "definitions",
        "$defs",
        "dependentSchemas",
    ] {
        if let Some(m) = sub(key) {
            let m = m
                .as_object()
                .ok_or_else(|| bad(&format!("'{key}' must be an object")))?;
            for (name, s) in m {
                check_schema(p, s, doc, &format!("{path}/{key}/{name}"), depth + 1, seen)?;
            }
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(a) = sub(key) {
            let a = a
                .as_array()
                .filter(|a| !a.is_empty() || key == "prefixItems")
                .ok_or_else(|| bad(&format!("'{key}' must be a non-empty array")))?;
            for (i, s) in a.iter().enumerate() {
                check_schema(p, s, doc, &format!("{path}/{key}/{i}"), depth + 1, seen)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Compatibility
// ---------------------------------------------------------------------------------------------

/// Why `reader` cannot read every document valid under `writer` (empty: it can).
pub fn check(reader: &Parsed, writer: &Parsed) -> Vec<String> {
    let mut ctx = Ctx::new();
    compare(
        &mut ctx,
        Some(Kind::Lazy(Node::root(writer))),
        Some(Kind::Lazy(Node::root(reader))),
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

/// The difference types that keep a reader able to read the writer's documents (Confluent's
/// list of compatible changes).
fn is_compatible(kind: &str) -> bool {
    matches!(
        kind,
        "ID_CHANGED"
            | "DESCRIPTION_CHANGED"
            | "TITLE_CHANGED"
            | "DEFAULT_CHANGED"
            | "SCHEMA_REMOVED"
            | "TYPE_EXTENDED"
            | "MAX_LENGTH_INCREASED"
            | "MAX_LENGTH_REMOVED"
            | "MIN_LENGTH_DECREASED"
            | "MIN_LENGTH_REMOVED"
            | "PATTERN_REMOVED"
            | "MAXIMUM_INCREASED"
            | "MAXIMUM_REMOVED"
            | "MINIMUM_DECREASED"
            | "MINIMUM_REMOVED"
            | "EXCLUSIVE_MAXIMUM_INCREASED"
            | "EXCLUSIVE_MAXIMUM_REMOVED"
            | "EXCLUSIVE_MINIMUM_DECREASED"
            | "EXCLUSIVE_MINIMUM_REMOVED"
            | "MULTIPLE_OF_REDUCED"
            | "MULTIPLE_OF_REMOVED"
            | "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
            | "REQUIRED_ATTRIBUTE_REMOVED"
            | "DEPENDENCY_ARRAY_NARROWED"
            | "DEPENDENCY_ARRAY_REMOVED"
            | "DEPENDENCY_SCHEMA_REMOVED"
            | "MAX_PROPERTIES_INCREASED"
            | "MAX_PROPERTIES_REMOVED"
            | "MIN_PROPERTIES_DECREASED"
            | "MIN_PROPERTIES_REMOVED"
            | "ADDITIONAL_PROPERTIES_ADDED"
            | "ADDITIONAL_PROPERTIES_EXTENDED"
            | "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
            | "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
            | "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
            | "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
            | "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
            | "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            | "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            | "MAX_ITEMS_INCREASED"
            | "MAX_ITEMS_REMOVED"
            | "MIN_ITEMS_DECREASED"
            | "MIN_ITEMS_REMOVED"
            | "UNIQUE_ITEMS_REMOVED"
            | "ADDITIONAL_ITEMS_ADDED"
            | "ADDITIONAL_ITEMS_EXTENDED"
            | "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
            | "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"
            | "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
            | "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL"
            | "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            | "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            | "ENUM_ARRAY_EXTENDED"
            | "COMBINED_TYPE_EXTENDED"
            | "PRODUCT_TYPE_NARROWED"
            | "SUM_TYPE_EXTENDED"
            | "NOT_TYPE_NARROWED"
    )
}

/// A readable reason for an incompatible difference.
fn describe(kind: &str) -> &'static str {
    match kind {
        "TYPE_CHANGED" => "The type changed",
        "TYPE_NARROWED" => "The new schema accepts only integers where the old accepted numbers",
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" => {
            "The old schema's open content model may already hold this new property with another type"
        }
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" => {
            "The new schema's closed content model no longer allows this property of the old schema"
        }
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" => {
            "The new schema requires a property, without a default, that old data does not have"
        }
        "REQUIRED_ATTRIBUTE_ADDED" => {
            "The new schema requires a property, without a default, that old data may lack"
        }
        "ADDITIONAL_PROPERTIES_REMOVED" => "The new schema no longer allows additional properties",
        "ADDITIONAL_PROPERTIES_NARROWED" => "The new schema constrains additional properties",
        "ENUM_ARRAY_NARROWED" | "ENUM_ARRAY_CHANGED" => {
            "The new schema no longer allows some values of the old enum"
        }
        "SCHEMA_TOO_COMPLEX_TO_COMPARE" => {
            "The schemas are too complex to compare (too many nested combinations)"
        }
        "COMBINED_TYPE_SUBSCHEMAS_CHANGED" => {
            "The subschemas of the combined type do not match compatibly"
        }
        _ => "The new schema accepts less than the old one",
    }
}

#[derive(Clone)]
struct Diff {
    path: String,
    kind: &'static str,
}

/// One side's schema node: the value and the document its `$ref`s resolve in.
#[derive(Clone, Copy)]
struct Node<'a> {
    v: &'a Value,
    doc: Doc<'a>,
    parsed: &'a Parsed,
}

impl<'a> Node<'a> {
    fn root(p: &'a Parsed) -> Node<'a> {
        Node {
            v: &p.root,
            doc: None,
            parsed: p,
        }
    }

    fn at(&self, v: &'a Value) -> Node<'a> {
        Node { v, ..*self }
    }

    /// Follows `$ref`s (a node that is only a reference stands for its target).
    fn deref(self) -> Node<'a> {
        let mut n = self;
        for _ in 0..MAX_DEPTH {
            let Some(r) = n.v.get("$ref").and_then(Value::as_str) else {
                return n;
            };
            match resolve(n.parsed, n.doc, r) {
                Some((v, doc)) => {
                    n = Node {
                        v,
                        doc,
                        parsed: n.parsed,
                    }
                }
                None => return n,
            }
        }
        n
    }

    fn has_default(&self) -> bool {
        self.deref().v.get("default").is_some()
    }
}

/// What kind of schema a node is, as Confluent's loader classifies it.
#[derive(Clone)]
enum Kind<'a> {
    /// `{}` or `true`: anything.
    Empty,
    /// `false`: nothing.
    False,
    /// One JSON type with the node holding its constraints.
    Typed(&'static str, Node<'a>),
    Enum(Vec<&'a Value>),
    /// `const`: one permitted value.
    Const(&'a Value),
    /// `allOf`/`anyOf`/`oneOf`, a list of types (`anyOf`) or a node mixing kinds (`allOf`).
    Combined(&'static str, Vec<Kind<'a>>),
    Not(Node<'a>),
    /// A subschema not classified yet (classified when compared, so recursion stays bounded).
    Lazy(Node<'a>),
}

impl<'a> Kind<'a> {
    fn force(self) -> Kind<'a> {
        match self {
            Kind::Lazy(n) => classify(n),
            k => k,
        }
    }

    /// Kinds that Confluent treats as the same class of schema.
    fn class(&self) -> &'static str {
        match self {
            Kind::Empty => "empty",
            Kind::False => "false",
            Kind::Typed("integer", _) => "number",
            Kind::Typed(t, _) => t,
            Kind::Enum(_) => "enum",
            Kind::Const(_) => "const",
            Kind::Combined(..) => "combined",
            Kind::Not(_) => "not",
            Kind::Lazy(_) => "lazy",
        }
    }

    /// Identity for collapsing duplicate subschemas of a combined schema.
    fn identity(&self) -> String {
        match self {
            Kind::Typed(t, n) => format!("{t}:{}", n.v),
            Kind::Lazy(n) | Kind::Not(n) => n.v.to_string(),
            Kind::Enum(v) => format!("enum:{v:?}"),
            Kind::Const(v) => format!("const:{v}"),
            Kind::Combined(c, m) => {
                let inner: Vec<String> = m.iter().map(Kind::identity).collect();
                format!("{c}:{inner:?}")
            }
            k => k.class().to_string(),
        }
    }

    fn node(&self) -> Option<Node<'a>> {
        match self {
            Kind::Typed(_, n) | Kind::Not(n) | Kind::Lazy(n) => Some(*n),
            _ => None,
        }
    }
}

const OBJECT_KEYS: [&str; 8] = [
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "minProperties",
    "maxProperties",
    "dependencies",
    "propertyNames",
];
const ARRAY_KEYS: [&str; 7] = [
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "prefixItems",
];
const STRING_KEYS: [&str; 4] = ["minLength", "maxLength", "pattern", "format"];
const NUMBER_KEYS: [&str; 5] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];

fn type_name(v: &Value) -> Option<&'static str> {
    TYPES.iter().copied().find(|t| Some(*t) == v.as_str())
}

fn classify(node: Node<'_>) -> Kind<'_> {
    let node = node.deref();
    let obj = match node.v {
        Value::Bool(false) => return Kind::False,
        Value::Object(o) => o,
        _ => return Kind::Empty,
    };
    let mut parts: Vec<Kind<'_>> = Vec::new();
    match obj.get("type") {
        Some(Value::Array(ts)) => {
            let mut typed: Vec<Kind<'_>> = ts
                .iter()
                .filter_map(type_name)
                .map(|t| Kind::Typed(t, node))
                .collect();
            if typed.len() > 1 {
                parts.push(Kind::Combined("anyOf", typed));
            } else {
                parts.append(&mut typed);
            }
        }
        Some(t) => {
            if let Some(t) = type_name(t) {
                parts.push(Kind::Typed(t, node));
            }
        }
        None => {
            // No "type": the kinds follow from the keywords used.
            let has = |keys: &[&str]| keys.iter().any(|k| obj.contains_key(*k));
            for (keys, t) in [
                (&OBJECT_KEYS[..], "object"),
                (&ARRAY_KEYS[..], "array"),
                (&STRING_KEYS[..], "string"),
                (&NUMBER_KEYS[..], "number"),
            ] {
                if has(keys) {
                    parts.push(Kind::Typed(t, node));
                }
            }
        }
    }
    if let Some(Value::Array(values)) = obj.get("enum") {
        parts.push(Kind::Enum(values.iter().collect()));
    } else if let Some(c) = obj.get("const") {
        parts.push(Kind::Const(c));
    }
    for crit in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = obj.get(crit) {
            let members = subs.iter().map(|s| Kind::Lazy(node.at(s))).collect();
            parts.push(Kind::Combined(crit, members));
        }
    }
    if let Some(n) = obj.get("not") {
        parts.push(Kind::Not(node.at(n)));
    }
    match parts.len() {
        0 => Kind::Empty,
        1 => parts.pop().unwrap_or(Kind::Empty),
        _ => Kind::Combined("allOf", parts),
    }
}

struct Ctx {
    path: Vec<String>,
    diffs: Vec<Diff>,
    /// Pairs of (old, new) nodes being compared, so recursive schemas terminate.
    visiting: HashSet<(usize, usize)>,
    depth: usize,
    /// Comparisons left before the schemas count as too complex to compare (nested unions
    /// compare every member with every member; adversarial schemas must not hang the registry).
    budget: std::rc::Rc<std::cell::Cell<usize>>,
    /// Differences found per (old, new) subschema pair: a subschema reached along many paths
    /// (`$ref`s, unions) is compared once.
    memo: std::rc::Rc<std::cell::RefCell<DiffMemo>>,
}

/// Differences already found, by (old, new) node pair.
type DiffMemo = HashMap<(usize, usize), Vec<Diff>>;

/// How many node comparisons one compatibility check may make.
const COMPARISON_BUDGET: usize = 20_000;

impl Ctx {
    fn new() -> Ctx {
        Ctx {
            path: vec!["#".to_string()],
            diffs: Vec::new(),
            visiting: HashSet::new(),
            depth: 0,
            budget: std::rc::Rc::new(std::cell::Cell::new(COMPARISON_BUDGET)),
            memo: Default::default(),
        }
    }

    fn add(&mut self, kind: &'static str) {
        self.diffs.push(Diff {
            path: self.path.join("/"),
            kind,
        });
    }

    fn add_at(&mut self, segment: &str, kind: &'static str) {
        self.path.push(segment.to_string());
        self.add(kind);
        self.path.pop();
    }

    /// A context for a trial comparison whose differences may be discarded.
    fn sub(&self) -> Ctx {
        Ctx {
            path: self.path.clone(),
            diffs: Vec::new(),
            visiting: self.visiting.clone(),
            depth: self.depth,
            budget: self.budget.clone(),
            memo: self.memo.clone(),
        }
    }

    fn compatible(&self) -> bool {
        self.diffs.iter().all(|d| is_compatible(d.kind))
    }

    fn absorb(&mut self, other: Ctx) {
        self.diffs.extend(other.diffs);
    }

    fn within(&mut self, segment: &str, f: impl FnOnce(&mut Ctx)) {
        self.path.push(segment.to_string());
        f(self);
        self.path.pop();
    }
}

fn compare(ctx: &mut Ctx, old: Option<Kind<'_>>, new: Option<Kind<'_>>) {
    if let (Some(Kind::Lazy(o)), Some(Kind::Lazy(n))) = (&old, &new) {
        let key = (o.v as *const Value as usize, n.v as *const Value as usize);
        if let Some(diffs) = ctx.memo.borrow().get(&key) {
            // Seen before: its verdict counts again, its details were reported the first time
            // (copying them every time would grow exponentially with shared subschemas).
            ctx.diffs
                .extend(diffs.iter().find(|d| !is_compatible(d.kind)).cloned());
            return;
        }
        let mut sub = ctx.sub();
        compare_uncached(&mut sub, old, new);
        ctx.memo.borrow_mut().insert(key, sub.diffs.clone());
        return ctx.absorb(sub);
    }
    compare_uncached(ctx, old, new)
}

fn compare_uncached(ctx: &mut Ctx, old: Option<Kind<'_>>, new: Option<Kind<'_>>) {
    let (old, new) = match (old, new) {
        (None, None) => return,
        (None, Some(_)) => return ctx.add("SCHEMA_ADDED"),
        (Some(_), None) => return ctx.add("SCHEMA_REMOVED"),
        (Some(o), Some(n)) => (o.force(), n.force()),
    };
    if ctx.depth > MAX_DEPTH {
        return;
    }
    match ctx.budget.get() {
        0 => return ctx.add("SCHEMA_TOO_COMPLEX_TO_COMPARE"),
        left => ctx.budget.set(left - 1),
    }
    // A union on one side only: compatible if one member alone is.
    match (&old, &new) {
        (o, Kind::Combined(crit, members)) if !matches!(o, Kind::Combined(..)) => {
            if members.len() == 1 {
                let mut sub = ctx.sub();
                compare(&mut sub, Some(old.clone()), Some(members[0].clone()));
                if sub.compatible() {
                    return ctx.absorb(sub);
                }
            } else if *crit != "allOf" {
                for m in members {
                    let mut sub = ctx.sub();
                    compare(&mut sub, Some(old.clone()), Some(m.clone()));
                    if sub.compatible() {
                        ctx.absorb(sub);
                        return ctx.add("SUM_TYPE_EXTENDED");
                    }
                }
            }
        }
        (Kind::Combined(crit, members), n) if !matches!(n, Kind::Combined(..)) => {
            if members.len() == 1 {
                let mut sub = ctx.sub();
                compare(&mut sub, Some(members[0].clone()), Some(new.clone()));
                if sub.compatible() {
                    return ctx.absorb(sub);
                }
            } else if *crit == "allOf" {
                // Dropping all but one part of a product accepts more.
                for m in members {
                    let mut sub = ctx.sub();
                    compare(&mut sub, Some(m.clone()), Some(new.clone()));
                    if sub.compatible() {
                        ctx.absorb(sub);
                        return ctx.add("PRODUCT_TYPE_NARROWED");
                    }
                }
            }
        }
        _ => {}
    }
    if old.class() != new.class() {
        if !matches!(old, Kind::False) && !matches!(new, Kind::Empty) {
            ctx.add("TYPE_CHANGED");
        }
        return;
    }
    let key = match (old.node(), new.node()) {
        (Some(o), Some(n)) => Some((o.v as *const Value as usize, n.v as *const Value as usize)),
        _ => None,
    };
    if let Some(k) = key {
        if !ctx.visiting.insert(k) {
            return;
        }
    }
    ctx.depth += 1;
    match (&old, &new) {
        (Kind::Typed(ot, o), Kind::Typed(nt, n)) => match *ot {
            "string" => compare_string(ctx, o, n),
            "number" | "integer" => {
                match (*ot, *nt) {
                    ("integer", "number") => ctx.add("TYPE_EXTENDED"),
                    ("number", "integer") => ctx.add("TYPE_NARROWED"),
                    _ => {}
                }
                compare_number(ctx, o, n);
            }
            "object" => compare_object(ctx, *o, *n),
            "array" => compare_array(ctx, *o, *n),
            _ => {}
        },
        (Kind::Enum(o), Kind::Enum(n)) => {
            let has = |set: &[&Value], v: &Value| set.contains(&v);
            let grows = o.iter().all(|v| has(n, v));
            let shrinks = n.iter().all(|v| has(o, v));
            match (grows, shrinks) {
                (true, true) => {}
                (true, false) => ctx.add("ENUM_ARRAY_EXTENDED"),
                (false, true) => ctx.add("ENUM_ARRAY_NARROWED"),
                (false, false) => ctx.add("ENUM_ARRAY_CHANGED"),
            }
        }
        (Kind::Const(o), Kind::Const(n)) if o != n => ctx.add_at("const", "ENUM_ARRAY_CHANGED"),
        (Kind::Combined(oc, om), Kind::Combined(nc, nm)) => compare_combined(ctx, oc, om, nc, nm),
        (Kind::Not(o), Kind::Not(n)) => {
            // not A reads not B when B reads A.
            let mut sub = ctx.sub();
            compare(&mut sub, Some(Kind::Lazy(*n)), Some(Kind::Lazy(*o)));
            if sub.compatible() {
                if !sub.diffs.is_empty() {
                    ctx.add("NOT_TYPE_NARROWED");
                }
            } else {
                ctx.add("NOT_TYPE_EXTENDED");
            }
        }
        _ => {}
    }
    ctx.depth -= 1;
    if let Some(k) = key {
        ctx.visiting.remove(&k);
    }
}

fn number(n: &Node<'_>, key: &str) -> Option<f64> {
    n.v.get(key).and_then(Value::as_f64)
}

/// Compares a numeric bound where a larger value accepts more (`larger_is_wider`) or less.
fn bound(ctx: &mut Ctx, key: &str, old: Option<f64>, new: Option<f64>, kinds: [&'static str; 4]) {
    let [added, removed, increased, decreased] = kinds;
    match (old, new) {
        (None, Some(_)) => ctx.add_at(key, added),
        (Some(_), None) => ctx.add_at(key, removed),
        (Some(o), Some(n)) if o < n => ctx.add_at(key, increased),
        (Some(o), Some(n)) if o > n => ctx.add_at(key, decreased),
        _ => {}
    }
}

fn compare_string(ctx: &mut Ctx, o: &Node<'_>, n: &Node<'_>) {
    bound(
        ctx,
        "maxLength",
        number(o, "maxLength"),
        number(n, "maxLength"),
        [
            "MAX_LENGTH_ADDED",
            "MAX_LENGTH_REMOVED",
            "MAX_LENGTH_INCREASED",
            "MAX_LENGTH_DECREASED",
        ],
    );
    bound(
        ctx,
        "minLength",
        number(o, "minLength"),
        number(n, "minLength"),
        [
            "MIN_LENGTH_ADDED",
            "MIN_LENGTH_REMOVED",
            "MIN_LENGTH_INCREASED",
            "MIN_LENGTH_DECREASED",
        ],
    );
    match (o.v.get("pattern"), n.v.get("pattern")) {
        (None, Some(_)) => ctx.add_at("pattern", "PATTERN_ADDED"),
        (Some(_), None) => ctx.add_at("pattern", "PATTERN_REMOVED"),
        (Some(a), Some(b)) if a != b => ctx.add_at("pattern", "PATTERN_CHANGED"),
        _ => {}
    }
}

fn compare_number(ctx: &mut Ctx, o: &Node<'_>, n: &Node<'_>) {
    for (key, kinds) in [
        (
            "maximum",
            [
                "MAXIMUM_ADDED",
                "MAXIMUM_REMOVED",
                "MAXIMUM_INCREASED",
                "MAXIMUM_DECREASED",
            ],
        ),
        (
            "minimum",
            [
                "MINIMUM_ADDED",
                "MINIMUM_REMOVED",
                "MINIMUM_INCREASED",
                "MINIMUM_DECREASED",
            ],
        ),
        (
            "exclusiveMaximum",
            [
                "EXCLUSIVE_MAXIMUM_ADDED",
                "EXCLUSIVE_MAXIMUM_REMOVED",
                "EXCLUSIVE_MAXIMUM_INCREASED",
                "EXCLUSIVE_MAXIMUM_DECREASED",
            ],
        ),
        (
            "exclusiveMinimum",
            [
                "EXCLUSIVE_MINIMUM_ADDED",
                "EXCLUSIVE_MINIMUM_REMOVED",
                "EXCLUSIVE_MINIMUM_INCREASED",
                "EXCLUSIVE_MINIMUM_DECREASED",
            ],
        ),
    ] {
        bound(ctx, key, number(o, key), number(n, key), kinds);
    }
    match (number(o, "multipleOf"), number(n, "multipleOf")) {
        (None, Some(_)) => ctx.add_at("multipleOf", "MULTIPLE_OF_ADDED"),
        (Some(_), None) => ctx.add_at("multipleOf", "MULTIPLE_OF_REMOVED"),
        (Some(a), Some(b)) if a != b => {
            let divides = |x: f64, y: f64| y != 0.0 && (x / y).fract() == 0.0;
            if divides(a, b) {
                ctx.add_at("multipleOf", "MULTIPLE_OF_REDUCED");
            } else if divides(b, a) {
                ctx.add_at("multipleOf", "MULTIPLE_OF_EXPANDED");
            } else {
                ctx.add_at("multipleOf", "MULTIPLE_OF_CHANGED");
            }
        }
        _ => {}
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn props<'a>(n: &Node<'a>, key: &str) -> &'a Map<String, Value> {
    n.v.get(key)
        .and_then(Value::as_object)
        .unwrap_or(empty_map())
}

fn required<'a>(n: &Node<'a>) -> BTreeSet<&'a str> {
    n.v.get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `additionalProperties`/`additionalItems`: whether extra members are allowed, and the schema
/// they must follow when one is given (`true` and absence mean "anything").
fn extra<'a>(n: &Node<'a>, key: &str) -> (bool, Option<Node<'a>>) {
    match n.v.get(key) {
        None | Some(Value::Bool(true)) => (true, None),
        Some(Value::Bool(false)) => (false, None),
        Some(v) => (true, Some(n.at(v))),
    }
}

fn object_is_open(n: &Node<'_>) -> bool {
    props(n, "patternProperties").is_empty() && extra(n, "additionalProperties") == (true, None)
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.v, other.v)
    }
}

/// The schema a property not listed in `properties` must follow in a partially open model.
fn partial_object_schema<'a>(n: &Node<'a>, key: &str) -> Option<Node<'a>> {
    for (pattern, schema) in props(n, "patternProperties") {
        if pattern_finds(pattern, key) {
            return Some(n.at(schema));
        }
    }
    extra(n, "additionalProperties").1
}

fn compare_object(ctx: &mut Ctx, o: Node<'_>, n: Node<'_>) {
    let (op, np) = (props(&o, "properties"), props(&n, "properties"));
    let (oreq, nreq) = (required(&o), required(&n));
    ctx.within("required", |ctx| {
        for key in op.keys().filter(|k| np.contains_key(*k)) {
            match (oreq.contains(key.as_str()), nreq.contains(key.as_str())) {
                (true, false) => ctx.add_at(key, "REQUIRED_ATTRIBUTE_REMOVED"),
                (false, true) if n.at(&np[key]).has_default() => {
                    ctx.add_at(key, "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED")
                }
                (false, true) => ctx.add_at(key, "REQUIRED_ATTRIBUTE_ADDED"),
                _ => {}
            }
        }
    });
    ctx.within("properties", |ctx| {
        let keys: BTreeSet<&String> = op.keys().chain(np.keys()).collect();
        for key in keys {
            ctx.within(key, |ctx| match (op.get(key), np.get(key)) {
                (Some(os), None) => {
                    if object_is_open(&n) {
                        ctx.add("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL");
                    } else if let Some(s) = partial_object_schema(&n, key) {
                        let mut sub = ctx.sub();
                        compare(&mut sub, Some(Kind::Lazy(o.at(os))), Some(Kind::Lazy(s)));
                        let ok = sub.compatible();
                        ctx.absorb(sub);
                        ctx.add(if ok {
                            "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        } else {
                            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        });
                    } else if matches!(classify(o.at(os)), Kind::False) {
                        ctx.add("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL");
                    } else {
                        ctx.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL");
                    }
                }
                (None, Some(ns)) => {
                    if object_is_open(&o) {
                        if matches!(classify(n.at(ns)), Kind::Empty) {
                            ctx.add("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL");
                        } else {
                            ctx.add("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
                        }
                        return;
                    }
                    if let Some(s) = partial_object_schema(&o, key) {
                        let mut sub = ctx.sub();
                        compare(&mut sub, Some(Kind::Lazy(s)), Some(Kind::Lazy(n.at(ns))));
                        let ok = sub.compatible();
                        ctx.absorb(sub);
                        ctx.add(if ok {
                            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        } else {
                            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        });
                    }
                    if nreq.contains(key.as_str()) {
                        if n.at(ns).has_default() {
                            ctx.add("REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL");
                        } else {
                            ctx.add("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL");
                        }
                    } else {
                        ctx.add("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL");
                    }
                }
                (Some(os), Some(ns)) => {
                    compare(ctx, Some(Kind::Lazy(o.at(os))), Some(Kind::Lazy(n.at(ns))))
                }
                (None, None) => {}
            });
        }
    });
    compare_dependencies(ctx, o, n);
    ctx.within("additionalProperties", |ctx| {
        compare_extra(
            ctx,
            extra(&o, "additionalProperties"),
            extra(&n, "additionalProperties"),
            [
                "ADDITIONAL_PROPERTIES_ADDED",
                "ADDITIONAL_PROPERTIES_REMOVED",
                "ADDITIONAL_PROPERTIES_NARROWED",
                "ADDITIONAL_PROPERTIES_EXTENDED",
            ],
        )
    });
    bound(
        ctx,
        "maxProperties",
        number(&o, "maxProperties"),
        number(&n, "maxProperties"),
        [
            "MAX_PROPERTIES_ADDED",
            "MAX_PROPERTIES_REMOVED",
            "MAX_PROPERTIES_INCREASED",
            "MAX_PROPERTIES_DECREASED",
        ],
    );
    bound(
        ctx,
        "minProperties",
        number(&o, "minProperties"),
        number(&n, "minProperties"),
        [
            "MIN_PROPERTIES_ADDED",
            "MIN_PROPERTIES_REMOVED",
            "MIN_PROPERTIES_INCREASED",
            "MIN_PROPERTIES_DECREASED",
        ],
    );
}

/// `additionalProperties` / `additionalItems` of old and new: [allowed again, no longer
/// allowed, constrained by a schema now, no longer constrained].
fn compare_extra(
    ctx: &mut Ctx,
    (o_permits, o_schema): (bool, Option<Node<'_>>),
    (n_permits, n_schema): (bool, Option<Node<'_>>),
    [added, removed, narrowed, extended]: [&'static str; 4],
) {
    if o_permits != n_permits {
        ctx.add(if n_permits { added } else { removed });
        return;
    }
    match (o_schema, n_schema) {
        (None, Some(_)) => ctx.add(narrowed),
        (Some(_), None) => ctx.add(extended),
        (Some(a), Some(b)) => compare(ctx, Some(Kind::Lazy(a)), Some(Kind::Lazy(b))),
        (None, None) => {}
    }
}

/// Property dependencies (`dependencies` with arrays, `dependentRequired`) and schema
/// dependencies (`dependencies` with schemas, `dependentSchemas`).
fn compare_dependencies(ctx: &mut Ctx, o: Node<'_>, n: Node<'_>) {
    fn split<'a>(
        n: &Node<'a>,
    ) -> (
        BTreeMap<&'a str, BTreeSet<&'a str>>,
        BTreeMap<&'a str, Node<'a>>,
    ) {
        let mut arrays = BTreeMap::new();
        let mut schemas = BTreeMap::new();
        for key in ["dependencies", "dependentRequired", "dependentSchemas"] {
            for (k, v) in props(n, key) {
                match v {
                    Value::Array(a) => {
                        arrays.insert(k.as_str(), a.iter().filter_map(Value::as_str).collect());
                    }
                    v => {
                        schemas.insert(k.as_str(), n.at(v));
                    }
                }
            }
        }
        (arrays, schemas)
    }
    let (oa, os) = split(&o);
    let (na, ns) = split(&n);
    ctx.within("dependencies", |ctx| {
        let keys: BTreeSet<&str> = oa.keys().chain(na.keys()).copied().collect();
        for k in keys {
            match (oa.get(k), na.get(k)) {
                (Some(_), None) => ctx.add_at(k, "DEPENDENCY_ARRAY_REMOVED"),
                (None, Some(_)) => ctx.add_at(k, "DEPENDENCY_ARRAY_ADDED"),
                (Some(a), Some(b)) if a != b => ctx.add_at(
                    k,
                    if b.is_superset(a) {
                        "DEPENDENCY_ARRAY_EXTENDED"
                    } else if a.is_superset(b) {
                        "DEPENDENCY_ARRAY_NARROWED"
                    } else {
                        "DEPENDENCY_ARRAY_CHANGED"
                    },
                ),
                _ => {}
            }
        }
        let keys: BTreeSet<&str> = os.keys().chain(ns.keys()).copied().collect();
        for k in keys {
            match (os.get(k), ns.get(k)) {
                (Some(_), None) => ctx.add_at(k, "DEPENDENCY_SCHEMA_REMOVED"),
                (None, Some(_)) => ctx.add_at(k, "DEPENDENCY_SCHEMA_ADDED"),
                (Some(a), Some(b)) => ctx.within(k, |ctx| {
                    compare(ctx, Some(Kind::Lazy(*a)), Some(Kind::Lazy(*b)))
                }),
                (None, None) => {}
            }
        }
    });
}

/// An array schema's shape: one schema for every item, or a tuple of positional schemas with
/// `additionalItems` for the rest (draft 2020-12's `prefixItems`/`items` map onto the same).
struct ArrayShape<'a> {
    all: Option<Node<'a>>,
    tuple: Vec<Node<'a>>,
    extra: (bool, Option<Node<'a>>),
}

fn array_shape<'a>(n: &Node<'a>) -> ArrayShape<'a> {
    if let Some(Value::Array(prefix)) = n.v.get("prefixItems") {
        return ArrayShape {
            all: None,
            tuple: prefix.iter().map(|v| n.at(v)).collect(),
            extra: extra(n, "items"),
        };
    }
    match n.v.get("items") {
        Some(Value::Array(items)) => ArrayShape {
            all: None,
            tuple: items.iter().map(|v| n.at(v)).collect(),
            extra: extra(n, "additionalItems"),
        },
        items => ArrayShape {
            all: items.map(|v| n.at(v)),
            tuple: Vec::new(),
            extra: extra(n, "additionalItems"),
        },
    }
}

fn compare_array(ctx: &mut Ctx, o: Node<'_>, n: Node<'_>) {
    let (os, ns) = (array_shape(&o), array_shape(&n));
    ctx.within("items", |ctx| {
        compare(ctx, os.all.map(Kind::Lazy), ns.all.map(Kind::Lazy))
    });
    let common = os.tuple.len().min(ns.tuple.len());
    for i in 0..common {
        ctx.within(&format!("items/{i}"), |ctx| {
            compare(
                ctx,
                Some(Kind::Lazy(os.tuple[i])),
                Some(Kind::Lazy(ns.tuple[i])),
            )
        });
    }
    let open = |s: &ArrayShape<'_>| s.extra == (true, None);
    for (i, item) in os.tuple.iter().enumerate().skip(common) {
        ctx.within(&format!("items/{i}"), |ctx| {
            if open(&ns) {
                ctx.add("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL");
            } else if let Some(s) = ns.extra.1 {
                let mut sub = ctx.sub();
                compare(&mut sub, Some(Kind::Lazy(*item)), Some(Kind::Lazy(s)));
                let ok = sub.compatible();
                ctx.absorb(sub);
                ctx.add(if ok {
                    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                } else {
                    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                });
            } else if matches!(classify(*item), Kind::False) {
                ctx.add("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL");
            } else {
                ctx.add("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL");
            }
        });
    }
    for (i, item) in ns.tuple.iter().enumerate().skip(common) {
        ctx.within(&format!("items/{i}"), |ctx| {
            if open(&os) {
                if matches!(classify(*item), Kind::Empty) {
                    ctx.add("ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL");
                } else {
                    ctx.add("ITEM_ADDED_TO_OPEN_CONTENT_MODEL");
                }
            } else if let Some(s) = os.extra.1 {
                let mut sub = ctx.sub();
                compare(&mut sub, Some(Kind::Lazy(s)), Some(Kind::Lazy(*item)));
                let ok = sub.compatible();
                ctx.absorb(sub);
                ctx.add(if ok {
                    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                } else {
                    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                });
            } else {
                ctx.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL");
            }
        });
    }
    ctx.within("additionalItems", |ctx| {
        compare_extra(
            ctx,
            os.extra,
            ns.extra,
            [
                "ADDITIONAL_ITEMS_ADDED",
                "ADDITIONAL_ITEMS_REMOVED",
                "ADDITIONAL_ITEMS_NARROWED",
                "ADDITIONAL_ITEMS_EXTENDED",
            ],
        )
    });
    bound(
        ctx,
        "maxItems",
        number(&o, "maxItems"),
        number(&n, "maxItems"),
        [
            "MAX_ITEMS_ADDED",
            "MAX_ITEMS_REMOVED",
            "MAX_ITEMS_INCREASED",
            "MAX_ITEMS_DECREASED",
        ],
    );
    bound(
        ctx,
        "minItems",
        number(&o, "minItems"),
        number(&n, "minItems"),
        [
            "MIN_ITEMS_ADDED",
            "MIN_ITEMS_REMOVED",
            "MIN_ITEMS_INCREASED",
            "MIN_ITEMS_DECREASED",
        ],
    );
    let unique = |x: &Node<'_>| x.v.get("uniqueItems") == Some(&Value::Bool(true));
    match (unique(&o), unique(&n)) {
        (true, false) => ctx.add_at("uniqueItems", "UNIQUE_ITEMS_REMOVED"),
        (false, true) => ctx.add_at("uniqueItems", "UNIQUE_ITEMS_ADDED"),
        _ => {}
    }
}

fn compare_combined(
    ctx: &mut Ctx,
    old_crit: &'static str,
    old: &[Kind<'_>],
    new_crit: &'static str,
    new: &[Kind<'_>],
) {
    let change = if old_crit == new_crit {
        None
    } else if new_crit == "anyOf"
        || (old.len() == 1 && new.len() == 1)
        || (old.len() == 1 && new_crit == "oneOf")
        || (new.len() == 1 && old_crit == "allOf")
    {
        Some("COMBINED_TYPE_EXTENDED")
    } else {
        Some("COMBINED_TYPE_CHANGED")
    };
    if let Some(c) = change {
        ctx.add(c);
        if c == "COMBINED_TYPE_CHANGED" {
            return;
        }
    }
    let dedup = |members: &[Kind<'_>]| -> Vec<usize> {
        let mut seen = HashSet::new();
        (0..members.len())
            .filter(|i| seen.insert(members[*i].identity()))
            .collect()
    };
    let (oi, ni) = (dedup(old), dedup(new));
    if oi.len() < ni.len() {
        ctx.add(if new_crit == "allOf" {
            "PRODUCT_TYPE_EXTENDED"
        } else {
            "SUM_TYPE_EXTENDED"
        });
    } else if oi.len() > ni.len() {
        ctx.add(if old_crit == "allOf" {
            "PRODUCT_TYPE_NARROWED"
        } else {
            "SUM_TYPE_NARROWED"
        });
    }
    // Which old member each new member can stand for, then the largest one-to-one matching.
    let mut edges: Vec<Vec<Option<Vec<Diff>>>> = Vec::new();
    for (index, &a) in oi.iter().enumerate() {
        let mut row = Vec::new();
        for &b in &ni {
            let mut sub = ctx.sub();
            sub.path.push(format!("{old_crit}/{index}"));
            compare(&mut sub, Some(old[a].clone()), Some(new[b].clone()));
            row.push(sub.compatible().then_some(sub.diffs));
        }
        edges.push(row);
    }
    let adjacency: Vec<Vec<bool>> = edges
        .iter()
        .map(|row| row.iter().map(Option::is_some).collect())
        .collect();
    let matching = max_matching(&adjacency, ni.len());
    for (a, b) in matching.iter().enumerate() {
        if let Some(b) = b {
            if let Some(diffs) = edges[a][*b].take() {
                ctx.diffs.extend(diffs);
            }
        }
    }
    let matched = matching.iter().filter(|m| m.is_some()).count();
    if matched < oi.len().min(ni.len()) {
        ctx.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED");
    }
}

/// Maximum bipartite matching by augmenting paths: for each left vertex, its right partner.
fn max_matching(adjacency: &[Vec<bool>], right: usize) -> Vec<Option<usize>> {
    fn augment(
        a: usize,
        adjacency: &[Vec<bool>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for b in 0..owner.len() {
            if adjacency[a][b] && !seen[b] {
                seen[b] = true;
                if owner[b].is_none_or(|other| augment(other, adjacency, seen, owner)) {
                    owner[b] = Some(a);
                    return true;
                }
            }
        }
        false
    }
    let mut owner: Vec<Option<usize>> = vec![None; right];
    for a in 0..adjacency.len() {
        let mut seen = vec![false; right];
        augment(a, adjacency, &mut seen, &mut owner);
    }
    let mut partner = vec![None; adjacency.len()];
    for (b, a) in owner.iter().enumerate() {
        if let Some(a) = a {
            partner[*a] = Some(b);
        }
    }
    partner
}

/// Whether a `patternProperties` regex finds a match in `key`. Supports the subset schemas use
/// in practice: literals, `.`, `.*`, `^` and `$`; anything fancier is treated as matching.
fn pattern_finds(pattern: &str, key: &str) -> bool {
    if pattern
        .chars()
        .any(|c| matches!(c, '[' | '(' | '{' | '+' | '?' | '|' | '\\'))
    {
        return true;
    }
    let anchored = pattern.starts_with('^');
    let body = pattern.trim_start_matches('^');
    let (body, to_end) = match body.strip_suffix('$') {
        Some(b) => (b, true),
        None => (body, false),
    };
    let p: Vec<char> = body.chars().collect();
    let k: Vec<char> = key.chars().collect();
    fn here(p: &[char], k: &[char], to_end: bool) -> bool {
        match p {
            [] => !to_end || k.is_empty(),
            ['.', '*', rest @ ..] => (0..=k.len()).any(|i| here(rest, &k[i..], to_end)),
            [c, rest @ ..] => {
                !k.is_empty() && (*c == '.' || *c == k[0]) && here(rest, &k[1..], to_end)
            }
        }
    }
    if anchored {
        here(&p, &k, to_end)
    } else {
        (0..=k.len()).any(|i| here(&p, &k[i..], to_end))
    }
}
