//! A minimal Kafka wire client for requests librdkafka cannot send: APIs it has no call for
//! (DescribeCluster, DescribeLogDirs, OffsetForLeaderEpoch) and malformed shapes it refuses to
//! build (duplicate resources or keys, null values, unknown resource types). Encodings follow
//! Kafka's protocol guide: classic versions use int16-length strings and int32-length arrays,
//! flexible versions compact (varint) lengths and tagged fields.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::Broker;

/// One connection; requests are sent one at a time.
pub struct Conn {
    stream: TcpStream,
    correlation_id: i32,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connecting");
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
/// One log dir from DescribeLogDirs: (path, error, topic -> partition -> size, total, usable).
pub struct LogDir {
    pub path: String,
    pub error: i16,
    pub sizes: BTreeMap<String, BTreeMap<i32, i64>>,
    pub total_bytes: i64,
    pub usable_bytes: i64,
}

/// DescribeLogDirs v4 (flexible). `topics` None asks for every partition.
pub fn describe_log_dirs(broker: &Broker, topics: Option<&[(&str, &[i32])]>) -> Vec<LogDir> {
    let mut body = Vec::new();
    match topics {
        None => put_uvarint(&mut body, 0),
        Some(list) => {
            put_uvarint(&mut body, list.len() as u32 + 1);
            for (name, partitions) in list {
                put_compact_string(&mut body, name);
                put_uvarint(&mut body, partitions.len() as u32 + 1);
                for p in *partitions {
                    body.extend(p.to_be_bytes());
                }
                body.push(0);
            }
        }
    }
    body.push(0);
    let resp = Conn::open(broker.addr()).call(35, 4, true, &body);
    let mut r = Reader(&resp);
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
pub type RawResource<'a> = (i8, &'a str, &'a [(&'a str, Option<&'a str>)]);

/// AlterConfigs v1 on the wire, for requests librdkafka refuses to build (duplicates, nulls,
/// unknown resource types): one (error code, message) per resource.
pub fn alter_configs_raw(
    broker: &Broker,
    resources: &[RawResource<'_>],
) -> Vec<(i16, Option<String>)> {
    let mut body = Vec::new();
    body.extend((resources.len() as i32).to_be_bytes());
    for (ty, name, configs) in resources {
        body.push(*ty as u8);
        put_string(&mut body, name);
        body.extend((configs.len() as i32).to_be_bytes());
        for (key, value) in *configs {
            put_string(&mut body, key);
            match value {
                Some(v) => put_string(&mut body, v),
                None => body.extend((-1i16).to_be_bytes()),
            }
        }
    }
    body.push(0); // validate_only
    let resp = Conn::open(broker.addr()).call(33, 1, false, &body);
    let mut r = Reader(&resp);
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
pub struct Cluster {
    pub error: i16,
    pub message: Option<String>,
    pub cluster_id: String,
    pub controller: i32,
    /// (id, host, port, fenced)
    pub brokers: Vec<(i32, String, i32, bool)>,
    pub authorized_operations: i32,
}

/// DescribeCluster v1 or v2 (both flexible) with the given endpoint type.
pub fn describe_cluster(broker: &Broker, version: i16, endpoint_type: i8) -> Cluster {
    let mut body = vec![1u8, endpoint_type as u8]; // include_cluster_authorized_operations
    if version >= 2 {
        body.push(1); // include_fenced_brokers
    }
    body.push(0);
    let resp = Conn::open(broker.addr()).call(60, version, true, &body);
    let mut r = Reader(&resp);
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
pub fn offset_for_leader_epoch(
    broker: &Broker,
    topic: &str,
    partition: i32,
    current_epoch: i32,
    epoch: i32,
) -> (i16, i32, i64) {
    let mut body = Vec::new();
    body.extend((-1i32).to_be_bytes()); // replica_id: a consumer
    body.extend(1i32.to_be_bytes());
    put_string(&mut body, topic);
    body.extend(1i32.to_be_bytes());
    body.extend(partition.to_be_bytes());
    body.extend(current_epoch.to_be_bytes());
    body.extend(epoch.to_be_bytes());
    let resp = Conn::open(broker.addr()).call(23, 3, false, &body);
    let mut r = Reader(&resp);
    let _throttle = r.i32();
    assert_eq!(r.array(), 1, "topics");
    assert_eq!(r.string(), topic);
    assert_eq!(r.array(), 1, "partitions");
    let error = r.i16();
    assert_eq!(r.i32(), partition);
    (error, r.i32(), r.i64())
}

/// One config entry of a DescribeConfigs v4 answer.
pub struct RawConfig {
    pub value: Option<String>,
    pub source: i8,
    pub synonyms: usize,
    pub config_type: i8,
    pub documentation: Option<String>,
}

/// One resource of a DescribeConfigs v4 answer.
pub struct RawDescribed {
    pub error: i16,
    pub message: Option<String>,
    pub configs: BTreeMap<String, RawConfig>,
}

/// DescribeConfigs v4 (flexible; librdkafka only speaks v1): every setting of each
/// (resource type, name).
pub fn describe_configs_raw(
    broker: &Broker,
    resources: &[(i8, &str)],
    synonyms: bool,
    documentation: bool,
) -> Vec<RawDescribed> {
    let mut body = Vec::new();
    put_uvarint(&mut body, resources.len() as u32 + 1);
    for (ty, name) in resources {
        body.push(*ty as u8);
        put_compact_string(&mut body, name);
        put_uvarint(&mut body, 0); // configuration_keys: null, all of them
        body.push(0);
    }
    body.extend([synonyms as u8, documentation as u8, 0]);
    let resp = Conn::open(broker.addr()).call(32, 4, true, &body);
    let mut r = Reader(&resp);
    let _throttle = r.i32();
    let results = (0..r.compact_array())
        .map(|_| {
            let (error, message) = (r.i16(), r.compact_nullable_string());
            let (_ty, _name) = (r.i8(), r.compact_string());
            let configs = (0..r.compact_array())
                .map(|_| {
                    let name = r.compact_string();
                    let value = r.compact_nullable_string();
                    let (_read_only, source, _sensitive) = (r.bool(), r.i8(), r.bool());
                    let synonyms = r.compact_array();
                    for _ in 0..synonyms {
                        let _ = (r.compact_string(), r.compact_nullable_string(), r.i8());
                        r.skip_tags();
                    }
                    let (config_type, documentation) = (r.i8(), r.compact_nullable_string());
                    r.skip_tags();
                    (
                        name,
                        RawConfig {
                            value,
                            source,
                            synonyms,
                            config_type,
                            documentation,
                        },
                    )
                })
                .collect();
            r.skip_tags();
            RawDescribed {
                error,
                message,
                configs,
            }
        })
        .collect();
    r.skip_tags();
    results
}
