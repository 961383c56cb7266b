//! Transaction markers: the control batches that end a transaction in each partition it wrote
//! (Kafka's control record format: key = version 0 and type (0 abort, 1 commit), value = version
//! 0 and coordinator epoch). The log's producer state closes the transaction when one is appended,
//! which moves the partition's last stable offset, and abort markers feed its aborted index.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::{AppendError, AppendOptions};

use crate::partition::{Partition, LEADER_EPOCH};

/// The coordinator epoch: a single node never changes coordinator, so it is always 0.
pub const COORDINATOR_EPOCH: i32 = 0;

/// Encodes one marker batch for producer `producer_id` at `producer_epoch`.
pub fn marker_batch(producer_id: i64, producer_epoch: i16, commit: bool, now_ms: i64) -> BytesMut {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(if commit { 1 } else { 0 });
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(COORDINATOR_EPOCH);
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: LEADER_EPOCH,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms,
        key: Some(key.freeze()),
        value: Some(Bytes::from(value.to_vec())),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    // Encoding a single uncompressed record into memory cannot fail.
    if let Err(e) = RecordBatchEncoder::encode(&mut buf, [&record], &options) {
        tracing::error!(error = %e, "cannot encode a transaction marker");
    }
    buf
}

/// Appends a marker to `partition` (an internal write: no sequence checks).
pub fn write_marker(
    partition: &Arc<Partition>,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    durable: bool,
    now_ms: i64,
) -> Result<(), AppendError> {
    let mut buf = marker_batch(producer_id, producer_epoch, commit, now_ms);
    let opts = AppendOptions {
        leader_epoch: LEADER_EPOCH,
        now_ms,
        origin_client: false,
    };
    partition.append(&mut buf, &opts, durable).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_reads_back_as_its_type() {
        let abort = marker_batch(5, 2, false, 1);
        let commit = marker_batch(5, 2, true, 1);
        assert_eq!(sluice_log::marker_is_abort(&abort), Some(true));
        assert_eq!(sluice_log::marker_is_abort(&commit), Some(false));
        let h = sluice_log::BatchHeader::parse(&abort).unwrap();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!((h.producer_id, h.producer_epoch), (5, 2));
    }
}
