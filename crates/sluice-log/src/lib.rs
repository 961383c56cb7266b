//! Sluice's storage engine: one crash-safe, segmented, indexed log per partition, stored in
//! Apache Kafka's own on-disk format so Kafka's tools (kafka-dump-log) can read it.
//!
//! Entry point is [`PartitionLog`]; the broker wraps each one in a mutex. Nothing here does
//! networking. See `LOG_API.md` in the team docs for the contract with sluice-broker.
//!
//! API change: `AbortedTxn` has a `last_stable_offset` field (Kafka's `.txnindex` entry); added
//! `PartitionLog::slice_end_offset` (bound for `aborted_transactions`) and `all_aborted_transactions`.

mod append;
pub mod batch;
mod checkpoint;
pub mod cleaner;
mod cleaner_txn;
pub mod config;
pub mod flush;
mod leader_epoch;
mod list_offsets;
pub mod log;
mod offset_index;
mod producer_state;
pub mod read;
mod records;
mod recovery;
mod retention;
mod segment;
mod swap;
mod time_index;
mod transactions;
pub mod txn_index;
mod vectored;
pub mod verify;

#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;

pub use batch::{
    crc_of, iter_batches, BatchError, BatchHeader, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD,
};
pub use cleaner::{CleanDone, CleanPlan};
pub use config::{ConfigError, LogConfig};
pub use flush::FlushTarget;
pub use log::{AppendError, AppendOptions, AppendOutcome, PartitionLog};
pub use read::{FileSlice, ReadError};
pub use records::{decompress, iter_records, RawRecord};
pub use transactions::{marker_is_abort, ProducerInfo};
pub use txn_index::AbortedTxn;
pub use verify::VerifyReport;
