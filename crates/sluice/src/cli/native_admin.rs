//! Admin requests made through librdkafka's C API directly, where rdkafka 0.39's wrappers fall
//! short for a CLI:
//! - IncrementalAlterConfigs (KIP-339) is not wrapped at all; the legacy AlterConfigs it does wrap
//!   replaces a topic's whole set of overrides, silently resetting every key not named.
//! - CreateTopics / CreatePartitions / DeleteTopics results drop the broker's error message
//!   ("Unknown topic config name: x"), which is what tells a person how to fix the request.
//!
//! All of the CLI's `unsafe` code lives here, behind safe functions.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;

use super::error::CliError;

/// One change to a topic's config overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// Set `name` to `value`.
    Set(String, String),
    /// Remove the override for `name`, so the broker default applies again.
    Delete(String),
}

/// A topic to create; `-1` partitions / replication factor take the broker's defaults.
pub struct NewTopicSpec<'a> {
    pub name: &'a str,
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: &'a [(String, String)],
}

/// The outcome for one topic of a multi-topic request.
pub type TopicOutcome = (String, Result<(), CliError>);

/// Creates one topic, waiting for the broker to finish (operation timeout) up to `timeout`.
pub fn create_topic<C: ClientContext>(
    client: &Client<C>,
    spec: &NewTopicSpec<'_>,
    timeout: Duration,
) -> Result<(), CliError> {
    let action = format!("creating topic {}", spec.name);
    let name = c_str(&action, spec.name)?;
    let configs = spec
        .configs
        .iter()
        .map(|(key, value)| Ok((c_str(&action, key)?, c_str(&action, value)?)))
        .collect::<Result<Vec<_>, CliError>>()?;
    let mut errstr = ErrorBuffer::new();
    // SAFETY: see `Owned` and `round_trip`; the strings outlive the calls (librdkafka copies them).
    unsafe {
        let new_topic = Owned::new(
            rd::rd_kafka_NewTopic_new(
                name.as_ptr(),
                spec.partitions,
                spec.replication_factor,
                errstr.ptr(),
                errstr.len(),
            ),
            rd::rd_kafka_NewTopic_destroy,
        )
        .ok_or_else(|| CliError::Invalid(format!("{action}: {}", errstr.message())))?;
        for (key, value) in &configs {
            let err = rd::rd_kafka_NewTopic_set_config(new_topic.ptr, key.as_ptr(), value.as_ptr());
            if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                return Err(CliError::kafka(&action, None, err.into()));
            }
        }
        let mut topics = [new_topic.ptr];
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS,
            timeout,
            &action,
            |rk, options, queue| {
                rd::rd_kafka_CreateTopics(rk, topics.as_mut_ptr(), 1, options, queue);
            },
        )?;
        let result = rd::rd_kafka_event_CreateTopics_result(event.ptr);
        let mut count = 0;
        let results = if result.is_null() {
            ptr::null_mut()
        } else {
            rd::rd_kafka_CreateTopics_result_topics(result, &mut count)
        };
        single(&action, topic_outcomes(results, count, |_| action.clone()))
    }
}

/// Raises `topic`'s partition count to `total`.
pub fn create_partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    total: usize,
    timeout: Duration,
) -> Result<(), CliError> {
    let action = format!("increasing partitions of topic {topic} to {total}");
    let name = c_str(&action, topic)?;
    let mut errstr = ErrorBuffer::new();
    // SAFETY: see `Owned` and `round_trip`.
    unsafe {
        let request = Owned::new(
            rd::rd_kafka_NewPartitions_new(name.as_ptr(), total, errstr.ptr(), errstr.len()),
            rd::rd_kafka_NewPartitions_destroy,
        )
        .ok_or_else(|| CliError::Invalid(format!("{action}: {}", errstr.message())))?;
        let mut requests = [request.ptr];
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEPARTITIONS,
            timeout,
            &action,
            |rk, options, queue| {
                rd::rd_kafka_CreatePartitions(rk, requests.as_mut_ptr(), 1, options, queue);
            },
        )?;
        let result = rd::rd_kafka_event_CreatePartitions_result(event.ptr);
        let mut count = 0;
        let results = if result.is_null() {
            ptr::null_mut()
        } else {
            rd::rd_kafka_CreatePartitions_result_topics(result, &mut count)
        };
        single(&action, topic_outcomes(results, count, |_| action.clone()))
    }
}

/// Deletes `topics`; the outcome of each is reported separately.
pub fn delete_topics<C: ClientContext>(
    client: &Client<C>,
    topics: &[String],
    timeout: Duration,
) -> Result<Vec<TopicOutcome>, CliError> {
    let action = "deleting topics";
    let names = topics
        .iter()
        .map(|topic| c_str(action, topic))
        .collect::<Result<Vec<_>, _>>()?;
    // SAFETY: see `Owned` and `round_trip`.
    unsafe {
        let requests = names
            .iter()
            .map(|name| {
                Owned::new(
                    rd::rd_kafka_DeleteTopic_new(name.as_ptr()),
                    rd::rd_kafka_DeleteTopic_destroy,
                )
                .ok_or_else(|| CliError::Invalid(format!("{action}: cannot build the request")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut pointers: Vec<_> = requests.iter().map(|request| request.ptr).collect();
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETETOPICS,
            timeout,
            action,
            |rk, options, queue| {
                rd::rd_kafka_DeleteTopics(
                    rk,
                    pointers.as_mut_ptr(),
                    pointers.len(),
                    options,
                    queue,
                );
            },
        )?;
        let result = rd::rd_kafka_event_DeleteTopics_result(event.ptr);
        let mut count = 0;
        let results = if result.is_null() {
            ptr::null_mut()
        } else {
            rd::rd_kafka_DeleteTopics_result_topics(result, &mut count)
        };
        Ok(topic_outcomes(results, count, |name| {
            format!("deleting topic {name}")
        }))
    }
}

/// Applies `changes` to `topic` in one IncrementalAlterConfigs request.
pub fn alter_topic_configs<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    changes: &[ConfigChange],
    timeout: Duration,
) -> Result<(), CliError> {
    let action = format!("altering configs of topic {topic}");
    let topic_name = c_str(&action, topic)?;
    let mut entries = Vec::with_capacity(changes.len());
    for change in changes {
        let (name, op, value) = match change {
            ConfigChange::Set(name, value) => (
                name,
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                Some(c_str(&action, value)?),
            ),
            ConfigChange::Delete(name) => (
                name,
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
                None,
            ),
        };
        entries.push((c_str(&action, name)?, op, value));
    }
    // SAFETY: see `Owned` and `round_trip`; the strings outlive the calls (librdkafka copies them).
    unsafe {
        let resource = Owned::new(
            rd::rd_kafka_ConfigResource_new(
                rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                topic_name.as_ptr(),
            ),
            rd::rd_kafka_ConfigResource_destroy,
        )
        .ok_or_else(|| CliError::Invalid(format!("{action}: cannot build the request")))?;
        for (name, op, value) in &entries {
            let value_ptr = value.as_ref().map_or(ptr::null(), |v| v.as_ptr());
            let error = rd::rd_kafka_ConfigResource_add_incremental_config(
                resource.ptr,
                name.as_ptr(),
                *op,
                value_ptr,
            );
            if !error.is_null() {
                let message = c_string(rd::rd_kafka_error_string(error));
                rd::rd_kafka_error_destroy(error);
                return Err(CliError::Invalid(format!("{action}: {message}")));
            }
        }
        let mut resources = [resource.ptr];
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
            timeout,
            &action,
            |rk, options, queue| {
                rd::rd_kafka_IncrementalAlterConfigs(rk, resources.as_mut_ptr(), 1, options, queue);
            },
        )?;
        let result = rd::rd_kafka_event_IncrementalAlterConfigs_result(event.ptr);
        if result.is_null() {
            return Err(unexpected_reply(&action));
        }
        let mut count = 0;
        let results = rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count);
        for i in 0..count {
            let resource = *results.add(i);
            let code = rd::rd_kafka_ConfigResource_error(resource);
            if code != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                let message = c_string(rd::rd_kafka_ConfigResource_error_string(resource));
                return Err(failure(&action, Some(topic), code, message));
            }
        }
    }
    Ok(())
}

/// Sends one admin request with `send` and waits for its result event, bounded by `timeout`.
///
/// # Safety
/// `send` must issue exactly one librdkafka admin request of type `op` on the given options and
/// queue, with arguments that stay valid for the duration of the call.
unsafe fn round_trip<C: ClientContext>(
    client: &Client<C>,
    op: rd::rd_kafka_admin_op_t,
    timeout: Duration,
    action: &str,
    send: impl FnOnce(
        *mut rd::rd_kafka_t,
        *const rd::rd_kafka_AdminOptions_t,
        *mut rd::rd_kafka_queue_t,
    ),
) -> Result<Owned<rd::rd_kafka_event_t>, CliError> {
    let rk = client.native_ptr();
    let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    let cannot_build = || CliError::Invalid(format!("{action}: cannot build the request"));
    // SAFETY: `rk` is a live client handle; each object is destroyed once by its guard.
    unsafe {
        let options = Owned::new(
            rd::rd_kafka_AdminOptions_new(rk, op),
            rd::rd_kafka_AdminOptions_destroy,
        )
        .ok_or_else(cannot_build)?;
        let mut errstr = ErrorBuffer::new();
        // Both setters only reject out-of-range values, which `timeout_ms` cannot be; the
        // operation timeout makes the broker wait until the change is complete.
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.ptr,
            timeout_ms,
            errstr.ptr(),
            errstr.len(),
        );
        if matches!(
            op,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS
                | rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEPARTITIONS
                | rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETETOPICS
        ) {
            rd::rd_kafka_AdminOptions_set_operation_timeout(
                options.ptr,
                timeout_ms,
                errstr.ptr(),
                errstr.len(),
            );
        }
        let queue = Owned::new(rd::rd_kafka_queue_new(rk), rd::rd_kafka_queue_destroy)
            .ok_or_else(cannot_build)?;
        send(rk, options.ptr, queue.ptr);
        // librdkafka answers on the queue when the request timeout expires; the extra second
        // only guards against that answer never coming.
        let event = Owned::new(
            rd::rd_kafka_queue_poll(queue.ptr, timeout_ms.saturating_add(1_000)),
            rd::rd_kafka_event_destroy,
        )
        .ok_or_else(|| CliError::kafka(action, None, RDKafkaErrorCode::OperationTimedOut))?;
        let code = rd::rd_kafka_event_error(event.ptr);
        if code != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
            let message = c_string(rd::rd_kafka_event_error_string(event.ptr));
            return Err(failure(action, None, code, message));
        }
        Ok(event)
    }
}

/// Reads per-topic results; `action_for(topic)` names the failed operation. Topics whose error
/// is UNKNOWN_TOPIC_OR_PARTITION become "topic X does not exist".
///
/// # Safety
/// `results` must be NULL or point to `count` valid topic results owned by a live event.
unsafe fn topic_outcomes(
    results: *mut *const rd::rd_kafka_topic_result_t,
    count: usize,
    action_for: impl Fn(&str) -> String,
) -> Vec<TopicOutcome> {
    if results.is_null() {
        return Vec::new();
    }
    (0..count)
        .map(|i| {
            // SAFETY: guaranteed by the caller.
            unsafe {
                let result = *results.add(i);
                let name = c_string(rd::rd_kafka_topic_result_name(result));
                let code = rd::rd_kafka_topic_result_error(result);
                let outcome = if code == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                    Ok(())
                } else {
                    let message = c_string(rd::rd_kafka_topic_result_error_string(result));
                    Err(failure(&action_for(&name), Some(&name), code, message))
                };
                (name, outcome)
            }
        })
        .collect()
}

/// The outcome of a request about a single topic.
fn single(action: &str, mut outcomes: Vec<TopicOutcome>) -> Result<(), CliError> {
    match outcomes.pop() {
        Some((_, outcome)) if outcomes.is_empty() => outcome,
        _ => Err(unexpected_reply(action)),
    }
}

/// A failed request, keeping the broker's message when it says more than the code's name.
fn failure(action: &str, topic: Option<&str>, code: RDKafkaRespErr, message: String) -> CliError {
    let code = RDKafkaErrorCode::from(code);
    let generic = generic_description(code);
    let detail = (!message.is_empty() && message != generic).then_some(message);
    CliError::kafka(action, topic, code).with_detail(detail)
}

/// librdkafka's own text for a code, which it substitutes when the broker sent no message.
fn generic_description(code: RDKafkaErrorCode) -> String {
    match RDKafkaRespErr::try_from(code as i32) {
        // SAFETY: rd_kafka_err2str returns a static NUL-terminated string for any code.
        Ok(raw) => unsafe { c_string(rd::rd_kafka_err2str(raw)) },
        Err(_) => String::new(),
    }
}

fn unexpected_reply(action: &str) -> CliError {
    CliError::Invalid(format!("{action}: unexpected reply from librdkafka"))
}

fn c_str(action: &str, text: &str) -> Result<CString, CliError> {
    CString::new(text)
        .map_err(|_| CliError::Invalid(format!("{action}: {text:?} contains a NUL byte")))
}

/// A librdkafka object destroyed when the guard goes out of scope.
struct Owned<T> {
    ptr: *mut T,
    destroy: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// Takes ownership of `ptr`; `None` if librdkafka returned NULL.
    fn new(ptr: *mut T, destroy: unsafe extern "C" fn(*mut T)) -> Option<Self> {
        (!ptr.is_null()).then_some(Owned { ptr, destroy })
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is non-NULL, owned by this guard and destroyed only here.
        unsafe { (self.destroy)(self.ptr) }
    }
}

/// librdkafka's out-parameter for constructor error messages.
struct ErrorBuffer([c_char; 512]);

impl ErrorBuffer {
    fn new() -> Self {
        ErrorBuffer([0; 512])
    }

    fn ptr(&mut self) -> *mut c_char {
        self.0.as_mut_ptr()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn message(&self) -> String {
        // SAFETY: the buffer is zero-initialised and librdkafka writes a NUL-terminated string
        // shorter than its length, so a NUL is always present.
        unsafe { c_string(self.0.as_ptr()) }
    }
}

/// Copies a librdkafka string, which may be NULL.
///
/// # Safety
/// `raw` must be NULL or point to a NUL-terminated string valid for the duration of the call.
unsafe fn c_string(raw: *const c_char) -> String {
    if raw.is_null() {
        String::new()
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned()
    }
}
