//! FindCoordinator: this node coordinates every group and transactional id. Batched keys (v4+)
//! get one answer each.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

/// Group (0) and transaction (1) coordinators live on this node; share groups (2) do not exist here.
fn key_error(key_type: i8) -> Option<Code> {
    match key_type {
        0 | 1 => None,
        _ => Some(Code::InvalidRequest),
    }
}

pub async fn handle(ctx: &Ctx, req: FindCoordinatorRequest) -> Outcome<FindCoordinatorResponse> {
    let v = ctx.api_version;
    let (host, port) = ctx.broker.advertised();
    let node = BrokerId(ctx.broker.config.node_id);
    let error = key_error(req.key_type);
    let ok = error.is_none();
    let error_code = error.map(|c| c.code()).unwrap_or(0);
    let mut resp = FindCoordinatorResponse::default();
    if v < 4 {
        resp.error_code = error_code;
        if v >= 1 && !ok {
            resp.error_message = Some(str_bytes(error.map(|c| c.to_string()).unwrap_or_default()));
        }
        resp.node_id = if ok { node } else { BrokerId(-1) };
        resp.host = str_bytes(if ok { host } else { String::new() });
        resp.port = if ok { port } else { -1 };
        return Outcome::Now(resp);
    }
    resp.coordinators = req
        .coordinator_keys
        .into_iter()
        .map(|key| {
            let mut c = Coordinator::default();
            c.key = key;
            c.error_code = error_code;
            if ok {
                c.node_id = node;
                c.host = str_bytes(host.clone());
                c.port = port;
            } else {
                c.node_id = BrokerId(-1);
                c.port = -1;
                c.error_message = Some(str_bytes(error.map(|c| c.to_string()).unwrap_or_default()));
            }
            c
        })
        .collect();
    Outcome::Now(resp)
}
