//! DeleteGroups: remove empty groups with their committed offsets (tombstones in
//! `__consumer_offsets`); groups with members answer NON_EMPTY_GROUP.

use futures::FutureExt;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, GroupId};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{Code, NONE};

fn response(results: Vec<(String, i16)>) -> DeleteGroupsResponse {
    let mut resp = DeleteGroupsResponse::default();
    resp.results = results
        .into_iter()
        .map(|(id, code)| {
            let mut r = DeletableGroupResult::default();
            r.group_id = GroupId(str_bytes(id));
            r.error_code = code;
            r
        })
        .collect();
    resp
}

pub async fn handle(ctx: &Ctx, req: DeleteGroupsRequest) -> Outcome<DeleteGroupsResponse> {
    let ids: Vec<String> = req.groups_names.iter().map(|g| g.to_string()).collect();
    let (mut results, flush) = ctx.broker.groups.delete_groups(&ctx.broker, &ids);
    if flush.is_empty() {
        return Outcome::Now(response(results));
    }
    let flusher = ctx.broker.flusher.clone();
    Outcome::Later(
        async move {
            for p in flush {
                if let Err(e) = flusher.flush(p).await {
                    tracing::error!(error = %e, "group deletion fsync failed");
                    for (_, c) in results.iter_mut().filter(|(_, c)| *c == NONE) {
                        *c = Code::CoordinatorNotAvailable.code();
                    }
                }
            }
            response(results)
        }
        .boxed(),
    )
}
