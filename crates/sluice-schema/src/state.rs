//! The registry's in-memory index, rebuilt from `_schemas` at start-up and kept current by
//! applying each record after it is written. Nothing here does I/O.

use std::collections::{BTreeMap, HashMap};

use crate::config::{Compatibility, Mode};
use crate::store::{ConfigValue, Key, ModeValue, Reference, SchemaValue};
use crate::types::{self, ResolvedReference, SchemaType};

/// What makes two registrations "the same schema": type, canonical form and references.
pub type Identity = (SchemaType, String, Vec<Reference>);

#[derive(Default)]
pub struct State {
    /// subject -> version -> record (soft-deleted ones included, permanently deleted removed).
    pub subjects: BTreeMap<String, BTreeMap<i32, SchemaValue>>,
    /// id -> the record that first used it (its schema text, type and references).
    pub ids: BTreeMap<i32, SchemaValue>,
    pub by_identity: HashMap<Identity, i32>,
    /// The largest id ever handed out (ids are never reused while the log remembers them).
    pub max_id: i32,
    pub global_compat: Option<Compatibility>,
    pub subject_compat: HashMap<String, Compatibility>,
    pub global_mode: Option<Mode>,
    pub subject_mode: HashMap<String, Mode>,
}

impl State {
    /// Applies one `_schemas` record (a `None` value is a tombstone).
    pub fn apply(&mut self, key: &Key, value: Option<&[u8]>) {
        match key {
            Key::Schema {
                subject, version, ..
            } => match value.map(serde_json::from_slice::<SchemaValue>) {
                Some(Ok(v)) => self.put_schema(v),
                Some(Err(e)) => {
                    tracing::warn!(subject, version, error = %e, "skipping a bad schema record")
                }
                None => self.remove_version(subject, *version),
            },
            Key::Config { subject, .. } => {
                let level = value
                    .and_then(|v| serde_json::from_slice::<ConfigValue>(v).ok())
                    .and_then(|c| Compatibility::parse(&c.compatibility_level));
                match subject {
                    None => self.global_compat = level,
                    Some(s) => match level {
                        Some(l) => {
                            self.subject_compat.insert(s.clone(), l);
                        }
                        None => {
                            self.subject_compat.remove(s);
                        }
                    },
                }
            }
            Key::Mode { subject, .. } => {
                let mode = value
                    .and_then(|v| serde_json::from_slice::<ModeValue>(v).ok())
                    .and_then(|m| Mode::parse(&m.mode));
                match subject {
                    None => self.global_mode = mode,
                    Some(s) => match mode {
                        Some(m) => {
                            self.subject_mode.insert(s.clone(), m);
                        }
                        None => {
                            self.subject_mode.remove(s);
                        }
                    },
                }
            }
            // The highest id handed out, written when a permanent delete removes schema records,
            // so compaction of their tombstones can never make an id reusable.
            Key::Noop { .. } => {
                let max = value
                    .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
                    .and_then(|v| v.get("maxId").and_then(serde_json::Value::as_i64));
                if let Some(max) = max.and_then(|m| i32::try_from(m).ok()) {
                    self.max_id = self.max_id.max(max);
                }
            }
            // The per-version records carry the deletion; this one is informational.
            Key::DeleteSubject { .. } => {}
        }
    }

    fn put_schema(&mut self, v: SchemaValue) {
        self.max_id = self.max_id.max(v.id);
        if !self.ids.contains_key(&v.id) {
            let identity = self.identity_of(&v);
            self.by_identity.entry(identity).or_insert(v.id);
            self.ids.insert(v.id, v.clone());
        }
        self.subjects
            .entry(v.subject.clone())
            .or_default()
            .insert(v.version, v);
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return;
        };
        let Some(old) = versions.remove(&version) else {
            return;
        };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        let still_used = self
            .subjects
            .values()
            .flat_map(|vs| vs.values())
            .any(|v| v.id == old.id);
        if !still_used {
            if let Some(rec) = self.ids.remove(&old.id) {
                let identity = self.identity_of(&rec);
                if self.by_identity.get(&identity) == Some(&old.id) {
                    self.by_identity.remove(&identity);
                }
            }
        }
    }

    /// The identity of a stored record; falls back to the raw text if it no longer parses
    /// (e.g. a reference was removed), which still keeps exact re-registrations together.
    pub fn identity_of(&self, v: &SchemaValue) -> Identity {
        let canonical = self
            .resolve_references(&v.references)
            .ok()
            .and_then(|refs| types::parse(v.schema_type(), &v.schema, &refs).ok())
            .map(|p| p.canonical())
            .unwrap_or_else(|| v.schema.clone());
        (v.schema_type(), canonical, v.references.clone())
    }

    /// The referenced schemas, their own references first, each once. The error names a
    /// reference that does not exist (42201).
    pub fn resolve_references(&self, refs: &[Reference]) -> Result<Vec<ResolvedReference>, String> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for r in refs {
            self.resolve_into(r, &mut out, &mut seen, 0)?;
        }
        Ok(out)
    }

    fn resolve_into(
        &self,
        r: &Reference,
        out: &mut Vec<ResolvedReference>,
        seen: &mut Vec<(String, i32)>,
        depth: usize,
    ) -> Result<(), String> {
        if depth > 32 {
            return Err("Invalid schema: references nest too deeply".into());
        }
        let key = (r.subject.clone(), r.version);
        if seen.contains(&key) {
            return Ok(());
        }
        let v = self
            .subjects
            .get(&r.subject)
            .and_then(|vs| {
                if r.version == -1 {
                    vs.values().rev().find(|v| !v.deleted)
                } else {
                    vs.get(&r.version)
                }
            })
            .ok_or_else(|| {
                format!(
                    "Invalid schema: reference '{}' to subject '{}' version {} not found",
                    r.name, r.subject, r.version
                )
            })?;
        seen.push(key);
        for inner in &v.references {
            self.resolve_into(inner, out, seen, depth + 1)?;
        }
        out.push(ResolvedReference {
            name: r.name.clone(),
            subject: r.subject.clone(),
            version: v.version,
            schema: v.schema.clone(),
            schema_type: v.schema_type(),
        });
        Ok(())
    }

    /// A subject's versions that are not soft-deleted, oldest first.
    pub fn live_versions(&self, subject: &str) -> Vec<&SchemaValue> {
        self.subjects
            .get(subject)
            .map(|vs| vs.values().filter(|v| !v.deleted).collect())
            .unwrap_or_default()
    }

    pub fn compatibility(&self, subject: Option<&str>) -> Compatibility {
        subject
            .and_then(|s| self.subject_compat.get(s).copied())
            .or(self.global_compat)
            .unwrap_or(crate::config::DEFAULT_COMPATIBILITY)
    }

    pub fn mode(&self, subject: Option<&str>) -> Mode {
        subject
            .and_then(|s| self.subject_mode.get(s).copied())
            .or(self.global_mode)
            .unwrap_or(Mode::ReadWrite)
    }

    /// Ids of live schema versions that reference `subject` `version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .subjects
            .values()
            .flat_map(|vs| vs.values())
            .filter(|v| !v.deleted)
            .filter(|v| {
                v.references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .map(|v| v.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_key(subject: &str, version: i32) -> Key {
        Key::Schema {
            subject: subject.into(),
            version,
            magic: 1,
        }
    }

    #[test]
    fn replay_keeps_ids_unique_across_deletes_and_compaction() {
        let mut state = State::default();
        let value = br#"{"subject":"s","version":1,"id":5,"schema":"\"int\"","deleted":false}"#;
        state.apply(&schema_key("s", 1), Some(value));
        assert_eq!(state.max_id, 5);
        assert!(state.ids.contains_key(&5));
        state.apply(&schema_key("s", 1), None);
        assert!(state.subjects.is_empty() && state.ids.is_empty() && state.by_identity.is_empty());
        // After compaction only the marker is left of that history.
        let mut compacted = State::default();
        compacted.apply(&Key::Noop { magic: 0 }, Some(br#"{"maxId":5}"#));
        assert_eq!(compacted.max_id, 5);
        // Unreadable values are skipped, not fatal.
        compacted.apply(&schema_key("t", 1), Some(b"not json"));
        compacted.apply(&Key::Noop { magic: 0 }, Some(b"{"));
        assert_eq!(compacted.max_id, 5);
        assert!(compacted.subjects.is_empty());
    }

    #[test]
    fn keys_use_confluents_layout() {
        let key = serde_json::to_string(&schema_key("s", 3)).unwrap();
        assert_eq!(
            key,
            r#"{"keytype":"SCHEMA","subject":"s","version":3,"magic":1}"#
        );
        let config = Key::Config {
            subject: None,
            magic: 0,
        };
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        let parsed: Key =
            serde_json::from_str(r#"{"keytype":"DELETE_SUBJECT","subject":"x","magic":0}"#)
                .unwrap();
        assert!(matches!(parsed, Key::DeleteSubject { .. }));
    }
}
