//! Kafka's record formats for `__transaction_state`: `TransactionLogKey` v0 (the transactional
//! id) and `TransactionLogValue` v0 (producer id and epoch, timeout, state, partitions, times).
//! A tombstone (no value) removes a transactional id.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::{TxnMetadata, TxnState};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("unsupported {what} version {version}")]
    Version { what: &'static str, version: i16 },
    #[error("invalid {0}")]
    Invalid(&'static str),
}

fn put_string(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len().min(i16::MAX as usize) as i16);
    buf.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn get_string(buf: &mut Bytes, what: &'static str) -> Result<String, RecordError> {
    if buf.remaining() < 2 {
        return Err(RecordError::Truncated(what));
    }
    let len = buf.get_i16();
    if len < 0 || buf.remaining() < len as usize {
        return Err(RecordError::Truncated(what));
    }
    let raw = buf.split_to(len as usize);
    String::from_utf8(raw.to_vec()).map_err(|_| RecordError::Invalid(what))
}

fn need(buf: &Bytes, n: usize, what: &'static str) -> Result<(), RecordError> {
    if buf.remaining() < n {
        return Err(RecordError::Truncated(what));
    }
    Ok(())
}

pub fn key(transactional_id: &str) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    put_string(&mut buf, transactional_id);
    buf.freeze()
}

pub fn decode_key(raw: &Bytes) -> Result<String, RecordError> {
    let mut buf = raw.clone();
    need(&buf, 2, "key")?;
    let version = buf.get_i16();
    if version != 0 {
        return Err(RecordError::Version {
            what: "TransactionLogKey",
            version,
        });
    }
    get_string(&mut buf, "transactional id")
}

pub fn value(m: &TxnMetadata) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    buf.put_i64(m.producer_id);
    buf.put_i16(m.producer_epoch);
    buf.put_i32(m.timeout_ms);
    buf.put_i8(m.state.id());
    let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
    for (t, p) in &m.partitions {
        match topics.last_mut() {
            Some((last, ps)) if *last == t.as_str() => ps.push(*p),
            _ => topics.push((t.as_str(), vec![*p])),
        }
    }
    buf.put_i32(topics.len() as i32);
    for (t, ps) in topics {
        put_string(&mut buf, t);
        buf.put_i32(ps.len() as i32);
        for p in ps {
            buf.put_i32(p);
        }
    }
    buf.put_i64(m.last_update_ms);
    buf.put_i64(m.start_ms);
    buf.freeze()
}

/// Decodes a value (v0, the version Sluice writes).
pub fn decode_value(raw: &Bytes) -> Result<TxnMetadata, RecordError> {
    let mut buf = raw.clone();
    need(&buf, 2, "value")?;
    let version = buf.get_i16();
    if version != 0 {
        return Err(RecordError::Version {
            what: "TransactionLogValue",
            version,
        });
    }
    need(&buf, 8 + 2 + 4 + 1 + 4, "value")?;
    let producer_id = buf.get_i64();
    let producer_epoch = buf.get_i16();
    let timeout_ms = buf.get_i32();
    let state = TxnState::from_id(buf.get_i8()).ok_or(RecordError::Invalid("state"))?;
    let topics = buf.get_i32();
    let mut partitions = BTreeSet::new();
    for _ in 0..topics.max(0) {
        let topic = get_string(&mut buf, "topic")?;
        need(&buf, 4, "partitions")?;
        let n = buf.get_i32();
        if n < 0 || buf.remaining() < n as usize * 4 {
            return Err(RecordError::Truncated("partitions"));
        }
        for _ in 0..n {
            partitions.insert((topic.clone(), buf.get_i32()));
        }
    }
    need(&buf, 16, "timestamps")?;
    let last_update_ms = buf.get_i64();
    let start_ms = buf.get_i64();
    let mut m = TxnMetadata::new(producer_id, timeout_ms, last_update_ms);
    m.producer_epoch = producer_epoch;
    m.state = state;
    m.partitions = partitions;
    m.start_ms = start_ms;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_round_trips() {
        let mut m = TxnMetadata::new(42, 60_000, 1_000);
        m.producer_epoch = 3;
        m.state = TxnState::PrepareCommit;
        m.start_ms = 900;
        m.partitions.insert(("a".into(), 1));
        m.partitions.insert(("a".into(), 0));
        m.partitions.insert(("b".into(), 7));
        assert_eq!(decode_value(&value(&m)).unwrap(), m);
        assert_eq!(decode_key(&key("tx-1")).unwrap(), "tx-1");
        assert!(decode_value(&Bytes::from_static(&[0, 0, 1])).is_err());
    }
}
