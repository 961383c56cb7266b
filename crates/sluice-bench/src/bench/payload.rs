//! Message values: a 16-byte header (send time, sequence number) followed by filler.
//!
//! The send time is the message's *intended* send time in fixed-rate mode, so end-to-end latency
//! counts any wait the sender suffered. The filler is pseudo-random bytes generated once: the same
//! for every message (as the OpenMessaging Benchmark's payload file is), incompressible within one
//! message but repeated across a batch, which a codec will notice.

/// Bytes taken by the header; the smallest message the benchmark sends.
pub const HEADER_LEN: usize = 16;

/// A reusable message buffer; librdkafka copies the value on send, so one buffer serves all.
pub struct Payload {
    buf: Vec<u8>,
}

impl Payload {
    pub fn new(size: usize, seed: u64) -> Payload {
        let size = size.max(HEADER_LEN);
        let mut x = seed | 1;
        let buf = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        Payload { buf }
    }

    /// The value for one message.
    pub fn stamp(&mut self, send_time_ns: u64, sequence: u64) -> &[u8] {
        self.buf[0..8].copy_from_slice(&send_time_ns.to_le_bytes());
        self.buf[8..16].copy_from_slice(&sequence.to_le_bytes());
        &self.buf
    }
}

/// The send time written by [`Payload::stamp`], if the value is one of ours.
pub fn send_time(value: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = value.get(0..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_time_reads_back() {
        let mut p = Payload::new(100, 7);
        let v = p.stamp(123_456_789, 42).to_vec();
        assert_eq!(v.len(), 100);
        assert_eq!(send_time(&v), Some(123_456_789));
        assert_eq!(u64::from_le_bytes(v[8..16].try_into().unwrap()), 42);
        assert_eq!(send_time(&v[..5]), None);
    }
}
