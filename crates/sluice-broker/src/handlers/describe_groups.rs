//! DescribeGroups: state, protocol and members of classic groups. Unknown groups (and KIP-848
//! groups, described by ConsumerGroupDescribe) read as Dead, with GROUP_ID_NOT_FOUND from v6.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};

pub async fn handle(ctx: &Ctx, req: DescribeGroupsRequest) -> Outcome<DescribeGroupsResponse> {
    let v = ctx.api_version;
    let mut resp = DescribeGroupsResponse::default();
    resp.groups = req
        .groups
        .into_iter()
        .map(|id| {
            let mut g = DescribedGroup::default();
            match ctx.broker.groups.describe_classic(&id) {
                Ok(d) => {
                    g.group_state = str_bytes(d.state);
                    g.protocol_type = str_bytes(d.protocol_type);
                    g.protocol_data = str_bytes(d.protocol);
                    g.members = d
                        .members
                        .into_iter()
                        .map(|m| {
                            let mut dm = DescribedGroupMember::default();
                            dm.member_id = str_bytes(m.member_id);
                            if v >= 4 {
                                dm.group_instance_id = m.instance_id.map(str_bytes);
                            }
                            dm.client_id = str_bytes(m.client_id);
                            dm.client_host = str_bytes(m.client_host);
                            dm.member_metadata = m.metadata;
                            dm.member_assignment = m.assignment;
                            dm
                        })
                        .collect();
                }
                Err(c) => {
                    g.group_state = str_bytes("Dead");
                    if v >= 6 {
                        g.error_code = c.code();
                        g.error_message =
                            Some(str_bytes(format!("Group {} not found.", id.as_str())));
                    }
                }
            }
            g.group_id = id;
            g
        })
        .collect();
    Outcome::Now(resp)
}
