//! Smoke test run by CI so the benchmark tooling cannot rot: every workload of `sluice-bench`
//! runs for about two seconds against the null broker and against `sluice serve`, and the JSON
//! result must be well-formed, show non-zero throughput and account for every message.
//!
//! The timings themselves are not checked (CI machines are noisy); docs/benchmarks.md has the
//! figures. `sluice` is another package's binary, so it is found next to this test's own build
//! output (target/<profile>/sluice); build it first (`cargo build -p sluice`, which
//! scripts/test.sh does) or this test fails saying so.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const READY_TIMEOUT: Duration = Duration::from_secs(15);
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// A broker process on a loopback port, killed on drop.
struct Server {
    name: &'static str,
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail = &log[log.len().saturating_sub(6000)..];
            eprintln!("---- {} log tail ----\n{tail}", self.name);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Starts `program args(port, dir)` and waits until it accepts connections; retries on a port
/// taken between probing and binding.
fn start(name: &'static str, program: &Path, args: impl Fn(u16, &Path) -> Vec<String>) -> Server {
    let mut last_error = String::new();
    for _ in 0..3 {
        let dir = tempfile::Builder::new()
            .prefix("sluice-bench-smoke-")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(program)
            .args(args(port, dir.path()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", program.display()));
        let mut server = Server {
            name,
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                last_error = format!("{name} exited with {status}:\n{}", server.log());
                break;
            }
            let addr = ([127, 0, 0, 1], port).into();
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return server;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{name} did not listen on {port} within {READY_TIMEOUT:?}:\n{}",
                    server.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start {name}: {last_error}");
}

fn null_broker() -> Server {
    start(
        "null-broker",
        Path::new(env!("CARGO_BIN_EXE_null-broker")),
        |port, _| {
            vec![
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--retain-mb".into(),
                "128".into(),
            ]
        },
    )
}

/// target/<profile>/sluice, beside this test's own target/<profile>/deps/smoke-<hash>.
fn sluice_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let sluice = profile_dir.join("sluice");
    assert!(
        sluice.is_file(),
        "{} is missing: this smoke test runs the real broker; build it first with \
         `cargo build -p sluice` (scripts/test.sh does)",
        sluice.display()
    );
    sluice
}

fn sluice() -> Server {
    start("sluice", &sluice_binary(), |port, dir| {
        let listener = format!("PLAINTEXT://127.0.0.1:{port}");
        vec![
            "serve".into(),
            "--data-dir".into(),
            dir.join("data").display().to_string(),
            "--listeners".into(),
            listener.clone(),
            "--advertised-listeners".into(),
            listener,
            "--set".into(),
            "http.listeners=".into(),
            "--set".into(),
            "schema.registry.listeners=".into(),
        ]
    })
}

/// Runs `sluice-bench` against `server` and returns its JSON result.
fn bench(server: &Server, workload_args: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("result.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice-bench"))
        .args(workload_args)
        .arg("--bootstrap")
        .arg(server.bootstrap())
        .arg("--broker-pid")
        .arg(server.child.id().to_string())
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning sluice-bench");
    let deadline = Instant::now() + RUN_TIMEOUT;
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting output");
            panic!(
                "sluice-bench {workload_args:?} against {} ran over {RUN_TIMEOUT:?}\n{}",
                server.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("collecting output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "sluice-bench {workload_args:?} against {}:\n{stdout}",
        server.name
    );
    assert!(
        out.status.success(),
        "sluice-bench {workload_args:?} against {} exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        server.name,
        out.status
    );
    let text = std::fs::read_to_string(&json).expect("sluice-bench wrote its --json file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("result is not JSON ({e}):\n{text}"))
}

fn u64_at(v: &Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for key in path {
        cur = &cur[key];
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {v:#}"))
}

fn f64_at(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for key in path {
        cur = &cur[key];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {v:#}"))
}

/// What every result must show: the workload named, throughput, all messages accounted for,
/// and the broker's cost read from /proc.
fn check_common(v: &Value, workload: &str) {
    assert_eq!(v["workload"], workload, "{v:#}");
    assert!(f64_at(v, &["throughput", "mb_per_s"]) > 0.0, "{v:#}");
    assert!(f64_at(v, &["throughput", "msgs_per_s"]) > 0.0, "{v:#}");
    assert!(u64_at(v, &["throughput", "messages"]) > 0, "{v:#}");
    assert_eq!(v["messages"]["all_accounted"], true, "{v:#}");
    assert_eq!(u64_at(v, &["messages", "failed"]), 0, "{v:#}");
    let sent = u64_at(v, &["messages", "sent"]);
    assert!(sent > 0, "{v:#}");
    assert_eq!(u64_at(v, &["messages", "acked"]), sent, "{v:#}");
    assert!(f64_at(v, &["broker", "cpu_seconds"]) >= 0.0, "{v:#}");
    assert!(f64_at(v, &["broker", "peak_rss_mb"]) > 0.0, "{v:#}");
    assert!(v["first_error"].is_null(), "{v:#}");
}

fn check_latency(v: &Value, which: &str) {
    let l = &v[which];
    assert!(u64_at(l, &["count"]) > 0, "{which} in {v:#}");
    let (p50, p99, p999, max) = (
        f64_at(l, &["p50_ms"]),
        f64_at(l, &["p99_ms"]),
        f64_at(l, &["p999_ms"]),
        f64_at(l, &["max_ms"]),
    );
    assert!(
        0.0 <= p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
        "{which} percentiles out of order in {v:#}"
    );
}

fn run_every_workload(server: &Server) {
    let produce = bench(server, &["produce", "--duration", "2"]);
    check_common(&produce, "produce");
    check_latency(&produce, "produce_latency");
    assert!(
        produce["broker"]["cpu_seconds_per_gb"].is_number(),
        "{produce:#}"
    );
    assert_eq!(produce["settings"]["partitioner"], "keyless", "{produce:#}");

    // Fill a fixed amount so the null broker's per-partition memory holds all of it; dealt to the
    // partitions in turn, so that both consumers have every one of their partitions to read.
    let consume = bench(
        server,
        &[
            "consume",
            "--messages",
            "50000",
            "--consumers",
            "2",
            "--partitioner",
            "round-robin",
        ],
    );
    check_common(&consume, "consume");
    assert_eq!(
        consume["settings"]["partitioner"], "round-robin",
        "{consume:#}"
    );
    let acked = u64_at(&consume, &["messages", "acked"]);
    assert_eq!(acked, 50_000, "{consume:#}");
    assert_eq!(
        u64_at(&consume, &["messages", "consumed"]),
        acked,
        "{consume:#}"
    );
    assert_eq!(
        u64_at(&consume, &["messages", "expected_consumed"]),
        acked,
        "{consume:#}"
    );
    assert!(consume["fill"]["messages"].is_u64(), "{consume:#}");

    let e2e = bench(
        server,
        &[
            "end-to-end",
            "--duration",
            "2",
            "--rate",
            "2000",
            "--linger-ms",
            "1",
        ],
    );
    check_common(&e2e, "end-to-end");
    check_latency(&e2e, "produce_latency");
    check_latency(&e2e, "e2e_latency");
    assert_eq!(
        u64_at(&e2e, &["messages", "consumed"]),
        u64_at(&e2e, &["messages", "acked"]),
        "{e2e:#}"
    );
    assert_eq!(e2e["rate"]["target_msgs_per_s"], 2000.0, "{e2e:#}");
}

#[test]
fn every_workload_runs_against_the_null_broker() {
    run_every_workload(&null_broker());
}

#[test]
fn every_workload_runs_against_sluice() {
    run_every_workload(&sluice());
}
