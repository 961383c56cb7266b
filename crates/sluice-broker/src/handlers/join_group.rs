//! JoinGroup (classic protocol): answered when the rebalance completes, so the answer is usually
//! deferred; see [`crate::group::classic`].

use futures::FutureExt;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;
use crate::group::classic::{JoinInput, Reply};
use crate::group::member::JoinResult;

fn response(r: JoinResult, v: i16) -> JoinGroupResponse {
    let mut resp = JoinGroupResponse::default();
    resp.error_code = r.error;
    resp.generation_id = r.generation;
    if v >= 7 {
        resp.protocol_type = r.protocol_type.map(str_bytes);
    }
    // Before v7 the protocol name is not nullable.
    resp.protocol_name = match r.protocol_name {
        Some(n) => Some(str_bytes(n)),
        None if v < 7 => Some(str_bytes("")),
        None => None,
    };
    resp.leader = str_bytes(r.leader);
    resp.skip_assignment = v >= 9 && r.skip_assignment;
    resp.member_id = str_bytes(r.member_id);
    resp.members = r
        .members
        .into_iter()
        .map(|m| {
            let mut jm = JoinGroupResponseMember::default();
            jm.member_id = str_bytes(m.member_id);
            if v >= 5 {
                jm.group_instance_id = m.instance_id.map(str_bytes);
            }
            jm.metadata = m.metadata;
            jm
        })
        .collect();
    resp
}

pub async fn handle(ctx: &Ctx, req: JoinGroupRequest) -> Outcome<JoinGroupResponse> {
    let v = ctx.api_version;
    let input = JoinInput {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if v >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: v >= 4,
        supports_skip_assignment: v >= 9,
    };
    let member_id = input.member_id.clone();
    match ctx.broker.groups.join(&ctx.broker, &req.group_id.0, input) {
        Reply::Now(r) => Outcome::Now(response(r, v)),
        Reply::Wait(rx) => Outcome::Later(
            async move {
                let r = rx.await.unwrap_or_else(|_| {
                    JoinResult::error(Code::CoordinatorNotAvailable.code(), &member_id)
                });
                response(r, v)
            }
            .boxed(),
        ),
    }
}
