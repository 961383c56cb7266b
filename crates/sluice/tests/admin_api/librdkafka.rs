//! librdkafka's C API for what the rdkafka crate does not wrap or loses: config synonyms,
//! per-resource error codes and messages of DescribeConfigs and AlterConfigs, and
//! IncrementalAlterConfigs.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};

use rdkafka::admin::{AdminClient, ResourceSpecifier};
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;

use crate::common::Broker;

/// Kafka's "no error" code.
pub const NONE: i32 = 0;

/// A config entry as librdkafka's DescribeConfigs result reports it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Option<String>,
    pub source: i32,
    pub read_only: bool,
    pub sensitive: bool,
    /// (name, value, source), most specific first.
    pub synonyms: Vec<(String, Option<String>, i32)>,
}

/// Per-resource outcome of a config call: Kafka's error code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub code: i32,
    pub message: Option<String>,
}

impl Outcome {
    pub fn ok() -> Outcome {
        Outcome {
            code: NONE,
            message: None,
        }
    }

    pub fn err(code: i32, message: &str) -> Outcome {
        Outcome {
            code,
            message: Some(message.to_string()),
        }
    }
}

pub unsafe fn opt_str(p: *const std::ffi::c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

/// Runs one librdkafka admin operation and hands its result event to `read`. Everything
/// created here is destroyed here; `read` must copy out what it needs.
pub fn admin_call<T>(
    admin: &AdminClient<DefaultClientContext>,
    op: rd::rd_kafka_admin_op_t,
    validate_only: bool,
    start: impl FnOnce(*mut rd::rd_kafka_t, *mut rd::rd_kafka_AdminOptions_t, *mut rd::rd_kafka_queue_t),
    read: impl FnOnce(*mut rd::rd_kafka_event_t) -> T,
) -> T {
    let rk = admin.inner().native_ptr();
    // SAFETY: plain use of librdkafka's admin C API on objects created and destroyed here.
    unsafe {
        let queue = rd::rd_kafka_queue_new(rk);
        let options = rd::rd_kafka_AdminOptions_new(rk, op);
        let mut errstr = [0 as std::ffi::c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            10_000,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        if validate_only {
            rd::rd_kafka_AdminOptions_set_validate_only(
                options,
                1,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
        }
        start(rk, options, queue);
        let event = rd::rd_kafka_queue_poll(queue, 15_000);
        assert!(!event.is_null(), "no result for {op:?} within 15s");
        let failed =
            rd::rd_kafka_event_error(event) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR;
        let message = failed.then(|| opt_str(rd::rd_kafka_event_error_string(event)));
        let out = if failed { None } else { Some(read(event)) };
        rd::rd_kafka_event_destroy(event);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_queue_destroy(queue);
        out.unwrap_or_else(|| panic!("{op:?} failed: {message:?}"))
    }
}

pub fn resource_type(specifier: ResourceSpecifier<'_>) -> (rd::rd_kafka_ResourceType_t, String) {
    match specifier {
        ResourceSpecifier::Topic(t) => (
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
            t.to_string(),
        ),
        ResourceSpecifier::Broker(id) => (
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_BROKER,
            id.to_string(),
        ),
        ResourceSpecifier::Group(g) => (
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_GROUP,
            g.to_string(),
        ),
    }
}

pub unsafe fn resource_outcome(res: *const rd::rd_kafka_ConfigResource_t) -> Outcome {
    Outcome {
        code: rd::rd_kafka_ConfigResource_error(res) as i32,
        message: opt_str(rd::rd_kafka_ConfigResource_error_string(res)),
    }
}

/// DescribeConfigs (with synonyms) of one resource, optionally only `keys`.
pub fn describe(
    broker: &Broker,
    specifier: ResourceSpecifier<'_>,
    keys: &[&str],
) -> Result<BTreeMap<String, Entry>, Outcome> {
    let (restype, name) = resource_type(specifier);
    let name = CString::new(name).expect("no NUL");
    let keys: Vec<CString> = keys
        .iter()
        .map(|k| CString::new(*k).expect("no NUL"))
        .collect();
    admin_call(
        &broker.admin(),
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
        false,
        // SAFETY: the resource array is handed to librdkafka, which copies it, then destroyed.
        |rk, options, queue| unsafe {
            let mut res = [rd::rd_kafka_ConfigResource_new(restype, name.as_ptr())];
            for k in &keys {
                // DescribeConfigs sends only the names; librdkafka wants a value.
                rd::rd_kafka_ConfigResource_set_config(res[0], k.as_ptr(), c"".as_ptr());
            }
            rd::rd_kafka_DescribeConfigs(rk, res.as_mut_ptr(), 1, options, queue);
            rd::rd_kafka_ConfigResource_destroy(res[0]);
        },
        // SAFETY: result objects are owned by the event, which outlives this closure.
        |event| unsafe {
            let result = rd::rd_kafka_event_DescribeConfigs_result(event);
            let mut n = 0usize;
            let resources = rd::rd_kafka_DescribeConfigs_result_resources(result, &mut n);
            assert_eq!(n, 1, "one resource asked, {n} answered");
            let res = *resources;
            let outcome = resource_outcome(res);
            if outcome.code != NONE {
                return Err(outcome);
            }
            let mut n = 0usize;
            let entries = rd::rd_kafka_ConfigResource_configs(res, &mut n);
            Ok((0..n)
                .map(|i| {
                    let e = *entries.add(i);
                    let mut ns = 0usize;
                    let syns = rd::rd_kafka_ConfigEntry_synonyms(e, &mut ns);
                    let synonyms = (0..ns)
                        .map(|j| {
                            let s = *syns.add(j);
                            (
                                opt_str(rd::rd_kafka_ConfigEntry_name(s)).unwrap_or_default(),
                                opt_str(rd::rd_kafka_ConfigEntry_value(s)),
                                rd::rd_kafka_ConfigEntry_source(s) as i32,
                            )
                        })
                        .collect();
                    let entry = Entry {
                        value: opt_str(rd::rd_kafka_ConfigEntry_value(e)),
                        source: rd::rd_kafka_ConfigEntry_source(e) as i32,
                        read_only: rd::rd_kafka_ConfigEntry_is_read_only(e) != 0,
                        sensitive: rd::rd_kafka_ConfigEntry_is_sensitive(e) != 0,
                        synonyms,
                    };
                    (
                        opt_str(rd::rd_kafka_ConfigEntry_name(e)).unwrap_or_default(),
                        entry,
                    )
                })
                .collect())
        },
    )
}

pub fn describe_topic(broker: &Broker, topic: &str) -> BTreeMap<String, Entry> {
    describe(broker, ResourceSpecifier::Topic(topic), &[])
        .unwrap_or_else(|e| panic!("DescribeConfigs {topic}: {e:?}"))
}

/// One incremental operation: SET, DELETE, APPEND or SUBTRACT.
#[derive(Clone, Copy)]
pub enum Op<'a> {
    Set(&'a str, &'a str),
    Delete(&'a str),
    Append(&'a str, &'a str),
    Subtract(&'a str, &'a str),
}

/// Which alter API to call.
#[derive(Clone, Copy, PartialEq)]
pub enum Api {
    /// AlterConfigs: the request's SET entries become the whole override set.
    Legacy,
    Incremental,
}

/// AlterConfigs or IncrementalAlterConfigs on several resources at once: one outcome per
/// resource, in request order. The rdkafka crate's own `alter_configs` drops per-resource
/// errors, hence the C API.
pub fn alter(
    broker: &Broker,
    api: Api,
    resources: &[(ResourceSpecifier<'_>, &[Op<'_>])],
    validate_only: bool,
) -> Vec<Outcome> {
    use rd::rd_kafka_AlterConfigOpType_t as T;
    let prepared: Vec<_> = resources
        .iter()
        .map(|(spec, ops)| {
            let (restype, name) = resource_type(*spec);
            let ops: Vec<_> = ops
                .iter()
                .map(|op| {
                    let (ty, key, value) = match *op {
                        Op::Set(k, v) => (T::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET, k, Some(v)),
                        Op::Delete(k) => (T::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE, k, None),
                        Op::Append(k, v) => (T::RD_KAFKA_ALTER_CONFIG_OP_TYPE_APPEND, k, Some(v)),
                        Op::Subtract(k, v) => {
                            (T::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SUBTRACT, k, Some(v))
                        }
                    };
                    assert!(
                        api == Api::Incremental || ty == T::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                        "AlterConfigs only sets"
                    );
                    (
                        ty,
                        CString::new(key).expect("no NUL"),
                        value.map(|v| CString::new(v).expect("no NUL")),
                    )
                })
                .collect();
            (restype, CString::new(name).expect("no NUL"), ops)
        })
        .collect();
    let op = match api {
        Api::Legacy => rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERCONFIGS,
        Api::Incremental => rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
    };
    admin_call(
        &broker.admin(),
        op,
        validate_only,
        // SAFETY: the resource array is handed to librdkafka, which copies it, then destroyed.
        |rk, options, queue| unsafe {
            let mut res: Vec<_> = prepared
                .iter()
                .map(|(restype, name, ops)| {
                    let r = rd::rd_kafka_ConfigResource_new(*restype, name.as_ptr());
                    for (ty, key, value) in ops {
                        let value = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
                        if api == Api::Legacy {
                            let err =
                                rd::rd_kafka_ConfigResource_set_config(r, key.as_ptr(), value);
                            assert_eq!(err, rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
                        } else {
                            let err = rd::rd_kafka_ConfigResource_add_incremental_config(
                                r,
                                key.as_ptr(),
                                *ty,
                                value,
                            );
                            assert!(
                                err.is_null(),
                                "librdkafka refused an incremental op locally"
                            );
                        }
                    }
                    r
                })
                .collect();
            match api {
                Api::Legacy => {
                    rd::rd_kafka_AlterConfigs(rk, res.as_mut_ptr(), res.len(), options, queue)
                }
                Api::Incremental => rd::rd_kafka_IncrementalAlterConfigs(
                    rk,
                    res.as_mut_ptr(),
                    res.len(),
                    options,
                    queue,
                ),
            }
            for r in res {
                rd::rd_kafka_ConfigResource_destroy(r);
            }
        },
        // SAFETY: result objects are owned by the event, which outlives this closure.
        |event| unsafe {
            let mut n = 0usize;
            let resources = match api {
                Api::Legacy => rd::rd_kafka_AlterConfigs_result_resources(
                    rd::rd_kafka_event_AlterConfigs_result(event),
                    &mut n,
                ),
                Api::Incremental => rd::rd_kafka_IncrementalAlterConfigs_result_resources(
                    rd::rd_kafka_event_IncrementalAlterConfigs_result(event),
                    &mut n,
                ),
            };
            // librdkafka may answer in any order; match the answers to the request by name.
            let answers: Vec<(String, Outcome)> = (0..n)
                .map(|i| {
                    let r = *resources.add(i);
                    (
                        opt_str(rd::rd_kafka_ConfigResource_name(r)).unwrap_or_default(),
                        resource_outcome(r),
                    )
                })
                .collect();
            prepared
                .iter()
                .map(|(_, name, _)| {
                    let name = name.to_string_lossy();
                    answers
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, o)| o.clone())
                        .expect("an answer per resource")
                })
                .collect()
        },
    )
}

pub fn alter_topic(broker: &Broker, topic: &str, ops: &[Op<'_>]) -> Outcome {
    alter(
        broker,
        Api::Incremental,
        &[(ResourceSpecifier::Topic(topic), ops)],
        false,
    )
    .remove(0)
}
