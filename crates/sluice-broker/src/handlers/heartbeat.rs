//! Heartbeat (classic protocol): keeps a member's session alive and tells it when to rejoin.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::dispatch::{Ctx, Outcome};

pub async fn handle(ctx: &Ctx, req: HeartbeatRequest) -> Outcome<HeartbeatResponse> {
    let code = ctx.broker.groups.heartbeat(
        &req.group_id.0,
        &req.member_id,
        req.group_instance_id.as_deref(),
        req.generation_id,
    );
    let mut resp = HeartbeatResponse::default();
    resp.error_code = code.err().map(|c| c.code()).unwrap_or(0);
    Outcome::Now(resp)
}
