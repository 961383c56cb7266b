//! Errors the client commands report, worded so a person can act on them: which broker could not
//! be reached, which topic is missing, and Kafka error codes by their protocol names
//! (`TOPIC_ALREADY_EXISTS`), which is what Kafka documentation and broker logs call them.

use std::ffi::CStr;
use std::fmt;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;

/// A failure of a client command. `main` prints it as `error: <message>` and exits non-zero.
#[derive(Debug)]
pub enum CliError {
    /// No broker answered within the connect timeout.
    Unreachable { bootstrap: String, waited_ms: u64 },
    /// The named topic is not in the cluster's metadata.
    UnknownTopic(String),
    /// The cluster (or librdkafka on its behalf) answered an operation with an error code.
    Kafka {
        action: String,
        code: RDKafkaErrorCode,
        detail: Option<String>,
    },
    /// The request cannot be carried out as given (bad partition, offset out of range, ...).
    Invalid(String),
}

impl CliError {
    /// An operation failed with `code`. Unknown-topic codes become [`CliError::UnknownTopic`], so
    /// every command words that case the same way.
    pub fn kafka(action: impl Into<String>, topic: Option<&str>, code: RDKafkaErrorCode) -> Self {
        match (topic, code) {
            (
                Some(topic),
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
            ) => CliError::UnknownTopic(topic.to_owned()),
            _ => CliError::Kafka {
                action: action.into(),
                code,
                detail: None,
            },
        }
    }

    /// Adds the broker's explanation to a Kafka error; other errors are returned unchanged.
    pub fn with_detail(self, detail: Option<String>) -> Self {
        match self {
            CliError::Kafka { action, code, .. } => CliError::Kafka {
                action,
                code,
                detail,
            },
            other => other,
        }
    }

    /// Like [`CliError::kafka`] but for an rdkafka error value, which may carry no code at all.
    pub fn from_kafka(action: impl Into<String>, topic: Option<&str>, err: &KafkaError) -> Self {
        match kafka_error_code(err) {
            Some(code) => Self::kafka(action, topic, code),
            None => CliError::Invalid(format!("{}: {err}", action.into())),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Unreachable {
                bootstrap,
                waited_ms,
            } => write!(
                f,
                "cannot reach broker at {bootstrap} (no answer within {waited_ms} ms)"
            ),
            CliError::UnknownTopic(topic) => write!(f, "topic {topic} does not exist"),
            CliError::Kafka {
                action,
                code,
                detail,
            } => {
                write!(f, "{action}: {}", describe_code(*code))?;
                match detail {
                    Some(detail) if !detail.is_empty() => write!(f, " ({detail})"),
                    _ => Ok(()),
                }
            }
            CliError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

/// The error code inside an rdkafka error, if it has one.
pub fn kafka_error_code(err: &KafkaError) -> Option<RDKafkaErrorCode> {
    match err {
        // rdkafka does not report the code of a failed admin request through
        // `rdkafka_error_code`, although it has one.
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

/// `NAME: description`, e.g. `TOPIC_ALREADY_EXISTS: Topic already exists`.
pub fn describe_code(code: RDKafkaErrorCode) -> String {
    let description = match RDKafkaRespErr::try_from(code as i32) {
        // SAFETY: rd_kafka_err2str returns a pointer to a static NUL-terminated string for any
        // code, including unknown ones.
        Ok(raw) => unsafe { CStr::from_ptr(rdkafka::bindings::rd_kafka_err2str(raw)) }
            .to_string_lossy()
            .into_owned(),
        Err(_) => "Unknown error".to_owned(),
    };
    let description = description.strip_prefix("Broker: ").unwrap_or(&description);
    format!("{}: {description}", error_name(code))
}

/// The Kafka protocol name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`). Errors raised by
/// librdkafka itself (negative codes) keep librdkafka's names, e.g. `_TRANSPORT`.
pub fn error_name(code: RDKafkaErrorCode) -> String {
    // librdkafka abbreviates a few broker error names; Kafka's own names are the ones people
    // search for, so those are spelled out here.
    let kafka_name = match code {
        RDKafkaErrorCode::InvalidMessage => Some("CORRUPT_MESSAGE"),
        RDKafkaErrorCode::UnknownTopicOrPartition => Some("UNKNOWN_TOPIC_OR_PARTITION"),
        RDKafkaErrorCode::InvalidMessageSize => Some("INVALID_FETCH_SIZE"),
        RDKafkaErrorCode::NotLeaderForPartition => Some("NOT_LEADER_OR_FOLLOWER"),
        RDKafkaErrorCode::MessageSizeTooLarge => Some("MESSAGE_TOO_LARGE"),
        RDKafkaErrorCode::StaleControllerEpoch => Some("STALE_CONTROLLER_EPOCH"),
        RDKafkaErrorCode::InvalidTopic => Some("INVALID_TOPIC_EXCEPTION"),
        _ => None,
    };
    if let Some(name) = kafka_name {
        return name.to_owned();
    }
    match RDKafkaRespErr::try_from(code as i32) {
        // SAFETY: rd_kafka_err2name returns a pointer to a static NUL-terminated string for any
        // code, including unknown ones.
        Ok(raw) => unsafe { CStr::from_ptr(rdkafka::bindings::rd_kafka_err2name(raw)) }
            .to_string_lossy()
            .into_owned(),
        Err(_) => format!("ERROR_{}", code as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_errors_use_kafka_protocol_names() {
        assert_eq!(
            error_name(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            error_name(RDKafkaErrorCode::UnknownTopicOrPartition),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert_eq!(
            error_name(RDKafkaErrorCode::InvalidPartitions),
            "INVALID_PARTITIONS"
        );
        assert_eq!(
            describe_code(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS: Topic already exists"
        );
    }

    #[test]
    fn unknown_topic_codes_name_the_topic() {
        let err = CliError::kafka(
            "describe",
            Some("orders"),
            RDKafkaErrorCode::UnknownTopicOrPartition,
        );
        assert_eq!(err.to_string(), "topic orders does not exist");
    }
}
