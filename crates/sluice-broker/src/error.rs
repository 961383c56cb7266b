//! The one place where Sluice's typed errors become Kafka error codes.
//!
//! Handlers never pick numeric codes by hand for storage or validation failures: they convert
//! through [`KafkaCode`], so a given failure answers with the same code from every API, the code a
//! Kafka broker would give.

pub use kafka_protocol::ResponseError as Code;
use sluice_log::{AppendError, ReadError};

/// Anything that can be answered with a Kafka error code (and, where the API has room, a message).
pub trait KafkaCode {
    fn code(&self) -> i16;
}

impl KafkaCode for Code {
    fn code(&self) -> i16 {
        Code::code(self)
    }
}

impl KafkaCode for AppendError {
    fn code(&self) -> i16 {
        match self {
            AppendError::Corrupt(_) => Code::CorruptMessage.code(),
            AppendError::InvalidRecord(_) => Code::InvalidRecord.code(),
            AppendError::MessageTooLarge => Code::MessageTooLarge.code(),
            AppendError::InvalidTimestamp(_) => Code::InvalidTimestamp.code(),
            AppendError::OutOfOrderSequence(_) => Code::OutOfOrderSequenceNumber.code(),
            AppendError::InvalidProducerEpoch(_) => Code::InvalidProducerEpoch.code(),
            AppendError::UnsupportedForMessageFormat(_) => Code::UnsupportedForMessageFormat.code(),
            AppendError::Io(_) => Code::KafkaStorageError.code(),
        }
    }
}

impl KafkaCode for ReadError {
    fn code(&self) -> i16 {
        match self {
            ReadError::OffsetOutOfRange { .. } => Code::OffsetOutOfRange.code(),
            ReadError::Io(_) => Code::KafkaStorageError.code(),
        }
    }
}

impl KafkaCode for std::io::Error {
    fn code(&self) -> i16 {
        Code::KafkaStorageError.code()
    }
}

/// Shorthand for the code of a [`Code`] variant.
pub const fn code(c: Code) -> i16 {
    c.code()
}

pub const NONE: i16 = 0;
