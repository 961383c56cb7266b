//! `sluice schema list|get|register|check|delete`: the schema registry from the command line,
//! over its REST API (Confluent's paths), so it works against Sluice's built-in registry or any
//! Confluent-compatible one.

use anyhow::{bail, Context};
use serde_json::{json, Value};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(clap::Args)]
pub struct RegistryArgs {
    /// Base URL of the schema registry.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8081",
        env = "SLUICE_REGISTRY_URL"
    )]
    registry_url: String,
}

#[derive(clap::Args)]
pub struct SchemaSource {
    /// The schema text.
    #[arg(long, conflicts_with = "file")]
    schema: Option<String>,
    /// A file holding the schema.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// AVRO (default), JSON or PROTOBUF.
    #[arg(long = "type", default_value = "AVRO")]
    schema_type: String,
    /// A schema reference (repeatable), e.g. `com.acme.Address=addresses-value:1`.
    #[arg(long = "reference", value_name = "NAME=SUBJECT:VERSION")]
    references: Vec<String>,
}

/// `NAME=SUBJECT:VERSION` as the REST API's reference object.
fn reference(text: &str) -> anyhow::Result<Value> {
    let parsed = text.split_once('=').and_then(|(name, rest)| {
        let (subject, version) = rest.rsplit_once(':')?;
        Some((name, subject, version.parse::<i32>().ok()?))
    });
    match parsed {
        Some((name, subject, version)) => {
            Ok(json!({ "name": name, "subject": subject, "version": version }))
        }
        None => bail!("--reference {text:?}: expected NAME=SUBJECT:VERSION"),
    }
}

#[derive(clap::Subcommand)]
pub enum SchemaCommand {
    /// List subjects, one per line.
    List {
        #[command(flatten)]
        registry: RegistryArgs,
        /// Only subjects starting with this prefix.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Include soft-deleted subjects.
        #[arg(long)]
        deleted: bool,
    },
    /// Print a subject's version (default latest) as JSON, or with --id the schema with that id.
    Get {
        #[command(flatten)]
        registry: RegistryArgs,
        subject: Option<String>,
        #[arg(long, default_value = "latest")]
        version: String,
        /// A global schema id instead of a subject.
        #[arg(long, conflicts_with = "subject")]
        id: Option<i32>,
    },
    /// Register a schema under a subject and print its id.
    Register {
        #[command(flatten)]
        registry: RegistryArgs,
        subject: String,
        #[command(flatten)]
        source: SchemaSource,
    },
    /// Check a schema against a subject's versions (its compatibility level); exit status 1 if
    /// incompatible, with the reasons.
    Check {
        #[command(flatten)]
        registry: RegistryArgs,
        subject: String,
        #[command(flatten)]
        source: SchemaSource,
        /// Only against this version (default: the versions the compatibility level names).
        #[arg(long)]
        version: Option<String>,
    },
    /// Soft-delete a subject (or one --version); --permanent removes a soft-deleted one for good.
    Delete {
        #[command(flatten)]
        registry: RegistryArgs,
        subject: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        permanent: bool,
    },
}

/// Percent-encodes a path segment (subjects may hold any character).
fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(args: &RegistryArgs) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Client {
            base: args.registry_url.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// Sends a request; a registry error becomes `Err` with its message and error code.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Content-Type", CONTENT_TYPE)
                .send(b.to_string()),
            _ => bail!("unsupported request {method}"),
        };
        let mut response = response.with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let message = value["message"].as_str().unwrap_or("(no message)");
            bail!(
                "{message} (HTTP {status}, error_code {})",
                value["error_code"]
            );
        }
        Ok(value)
    }
}

fn schema_body(source: &SchemaSource) -> anyhow::Result<Value> {
    let text = match (&source.schema, &source.file) {
        (Some(s), _) => s.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, None) => bail!("give the schema with --schema or --file"),
    };
    let mut body = json!({ "schema": text });
    if !source.schema_type.eq_ignore_ascii_case("AVRO") {
        body["schemaType"] = json!(source.schema_type.to_ascii_uppercase());
    }
    if !source.references.is_empty() {
        let refs = source
            .references
            .iter()
            .map(|r| reference(r))
            .collect::<anyhow::Result<Vec<_>>>()?;
        body["references"] = json!(refs);
    }
    Ok(body)
}

pub fn run(cmd: SchemaCommand) -> anyhow::Result<()> {
    match cmd {
        SchemaCommand::List {
            registry,
            prefix,
            deleted,
        } => {
            let c = Client::new(&registry);
            let path = format!("/subjects?subjectPrefix={}&deleted={deleted}", seg(&prefix));
            for s in c.call("GET", &path, None)?.as_array().into_iter().flatten() {
                println!("{}", s.as_str().unwrap_or_default());
            }
        }
        SchemaCommand::Get {
            registry,
            subject,
            version,
            id,
        } => {
            let c = Client::new(&registry);
            let path = match (id, subject) {
                (Some(id), _) => format!("/schemas/ids/{id}"),
                (None, Some(s)) => format!("/subjects/{}/versions/{}", seg(&s), seg(&version)),
                (None, None) => bail!("give a subject or --id"),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&c.call("GET", &path, None)?)?
            );
        }
        SchemaCommand::Register {
            registry,
            subject,
            source,
        } => {
            let c = Client::new(&registry);
            let path = format!("/subjects/{}/versions", seg(&subject));
            let answer = c.call("POST", &path, Some(&schema_body(&source)?))?;
            println!("{}", answer["id"]);
        }
        SchemaCommand::Check {
            registry,
            subject,
            source,
            version,
        } => {
            let c = Client::new(&registry);
            let path = match version {
                Some(v) => format!(
                    "/compatibility/subjects/{}/versions/{}?verbose=true",
                    seg(&subject),
                    seg(&v)
                ),
                None => format!(
                    "/compatibility/subjects/{}/versions?verbose=true",
                    seg(&subject)
                ),
            };
            let answer = c.call("POST", &path, Some(&schema_body(&source)?))?;
            if answer["is_compatible"].as_bool() == Some(true) {
                println!("compatible");
            } else {
                println!("incompatible");
                for m in answer["messages"].as_array().into_iter().flatten() {
                    println!("  {}", m.as_str().unwrap_or_default());
                }
                bail!("schema is incompatible with subject {subject}");
            }
        }
        SchemaCommand::Delete {
            registry,
            subject,
            version,
            permanent,
        } => {
            let c = Client::new(&registry);
            let path = match version {
                Some(v) => format!(
                    "/subjects/{}/versions/{}?permanent={permanent}",
                    seg(&subject),
                    seg(&v)
                ),
                None => format!("/subjects/{}?permanent={permanent}", seg(&subject)),
            };
            println!("{}", c.call("DELETE", &path, None)?);
        }
    }
    Ok(())
}
