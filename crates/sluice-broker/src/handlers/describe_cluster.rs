//! DescribeCluster: the cluster id, this broker as the only broker and as the controller Kafka
//! reports to clients.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

/// Kafka's `EndpointType` ids; Sluice serves only broker endpoints.
const ENDPOINT_BROKER: i8 = 1;
const ENDPOINT_CONTROLLER: i8 = 2;

/// Every cluster operation Kafka's ACLs know (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE), all allowed: Sluice has no authorizer.
const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub async fn handle(ctx: &Ctx, req: DescribeClusterRequest) -> Outcome<DescribeClusterResponse> {
    let v = ctx.api_version;
    let mut resp = DescribeClusterResponse::default();
    if req.endpoint_type != ENDPOINT_BROKER {
        let (code, message) = if req.endpoint_type == ENDPOINT_CONTROLLER {
            (
                Code::MismatchedEndpointType,
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
                    .to_string(),
            )
        } else {
            (
                Code::UnsupportedEndpointType,
                format!("Unsupported endpoint type {}", req.endpoint_type),
            )
        };
        // v0 clients do not know the endpoint-type errors.
        resp.error_code = if v == 0 {
            Code::InvalidRequest.code()
        } else {
            code.code()
        };
        resp.error_message = Some(str_bytes(message));
        return Outcome::Now(resp);
    }
    let broker = &ctx.broker;
    let node = broker.config.node_id;
    let (host, port) = broker.advertised();
    let mut b = DescribeClusterBroker::default();
    b.broker_id = BrokerId(node);
    b.host = str_bytes(host);
    b.port = port;
    resp.brokers = vec![b];
    resp.cluster_id = str_bytes(broker.cluster_id.clone());
    resp.controller_id = BrokerId(node);
    if req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = CLUSTER_OPERATIONS;
    }
    if v >= 1 {
        resp.endpoint_type = ENDPOINT_BROKER;
    }
    Outcome::Now(resp)
}
