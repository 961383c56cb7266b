//! The registry's operations: register, look up, check, delete, configure. Each write goes to
//! `_schemas` first and is applied to the in-memory [`State`] only once it is on disk, under one
//! lock, so the index always matches the log and concurrent registrations get distinct ids.

use std::sync::Arc;

use serde_json::{json, Value};
use sluice_broker::Broker;
use tokio::sync::Mutex;

use crate::config::{Compatibility, Mode};
use crate::error::RegistryError;
use crate::state::State;
use crate::store::{
    Change, ConfigValue, DeleteSubjectValue, Key, ModeValue, Reference, SchemaValue, Store,
};
use crate::types::{self, ParsedSchema, SchemaType};

/// A registration or lookup request body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRequest {
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Option<Vec<Reference>>,
    /// IMPORT mode only: the id and version to register under.
    #[serde(default)]
    pub id: Option<i32>,
    #[serde(default)]
    pub version: Option<i32>,
}

/// A version selector from a URL: a number or `latest` (`-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSel {
    Latest,
    Number(i32),
}

impl VersionSel {
    pub fn parse(s: &str) -> Result<VersionSel, RegistryError> {
        if s.eq_ignore_ascii_case("latest") {
            return Ok(VersionSel::Latest);
        }
        match s.parse::<i32>() {
            Ok(-1) => Ok(VersionSel::Latest),
            Ok(n) if n >= 1 => Ok(VersionSel::Number(n)),
            _ => Err(RegistryError::InvalidVersion(s.to_string())),
        }
    }
}

pub struct Registry {
    state: Mutex<State>,
    store: Store,
    /// Set when `_schemas` could not be replayed: every request then answers 50001 rather than
    /// serving (and handing out ids from) an incomplete index.
    broken: Option<String>,
}

/// The JSON answer for one version of a subject.
pub fn version_json(v: &SchemaValue) -> Value {
    let mut out = json!({
        "subject": v.subject,
        "version": v.version,
        "id": v.id,
        "schema": v.schema,
    });
    add_type_and_refs(&mut out, v);
    out
}

fn add_type_and_refs(out: &mut Value, v: &SchemaValue) {
    if v.schema_type() != SchemaType::Avro {
        out["schemaType"] = json!(v.schema_type().as_str());
    }
    if !v.references.is_empty() {
        out["references"] = json!(v.references);
    }
}

fn schema_type_of(req: &SchemaRequest) -> Result<SchemaType, RegistryError> {
    match &req.schema_type {
        None => Ok(SchemaType::Avro),
        Some(t) => SchemaType::from_name(t)
            .ok_or_else(|| RegistryError::InvalidSchema(format!("Invalid schema type {t}"))),
    }
}

impl Registry {
    /// Opens the registry, replaying `_schemas` into memory.
    pub fn open(broker: Arc<Broker>) -> Registry {
        let store = Store::new(broker);
        store.check_topic();
        let mut state = State::default();
        let broken = match store.load() {
            Ok(records) => {
                for (key, value) in &records {
                    state.apply(key, value.as_deref());
                }
                tracing::info!(
                    subjects = state.subjects.len(),
                    schemas = state.ids.len(),
                    "schema registry loaded"
                );
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot replay _schemas; the registry will refuse requests");
                Some(e.to_string())
            }
        };
        Registry {
            state: Mutex::new(state),
            store,
            broken,
        }
    }

    async fn lock(&self) -> Result<tokio::sync::MutexGuard<'_, State>, RegistryError> {
        if let Some(e) = &self.broken {
            return Err(RegistryError::Store(e.clone()));
        }
        Ok(self.state.lock().await)
    }

    /// Writes `changes` durably, then applies them.
    async fn commit(&self, state: &mut State, changes: Vec<Change>) -> Result<(), RegistryError> {
        self.store.write(&changes).await?;
        for (key, value) in &changes {
            let bytes = value.as_ref().map(|v| v.to_string().into_bytes());
            state.apply(key, bytes.as_deref());
        }
        Ok(())
    }

    fn parse_request(
        state: &State,
        req: &SchemaRequest,
    ) -> Result<(SchemaType, String, Vec<Reference>, ParsedSchema), RegistryError> {
        let ty = schema_type_of(req)?;
        let text = match &req.schema {
            Some(s) if !s.trim().is_empty() => s.clone(),
            _ => return Err(RegistryError::InvalidSchema("Empty schema".into())),
        };
        let refs = req.references.clone().unwrap_or_default();
        let resolved = state
            .resolve_references(&refs)
            .map_err(RegistryError::InvalidSchema)?;
        let parsed = types::parse(ty, &text, &resolved).map_err(RegistryError::InvalidSchema)?;
        Ok((ty, text, refs, parsed))
    }

    /// Parses a stored record (for compatibility checks against it).
    fn parse_stored(state: &State, v: &SchemaValue) -> Result<ParsedSchema, RegistryError> {
        let refs = state
            .resolve_references(&v.references)
            .map_err(RegistryError::Store)?;
        types::parse(v.schema_type(), &v.schema, &refs).map_err(|e| {
            RegistryError::Store(format!(
                "stored schema {} version {} no longer parses: {e}",
                v.subject, v.version
            ))
        })
    }

    /// The reasons `new` is incompatible with `old` under `level` (empty: compatible).
    fn check_one(
        state: &State,
        level: Compatibility,
        new: &ParsedSchema,
        old: &SchemaValue,
    ) -> Result<Vec<String>, RegistryError> {
        let old_parsed = Self::parse_stored(state, old)?;
        // Format checkers speak of reader and writer; say which of the two is the new schema.
        let mut reasons = Vec::new();
        if level.backward() {
            reasons.extend(types::check(new, &old_parsed).into_iter().map(|r| {
                r.replace("reader schema", "new schema")
                    .replace("writer schema", "old schema")
            }));
        }
        if level.forward() {
            reasons.extend(types::check(&old_parsed, new).into_iter().map(|r| {
                r.replace("reader schema", "old schema")
                    .replace("writer schema", "new schema")
            }));
        }
        if !reasons.is_empty() {
            reasons.push(format!("{{oldSchemaVersion: {}}}", old.version));
            reasons.push(format!("{{oldSchema: '{}'}}", old.schema));
            reasons.push(format!(
                "{{validateFields: 'false', compatibility: '{}'}}",
                level.as_str()
            ));
        }
        Ok(reasons)
    }

    /// Checks `new` against the versions `level` asks for (newest first); the reasons of the
    /// first incompatible version.
    fn check_level(
        state: &State,
        subject: &str,
        level: Compatibility,
        new: &ParsedSchema,
    ) -> Result<Vec<String>, RegistryError> {
        if level == Compatibility::None {
            return Ok(vec![]);
        }
        let live = state.live_versions(subject);
        let olds: Vec<&SchemaValue> = if level.transitive() {
            live.into_iter().rev().collect()
        } else {
            live.last().copied().into_iter().collect()
        };
        for old in olds {
            let reasons = Self::check_one(state, level, new, old)?;
            if !reasons.is_empty() {
                return Ok(reasons);
            }
        }
        Ok(vec![])
    }

    /// `POST /subjects/{subject}/versions`: the id of the schema, registering it if new.
    pub async fn register(
        &self,
        subject: &str,
        req: SchemaRequest,
    ) -> Result<Value, RegistryError> {
        let mut state = self.lock().await?;
        let mode = state.mode(Some(subject));
        if mode == Mode::ReadOnly {
            return Err(RegistryError::OperationNotPermitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        if req.id.is_some_and(|id| id >= 0) && mode != Mode::Import {
            return Err(RegistryError::OperationNotPermitted(format!(
                "Subject {subject} is not in import mode"
            )));
        }
        let (ty, text, refs, parsed) = Self::parse_request(&state, &req)?;
        let identity = (ty, parsed.canonical(), refs.clone());
        let existing_id = state.by_identity.get(&identity).copied();
        if let Some(id) = existing_id {
            if let Some(v) = state
                .live_versions(subject)
                .into_iter()
                .find(|v| v.id == id)
            {
                return Ok(json!({ "id": v.id }));
            }
        }
        let import = mode == Mode::Import;
        let id = match (import, req.id.filter(|id| *id >= 0)) {
            (true, Some(id)) => {
                if let Some(other) = state.ids.get(&id) {
                    if state.identity_of(other) != identity {
                        return Err(RegistryError::OperationNotPermitted(format!(
                            "Overwrite new schema with id {id} is not permitted."
                        )));
                    }
                }
                id
            }
            _ => match existing_id {
                Some(id) => id,
                None => state
                    .max_id
                    .checked_add(1)
                    .ok_or_else(|| RegistryError::Store("no schema ids are left".into()))?,
            },
        };
        if !import {
            let level = state.compatibility(Some(subject));
            let reasons = Self::check_level(&state, subject, level, &parsed)?;
            if !reasons.is_empty() {
                return Err(RegistryError::Incompatible(format!(
                    "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                    reasons.join(", ")
                )));
            }
        }
        let next_version = state
            .subjects
            .get(subject)
            .and_then(|vs| vs.keys().next_back().copied())
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| {
                RegistryError::OperationNotPermitted(format!(
                    "Subject {subject} has no versions left"
                ))
            })?;
        let version = match (import, req.version.filter(|v| *v >= 1)) {
            (true, Some(v)) => {
                if state
                    .subjects
                    .get(subject)
                    .is_some_and(|vs| vs.contains_key(&v))
                {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "Overwrite new schema with version {v} of subject {subject} is not permitted."
                    )));
                }
                v
            }
            _ => next_version,
        };
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: Some(ty),
            references: refs,
            schema: text,
            deleted: false,
        };
        let key = Key::Schema {
            subject: subject.to_string(),
            version,
            magic: 1,
        };
        let json_value =
            serde_json::to_value(&value).map_err(|e| RegistryError::Store(e.to_string()))?;
        self.commit(&mut state, vec![(key, Some(json_value))])
            .await?;
        tracing::info!(subject, version, id, "registered schema");
        Ok(json!({ "id": id }))
    }

    /// `POST /subjects/{subject}`: the version of `subject` holding this schema.
    pub async fn lookup(
        &self,
        subject: &str,
        req: SchemaRequest,
        deleted: bool,
    ) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let versions = state
            .subjects
            .get(subject)
            .filter(|vs| deleted || vs.values().any(|v| !v.deleted))
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        let (ty, _, refs, parsed) = Self::parse_request(&state, &req)?;
        let identity = (ty, parsed.canonical(), refs);
        let id = state.by_identity.get(&identity).copied();
        let found = versions
            .values()
            .rev()
            .filter(|v| deleted || !v.deleted)
            .find(|v| Some(v.id) == id)
            .ok_or_else(|| RegistryError::SchemaNotFound("Schema not found".into()))?;
        Ok(version_json(found))
    }

    /// `POST /compatibility/subjects/{subject}/versions[/{version}]`.
    pub async fn test_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSel>,
        req: SchemaRequest,
        verbose: bool,
    ) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let (_, _, _, parsed) = Self::parse_request(&state, &req)?;
        let level = state.compatibility(Some(subject));
        let reasons = match version {
            None => Self::check_level(&state, subject, level, &parsed)?,
            Some(sel) => {
                let old = Self::find_version(&state, subject, sel, false)?;
                if level == Compatibility::None {
                    vec![]
                } else {
                    Self::check_one(&state, level, &parsed, old)?
                }
            }
        };
        let mut out = json!({ "is_compatible": reasons.is_empty() });
        if verbose {
            out["messages"] = json!(reasons);
        }
        Ok(out)
    }

    fn find_version<'s>(
        state: &'s State,
        subject: &str,
        sel: VersionSel,
        deleted: bool,
    ) -> Result<&'s SchemaValue, RegistryError> {
        let versions = state
            .subjects
            .get(subject)
            .filter(|vs| deleted || vs.values().any(|v| !v.deleted))
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        let found = match sel {
            VersionSel::Latest => versions.values().rev().find(|v| deleted || !v.deleted),
            VersionSel::Number(n) => versions.get(&n).filter(|v| deleted || !v.deleted),
        };
        found.ok_or_else(|| {
            RegistryError::VersionNotFound(match sel {
                VersionSel::Latest => "latest".into(),
                VersionSel::Number(n) => n.to_string(),
            })
        })
    }

    /// `GET /subjects/{subject}/versions/{version}`.
    pub async fn get_version(
        &self,
        subject: &str,
        sel: VersionSel,
        deleted: bool,
    ) -> Result<SchemaValue, RegistryError> {
        let state = self.lock().await?;
        Self::find_version(&state, subject, sel, deleted).cloned()
    }

    /// `GET /subjects/{subject}/versions`.
    pub async fn list_versions(
        &self,
        subject: &str,
        deleted: bool,
    ) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let versions: Vec<i32> = state
            .subjects
            .get(subject)
            .map(|vs| {
                vs.values()
                    .filter(|v| deleted || !v.deleted)
                    .map(|v| v.version)
                    .collect()
            })
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        Ok(json!(versions))
    }

    /// `GET /subjects`.
    pub async fn list_subjects(&self, prefix: &str, deleted: bool) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let subjects: Vec<&String> = state
            .subjects
            .iter()
            .filter(|(s, vs)| s.starts_with(prefix) && vs.values().any(|v| deleted || !v.deleted))
            .map(|(s, _)| s)
            .collect();
        Ok(json!(subjects))
    }

    /// `GET /schemas`: every (latest) version, filtered.
    pub async fn list_schemas(
        &self,
        prefix: &str,
        deleted: bool,
        latest_only: bool,
    ) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let mut out = Vec::new();
        for (subject, versions) in &state.subjects {
            if !subject.starts_with(prefix) {
                continue;
            }
            let live: Vec<&SchemaValue> = versions
                .values()
                .filter(|v| deleted || !v.deleted)
                .collect();
            if latest_only {
                out.extend(live.last().map(|v| version_json(v)));
            } else {
                out.extend(live.iter().map(|v| version_json(v)));
            }
        }
        Ok(json!(out))
    }

    /// `GET /schemas/ids/{id}`: the schema record that owns the id.
    pub async fn schema_by_id(&self, id: i32) -> Result<SchemaValue, RegistryError> {
        let state = self.lock().await?;
        state
            .ids
            .get(&id)
            .cloned()
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema {id} not found")))
    }

    /// `GET /schemas/ids/{id}/versions`: (subject, version) pairs using the id.
    pub async fn id_versions(
        &self,
        id: i32,
        deleted: bool,
    ) -> Result<Vec<(String, i32)>, RegistryError> {
        let state = self.lock().await?;
        if !state.ids.contains_key(&id) {
            return Err(RegistryError::SchemaNotFound(format!(
                "Schema {id} not found"
            )));
        }
        Ok(state
            .subjects
            .values()
            .flat_map(|vs| vs.values())
            .filter(|v| v.id == id && (deleted || !v.deleted))
            .map(|v| (v.subject.clone(), v.version))
            .collect())
    }

    /// `GET /subjects/{subject}/versions/{version}/referencedby`.
    pub async fn referenced_by(
        &self,
        subject: &str,
        sel: VersionSel,
    ) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let v = Self::find_version(&state, subject, sel, false)?;
        Ok(json!(state.referenced_by(subject, v.version)))
    }

    /// A record of the highest id handed out (see `State::apply`), written with permanent deletes.
    fn max_id_marker(state: &State) -> Change {
        (
            Key::Noop { magic: 0 },
            Some(json!({ "maxId": state.max_id })),
        )
    }

    fn reference_error(subject: &str, version: i32) -> RegistryError {
        RegistryError::ReferenceExists(format!(
            "One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}."
        ))
    }

    fn check_writable(state: &State, subject: &str) -> Result<(), RegistryError> {
        if state.mode(Some(subject)) == Mode::ReadOnly {
            return Err(RegistryError::OperationNotPermitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        Ok(())
    }

    /// `DELETE /subjects/{subject}/versions/{version}`.
    pub async fn delete_version(
        &self,
        subject: &str,
        sel: VersionSel,
        permanent: bool,
    ) -> Result<Value, RegistryError> {
        let mut state = self.lock().await?;
        Self::check_writable(&state, subject)?;
        let versions = state
            .subjects
            .get(subject)
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        let v = match sel {
            VersionSel::Latest if permanent => versions.values().next_back(),
            VersionSel::Latest => versions.values().rev().find(|v| !v.deleted),
            VersionSel::Number(n) => versions.get(&n),
        }
        .cloned()
        .ok_or_else(|| {
            RegistryError::VersionNotFound(match sel {
                VersionSel::Latest => "latest".into(),
                VersionSel::Number(n) => n.to_string(),
            })
        })?;
        if !permanent && v.deleted {
            return Err(RegistryError::VersionSoftDeleted(subject.into(), v.version));
        }
        if permanent && !v.deleted {
            return Err(RegistryError::VersionNotSoftDeleted(
                subject.into(),
                v.version,
            ));
        }
        if !state.referenced_by(subject, v.version).is_empty() {
            return Err(Self::reference_error(subject, v.version));
        }
        let key = Key::Schema {
            subject: subject.to_string(),
            version: v.version,
            magic: 1,
        };
        let mut changes = Vec::new();
        if permanent {
            changes.push(Self::max_id_marker(&state));
        }
        let value = if permanent {
            None
        } else {
            let mut d = v.clone();
            d.deleted = true;
            Some(serde_json::to_value(&d).map_err(|e| RegistryError::Store(e.to_string()))?)
        };
        changes.push((key, value));
        self.commit(&mut state, changes).await?;
        Ok(json!(v.version))
    }

    /// `DELETE /subjects/{subject}`: soft-deletes every version, or with `permanent` removes a
    /// soft-deleted subject for good.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Value, RegistryError> {
        let mut state = self.lock().await?;
        Self::check_writable(&state, subject)?;
        let versions: Vec<SchemaValue> = state
            .subjects
            .get(subject)
            .map(|vs| vs.values().cloned().collect())
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let live: Vec<&SchemaValue> = versions.iter().filter(|v| !v.deleted).collect();
        if !permanent && live.is_empty() {
            return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
        }
        if permanent && !live.is_empty() {
            return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
        }
        for v in &versions {
            if !state.referenced_by(subject, v.version).is_empty() {
                return Err(Self::reference_error(subject, v.version));
            }
        }
        let mut changes = Vec::new();
        let deleted: Vec<i32>;
        if permanent {
            changes.push(Self::max_id_marker(&state));
            deleted = versions.iter().map(|v| v.version).collect();
            for v in &versions {
                changes.push((
                    Key::Schema {
                        subject: subject.into(),
                        version: v.version,
                        magic: 1,
                    },
                    None,
                ));
            }
        } else {
            deleted = live.iter().map(|v| v.version).collect();
            let latest = deleted.last().copied().unwrap_or(0);
            changes.push((
                Key::DeleteSubject {
                    subject: subject.into(),
                    magic: 0,
                },
                Some(json!(DeleteSubjectValue {
                    subject: subject.into(),
                    version: latest
                })),
            ));
            for v in live {
                let mut d = v.clone();
                d.deleted = true;
                changes.push((
                    Key::Schema {
                        subject: subject.into(),
                        version: v.version,
                        magic: 1,
                    },
                    Some(
                        serde_json::to_value(&d)
                            .map_err(|e| RegistryError::Store(e.to_string()))?,
                    ),
                ));
            }
        }
        // Like Confluent, deleting a subject also drops its own compatibility level and mode.
        if state.subject_compat.contains_key(subject) {
            changes.push((
                Key::Config {
                    subject: Some(subject.into()),
                    magic: 0,
                },
                None,
            ));
        }
        if state.subject_mode.contains_key(subject) {
            changes.push((
                Key::Mode {
                    subject: Some(subject.into()),
                    magic: 0,
                },
                None,
            ));
        }
        self.commit(&mut state, changes).await?;
        tracing::info!(subject, permanent, "deleted subject");
        Ok(json!(deleted))
    }

    /// `GET /config[/{subject}]`.
    pub async fn get_config(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let level = match subject {
            None => state.compatibility(None),
            Some(s) => match state.subject_compat.get(s) {
                Some(l) => *l,
                None if default_to_global => state.compatibility(None),
                None => return Err(RegistryError::SubjectCompatibilityNotConfigured(s.into())),
            },
        };
        Ok(json!({ "compatibilityLevel": level.as_str() }))
    }

    /// `PUT /config[/{subject}]`.
    pub async fn set_config(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<Value, RegistryError> {
        let level = Compatibility::parse(level).ok_or(RegistryError::InvalidCompatibilityLevel)?;
        let mut state = self.lock().await?;
        if let Some(s) = subject {
            Self::check_writable(&state, s)?;
        }
        let key = Key::Config {
            subject: subject.map(String::from),
            magic: 0,
        };
        let value = json!(ConfigValue {
            compatibility_level: level.as_str().into()
        });
        self.commit(&mut state, vec![(key, Some(value))]).await?;
        Ok(json!({ "compatibility": level.as_str() }))
    }

    /// `DELETE /config[/{subject}]`: back to the global level (or the default); returns the old one.
    pub async fn delete_config(&self, subject: Option<&str>) -> Result<Value, RegistryError> {
        let mut state = self.lock().await?;
        let old = match subject {
            None => state.compatibility(None),
            Some(s) => {
                if !state.subjects.contains_key(s) && !state.subject_compat.contains_key(s) {
                    return Err(RegistryError::SubjectNotFound(s.into()));
                }
                state.compatibility(Some(s))
            }
        };
        let key = Key::Config {
            subject: subject.map(String::from),
            magic: 0,
        };
        self.commit(&mut state, vec![(key, None)]).await?;
        Ok(json!({ "compatibilityLevel": old.as_str() }))
    }

    /// `GET /mode[/{subject}]`.
    pub async fn get_mode(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<Value, RegistryError> {
        let state = self.lock().await?;
        let mode = match subject {
            None => state.mode(None),
            Some(s) => match state.subject_mode.get(s) {
                Some(m) => *m,
                None if default_to_global => state.mode(None),
                None => return Err(RegistryError::SubjectModeNotConfigured(s.into())),
            },
        };
        Ok(json!({ "mode": mode.as_str() }))
    }

    /// `PUT /mode[/{subject}]`. IMPORT needs an empty registry (or subject) unless `force`.
    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: &str,
        force: bool,
    ) -> Result<Value, RegistryError> {
        let mode = Mode::parse(mode).ok_or(RegistryError::InvalidMode)?;
        let mut state = self.lock().await?;
        if mode == Mode::Import && !force {
            let has_schemas = match subject {
                None => !state.subjects.is_empty(),
                Some(s) => state.subjects.contains_key(s),
            };
            if has_schemas {
                return Err(RegistryError::OperationNotPermitted(
                    "Cannot import since found an existing subject".into(),
                ));
            }
        }
        let key = Key::Mode {
            subject: subject.map(String::from),
            magic: 0,
        };
        let value = json!(ModeValue {
            mode: mode.as_str().into()
        });
        self.commit(&mut state, vec![(key, Some(value))]).await?;
        Ok(json!({ "mode": mode.as_str() }))
    }

    /// `DELETE /mode/{subject}`: returns the mode it had.
    pub async fn delete_mode(&self, subject: &str) -> Result<Value, RegistryError> {
        let mut state = self.lock().await?;
        if !state.subjects.contains_key(subject) && !state.subject_mode.contains_key(subject) {
            return Err(RegistryError::SubjectNotFound(subject.into()));
        }
        let old = state.mode(Some(subject));
        let key = Key::Mode {
            subject: Some(subject.into()),
            magic: 0,
        };
        self.commit(&mut state, vec![(key, None)]).await?;
        Ok(json!({ "mode": old.as_str() }))
    }
}
