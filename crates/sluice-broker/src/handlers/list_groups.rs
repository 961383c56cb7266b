//! ListGroups: every group, optionally filtered by state (v4+) and type (v5+).

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};

pub async fn handle(ctx: &Ctx, req: ListGroupsRequest) -> Outcome<ListGroupsResponse> {
    let v = ctx.api_version;
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_string()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_string()).collect();
    let mut resp = ListGroupsResponse::default();
    resp.groups = ctx
        .broker
        .groups
        .list(&states, &types)
        .into_iter()
        .map(|l| {
            let mut g = ListedGroup::default();
            g.group_id = GroupId(str_bytes(l.group_id));
            g.protocol_type = str_bytes(l.protocol_type);
            if v >= 4 {
                g.group_state = str_bytes(l.state);
            }
            if v >= 5 {
                g.group_type = str_bytes(l.group_type);
            }
            g
        })
        .collect();
    Outcome::Now(resp)
}
