//! SyncGroup (classic protocol): the leader hands in assignments, every member gets its own;
//! followers wait for the leader, so their answers are deferred.

use futures::FutureExt;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;
use crate::group::classic::{Reply, SyncInput};
use crate::group::member::SyncResult;

fn response(r: SyncResult, v: i16) -> SyncGroupResponse {
    let mut resp = SyncGroupResponse::default();
    resp.error_code = r.error;
    if v >= 5 {
        resp.protocol_type = r.protocol_type.map(str_bytes);
        resp.protocol_name = r.protocol_name.map(str_bytes);
    }
    resp.assignment = r.assignment;
    resp
}

pub async fn handle(ctx: &Ctx, req: SyncGroupRequest) -> Outcome<SyncGroupResponse> {
    let v = ctx.api_version;
    let input = SyncInput {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        generation: req.generation_id,
        protocol_type: req.protocol_type.map(|s| s.to_string()),
        protocol_name: req.protocol_name.map(|s| s.to_string()),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    match ctx.broker.groups.sync(&ctx.broker, &req.group_id.0, input) {
        Reply::Now(r) => Outcome::Now(response(r, v)),
        Reply::Wait(rx) => Outcome::Later(
            async move {
                let r = rx
                    .await
                    .unwrap_or_else(|_| SyncResult::error(Code::CoordinatorNotAvailable.code()));
                response(r, v)
            }
            .boxed(),
        ),
    }
}
