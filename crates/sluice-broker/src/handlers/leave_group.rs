//! LeaveGroup (classic protocol): one member (v0-2) or a batch identified by member or instance
//! id (v3+, KIP-345).

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::dispatch::{Ctx, Outcome};

pub async fn handle(ctx: &Ctx, req: LeaveGroupRequest) -> Outcome<LeaveGroupResponse> {
    let v = ctx.api_version;
    let members: Vec<(String, Option<String>)> = if v < 3 {
        vec![(req.member_id.to_string(), None)]
    } else {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    };
    let mut resp = LeaveGroupResponse::default();
    match ctx
        .broker
        .groups
        .leave(&ctx.broker, &req.group_id.0, &members)
    {
        Err(c) => resp.error_code = c.code(),
        Ok(codes) if v < 3 => {
            resp.error_code = codes
                .first()
                .and_then(|c| c.err())
                .map(|c| c.code())
                .unwrap_or(0)
        }
        Ok(codes) => {
            resp.members = req
                .members
                .into_iter()
                .zip(codes)
                .map(|(m, c)| {
                    let mut r = MemberResponse::default();
                    r.member_id = m.member_id;
                    r.group_instance_id = m.group_instance_id;
                    r.error_code = c.err().map(|c| c.code()).unwrap_or(0);
                    r
                })
                .collect();
        }
    }
    Outcome::Now(resp)
}
