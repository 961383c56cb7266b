//! One module per Kafka API. Each exposes `handle(&Ctx, Request) -> Outcome<Response>`; the
//! table in [`crate::dispatch`] lists which versions each implements.

pub mod api_versions;
pub mod create_topics;
pub mod delete_topics;
pub mod fetch;
pub mod init_producer_id;
pub mod list_offsets;
pub mod metadata;
pub mod produce;

use kafka_protocol::protocol::StrBytes;

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
