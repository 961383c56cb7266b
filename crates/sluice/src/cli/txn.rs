//! `sluice txn list|describe`: transactions as an operator sees them, the way Kafka's
//! `kafka-transactions` shows them: which transactional producers have a transaction open,
//! in what state, for how long, with which producer id and epoch, on which partitions.
//!
//! librdkafka's admin API has no ListTransactions / DescribeTransactions, so these requests go
//! over a plain TCP connection (PLAINTEXT listeners only) with `kafka-protocol`'s encoders. The
//! brokers come from a librdkafka metadata request (which also reports an unreachable cluster
//! the way every other command does); every broker is asked, since each coordinates its own
//! share of the transactional ids.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, ListTransactionsRequest, ListTransactionsResponse, RequestHeader,
    ResponseHeader, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::admin::AdminClient;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;

use super::connection::{create_client, ConnectionArgs};
use super::context::CliContext;
use super::error::CliError;

/// States of a transaction that is still open (not yet completed or empty).
const OPEN_STATES: [&str; 4] = [
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "PrepareEpochFence",
];
/// Largest response this client reads (a describe of thousands of partitions fits easily).
const MAX_RESPONSE: usize = 64 << 20;

#[derive(clap::Subcommand)]
pub enum TxnCommand {
    /// List open transactions: transactional id, state, age, producer id and epoch, and the
    /// partitions each one has written to.
    List(ListArgs),
    /// Show one transactional id: state, producer id/epoch, timeout, start time, partitions.
    Describe(DescribeArgs),
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Also list transactional ids without an open transaction (Empty, CompleteCommit, ...).
    #[arg(long)]
    all: bool,
}

#[derive(clap::Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The transactional id to describe.
    transactional_id: String,
}

pub async fn run(cmd: TxnCommand) -> anyhow::Result<()> {
    let out = match cmd {
        TxnCommand::List(args) => list(&args)?,
        TxnCommand::Describe(args) => describe(&args)?,
    };
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

/// One connection to one broker, for sequential request/response round trips.
struct Wire {
    stream: TcpStream,
    addr: String,
    correlation_id: i32,
}

impl Wire {
    fn connect(addr: &str, timeout: Duration) -> Result<Wire, CliError> {
        let unreachable =
            |why: String| CliError::Invalid(format!("cannot reach broker {addr}: {why}"));
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| unreachable(e.to_string()))?
            .next()
            .ok_or_else(|| unreachable("no address".into()))?;
        let stream =
            TcpStream::connect_timeout(&sock, timeout).map_err(|e| unreachable(e.to_string()))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Wire {
            stream,
            addr: addr.to_string(),
            correlation_id: 0,
        })
    }

    /// Sends `req` as `key` version `version` and decodes the answer.
    fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &Req,
    ) -> Result<Resp, CliError> {
        let broken = |what: &str, e: String| {
            CliError::Invalid(format!("{:?} to {}: {what}: {e}", key, self.addr))
        };
        self.correlation_id += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = key as i16;
        header.request_api_version = version;
        header.correlation_id = self.correlation_id;
        header.client_id = Some(StrBytes::from_static_str("sluice-cli"));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .and_then(|()| req.encode(&mut body, version))
            .map_err(|e| broken("encoding", e.to_string()))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        self.stream
            .write_all(&frame)
            .map_err(|e| broken("sending", e.to_string()))?;
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .map_err(|e| broken("reading", e.to_string()))?;
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > MAX_RESPONSE {
            return Err(broken("reading", format!("response size {len}")));
        }
        let mut buf = vec![0u8; len as usize];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| broken("reading", e.to_string()))?;
        let mut buf = Bytes::from(buf);
        let h = ResponseHeader::decode(&mut buf, key.response_header_version(version))
            .map_err(|e| broken("decoding", e.to_string()))?;
        if h.correlation_id != self.correlation_id {
            return Err(broken("decoding", "correlation id mismatch".into()));
        }
        let resp =
            Resp::decode(&mut buf, version).map_err(|e| broken("decoding", e.to_string()))?;
        if buf.has_remaining() {
            return Err(broken(
                "decoding",
                format!("{} trailing bytes", buf.remaining()),
            ));
        }
        Ok(resp)
    }
}

/// A Kafka error code as a CLI error, or Ok for 0.
fn check(code: i16, action: &str, detail: Option<&StrBytes>) -> Result<(), CliError> {
    if code == 0 {
        return Ok(());
    }
    let detail = detail.map(|d| d.to_string());
    match RDKafkaRespErr::try_from(code as i32).map(RDKafkaErrorCode::from) {
        Ok(known) if known != RDKafkaErrorCode::Unknown => {
            Err(CliError::kafka(action, None, known).with_detail(detail))
        }
        // Codes newer than librdkafka (TRANSACTIONAL_ID_NOT_FOUND is 105): named from
        // kafka-protocol's table instead.
        _ => {
            let e = ResponseError::try_from_code(code).unwrap_or(ResponseError::Unknown(code));
            let why = detail.unwrap_or_else(|| e.to_string());
            Err(CliError::Invalid(format!(
                "{action}: {}: {why}",
                protocol_name(&e)
            )))
        }
    }
}

/// `TransactionalIdNotFound` -> `TRANSACTIONAL_ID_NOT_FOUND`, as Kafka names its errors.
fn protocol_name(e: &ResponseError) -> String {
    let mut out = String::new();
    for (i, c) in format!("{e:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// host:port of every broker in the cluster's metadata.
fn brokers(conn: &ConnectionArgs) -> Result<Vec<String>, CliError> {
    let admin: AdminClient<CliContext> = create_client(&conn.client_config(&[]))?;
    let md = conn.cluster_metadata(admin.inner())?;
    Ok(md
        .brokers()
        .iter()
        .map(|b| format!("{}:{}", b.host(), b.port()))
        .collect())
}

fn describe_at(wire: &mut Wire, ids: Vec<String>) -> Result<Vec<TransactionState>, CliError> {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = ids
        .into_iter()
        .map(|id| TransactionalId(StrBytes::from_string(id)))
        .collect();
    let resp: DescribeTransactionsResponse = wire.call(ApiKey::DescribeTransactions, 0, &req)?;
    Ok(resp.transaction_states)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// "topic:0,1 other:3", partitions sorted.
fn partitions(t: &TransactionState) -> String {
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for topic in &t.topics {
        by_topic
            .entry(topic.topic.to_string())
            .or_default()
            .extend(&topic.partitions);
    }
    by_topic
        .into_iter()
        .map(|(topic, mut ps)| {
            ps.sort_unstable();
            let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
            format!("{topic}:{}", ps.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Age of a transaction started at `start_ms` ("-" if none is running), e.g. "12.3s".
fn age(start_ms: i64, now: i64) -> String {
    if start_ms < 0 {
        return "-".into();
    }
    let ms = (now - start_ms).max(0);
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, ms / 60_000 % 60)
    }
}

fn list(args: &ListArgs) -> Result<String, CliError> {
    let conn = &args.connection;
    let mut rows: Vec<[String; 6]> = Vec::new();
    for addr in brokers(conn)? {
        let mut wire = Wire::connect(&addr, conn.timeout())?;
        let mut req = ListTransactionsRequest::default();
        if !args.all {
            req.state_filters = OPEN_STATES
                .iter()
                .map(|s| StrBytes::from_static_str(s))
                .collect();
        }
        let resp: ListTransactionsResponse = wire.call(ApiKey::ListTransactions, 0, &req)?;
        check(resp.error_code, "listing transactions", None)?;
        let ids: Vec<String> = resp
            .transaction_states
            .iter()
            .map(|t| t.transactional_id.to_string())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let now = now_ms();
        for t in describe_at(&mut wire, ids)? {
            if t.error_code != 0 {
                // Completed or expired between the two requests.
                continue;
            }
            let open = OPEN_STATES.contains(&t.transaction_state.as_str());
            let start = if open {
                t.transaction_start_time_ms
            } else {
                -1
            };
            rows.push([
                t.transactional_id.to_string(),
                t.transaction_state.to_string(),
                age(start, now),
                t.producer_id.0.to_string(),
                t.producer_epoch.to_string(),
                partitions(&t),
            ]);
        }
    }
    rows.sort();
    Ok(table(
        [
            "TRANSACTIONAL_ID",
            "STATE",
            "AGE",
            "PRODUCER_ID",
            "EPOCH",
            "PARTITIONS",
        ],
        &rows,
    ))
}

/// Left-aligned columns separated by two spaces; the header only when there are rows.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

fn describe(args: &DescribeArgs) -> Result<String, CliError> {
    let conn = &args.connection;
    let id = &args.transactional_id;
    let action = format!("describing transactional id {id}");
    let bootstrap = conn
        .bootstrap_server
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    // Reachability is checked (and worded) the same way as every other command.
    brokers(conn)?;
    let mut wire = Wire::connect(&bootstrap, conn.timeout())?;
    let mut req = FindCoordinatorRequest::default();
    req.key = StrBytes::from_string(id.clone());
    req.key_type = 1;
    let found: FindCoordinatorResponse = wire.call(ApiKey::FindCoordinator, 3, &req)?;
    check(found.error_code, &action, found.error_message.as_ref())?;
    let coordinator = format!("{}:{}", found.host, found.port);
    let mut wire = Wire::connect(&coordinator, conn.timeout())?;
    let t = describe_at(&mut wire, vec![id.clone()])?
        .into_iter()
        .next()
        .ok_or_else(|| CliError::Invalid(format!("{action}: empty answer")))?;
    check(t.error_code, &action, None)?;
    let now = now_ms();
    // A completed transaction's start time is its last one's; only an open one has an age.
    let open = OPEN_STATES.contains(&t.transaction_state.as_str());
    let start = if open {
        t.transaction_start_time_ms
    } else {
        -1
    };
    let mut out = String::new();
    let mut field = |k: &str, v: String| out.push_str(&format!("{k:<22}{v}\n"));
    field("TransactionalId", t.transactional_id.to_string());
    field(
        "Coordinator",
        format!("{} ({coordinator})", found.node_id.0),
    );
    field("State", t.transaction_state.to_string());
    field("ProducerId", t.producer_id.0.to_string());
    field("ProducerEpoch", t.producer_epoch.to_string());
    field("TimeoutMs", t.transaction_timeout_ms.to_string());
    field(
        "StartTimeMs",
        if start >= 0 {
            start.to_string()
        } else {
            "-".into()
        },
    );
    field("Age", age(start, now));
    field("Partitions", partitions(&t));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_error_codes_get_kafkas_names() {
        let e = ResponseError::try_from_code(105).expect("an error");
        assert_eq!(protocol_name(&e), "TRANSACTIONAL_ID_NOT_FOUND");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(-1, 10), "-");
        assert_eq!(age(0, 1_250), "1.2s");
        assert_eq!(age(0, 125_000), "2m05s");
        assert_eq!(age(0, 7_500_000), "2h05m");
    }

    #[test]
    fn table_aligns_columns() {
        let rows = [["a".to_string(), "long-value".to_string()]];
        assert_eq!(table(["ID", "X"], &rows), "ID  X\na   long-value\n");
        assert_eq!(table(["ID", "X"], &[]), "");
    }
}
