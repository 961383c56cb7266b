//! Incremental topic config changes (IncrementalAlterConfigs, KIP-339).
//!
//! rdkafka 0.39 only wraps the legacy AlterConfigs request, which replaces a resource's whole set
//! of overrides: setting one key through it silently resets every other override. So this module
//! calls librdkafka's `rd_kafka_IncrementalAlterConfigs` directly, and keeps all of the CLI's
//! `unsafe` code in one place behind [`alter_topic_configs`].

use std::ffi::{c_char, CStr, CString};
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

/// Applies `changes` to `topic` in one IncrementalAlterConfigs request, waiting at most `timeout`.
pub fn alter_topic_configs<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    changes: &[ConfigChange],
    timeout: Duration,
) -> Result<(), CliError> {
    let action = format!("altering configs of topic {topic}");
    let invalid = |what: &str| CliError::Invalid(format!("{action}: {what} contains a NUL byte"));
    let topic_name = CString::new(topic).map_err(|_| invalid("topic name"))?;
    let mut entries = Vec::with_capacity(changes.len());
    for change in changes {
        let (name, op, value) = match change {
            ConfigChange::Set(name, value) => (
                name,
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                Some(CString::new(value.as_str()).map_err(|_| invalid("config value"))?),
            ),
            ConfigChange::Delete(name) => (
                name,
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
                None,
            ),
        };
        let name = CString::new(name.as_str()).map_err(|_| invalid("config name"))?;
        entries.push((name, op, value));
    }
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let rk = client.native_ptr();

    // SAFETY: every pointer below comes from the matching librdkafka constructor, is checked for
    // NULL before use, and is destroyed exactly once by its `Owned` guard. The strings passed in
    // outlive the calls that read them (librdkafka copies them).
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

        let options = Owned::new(
            rd::rd_kafka_AdminOptions_new(
                rk,
                rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
            ),
            rd::rd_kafka_AdminOptions_destroy,
        )
        .ok_or_else(|| CliError::Invalid(format!("{action}: cannot build the request")))?;
        let mut errstr = [0 as c_char; 512];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.ptr,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );

        let queue = Owned::new(rd::rd_kafka_queue_new(rk), rd::rd_kafka_queue_destroy)
            .ok_or_else(|| CliError::Invalid(format!("{action}: cannot build the request")))?;
        let mut resources = [resource.ptr];
        rd::rd_kafka_IncrementalAlterConfigs(
            rk,
            resources.as_mut_ptr(),
            resources.len(),
            options.ptr,
            queue.ptr,
        );

        // The request timeout makes librdkafka answer on the queue; the extra second only
        // guards against that answer never coming.
        let event = Owned::new(
            rd::rd_kafka_queue_poll(queue.ptr, timeout_ms.saturating_add(1_000)),
            rd::rd_kafka_event_destroy,
        )
        .ok_or_else(|| CliError::kafka(&action, None, RDKafkaErrorCode::OperationTimedOut))?;

        let request_error = rd::rd_kafka_event_error(event.ptr);
        if request_error != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(CliError::Kafka {
                action,
                code: request_error.into(),
                detail: Some(c_string(rd::rd_kafka_event_error_string(event.ptr))),
            });
        }
        let result = rd::rd_kafka_event_IncrementalAlterConfigs_result(event.ptr);
        if result.is_null() {
            return Err(CliError::Invalid(format!(
                "{action}: unexpected reply from librdkafka"
            )));
        }
        let mut count = 0;
        let results = rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count);
        for i in 0..count {
            let resource = *results.add(i);
            let code = rd::rd_kafka_ConfigResource_error(resource);
            if code != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                let code = RDKafkaErrorCode::from(code);
                if code == RDKafkaErrorCode::UnknownTopicOrPartition {
                    return Err(CliError::UnknownTopic(topic.to_owned()));
                }
                return Err(CliError::Kafka {
                    action,
                    code,
                    detail: Some(c_string(rd::rd_kafka_ConfigResource_error_string(resource))),
                });
            }
        }
    }
    Ok(())
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
