//! ListTransactions: every transactional id with its producer and state, filtered by state
//! names, producer ids and (v1, KIP-994) how long the transaction has been running. Unknown
//! state names come back in `unknown_state_filters`, as Kafka answers.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::str_bytes;
use crate::background::now_ms;
use crate::dispatch::{Ctx, Outcome};
use crate::txn::state::TxnState;

const STATES: [TxnState; 8] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::Dead,
    TxnState::PrepareEpochFence,
];

pub async fn handle(ctx: &Ctx, req: ListTransactionsRequest) -> Outcome<ListTransactionsResponse> {
    let mut resp = ListTransactionsResponse::default();
    let mut states = Vec::new();
    for f in &req.state_filters {
        match STATES.iter().find(|s| s.name() == f.as_str()) {
            Some(s) => states.push(*s),
            None => resp.unknown_state_filters.push(f.clone()),
        }
    }
    if !req.state_filters.is_empty() && states.is_empty() {
        // Only unknown states asked for: nothing can match.
        return Outcome::Now(resp);
    }
    let now = now_ms();
    let duration = if ctx.api_version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    for (id, m) in ctx.broker.txns.list() {
        let state_ok = states.is_empty() || states.contains(&m.state);
        let producer_ok = req.producer_id_filters.is_empty()
            || req.producer_id_filters.contains(&ProducerId(m.producer_id));
        let duration_ok = duration < 0 || (m.start_ms >= 0 && now - m.start_ms >= duration);
        if state_ok && producer_ok && duration_ok {
            let mut s = TransactionState::default();
            s.transactional_id = TransactionalId(str_bytes(id));
            s.producer_id = ProducerId(m.producer_id);
            s.transaction_state = str_bytes(m.state.name());
            resp.transaction_states.push(s);
        }
    }
    Outcome::Now(resp)
}
