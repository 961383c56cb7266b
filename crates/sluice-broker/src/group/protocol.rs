//! Reading the embedded consumer protocol (the `consumer` protocol type's subscription metadata),
//! which the coordinator needs only to know which topics a classic group consumes.

use std::collections::HashSet;

use bytes::Bytes;
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;

/// Topics named by a member's subscription metadata; `None` if it cannot be parsed.
pub fn subscribed_topics(metadata: &Bytes) -> Option<HashSet<String>> {
    let mut buf = metadata.clone();
    if buf.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    bytes::Buf::advance(&mut buf, 2);
    // Newer clients may use a version this crate does not know; its prefix is the same.
    let version = version.clamp(0, 3);
    let sub = ConsumerProtocolSubscription::decode(&mut buf, version).ok()?;
    Some(sub.topics.into_iter().map(|t| t.to_string()).collect())
}
