//! DescribeConfigs: a topic's effective settings (overrides, broker defaults, Kafka defaults) with
//! their sources and synonyms, and the broker's own settings.
//!
//! The broker resource named by this node's id lists every setting; the unnamed broker resource
//! lists cluster-wide dynamic settings, of which Sluice has none. Broker loggers and client
//! metrics subscriptions exist in Kafka but not in Sluice, so they are described as empty.

use std::collections::HashSet;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::config_util::{
    self, ConfigEntry, ConfigError, RESOURCE_BROKER, RESOURCE_BROKER_LOGGER,
    RESOURCE_CLIENT_METRICS, RESOURCE_GROUP, RESOURCE_TOPIC,
};
use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;
use crate::topic_config;

/// What one resource is answered with: its entries, or why not.
type Described = Result<Vec<DescribeConfigsResourceResult>, ConfigError>;

/// How the client asked for entries to be rendered.
struct View<'a> {
    version: i16,
    synonyms: bool,
    documentation: bool,
    keys: Option<HashSet<&'a str>>,
}

impl View<'_> {
    fn wants(&self, name: &str) -> bool {
        self.keys.as_ref().is_none_or(|k| k.contains(name))
    }
}

pub async fn handle(ctx: &Ctx, req: DescribeConfigsRequest) -> Outcome<DescribeConfigsResponse> {
    let mut resp = DescribeConfigsResponse::default();
    // Kafka refuses the whole request when any resource has a type it does not know.
    let known = [
        RESOURCE_TOPIC,
        RESOURCE_BROKER,
        RESOURCE_BROKER_LOGGER,
        RESOURCE_CLIENT_METRICS,
        RESOURCE_GROUP,
    ];
    if req
        .resources
        .iter()
        .any(|r| !known.contains(&r.resource_type))
    {
        let err = ConfigError::invalid_request(config_util::INVALID_REQUEST_MESSAGE);
        resp.results = req
            .resources
            .iter()
            .map(|r| result(r, Err(err.clone())))
            .collect();
        return Outcome::Now(resp);
    }
    for r in &req.resources {
        let view = View {
            version: ctx.api_version,
            synonyms: req.include_synonyms,
            documentation: ctx.api_version >= 3 && req.include_documentation,
            keys: r
                .configuration_keys
                .as_ref()
                .filter(|k| !k.is_empty())
                .map(|k| k.iter().map(|s| &**s).collect()),
        };
        let described = match r.resource_type {
            RESOURCE_TOPIC => describe_topic(ctx, &r.resource_name, &view),
            RESOURCE_BROKER => describe_broker(ctx, &r.resource_name, &view),
            RESOURCE_BROKER_LOGGER => describe_broker_logger(ctx, &r.resource_name),
            RESOURCE_CLIENT_METRICS if r.resource_name.is_empty() => Err(
                ConfigError::invalid_request("Client metrics subscription name must not be empty"),
            ),
            RESOURCE_CLIENT_METRICS => Ok(Vec::new()),
            _ => Err(ConfigError::invalid_request(
                "Unsupported resource type: GROUP",
            )),
        };
        resp.results.push(result(r, described));
    }
    Outcome::Now(resp)
}

fn result(r: &DescribeConfigsResource, described: Described) -> DescribeConfigsResult {
    let mut out = DescribeConfigsResult::default();
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name.clone();
    match described {
        Ok(configs) => out.configs = configs,
        Err(e) => {
            out.error_code = e.code.code();
            // Without a message Kafka leaves the schema's default, an empty string.
            if let Some(m) = e.message {
                out.error_message = Some(str_bytes(m));
            }
        }
    }
    out
}

fn describe_topic(ctx: &Ctx, name: &str, view: &View<'_>) -> Described {
    crate::topics::validate_topic_name(name).map_err(|e| ConfigError::new(e.code, e.message))?;
    let topic = ctx
        .broker
        .topics
        .get(name)
        .ok_or(ConfigError::bare(Code::UnknownTopicOrPartition))?;
    Ok(topic_config::effective(&ctx.broker.config, &topic.configs)
        .into_iter()
        .filter(|c| view.wants(c.name))
        .map(|c| {
            render(
                view,
                ConfigEntry {
                    name: c.name.to_string(),
                    value: Some(c.value),
                    source: c.source,
                    read_only: false,
                    sensitive: false,
                    ty: c.ty as i8,
                    doc: Some(c.doc),
                    synonyms: c
                        .synonyms
                        .into_iter()
                        .map(|(n, v, s)| (n, Some(v), s))
                        .collect(),
                },
            )
        })
        .collect())
}

fn describe_broker(ctx: &Ctx, name: &str, view: &View<'_>) -> Described {
    // The unnamed resource holds cluster-wide dynamic settings; Sluice's settings are all static.
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let node = ctx.broker.config.node_id;
    if config_util::parse_node_id(name, "Broker id")? != node {
        return Err(ConfigError::invalid_request(format!(
            "Unexpected broker id, expected {node} or empty string, but received {name}"
        )));
    }
    Ok(config_util::broker_entries(&ctx.broker.config)
        .into_iter()
        .filter(|e| view.wants(&e.name))
        .map(|e| render(view, e))
        .collect())
}

/// Sluice has no run-time adjustable loggers; a valid request gets an empty list.
fn describe_broker_logger(ctx: &Ctx, name: &str) -> Described {
    if name.is_empty() {
        return Err(ConfigError::invalid_request("Broker id must not be empty"));
    }
    let node = ctx.broker.config.node_id;
    if config_util::parse_node_id(name, "Broker id")? != node {
        return Err(ConfigError::invalid_request(format!(
            "Unexpected broker id, expected {node} but received {name}"
        )));
    }
    Ok(Vec::new())
}

fn render(view: &View<'_>, e: ConfigEntry) -> DescribeConfigsResourceResult {
    let mut out = DescribeConfigsResourceResult::default();
    out.name = str_bytes(e.name);
    out.value = e.value.map(str_bytes);
    out.read_only = e.read_only;
    out.config_source = e.source as i8;
    out.is_sensitive = e.sensitive;
    if view.synonyms {
        out.synonyms = e
            .synonyms
            .into_iter()
            .map(|(name, value, source)| {
                let mut s = DescribeConfigsSynonym::default();
                s.name = str_bytes(name);
                s.value = value.map(str_bytes);
                s.source = source as i8;
                s
            })
            .collect();
    }
    if view.version >= 3 {
        out.config_type = e.ty;
        if view.documentation {
            out.documentation = e.doc.map(str_bytes);
        }
    }
    out
}
