//! Where broker settings come from, in rising precedence: a TOML file (`--config`), `SLUICE_*`
//! environment variables, then flags. All three use Kafka's setting names, so a Kafka
//! `server.properties` key can be carried over as is.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

/// Reads a TOML file of Kafka-named settings. Both `"log.retention.hours" = 24` and nested
/// tables (`[log.retention] hours = 24`) name the same setting.
pub fn from_toml_file(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut out = BTreeMap::new();
    flatten("", &toml::Value::Table(value), &mut out);
    Ok(out)
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        toml::Value::Array(items) => {
            let joined: Vec<String> = items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.insert(prefix.to_string(), joined.join(","));
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// `SLUICE_LOG_RETENTION_HOURS=24` sets `log.retention.hours`. Variables that configure the CLI
/// or logging rather than the broker are skipped.
pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> BTreeMap<String, String> {
    const NOT_SETTINGS: &[&str] = &["SLUICE_LOG", "SLUICE_BOOTSTRAP", "SLUICE_CONFIG"];
    vars.filter(|(k, _)| k.starts_with("SLUICE_") && !NOT_SETTINGS.contains(&k.as_str()))
        .map(|(k, v)| {
            (
                k["SLUICE_".len()..].to_ascii_lowercase().replace('_', "."),
                v,
            )
        })
        .collect()
}

/// Parses `key=value` flag arguments.
pub fn from_pairs(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("expected key=value, got {p:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_nested_and_quoted_keys_flatten_to_kafka_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "\"num.partitions\" = 3\nlisteners = \"PLAINTEXT://127.0.0.1:1\"\n[log.retention]\nhours = 24\n",
        )
        .unwrap();
        let s = from_toml_file(&path).unwrap();
        assert_eq!(s["num.partitions"], "3");
        assert_eq!(s["log.retention.hours"], "24");
        assert_eq!(s["listeners"], "PLAINTEXT://127.0.0.1:1");
    }

    #[test]
    fn env_vars_map_to_dotted_names() {
        let s = from_env(
            vec![
                ("SLUICE_NUM_PARTITIONS".to_string(), "6".to_string()),
                ("SLUICE_LOG".to_string(), "debug".to_string()),
                ("PATH".to_string(), "/bin".to_string()),
            ]
            .into_iter(),
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s["num.partitions"], "6");
    }
}
