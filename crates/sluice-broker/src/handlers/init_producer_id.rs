//! InitProducerId: for idempotent producers a fresh producer id, or an epoch bump (KIP-360) for a
//! producer that presents its current id and epoch; for transactional producers the transaction
//! coordinator's answer ([`crate::txn`]), which fences older instances of the transactional id.

use futures::FutureExt;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::dispatch::{Ctx, Outcome};
use crate::error::{code, Code};

/// PRODUCER_FENCED exists from InitProducerId v4 (KIP-588); older clients know it as
/// INVALID_PRODUCER_EPOCH.
fn fenced_for(version: i16, c: Code) -> Code {
    if c == Code::ProducerFenced && version < 4 {
        Code::InvalidProducerEpoch
    } else {
        c
    }
}

pub async fn handle(ctx: &Ctx, req: InitProducerIdRequest) -> Outcome<InitProducerIdResponse> {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if let Some(txn_id) = req.transactional_id.as_ref() {
        let broker = ctx.broker.clone();
        let version = ctx.api_version;
        let txn_id = txn_id.0.to_string();
        let expected = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
        let timeout = req.transaction_timeout_ms;
        return Outcome::Later(
            async move {
                match broker
                    .txns
                    .init_producer_id(&broker, &txn_id, timeout, expected)
                    .await
                {
                    Ok((pid, epoch)) => {
                        resp.producer_id = ProducerId(pid);
                        resp.producer_epoch = epoch;
                    }
                    Err(c) => resp.error_code = fenced_for(version, c).code(),
                }
                resp
            }
            .boxed(),
        );
    }
    let bump =
        req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1;
    if bump {
        resp.producer_id = req.producer_id;
        resp.producer_epoch = req.producer_epoch + 1;
        return Outcome::Now(resp);
    }
    match ctx.broker.producer_ids.next_id() {
        Ok(id) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot persist producer id block");
            resp.error_code = code(Code::KafkaStorageError);
        }
    }
    Outcome::Now(resp)
}
