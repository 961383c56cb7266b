//! IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT on single settings, leaving the
//! others as they are.
//!
//! Topic resources are changed as Kafka's controller changes them. Broker settings are fixed at
//! start-up in Sluice, and Sluice has no run-time adjustable loggers; both are answered with the
//! errors Kafka gives for settings and loggers it cannot change.

use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::config_util::{
    self, ConfigError, IncrementalOp, OP_APPEND, OP_DELETE, OP_SET, OP_SUBTRACT, RESOURCE_BROKER,
    RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC,
};
use crate::dispatch::{Ctx, Outcome};

pub async fn handle(
    ctx: &Ctx,
    req: IncrementalAlterConfigsRequest,
) -> Outcome<IncrementalAlterConfigsResponse> {
    let mut resp = IncrementalAlterConfigsResponse::default();
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
    config_util::check_entries(r.configs.iter().map(|c| {
        (
            &*c.name,
            c.config_operation != OP_DELETE && c.value.is_none(),
        )
    }))?;
    let ops: Vec<IncrementalOp<'_>> = r
        .configs
        .iter()
        .map(|c| IncrementalOp {
            name: &c.name,
            op: c.config_operation,
            value: c.value.as_deref(),
        })
        .collect();
    let node = ctx.broker.config.node_id;
    match r.resource_type {
        RESOURCE_TOPIC => config_util::alter_topic_configs(
            &ctx.broker,
            &r.resource_name,
            validate_only,
            |current| config_util::apply_topic_ops(current, &ops),
        ),
        RESOURCE_BROKER => config_util::alter_broker_incrementally(node, &r.resource_name, &ops),
        RESOURCE_BROKER_LOGGER => alter_loggers(node, &r.resource_name, &ops),
        other => Err(ConfigError::invalid_request(format!(
            "Unknown resource type {other}"
        ))),
    }
}

/// Kafka checks every logger operation before applying any. Sluice has no loggers to adjust,
/// so the first operation always fails: SET and DELETE name a logger that does not exist.
fn alter_loggers(node: i32, name: &str, ops: &[IncrementalOp<'_>]) -> Result<(), ConfigError> {
    if config_util::parse_node_id(name, "Node id")? != node {
        // Kafka's message names its own id twice here; kept for fidelity.
        return Err(ConfigError::invalid_request(format!(
            "Unexpected node id. Expected {node}, but received {node}"
        )));
    }
    let Some(op) = ops.first() else {
        return Ok(());
    };
    Err(match op.op {
        OP_SET | OP_DELETE => {
            ConfigError::invalid_config(format!("Logger {} does not exist!", op.name))
        }
        OP_APPEND => ConfigError::invalid_request(
            "APPEND operation is not allowed for the BROKER_LOGGER resource",
        ),
        OP_SUBTRACT => ConfigError::invalid_request(
            "SUBTRACT operation is not allowed for the BROKER_LOGGER resource",
        ),
        other => ConfigError::invalid_request(format!(
            "Unknown operation type {other} is not allowed for the BROKER_LOGGER resource"
        )),
    })
}
