//! EndTxn: commit or abort a producer's open transaction (the transaction coordinator writes the
//! markers before answering). v5 is transactions v2: the epoch is bumped at every end and the
//! answer carries the producer id and epoch to continue with.

use futures::FutureExt;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

/// PRODUCER_FENCED exists from v2 of the transactional APIs (KIP-588); older clients know it as
/// INVALID_PRODUCER_EPOCH.
pub(crate) fn fenced_before(version: i16, since: i16, c: Code) -> Code {
    if c == Code::ProducerFenced && version < since {
        Code::InvalidProducerEpoch
    } else {
        c
    }
}

pub async fn handle(ctx: &Ctx, req: EndTxnRequest) -> Outcome<EndTxnResponse> {
    let broker = ctx.broker.clone();
    let version = ctx.api_version;
    Outcome::Later(
        async move {
            let mut resp = EndTxnResponse::default();
            resp.producer_id = req.producer_id;
            resp.producer_epoch = req.producer_epoch;
            let done = if version >= 5 {
                broker
                    .txns
                    .end_txn_v2(
                        &broker,
                        &req.transactional_id.0,
                        req.producer_id.0,
                        req.producer_epoch,
                        req.committed,
                    )
                    .await
                    .map(|(id, epoch)| {
                        resp.producer_id = kafka_protocol::messages::ProducerId(id);
                        resp.producer_epoch = epoch;
                    })
            } else {
                broker
                    .txns
                    .end_txn(
                        &broker,
                        &req.transactional_id.0,
                        req.producer_id.0,
                        req.producer_epoch,
                        req.committed,
                    )
                    .await
            };
            if let Err(c) = done {
                resp.error_code = fenced_before(version, 2, c).code();
            }
            resp
        }
        .boxed(),
    )
}
