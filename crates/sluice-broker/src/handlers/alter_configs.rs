//! AlterConfigs (the legacy API): replaces a resource's whole override set. Settings a request
//! leaves out return to their defaults.
//!
//! Topic resources are checked and stored as Kafka's controller does; broker settings are fixed
//! at start-up in Sluice, so a change to them is refused the way Kafka refuses a static setting.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::config_util::{self, ConfigError, RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::dispatch::{Ctx, Outcome};

pub async fn handle(ctx: &Ctx, req: AlterConfigsRequest) -> Outcome<AlterConfigsResponse> {
    let mut resp = AlterConfigsResponse::default();
    resp.responses = config_util::per_resource(
        &req.resources,
        |r| (r.resource_type, &r.resource_name),
        |r| alter(ctx, r, req.validate_only),
        |r, error_code, error_message| {
            let mut out = AlterConfigsResourceResponse::default();
            out.resource_type = r.resource_type;
            out.resource_name = r.resource_name.clone();
            out.error_code = error_code;
            out.error_message = error_message;
            out
        },
    );
    Outcome::Now(resp)
}

fn alter(ctx: &Ctx, r: &AlterConfigsResource, validate_only: bool) -> Result<(), ConfigError> {
    config_util::check_entries(r.configs.iter().map(|c| (&*c.name, c.value.is_none())))?;
    match r.resource_type {
        RESOURCE_TOPIC => {
            let new: BTreeMap<String, String> = r
                .configs
                .iter()
                .filter_map(|c| {
                    c.value
                        .as_ref()
                        .map(|v| (c.name.to_string(), v.to_string()))
                })
                .collect();
            config_util::alter_topic_configs(&ctx.broker, &r.resource_name, validate_only, |_| {
                Ok(new)
            })
        }
        RESOURCE_BROKER => {
            let names: Vec<&str> = r.configs.iter().map(|c| &*c.name).collect();
            config_util::refuse_broker_changes(ctx.broker.config.node_id, &r.resource_name, &names)
        }
        other => Err(ConfigError::invalid_request(format!(
            "Unknown resource type {other}"
        ))),
    }
}
