//! AddOffsetsToTxn: the transaction will also commit consumer offsets of a group
//! (TxnOffsetCommit follows).

use futures::FutureExt;
use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::end_txn::fenced_before;
use crate::dispatch::{Ctx, Outcome};

pub async fn handle(ctx: &Ctx, req: AddOffsetsToTxnRequest) -> Outcome<AddOffsetsToTxnResponse> {
    let broker = ctx.broker.clone();
    let version = ctx.api_version;
    Outcome::Later(
        async move {
            let mut resp = AddOffsetsToTxnResponse::default();
            let done = broker
                .txns
                .add_offsets(
                    &broker,
                    &req.transactional_id.0,
                    req.producer_id.0,
                    req.producer_epoch,
                    &req.group_id.0,
                )
                .await;
            if let Err(c) = done {
                resp.error_code = fenced_before(version, 2, c).code();
            }
            resp
        }
        .boxed(),
    )
}
