//! The admin APIs as clients use them: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs,
//! CreatePartitions, DeleteRecords, DescribeCluster, DescribeLogDirs and OffsetForLeaderEpoch.
//!
//! Why: operators and tools (kafka-configs, kafka-delete-records, Cruise Control, UIs) drive a
//! cluster through these, and they read the exact error codes and messages Kafka sends. Each test
//! proves one such promise against a real `sluice serve` process. librdkafka is the client where
//! it has the API (through the rdkafka crate, or its C API where the crate has no wrapper);
//! DescribeLogDirs and OffsetForLeaderEpoch, which librdkafka does not expose, are spoken on the
//! wire by the small [`wire`] client below, byte for byte as Kafka's protocol guide defines them.

mod common;

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};

use common::{admin_options, block_on, produce_all, unique_topic, Broker, Rec};
use rdkafka::admin::{AdminClient, AlterConfig, NewPartitions, ResourceSpecifier};
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

// Kafka error codes the tests expect.
const NONE: i32 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i32 = 3;
const INVALID_CONFIG: i32 = 40;
const INVALID_REQUEST: i32 = 42;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

// Kafka's ConfigSource ids.
const DYNAMIC_TOPIC: i32 = 1;
const STATIC_BROKER: i32 = 4;
const DEFAULT: i32 = 5;

// ------------------------------------------------------------------------------------------
// librdkafka's C API for what the rdkafka crate does not wrap (synonyms, error messages,
// IncrementalAlterConfigs, DescribeCluster)
// ------------------------------------------------------------------------------------------

/// A config entry as librdkafka's DescribeConfigs result reports it.
#[derive(Debug, Clone)]
struct Entry {
    value: Option<String>,
    source: i32,
    read_only: bool,
    sensitive: bool,
    /// (name, value, source), most specific first.
    synonyms: Vec<(String, Option<String>, i32)>,
}

/// Per-resource outcome of a config call: Kafka's error code and message.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    code: i32,
    message: Option<String>,
}

impl Outcome {
    fn ok() -> Outcome {
        Outcome {
            code: NONE,
            message: None,
        }
    }

    fn err(code: i32, message: &str) -> Outcome {
        Outcome {
            code,
            message: Some(message.to_string()),
        }
    }
}

unsafe fn opt_str(p: *const std::ffi::c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

/// Runs one librdkafka admin operation and hands its result event to `read`. Everything
/// created here is destroyed here; `read` must copy out what it needs.
fn admin_call<T>(
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

fn resource_type(specifier: ResourceSpecifier<'_>) -> (rd::rd_kafka_ResourceType_t, String) {
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

unsafe fn resource_outcome(res: *const rd::rd_kafka_ConfigResource_t) -> Outcome {
    Outcome {
        code: rd::rd_kafka_ConfigResource_error(res) as i32,
        message: opt_str(rd::rd_kafka_ConfigResource_error_string(res)),
    }
}

/// DescribeConfigs (with synonyms) of one resource, optionally only `keys`.
fn describe(
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

fn describe_topic(broker: &Broker, topic: &str) -> BTreeMap<String, Entry> {
    describe(broker, ResourceSpecifier::Topic(topic), &[])
        .unwrap_or_else(|e| panic!("DescribeConfigs {topic}: {e:?}"))
}

/// One incremental operation: SET, DELETE, APPEND or SUBTRACT.
#[derive(Clone, Copy)]
enum Op<'a> {
    Set(&'a str, &'a str),
    Delete(&'a str),
    Append(&'a str, &'a str),
    Subtract(&'a str, &'a str),
}

/// Which alter API to call.
#[derive(Clone, Copy, PartialEq)]
enum Api {
    /// AlterConfigs: the request's SET entries become the whole override set.
    Legacy,
    Incremental,
}

/// AlterConfigs or IncrementalAlterConfigs on several resources at once: one outcome per
/// resource, in request order. The rdkafka crate's own `alter_configs` drops per-resource
/// errors, hence the C API.
fn alter(
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

fn alter_topic(broker: &Broker, topic: &str, ops: &[Op<'_>]) -> Outcome {
    alter(
        broker,
        Api::Incremental,
        &[(ResourceSpecifier::Topic(topic), ops)],
        false,
    )
    .remove(0)
}

// ------------------------------------------------------------------------------------------
// A minimal Kafka wire client for the APIs librdkafka has no call for
// ------------------------------------------------------------------------------------------

mod wire {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// One connection; requests are sent one at a time.
    pub struct Conn {
        stream: TcpStream,
        correlation_id: i32,
    }

    impl Conn {
        pub fn open(addr: SocketAddr) -> Conn {
            let stream =
                TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connecting");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("read timeout");
            Conn {
                stream,
                correlation_id: 0,
            }
        }

        /// Sends one request and returns the response body (after its header). `flexible`
        /// versions use request header v2 and response header v1 (with tagged fields).
        pub fn call(&mut self, api_key: i16, version: i16, flexible: bool, body: &[u8]) -> Vec<u8> {
            self.correlation_id += 1;
            let mut req = Vec::new();
            req.extend(api_key.to_be_bytes());
            req.extend(version.to_be_bytes());
            req.extend(self.correlation_id.to_be_bytes());
            put_string(&mut req, "admin-api-test");
            if flexible {
                req.push(0); // no tagged fields
            }
            req.extend(body);
            let mut frame = (req.len() as i32).to_be_bytes().to_vec();
            frame.extend(req);
            self.stream.write_all(&frame).expect("sending a request");
            let mut len = [0u8; 4];
            self.stream
                .read_exact(&mut len)
                .expect("reading a response size");
            let mut resp = vec![0u8; i32::from_be_bytes(len) as usize];
            self.stream
                .read_exact(&mut resp)
                .expect("reading a response");
            let mut r = Reader(&resp);
            assert_eq!(r.i32(), self.correlation_id, "correlation id");
            if flexible {
                r.skip_tags();
            }
            r.0.to_vec()
        }
    }

    pub fn put_string(buf: &mut Vec<u8>, s: &str) {
        buf.extend((s.len() as i16).to_be_bytes());
        buf.extend(s.as_bytes());
    }

    pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u32) {
        while v >= 0x80 {
            buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        buf.push(v as u8);
    }

    pub fn put_compact_string(buf: &mut Vec<u8>, s: &str) {
        put_uvarint(buf, s.len() as u32 + 1);
        buf.extend(s.as_bytes());
    }

    /// Reads big-endian fields off the front of a response.
    pub struct Reader<'a>(pub &'a [u8]);

    impl Reader<'_> {
        fn take<const N: usize>(&mut self) -> [u8; N] {
            let (head, rest) = self.0.split_at(N);
            self.0 = rest;
            head.try_into().expect("N bytes")
        }
        pub fn i8(&mut self) -> i8 {
            self.take::<1>()[0] as i8
        }
        pub fn bool(&mut self) -> bool {
            self.take::<1>()[0] != 0
        }
        pub fn i16(&mut self) -> i16 {
            i16::from_be_bytes(self.take())
        }
        pub fn i32(&mut self) -> i32 {
            i32::from_be_bytes(self.take())
        }
        pub fn i64(&mut self) -> i64 {
            i64::from_be_bytes(self.take())
        }
        pub fn uvarint(&mut self) -> u32 {
            let (mut v, mut shift) = (0u32, 0);
            loop {
                let b = self.take::<1>()[0];
                v |= u32::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return v;
                }
                shift += 7;
            }
        }
        pub fn string(&mut self) -> String {
            let n = self.i16() as usize;
            let (s, rest) = self.0.split_at(n);
            self.0 = rest;
            String::from_utf8(s.to_vec()).expect("UTF-8")
        }
        pub fn compact_string(&mut self) -> String {
            let n = self.uvarint() as usize - 1;
            let (s, rest) = self.0.split_at(n);
            self.0 = rest;
            String::from_utf8(s.to_vec()).expect("UTF-8")
        }
        pub fn nullable_string(&mut self) -> Option<String> {
            if self.0.starts_with(&[0xff, 0xff]) {
                self.0 = &self.0[2..];
                return None;
            }
            Some(self.string())
        }
        pub fn compact_nullable_string(&mut self) -> Option<String> {
            if self.0.first() == Some(&0) {
                self.0 = &self.0[1..];
                return None;
            }
            Some(self.compact_string())
        }
        /// Length of a classic array.
        pub fn array(&mut self) -> usize {
            self.i32() as usize
        }
        /// Length of a compact (non-null) array.
        pub fn compact_array(&mut self) -> usize {
            self.uvarint() as usize - 1
        }
        pub fn skip_tags(&mut self) {
            for _ in 0..self.uvarint() {
                let _tag = self.uvarint();
                let len = self.uvarint() as usize;
                self.0 = &self.0[len..];
            }
        }
    }
}

/// One log dir from DescribeLogDirs: (path, error, topic -> partition -> size, total, usable).
struct LogDir {
    path: String,
    error: i16,
    sizes: BTreeMap<String, BTreeMap<i32, i64>>,
    total_bytes: i64,
    usable_bytes: i64,
}

/// DescribeLogDirs v4 (flexible). `topics` None asks for every partition.
fn describe_log_dirs(broker: &Broker, topics: Option<&[(&str, &[i32])]>) -> Vec<LogDir> {
    let mut body = Vec::new();
    match topics {
        None => wire::put_uvarint(&mut body, 0),
        Some(list) => {
            wire::put_uvarint(&mut body, list.len() as u32 + 1);
            for (name, partitions) in list {
                wire::put_compact_string(&mut body, name);
                wire::put_uvarint(&mut body, partitions.len() as u32 + 1);
                for p in *partitions {
                    body.extend(p.to_be_bytes());
                }
                body.push(0);
            }
        }
    }
    body.push(0);
    let resp = wire::Conn::open(broker.addr()).call(35, 4, true, &body);
    let mut r = wire::Reader(&resp);
    let _throttle = r.i32();
    assert_eq!(r.i16(), 0, "top-level error code");
    let dirs = (0..r.compact_array())
        .map(|_| {
            let error = r.i16();
            let path = r.compact_string();
            let mut sizes = BTreeMap::new();
            for _ in 0..r.compact_array() {
                let name = r.compact_string();
                let mut parts = BTreeMap::new();
                for _ in 0..r.compact_array() {
                    let index = r.i32();
                    let size = r.i64();
                    assert_eq!(r.i64(), 0, "offset lag");
                    assert!(!r.bool(), "is_future_key");
                    r.skip_tags();
                    parts.insert(index, size);
                }
                r.skip_tags();
                sizes.insert(name, parts);
            }
            let (total_bytes, usable_bytes) = (r.i64(), r.i64());
            r.skip_tags();
            LogDir {
                path,
                error,
                sizes,
                total_bytes,
                usable_bytes,
            }
        })
        .collect();
    r.skip_tags();
    dirs
}

/// A raw AlterConfigs resource: (resource type, name, [(key, value)]).
type RawResource<'a> = (i8, &'a str, &'a [(&'a str, Option<&'a str>)]);

/// AlterConfigs v1 on the wire, for requests librdkafka refuses to build (duplicates, nulls,
/// unknown resource types): one (error code, message) per resource.
fn alter_configs_raw(broker: &Broker, resources: &[RawResource<'_>]) -> Vec<(i16, Option<String>)> {
    let mut body = Vec::new();
    body.extend((resources.len() as i32).to_be_bytes());
    for (ty, name, configs) in resources {
        body.push(*ty as u8);
        wire::put_string(&mut body, name);
        body.extend((configs.len() as i32).to_be_bytes());
        for (key, value) in *configs {
            wire::put_string(&mut body, key);
            match value {
                Some(v) => wire::put_string(&mut body, v),
                None => body.extend((-1i16).to_be_bytes()),
            }
        }
    }
    body.push(0); // validate_only
    let resp = wire::Conn::open(broker.addr()).call(33, 1, false, &body);
    let mut r = wire::Reader(&resp);
    let _throttle = r.i32();
    (0..r.array())
        .map(|_| {
            let (code, message) = (r.i16(), r.nullable_string());
            let (_ty, _name) = (r.i8(), r.string());
            (code, message)
        })
        .collect()
}

/// DescribeCluster's answer.
#[derive(Debug, PartialEq)]
struct Cluster {
    error: i16,
    message: Option<String>,
    cluster_id: String,
    controller: i32,
    /// (id, host, port, fenced)
    brokers: Vec<(i32, String, i32, bool)>,
    authorized_operations: i32,
}

/// DescribeCluster v1 or v2 (both flexible) with the given endpoint type.
fn describe_cluster(broker: &Broker, version: i16, endpoint_type: i8) -> Cluster {
    let mut body = vec![1u8, endpoint_type as u8]; // include_cluster_authorized_operations
    if version >= 2 {
        body.push(1); // include_fenced_brokers
    }
    body.push(0);
    let resp = wire::Conn::open(broker.addr()).call(60, version, true, &body);
    let mut r = wire::Reader(&resp);
    let _throttle = r.i32();
    let error = r.i16();
    let message = r.compact_nullable_string();
    assert_eq!(r.i8(), 1, "endpoint type of the answer");
    let cluster_id = r.compact_string();
    let controller = r.i32();
    let brokers = (0..r.compact_array())
        .map(|_| {
            let (id, host, port) = (r.i32(), r.compact_string(), r.i32());
            assert_eq!(r.compact_nullable_string(), None, "rack");
            let fenced = version >= 2 && r.bool();
            r.skip_tags();
            (id, host, port, fenced)
        })
        .collect();
    let authorized_operations = r.i32();
    r.skip_tags();
    Cluster {
        error,
        message,
        cluster_id,
        controller,
        brokers,
        authorized_operations,
    }
}

/// OffsetForLeaderEpoch v3 for one partition: (error, leader_epoch, end_offset).
fn offset_for_leader_epoch(
    broker: &Broker,
    topic: &str,
    partition: i32,
    current_epoch: i32,
    epoch: i32,
) -> (i16, i32, i64) {
    let mut body = Vec::new();
    body.extend((-1i32).to_be_bytes()); // replica_id: a consumer
    body.extend(1i32.to_be_bytes());
    wire::put_string(&mut body, topic);
    body.extend(1i32.to_be_bytes());
    body.extend(partition.to_be_bytes());
    body.extend(current_epoch.to_be_bytes());
    body.extend(epoch.to_be_bytes());
    let resp = wire::Conn::open(broker.addr()).call(23, 3, false, &body);
    let mut r = wire::Reader(&resp);
    let _throttle = r.i32();
    assert_eq!(r.array(), 1, "topics");
    assert_eq!(r.string(), topic);
    assert_eq!(r.array(), 1, "partitions");
    let error = r.i16();
    assert_eq!(r.i32(), partition);
    (error, r.i32(), r.i64())
}

// ------------------------------------------------------------------------------------------
// DescribeConfigs
// ------------------------------------------------------------------------------------------

#[test]
fn describe_configs_reports_overrides_defaults_sources_and_synonyms() {
    let broker = Broker::start_with_args(&["--set", "log.retention.hours=48"]);
    let topic = unique_topic("describe");
    broker.create_topic(&topic, 1, &[("retention.bytes", "12345")]);
    let configs = describe_topic(&broker, &topic);

    let bytes = &configs["retention.bytes"];
    assert_eq!(bytes.value.as_deref(), Some("12345"));
    assert_eq!(bytes.source, DYNAMIC_TOPIC);
    assert!(!bytes.read_only && !bytes.sensitive);
    assert_eq!(
        bytes.synonyms[0],
        (
            "retention.bytes".to_string(),
            Some("12345".to_string()),
            DYNAMIC_TOPIC
        )
    );

    // Defaulted from the broker's static setting, converted to the topic's unit.
    let retention = &configs["retention.ms"];
    assert_eq!(retention.value.as_deref(), Some("172800000"));
    assert_eq!(retention.source, STATIC_BROKER);
    assert_eq!(
        retention.synonyms[0],
        (
            "log.retention.hours".to_string(),
            Some("48".to_string()),
            STATIC_BROKER
        )
    );

    let cleanup = &configs["cleanup.policy"];
    assert_eq!(cleanup.value.as_deref(), Some("delete"));
    assert_eq!(cleanup.source, DEFAULT);

    // Asking for named keys answers only those (unknown names are simply absent).
    let some = describe(
        &broker,
        ResourceSpecifier::Topic(&topic),
        &["segment.bytes", "no.such.config"],
    )
    .unwrap();
    assert_eq!(some.keys().collect::<Vec<_>>(), vec!["segment.bytes"]);
    assert_eq!(some["segment.bytes"].value.as_deref(), Some("1073741824"));
}

#[test]
fn describe_configs_of_a_missing_or_invalid_topic_is_an_error() {
    let broker = Broker::start();
    let missing = describe(&broker, ResourceSpecifier::Topic("no-such-topic"), &[]).unwrap_err();
    assert_eq!(missing.code, UNKNOWN_TOPIC_OR_PARTITION);

    let invalid = describe(&broker, ResourceSpecifier::Topic("bad/name"), &[]).unwrap_err();
    assert_eq!(invalid.code, 17, "INVALID_TOPIC_EXCEPTION: {invalid:?}");
}

#[test]
fn describe_configs_of_the_broker_lists_static_settings_and_defaults() {
    let broker = Broker::start_with_args(&[
        "--set",
        "num.partitions=3",
        "--set",
        "log.retention.ms=7200000",
    ]);
    let configs =
        describe(&broker, ResourceSpecifier::Broker(0), &[]).expect("DescribeConfigs broker 0");

    let partitions = &configs["num.partitions"];
    assert_eq!(partitions.value.as_deref(), Some("3"));
    assert_eq!(partitions.source, STATIC_BROKER);
    assert!(
        partitions.read_only,
        "num.partitions cannot change at run time in Kafka"
    );

    // Kafka lists a group of unit synonyms from the most specific, given value first.
    let retention = &configs["log.retention.ms"];
    assert_eq!(retention.value.as_deref(), Some("7200000"));
    let names: Vec<_> = retention
        .synonyms
        .iter()
        .map(|(n, _, s)| (n.as_str(), *s))
        .collect();
    assert_eq!(
        names,
        vec![
            ("log.retention.ms", STATIC_BROKER),
            ("log.retention.hours", DEFAULT)
        ]
    );

    let max = &configs["message.max.bytes"];
    assert_eq!(
        (max.value.as_deref(), max.source, max.read_only),
        (Some("1048588"), DEFAULT, false)
    );
    assert!(
        configs.values().all(|e| !e.sensitive || e.value.is_none()),
        "sensitive values are hidden"
    );

    let listeners = &configs["listeners"];
    assert_eq!(
        listeners.value.as_deref(),
        Some(format!("PLAINTEXT://{}", broker.bootstrap()).as_str())
    );
}

// ------------------------------------------------------------------------------------------
// AlterConfigs and IncrementalAlterConfigs
// ------------------------------------------------------------------------------------------

#[test]
fn alter_configs_replaces_the_whole_override_set() {
    let broker = Broker::start();
    let topic = unique_topic("alter");
    broker.create_topic(
        &topic,
        1,
        &[("retention.ms", "60000"), ("segment.ms", "3600000")],
    );
    let admin = broker.admin();

    let change =
        AlterConfig::new(ResourceSpecifier::Topic(&topic)).set("cleanup.policy", "compact");
    let results = block_on(admin.alter_configs([&change], &admin_options())).expect("AlterConfigs");
    assert!(results[0].is_ok(), "{:?}", results[0]);

    let configs = describe_topic(&broker, &topic);
    assert_eq!(configs["cleanup.policy"].value.as_deref(), Some("compact"));
    assert_eq!(configs["cleanup.policy"].source, DYNAMIC_TOPIC);
    // Settings left out of a legacy AlterConfigs return to their defaults.
    assert_eq!(configs["retention.ms"].value.as_deref(), Some("604800000"));
    assert_eq!(configs["retention.ms"].source, DEFAULT);
    assert_eq!(configs["segment.ms"].source, DEFAULT);

    // Survives a restart: the overrides are stored, not only applied.
    drop(admin);
    let mut broker = broker;
    broker.restart();
    assert_eq!(
        describe_topic(&broker, &topic)["cleanup.policy"]
            .value
            .as_deref(),
        Some("compact")
    );
}

#[test]
fn alter_configs_refuses_invalid_values_and_validate_only_changes_nothing() {
    let broker = Broker::start();
    let topic = unique_topic("alter-invalid");
    broker.create_topic(&topic, 1, &[("retention.ms", "60000")]);
    let legacy = |topic: &str, ops: &[Op<'_>], validate_only: bool| {
        alter(
            &broker,
            Api::Legacy,
            &[(ResourceSpecifier::Topic(topic), ops)],
            validate_only,
        )
        .remove(0)
    };

    assert_eq!(
        legacy(&topic, &[Op::Set("retention.ms", "soon")], false),
        Outcome::err(
            INVALID_CONFIG,
            "Invalid value soon for configuration retention.ms: Not a number of type LONG"
        )
    );
    assert_eq!(
        legacy(&topic, &[Op::Set("retention.ms", "120000")], true),
        Outcome::ok()
    );
    assert_eq!(
        describe_topic(&broker, &topic)["retention.ms"]
            .value
            .as_deref(),
        Some("60000")
    );
    assert_eq!(
        legacy("no-such-topic", &[Op::Set("retention.ms", "1")], false),
        Outcome::err(
            UNKNOWN_TOPIC_OR_PARTITION,
            "The topic 'no-such-topic' does not exist."
        )
    );
    // Kafka checks the new settings before it looks the topic up.
    assert_eq!(
        legacy("no-such-topic", &[Op::Set("retention.ms", "x")], false).code,
        INVALID_CONFIG
    );
}

#[test]
fn alter_configs_checks_the_request_shape_like_kafkas_broker() {
    let broker = Broker::start();
    let topic = unique_topic("shape");
    broker.create_topic(&topic, 1, &[]);
    let invalid = |m: &str| (INVALID_REQUEST as i16, Some(m.to_string()));
    let set: &[(&str, Option<&str>)] = &[("retention.ms", Some("1000"))];

    // The same resource twice: both refused, and neither applied.
    assert_eq!(
        alter_configs_raw(&broker, &[(2, &topic, set), (2, &topic, set)]),
        vec![invalid("Each resource must appear at most once."); 2]
    );
    assert_eq!(
        describe_topic(&broker, &topic)["retention.ms"].source,
        DEFAULT
    );

    let cases: Vec<(RawResource<'_>, (i16, Option<String>))> = vec![
        (
            (
                2,
                &topic,
                &[("retention.ms", Some("1")), ("retention.ms", Some("2"))],
            ),
            invalid("Error due to duplicate config keys"),
        ),
        (
            (2, &topic, &[("retention.ms", None), ("segment.ms", None)]),
            invalid("Null value not supported for : retention.ms, segment.ms"),
        ),
        ((99, "x", set), invalid("Unknown resource type 99")),
        ((8, "0", set), invalid("Unknown resource type 8")),
        (
            (4, "abc", set),
            invalid("Node id must be an integer, but it is: abc"),
        ),
        (
            (4, "5", set),
            invalid("Unexpected broker id, expected 0, but received 5"),
        ),
        (
            (2, "", set),
            invalid("Default topic resources are not allowed."),
        ),
        ((4, "", &[]), (0, None)),
    ];
    for (resource, expected) in cases {
        assert_eq!(
            alter_configs_raw(&broker, &[resource]),
            vec![expected],
            "{resource:?}"
        );
    }
}

#[test]
fn incremental_alter_configs_sets_deletes_appends_and_subtracts() {
    let broker = Broker::start();
    let topic = unique_topic("incremental");
    broker.create_topic(&topic, 1, &[("retention.ms", "60000")]);

    // APPEND starts from the default list ("delete").
    assert_eq!(
        alter_topic(&broker, &topic, &[Op::Append("cleanup.policy", "compact")]),
        Outcome::ok()
    );
    assert_eq!(
        describe_topic(&broker, &topic)["cleanup.policy"]
            .value
            .as_deref(),
        Some("delete,compact")
    );

    assert_eq!(
        alter_topic(
            &broker,
            &topic,
            &[
                Op::Subtract("cleanup.policy", "delete"),
                Op::Set("segment.bytes", "1048576")
            ]
        ),
        Outcome::ok()
    );
    let configs = describe_topic(&broker, &topic);
    assert_eq!(configs["cleanup.policy"].value.as_deref(), Some("compact"));
    assert_eq!(configs["segment.bytes"].value.as_deref(), Some("1048576"));
    assert_eq!(
        configs["retention.ms"].value.as_deref(),
        Some("60000"),
        "untouched settings stay"
    );

    assert_eq!(
        alter_topic(&broker, &topic, &[Op::Delete("retention.ms")]),
        Outcome::ok()
    );
    let configs = describe_topic(&broker, &topic);
    assert_eq!(configs["retention.ms"].source, DEFAULT);
    assert_eq!(configs["cleanup.policy"].value.as_deref(), Some("compact"));

    // validate_only answers as a real change would, and changes nothing.
    let dry = alter(
        &broker,
        Api::Incremental,
        &[(
            ResourceSpecifier::Topic(&topic),
            &[Op::Set("retention.ms", "5")],
        )],
        true,
    );
    assert_eq!(dry, vec![Outcome::ok()]);
    assert_eq!(
        describe_topic(&broker, &topic)["retention.ms"].source,
        DEFAULT
    );
}

#[test]
fn incremental_alter_configs_answers_with_kafkas_errors() {
    let broker = Broker::start();
    let topic = unique_topic("incremental-errors");
    broker.create_topic(&topic, 1, &[]);

    let cases: Vec<(&[Op<'_>], Outcome)> = vec![
        (
            &[Op::Append("retention.ms", "1")],
            Outcome::err(INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."),
        ),
        (&[Op::Set("no.such.config", "1")], Outcome::err(INVALID_CONFIG, "Unknown topic config name: no.such.config")),
        (
            &[Op::Set("retention.ms", "soon")],
            Outcome::err(INVALID_CONFIG, "Invalid value soon for configuration retention.ms: Not a number of type LONG"),
        ),
        (
            &[Op::Set("cleanup.policy", "forever")],
            Outcome::err(INVALID_CONFIG, "Invalid value forever for configuration cleanup.policy: String must be one of: compact, delete"),
        ),
        (
            &[Op::Set("min.compaction.lag.ms", "10"), Op::Set("max.compaction.lag.ms", "5")],
            Outcome::err(INVALID_CONFIG, "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"),
        ),
    ];
    for (ops, expected) in cases {
        assert_eq!(alter_topic(&broker, &topic, ops), expected);
    }
    // Nothing above was applied.
    assert!(describe_topic(&broker, &topic)
        .values()
        .all(|e| e.source != DYNAMIC_TOPIC));

    assert_eq!(
        alter_topic(&broker, "no-such-topic", &[Op::Set("retention.ms", "1")]),
        Outcome::err(
            UNKNOWN_TOPIC_OR_PARTITION,
            "The topic 'no-such-topic' does not exist."
        )
    );
}

#[test]
fn one_bad_resource_does_not_fail_the_others() {
    let broker = Broker::start();
    let (good, bad) = (unique_topic("good"), unique_topic("bad"));
    broker.create_topic(&good, 1, &[]);
    broker.create_topic(&bad, 1, &[]);
    let outcomes = alter(
        &broker,
        Api::Incremental,
        &[
            (
                ResourceSpecifier::Topic(&good),
                &[Op::Set("retention.ms", "90000")],
            ),
            (
                ResourceSpecifier::Topic(&bad),
                &[Op::Set("retention.ms", "-7")],
            ),
        ],
        false,
    );
    assert_eq!(outcomes[0], Outcome::ok());
    assert_eq!(outcomes[1].code, INVALID_CONFIG, "{:?}", outcomes[1]);
    assert_eq!(
        describe_topic(&broker, &good)["retention.ms"]
            .value
            .as_deref(),
        Some("90000")
    );
    assert_eq!(
        describe_topic(&broker, &bad)["retention.ms"].source,
        DEFAULT
    );
}

#[test]
fn broker_settings_cannot_be_changed_at_run_time() {
    let broker = Broker::start();
    let outcomes = alter(
        &broker,
        Api::Incremental,
        &[(
            ResourceSpecifier::Broker(0),
            &[
                Op::Set("num.partitions", "4"),
                Op::Set("log.retention.ms", "1000"),
            ],
        )],
        false,
    );
    assert_eq!(
        outcomes,
        vec![Outcome::err(
            INVALID_REQUEST,
            "Cannot update these configs dynamically: Set(num.partitions, log.retention.ms)"
        )]
    );
    let legacy = alter(
        &broker,
        Api::Legacy,
        &[(
            ResourceSpecifier::Broker(0),
            &[Op::Set("num.partitions", "4")],
        )],
        false,
    );
    assert_eq!(
        legacy,
        vec![Outcome::err(
            INVALID_REQUEST,
            "Cannot update these configs dynamically: Set(num.partitions)"
        )]
    );
    // Changing nothing is fine.
    let nothing = alter(
        &broker,
        Api::Incremental,
        &[(
            ResourceSpecifier::Broker(0),
            &[Op::Delete("log.retention.ms")],
        )],
        false,
    );
    assert_eq!(nothing, vec![Outcome::ok()]);
    let configs = describe(&broker, ResourceSpecifier::Broker(0), &["num.partitions"])
        .expect("DescribeConfigs");
    assert_eq!(configs["num.partitions"].value.as_deref(), Some("1"));
}

// ------------------------------------------------------------------------------------------
// CreatePartitions
// ------------------------------------------------------------------------------------------

#[test]
fn create_partitions_validates_like_kafka() {
    let broker = Broker::start();
    let topic = unique_topic("grow");
    broker.create_topic(&topic, 2, &[]);
    let admin = broker.admin();
    let create = |p: &NewPartitions<'_>, validate_only: bool| {
        let results =
            block_on(admin.create_partitions([p], &admin_options().validate_only(validate_only)))
                .expect("CreatePartitions");
        results
            .into_iter()
            .next()
            .expect("one result")
            .map(|_| ())
            .map_err(|(_, code)| code)
    };

    assert_eq!(create(&NewPartitions::new(&topic, 4), true), Ok(()));
    assert_eq!(
        broker.partition_count(&topic),
        Some(2),
        "validate_only creates nothing"
    );
    assert_eq!(
        create(&NewPartitions::new(&topic, 2), false),
        Err(RDKafkaErrorCode::InvalidPartitions)
    );
    assert_eq!(
        create(&NewPartitions::new(&topic, 1), false),
        Err(RDKafkaErrorCode::InvalidPartitions)
    );
    assert_eq!(
        create(&NewPartitions::new("no-such-topic", 3), false),
        Err(RDKafkaErrorCode::UnknownTopicOrPartition)
    );
    // Assignments must name registered brokers, one list per new partition.
    let unknown_broker: &[&[i32]] = &[&[7]];
    assert_eq!(
        create(&NewPartitions::new(&topic, 3).assign(unknown_broker), false),
        Err(RDKafkaErrorCode::InvalidReplicaAssignment)
    );
    let this_broker: &[&[i32]] = &[&[0], &[0]];
    assert_eq!(
        create(&NewPartitions::new(&topic, 4).assign(this_broker), false),
        Ok(())
    );
    broker.wait_for_partitions(&topic, 4);

    // The new partitions take records.
    let recs: Vec<Rec> = (0..4).map(|p| Rec::value(p, format!("to {p}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);
    assert_eq!(broker.watermarks(&topic, 3), (0, 1));
}

// ------------------------------------------------------------------------------------------
// DeleteRecords
// ------------------------------------------------------------------------------------------

/// DeleteRecords for one partition: the new low watermark or the error code.
fn delete_records(
    broker: &Broker,
    topic: &str,
    partition: i32,
    before: Offset,
) -> Result<i64, RDKafkaErrorCode> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, before)
        .expect("tpl");
    let answer =
        block_on(broker.admin().delete_records(&tpl, &admin_options())).expect("DeleteRecords");
    let elem = answer
        .find_partition(topic, partition)
        .expect("partition in the answer");
    match elem.error() {
        Ok(()) => match elem.offset() {
            Offset::Offset(o) => Ok(o),
            other => panic!("low watermark {other:?}"),
        },
        Err(e) => Err(e.rdkafka_error_code().expect("a broker error code")),
    }
}

#[test]
fn delete_records_moves_the_low_watermark_and_consumers_start_there() {
    let broker = Broker::start();
    let topic = unique_topic("delete-records");
    broker.create_topic(&topic, 2, &[]);
    let recs: Vec<Rec> = (0..10).map(|i| Rec::value(0, format!("r{i}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);

    assert_eq!(delete_records(&broker, &topic, 0, Offset::Offset(4)), Ok(4));
    assert_eq!(broker.watermarks(&topic, 0), (4, 10));
    let read = broker.read_range(&topic, 0, 4, 10);
    assert_eq!(read.first().map(|m| m.offset), Some(4));
    assert_eq!(read[0].payload.as_deref(), Some(b"r4".as_slice()));

    // Deleting below the current start changes nothing.
    assert_eq!(delete_records(&broker, &topic, 0, Offset::Offset(2)), Ok(4));
    // Beyond the high watermark is out of range; the end means "everything".
    assert_eq!(
        delete_records(&broker, &topic, 0, Offset::Offset(11)),
        Err(RDKafkaErrorCode::OffsetOutOfRange)
    );
    assert_eq!(delete_records(&broker, &topic, 0, Offset::End), Ok(10));
    assert_eq!(broker.watermarks(&topic, 0), (10, 10));
    assert_eq!(
        delete_records(&broker, &topic, 1, Offset::End),
        Ok(0),
        "an empty partition"
    );

    // The new start offset survives a restart.
    let mut broker = broker;
    broker.restart();
    assert_eq!(broker.watermarks(&topic, 0), (10, 10));
}

#[test]
fn delete_records_is_refused_on_a_compacted_topic() {
    let broker = Broker::start();
    let topic = unique_topic("compacted");
    broker.create_topic(&topic, 1, &[("cleanup.policy", "compact")]);
    let recs: Vec<Rec> = (0..3)
        .map(|i| Rec {
            key: Some(format!("k{i}").into_bytes()),
            ..Rec::value(0, "v")
        })
        .collect();
    produce_all(&broker.producer(), &topic, &recs);
    assert_eq!(
        delete_records(&broker, &topic, 0, Offset::Offset(1)),
        Err(RDKafkaErrorCode::PolicyViolation)
    );
    assert_eq!(broker.watermarks(&topic, 0), (0, 3));
}

// ------------------------------------------------------------------------------------------
// DescribeCluster, DescribeLogDirs, OffsetForLeaderEpoch
// ------------------------------------------------------------------------------------------

#[test]
fn describe_cluster_lists_this_broker_as_the_only_node_and_controller() {
    let broker = Broker::start();
    let meta = std::fs::read_to_string(broker.data_dir().join("meta.properties"))
        .expect("meta.properties");
    let stored_id = meta
        .lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .expect("cluster.id line");
    let port = i32::from(broker.addr().port());
    for version in [1, 2] {
        let cluster = describe_cluster(&broker, version, 1);
        assert_eq!(
            cluster,
            Cluster {
                error: 0,
                message: None,
                cluster_id: stored_id.to_string(),
                controller: 0,
                brokers: vec![(0, "127.0.0.1".to_string(), port, false)],
                // Without an authorizer every cluster operation is allowed: CREATE, ALTER,
                // DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
                authorized_operations: (1 << 5)
                    | (1 << 7)
                    | (1 << 8)
                    | (1 << 9)
                    | (1 << 10)
                    | (1 << 11)
                    | (1 << 12),
            },
            "DescribeCluster v{version}"
        );
    }
    // Sluice has no separate controller endpoint.
    let wrong = describe_cluster(&broker, 1, 2);
    assert_eq!(wrong.error, 114, "MISMATCHED_ENDPOINT_TYPE");
    assert_eq!(
        wrong.message.as_deref(),
        Some("The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")
    );
}

#[test]
fn describe_log_dirs_reports_partition_sizes_and_disk_space() {
    let broker = Broker::start();
    let topic = unique_topic("log-dirs");
    broker.create_topic(&topic, 2, &[]);
    let recs: Vec<Rec> = (0..20)
        .map(|i| Rec::value(1, vec![b'x'; 100 + i]))
        .collect();
    produce_all(&broker.producer(), &topic, &recs);
    let on_disk: u64 = std::fs::read_dir(broker.partition_dir(&topic, 1))
        .expect("partition dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| e.metadata().expect("metadata").len())
        .sum();
    assert!(on_disk > 2000, "records are on disk ({on_disk} bytes)");

    let dirs = describe_log_dirs(&broker, None);
    assert_eq!(dirs.len(), 1, "one data directory");
    let dir = &dirs[0];
    assert_eq!(dir.error, 0);
    assert_eq!(std::path::Path::new(&dir.path), broker.data_dir().as_path());
    assert_eq!(
        dir.sizes[&topic],
        BTreeMap::from([(0, 0), (1, on_disk as i64)])
    );
    assert!(dir.total_bytes > 0 && dir.usable_bytes > 0 && dir.usable_bytes <= dir.total_bytes);

    // Asking for some partitions answers only those that exist.
    let dirs = describe_log_dirs(
        &broker,
        Some(&[(topic.as_str(), &[1, 5]), ("no-such-topic", &[0])]),
    );
    assert_eq!(
        dirs[0].sizes,
        BTreeMap::from([(topic.clone(), BTreeMap::from([(1, on_disk as i64)]))])
    );
}

#[test]
fn offset_for_leader_epoch_answers_the_epoch_end_and_checks_the_callers_epoch() {
    let broker = Broker::start();
    let topic = unique_topic("epochs");
    broker.create_topic(&topic, 2, &[]);
    let recs: Vec<Rec> = (0..5).map(|i| Rec::value(0, format!("r{i}"))).collect();
    produce_all(&broker.producer(), &topic, &recs);
    assert_eq!(broker.watermarks(&topic, 0), (0, 5));
    let leo = 5;

    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, 0, 0),
        (0, 0, leo)
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, -1, 0),
        (0, 0, leo),
        "-1: epoch not checked"
    );
    // Like Kafka, a partition knows its leader's epoch before anything is written to it.
    assert_eq!(offset_for_leader_epoch(&broker, &topic, 1, 0, 0), (0, 0, 0));
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, 0, 3),
        (0, -1, -1),
        "a newer epoch is unknown"
    );
    // A caller ahead of the broker's epoch gets UNKNOWN, one behind it FENCED.
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, 3, 0),
        (UNKNOWN_LEADER_EPOCH, -1, -1)
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 0, -2, 0),
        (FENCED_LEADER_EPOCH, -1, -1)
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, &topic, 7, 0, 0).0,
        UNKNOWN_TOPIC_OR_PARTITION as i16
    );
    assert_eq!(
        offset_for_leader_epoch(&broker, "no-such-topic", 0, 0, 0).0,
        UNKNOWN_TOPIC_OR_PARTITION as i16
    );
}
