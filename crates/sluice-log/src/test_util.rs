//! Test helpers: build real v2 batches with kafka_protocol's encoder.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// One record to encode.
#[derive(Debug, Clone)]
pub struct RecSpec {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub timestamp: i64,
}

impl RecSpec {
    pub fn kv(k: &str, v: &str) -> RecSpec {
        RecSpec {
            key: Some(Bytes::copy_from_slice(k.as_bytes())),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            timestamp: 1_000,
        }
    }
    pub fn at(mut self, ts: i64) -> RecSpec {
        self.timestamp = ts;
        self
    }
    pub fn tombstone(k: &str) -> RecSpec {
        RecSpec {
            key: Some(Bytes::copy_from_slice(k.as_bytes())),
            value: None,
            timestamp: 1_000,
        }
    }
}

/// A whole batch to encode.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    pub records: Vec<RecSpec>,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub compression: Compression,
    pub transactional: bool,
    pub control: bool,
}

impl BatchSpec {
    pub fn new(records: Vec<RecSpec>) -> BatchSpec {
        BatchSpec {
            records,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            compression: Compression::None,
            transactional: false,
            control: false,
        }
    }
    pub fn idempotent(mut self, pid: i64, epoch: i16, seq: i32) -> BatchSpec {
        self.producer_id = pid;
        self.producer_epoch = epoch;
        self.base_sequence = seq;
        self
    }
    pub fn compressed(mut self, c: Compression) -> BatchSpec {
        self.compression = c;
        self
    }
    pub fn encode(&self, base_offset: i64) -> Vec<u8> {
        let records: Vec<Record> = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| Record {
                transactional: self.transactional,
                control: self.control,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: self.producer_id,
                producer_epoch: self.producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: base_offset + i as i64,
                // The encoder splits batches where offset - sequence changes, so even
                // non-idempotent batches (base sequence -1) get consecutive sequences.
                sequence: self.base_sequence.wrapping_add(i as i32),
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: IndexMap::new(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression: self.compression,
            },
        )
        .expect("encode test batch");
        buf.to_vec()
    }
}

/// Encode an uncompressed, non-idempotent batch.
pub fn batch_bytes(records: &[RecSpec], base_offset: i64) -> Vec<u8> {
    BatchSpec::new(records.to_vec()).encode(base_offset)
}
