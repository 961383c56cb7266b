//! InitProducerId for idempotent producers: a fresh producer id, or an epoch bump (KIP-360) for a
//! producer that presents its current id and epoch.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::dispatch::{Ctx, Outcome};
use crate::error::{code, Code};

pub async fn handle(ctx: &Ctx, req: InitProducerIdRequest) -> Outcome<InitProducerIdResponse> {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if req.transactional_id.is_some() {
        // Transactions arrive with the transaction coordinator; until then refuse clearly.
        resp.error_code = code(Code::TransactionalIdAuthorizationFailed);
        return Outcome::Now(resp);
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
