//! End-to-end tests of `sluice topic|produce|consume`: each test starts a real `sluice serve` on a
//! free loopback port and drives the CLI binary against it, asserting exact output and exit codes.
//!
//! Setting `SLUICE_CLI_TEST_BOOTSTRAP=host:port` points the tests at an already running
//! Kafka-compatible broker instead (e.g. the reference Apache Kafka), to check that the expected
//! outputs are Kafka's behaviour. Tests that need a specially configured broker fail in that mode.

use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const EXTERNAL_BROKER_ENV: &str = "SLUICE_CLI_TEST_BOOTSTRAP";
const BROKER_START_DEADLINE: Duration = Duration::from_secs(10);
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A broker for one test: a `sluice serve` child killed on drop, or an external broker.
struct Broker {
    bootstrap: String,
    child: Option<Child>,
    dir: TempDir,
}

impl Broker {
    fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts `sluice serve` with extra broker settings (`--set key=value`).
    fn start_with(settings: &[&str]) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Ok(bootstrap) = std::env::var(EXTERNAL_BROKER_ENV) {
            assert!(
                settings.is_empty(),
                "this test needs its own broker with {settings:?}; unset {EXTERNAL_BROKER_ENV}"
            );
            return Broker {
                bootstrap,
                child: None,
                dir,
            };
        }
        let port = free_port();
        let data_dir = dir.path().join("data");
        let log = File::create(dir.path().join("broker.log")).expect("broker log file");
        let mut command = Command::new(SLUICE);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listeners")
            .arg(format!("PLAINTEXT://127.0.0.1:{port}"))
            // No HTTP servers: these brokers run side by side and need none.
            .args([
                "--set",
                "http.listeners=",
                "--set",
                "schema.registry.listeners=",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        for setting in settings {
            command.arg("--set").arg(setting);
        }
        let child = command.spawn().expect("start sluice serve");
        let mut broker = Broker {
            bootstrap: format!("127.0.0.1:{port}"),
            child: Some(child),
            dir,
        };
        let deadline = Instant::now() + BROKER_START_DEADLINE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(Some(status)) = broker.child.as_mut().map(|c| c.try_wait().ok().flatten()) {
                panic!("broker exited with {status}:\n{}", broker.log());
            }
            assert!(
                Instant::now() < deadline,
                "broker did not listen on port {port} within {BROKER_START_DEADLINE:?}:\n{}",
                broker.log()
            );
            sleep(POLL_INTERVAL);
        }
        broker
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }

    /// Runs the CLI with `-b <this broker>` appended.
    fn cli(&self, args: &[&str]) -> Run {
        self.cli_with_input(args, "")
    }

    fn cli_with_input(&self, args: &[&str], stdin: &str) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-b", &self.bootstrap]);
        run_sluice(&all, stdin, self.dir.path(), &[])
    }

    /// A topic name unique to this test run, so tests can share an external broker.
    fn topic(&self, base: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        if self.child.is_some() {
            base.to_owned()
        } else {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            format!("{base}-{}-{n}", std::process::id())
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a CLI run produced.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        &self.stdout
    }

    /// Asserts success with exactly this stdout.
    #[track_caller]
    fn prints(&self, expected: &str) {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        assert_eq!(self.stdout, expected, "stdout of {self:#?}");
    }

    /// Asserts failure whose stderr starts with `prefix` (the rest is the broker's own message).
    #[track_caller]
    fn fails_starting_with(&self, prefix: &str) {
        assert_eq!(self.code, 1, "expected exit code 1, got {self:#?}");
        assert!(self.stderr.starts_with(prefix), "stderr of {self:#?}");
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one error line in {self:#?}"
        );
    }

    /// Asserts failure with exactly this stderr.
    #[track_caller]
    fn fails_with(&self, stderr: &str) {
        assert_eq!(self.code, 1, "expected exit code 1, got {self:#?}");
        assert_eq!(self.stderr, stderr, "stderr of {self:#?}");
    }
}

/// Runs the CLI with a deadline; `SLUICE_BOOTSTRAP` is cleared unless given in `env`.
fn run_sluice(args: &[&str], stdin: &str, scratch: &Path, env: &[(&str, &str)]) -> Run {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let stdout_path = scratch.join(format!("cli-{n}.out"));
    let stderr_path = scratch.join(format!("cli-{n}.err"));
    let mut child = Command::new(SLUICE)
        .args(args)
        .env_remove("SLUICE_BOOTSTRAP")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("run sluice");
    {
        let mut input = child.stdin.take().expect("stdin pipe");
        // A command that fails before reading its input closes the pipe early.
        match input.write_all(stdin.as_bytes()) {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                panic!("writing the input of sluice {args:?}: {err}")
            }
            _ => {}
        }
    }
    let deadline = Instant::now() + COMMAND_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for sluice") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sluice {args:?} did not finish within {COMMAND_DEADLINE:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        sleep(POLL_INTERVAL);
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&stdout_path).expect("read stdout"),
        stderr: std::fs::read_to_string(&stderr_path).expect("read stderr"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// The topic names `topic list` printed, restricted to the given ones (an external broker may
/// hold others).
fn listed(run: &Run, among: &[&str]) -> Vec<String> {
    run.ok()
        .lines()
        .filter(|line| among.contains(line))
        .map(str::to_owned)
        .collect()
}

#[test]
fn topic_create_list_describe_alter_delete() {
    let broker = Broker::start();
    let orders = broker.topic("orders");
    let t = orders.as_str();

    let created = broker.cli(&[
        "topic",
        "create",
        t,
        "--partitions",
        "2",
        "--config",
        "retention.ms=60000",
        "--config",
        "max.message.bytes=2000000",
        "--config",
        "min.insync.replicas=1",
    ]);
    created.prints(&format!("created topic {t}\n"));
    assert_eq!(created.stderr, "");

    broker
        .cli(&["topic", "create", t])
        .fails_starting_with(&format!(
            "error: creating topic {t}: TOPIC_ALREADY_EXISTS: Topic already exists"
        ));
    let again = broker.cli(&["topic", "create", t, "--if-not-exists"]);
    again.prints("");
    assert_eq!(again.stderr, format!("topic {t} already exists\n"));

    assert_eq!(listed(&broker.cli(&["topic", "list"]), &[t]), [t]);

    let described = broker.cli(&["topic", "describe", t]);
    described.prints(&format!(
        "Topic: {t}\tPartitionCount: 2\tReplicationFactor: 1\n\
             \tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\tLowWatermark: 0\tHighWatermark: 0\n\
             \tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\tLowWatermark: 0\tHighWatermark: 0\n\
             Configs:\n\
             \tmax.message.bytes=2000000\n\
             \tmin.insync.replicas=1\n\
             \tretention.ms=60000\n"
    ));

    let altered = broker.cli(&[
        "topic",
        "alter",
        t,
        "--partitions",
        "3",
        "--config",
        "retention.ms=120000",
        "--config",
        "cleanup.policy=compact",
        "--delete-config",
        "max.message.bytes",
    ]);
    altered.prints(&format!(
        "updated configs of topic {t}\nincreased partitions of topic {t} to 3\n"
    ));
    let described = broker.cli(&["topic", "describe", t]);
    described.prints(&format!(
        "Topic: {t}\tPartitionCount: 3\tReplicationFactor: 1\n\
             \tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\tLowWatermark: 0\tHighWatermark: 0\n\
             \tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\tLowWatermark: 0\tHighWatermark: 0\n\
             \tPartition: 2\tLeader: 0\tReplicas: 0\tIsr: 0\tLowWatermark: 0\tHighWatermark: 0\n\
             Configs:\n\
             \tcleanup.policy=compact\n\
             \tmin.insync.replicas=1\n\
             \tretention.ms=120000\n"
    ));

    // --all-configs lists defaults too, each with its source.
    let all = broker.cli(&["topic", "describe", t, "--all-configs"]);
    let all = all.ok();
    assert!(
        all.contains("\tcleanup.policy=compact\tDYNAMIC_TOPIC_CONFIG\n"),
        "{all}"
    );
    assert!(
        all.contains("\tmax.message.bytes=1048588\tDEFAULT_CONFIG\n"),
        "{all}"
    );

    broker
        .cli(&["topic", "alter", t, "--partitions", "2"])
        .fails_starting_with(&format!(
            "error: increasing partitions of topic {t} to 2: INVALID_PARTITIONS: \
             Invalid number of partitions"
        ));
    broker
        .cli(&["topic", "alter", t, "--config", "no.such.config=1"])
        .fails_starting_with(&format!(
            "error: altering configs of topic {t}: INVALID_CONFIG: Configuration is invalid"
        ));
    broker
        .cli(&["topic", "create", "other", "--config", "no.such.config=1"])
        .fails_starting_with(
            "error: creating topic other: INVALID_CONFIG: Configuration is invalid",
        );
    broker
        .cli(&["topic", "alter", t])
        .fails_with("error: nothing to alter: give --partitions, --config or --delete-config\n");

    broker
        .cli(&["topic", "delete", t])
        .prints(&format!("deleted topic {t}\n"));
    // Deletion may take a moment to show in metadata.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listed(&broker.cli(&["topic", "list"]), &[t]).is_empty() {
        assert!(Instant::now() < deadline, "{t} still listed after delete");
        sleep(Duration::from_millis(100));
    }
    let missing = format!("error: topic {t} does not exist\n");
    broker.cli(&["topic", "describe", t]).fails_with(&missing);
    broker
        .cli(&["topic", "alter", t, "--partitions", "5"])
        .fails_with(&missing);
    broker.cli(&["topic", "delete", t]).fails_with(&missing);
}

#[test]
fn topic_list_hides_internal_topics_unless_asked() {
    let broker = Broker::start();
    let events = broker.topic("events");
    let t = events.as_str();
    broker.cli(&["topic", "create", t]).ok();
    // Committing offsets for a group makes the broker create __consumer_offsets.
    broker.cli_with_input(&["produce", t], "x\n").ok();
    let group = broker.topic("lister");
    broker
        .cli(&[
            "consume",
            t,
            "--group",
            &group,
            "--from-beginning",
            "--limit",
            "1",
            "--timeout-ms",
            "20000",
        ])
        .ok();
    let plain = broker.cli(&["topic", "list"]);
    assert!(
        !plain.ok().lines().any(|l| l == "__consumer_offsets"),
        "{plain:#?}"
    );
    assert_eq!(listed(&plain, &[t]), [t]);
    let internal = broker.cli(&["topic", "list", "--internal"]);
    assert_eq!(
        listed(&internal, &[t, "__consumer_offsets"]),
        ["__consumer_offsets", t]
    );
}

#[test]
fn produce_and_consume_keys_headers_and_formats() {
    let broker = Broker::start();
    let events = broker.topic("events");
    let t = events.as_str();
    broker
        .cli(&["topic", "create", t, "--partitions", "1"])
        .ok();

    let before = now_ms();
    let produced = broker.cli_with_input(
        &[
            "produce",
            t,
            "--key-separator",
            ":",
            "--header",
            "src=cli",
            "--header",
            "flag",
        ],
        "k1:v1\nk2:v2\nk3:v3\n",
    );
    produced.prints("");
    assert_eq!(produced.stderr, format!("produced 3 records to {t}\n"));
    let produced = broker.cli_with_input(
        &[
            "produce",
            t,
            "--key-separator",
            ":",
            "--headers-separator",
            "|",
        ],
        "a=1,b=2|k4:v4\n|k5:v:5\r\n",
    );
    produced.prints("");
    assert_eq!(produced.stderr, format!("produced 2 records to {t}\n"));
    let after = now_ms();

    let all = broker.cli(&[
        "consume",
        t,
        "--from-beginning",
        "--limit",
        "5",
        "--format",
        "%t %p %o %k=%s [%h] %K %S\\n",
    ]);
    all.prints(&format!(
        "{t} 0 0 k1=v1 [src=cli,flag] 2 2\n\
             {t} 0 1 k2=v2 [src=cli,flag] 2 2\n\
             {t} 0 2 k3=v3 [src=cli,flag] 2 2\n\
             {t} 0 3 k4=v4 [a=1,b=2] 2 2\n\
             {t} 0 4 k5=v:5 [] 2 3\n"
    ));
    assert_eq!(all.stderr, "");

    let described = broker.cli(&["topic", "describe", t]);
    assert!(
        described.ok().contains(
            "\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\tLowWatermark: 0\tHighWatermark: 5\n"
        ),
        "{described:#?}"
    );

    let values = broker.cli(&["consume", t, "--from-beginning", "--limit", "2"]);
    values.prints("v1\nv2\n");

    // --timeout-ms ends a run that has caught up; --offset starts mid-partition.
    let tail = broker.cli(&[
        "consume",
        t,
        "--offset",
        "3",
        "--timeout-ms",
        "1500",
        "--print-key",
        "--print-offset",
    ]);
    tail.prints("0:3\tk4\tv4\n0:4\tk5\tv:5\n");

    let encoded = broker.cli(&[
        "consume",
        t,
        "--offset",
        "-2",
        "--limit",
        "2",
        "--print-key",
        "--key-format",
        "hex",
        "--value-format",
        "base64",
    ]);
    encoded.prints("6b34\tdjQ=\n6b35\tdjo1\n");

    let stamps = broker.cli(&[
        "consume",
        t,
        "--from-beginning",
        "--limit",
        "5",
        "--format",
        "%T\\n",
    ]);
    for stamp in stamps.ok().lines() {
        let stamp: i64 = stamp.parse().expect("numeric timestamp");
        assert!(
            (before..=after).contains(&stamp),
            "{stamp} not in {before}..={after}"
        );
    }
}

#[test]
fn consume_from_timestamp() {
    let broker = Broker::start();
    let events = broker.topic("timed");
    let t = events.as_str();
    broker.cli(&["topic", "create", t]).ok();
    broker.cli_with_input(&["produce", t], "old1\nold2\n").ok();
    // Every later record is stamped at or after `since`, every earlier one before it.
    let since = now_ms() + 1;
    while now_ms() < since {
        std::hint::spin_loop();
    }
    broker.cli_with_input(&["produce", t], "new1\nnew2\n").ok();

    let since_arg = since.to_string();
    let run = broker.cli(&[
        "consume",
        t,
        "--timestamp",
        &since_arg,
        "--timeout-ms",
        "1500",
        "--print-offset",
    ]);
    run.prints("0:2\tnew1\n0:3\tnew2\n");

    // Nothing at or after a future timestamp: start at the end and print nothing.
    let future = (now_ms() + 3_600_000).to_string();
    let run = broker.cli(&["consume", t, "--timestamp", &future, "--timeout-ms", "500"]);
    run.prints("");
}

#[test]
fn partitions_are_chosen_explicitly_or_by_key() {
    let broker = Broker::start();
    let spread = broker.topic("spread");
    let t = spread.as_str();
    broker
        .cli(&["topic", "create", t, "--partitions", "3"])
        .ok();

    broker
        .cli_with_input(&["produce", t, "--partition", "2"], "x\ny\n")
        .ok();
    let two = broker.cli(&[
        "consume",
        t,
        "--partition",
        "2",
        "--from-beginning",
        "--limit",
        "2",
        "--print-offset",
    ]);
    two.prints("2:0\tx\n2:1\ty\n");
    let one = broker.cli(&[
        "consume",
        t,
        "--partition",
        "1",
        "--from-beginning",
        "--timeout-ms",
        "500",
    ]);
    one.prints("");

    // Keyed records, no --partition: the same key always lands in the same partition.
    let input: String = (0..12).map(|i| format!("key{}:{i}\n", i % 4)).collect();
    broker
        .cli_with_input(&["produce", t, "--key-separator", ":"], &input)
        .ok();
    let all = broker.cli(&[
        "consume",
        t,
        "--from-beginning",
        "--limit",
        "14",
        "--format",
        "%p %k %s\\n",
    ]);
    let mut partition_of_key = std::collections::HashMap::new();
    let mut values = Vec::new();
    for line in all.ok().lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [partition, key, value] = fields[..] else {
            panic!("bad line {line:?}");
        };
        values.push(value.to_owned());
        if !key.is_empty() {
            let first = partition_of_key.entry(key.to_owned()).or_insert(partition);
            assert_eq!(*first, partition, "key {key} moved between partitions");
        }
    }
    values.sort();
    let mut expected: Vec<String> = (0..12).map(|i| i.to_string()).collect();
    expected.extend(["x".to_owned(), "y".to_owned()]);
    expected.sort();
    assert_eq!(values, expected);

    broker
        .cli(&["consume", t, "--partition", "7", "--limit", "1"])
        .fails_with(&format!(
            "error: partition 7 does not exist in topic {t} (it has 3)\n"
        ));
    broker
        .cli_with_input(&["produce", t, "--partition", "3"], "z\n")
        .fails_with(&format!(
            "error: partition 3 does not exist in topic {t} (it has 3)\n"
        ));
}

#[test]
fn consumer_group_resumes_from_committed_offsets() {
    let broker = Broker::start();
    let jobs = broker.topic("jobs");
    let t = jobs.as_str();
    let group = broker.topic("workers");
    broker.cli(&["topic", "create", t]).ok();
    broker
        .cli_with_input(&["produce", t], "j1\nj2\nj3\nj4\nj5\n")
        .ok();

    // --timeout-ms only bounds a failure; --limit ends each run as soon as it has its records.
    let first = broker.cli(&[
        "consume",
        t,
        "--group",
        &group,
        "--from-beginning",
        "--limit",
        "3",
        "--timeout-ms",
        "30000",
    ]);
    first.prints("j1\nj2\nj3\n");
    let second = broker.cli(&[
        "consume",
        t,
        "--group",
        &group,
        "--limit",
        "2",
        "--timeout-ms",
        "30000",
        "--print-offset",
    ]);
    second.prints("0:3\tj4\n0:4\tj5\n");
    // Manual assignment with a group also starts from the committed offset.
    let third = broker.cli(&[
        "consume",
        t,
        "--group",
        &group,
        "--partition",
        "0",
        "--timeout-ms",
        "1000",
    ]);
    third.prints("");
}

#[test]
fn compression_codecs_round_trip() {
    let broker = Broker::start();
    let packed = broker.topic("packed");
    let t = packed.as_str();
    broker.cli(&["topic", "create", t]).ok();
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for (codec, acks) in codecs.iter().zip(["all", "1", "-1", "all", "1"]) {
        let run = broker.cli_with_input(
            &["produce", t, "--compression", codec, "--acks", acks],
            &format!("{codec}-a\n{codec}-b\n"),
        );
        assert_eq!(
            run.stderr,
            format!("produced 2 records to {t}\n"),
            "{run:#?}"
        );
    }
    let run = broker.cli(&["consume", t, "--from-beginning", "--limit", "10"]);
    let expected: String = codecs
        .iter()
        .map(|codec| format!("{codec}-a\n{codec}-b\n"))
        .collect();
    run.prints(&expected);
}

#[test]
fn producing_to_a_missing_topic_auto_creates_it_like_kafka() {
    let broker = Broker::start();
    let fresh = broker.topic("fresh");
    let t = fresh.as_str();
    let run = broker.cli_with_input(&["produce", t], "hello\n");
    assert_eq!(
        run.stderr,
        format!("produced 1 record to {t}\n"),
        "{run:#?}"
    );
    let run = broker.cli(&["consume", t, "--from-beginning", "--limit", "1"]);
    run.prints("hello\n");
}

#[test]
fn producing_to_a_missing_topic_fails_without_auto_create() {
    let broker = Broker::start_with(&["auto.create.topics.enable=false"]);
    broker
        .cli_with_input(&["produce", "absent"], "hello\n")
        .fails_with("error: topic absent does not exist\n");
}

#[test]
fn delivery_failures_exit_non_zero() {
    let broker = Broker::start();
    let small = broker.topic("small");
    let t = small.as_str();
    broker
        .cli(&["topic", "create", t, "--config", "max.message.bytes=200"])
        .ok();
    let big = format!("{}\n", "x".repeat(600));
    let run = broker.cli_with_input(&["produce", t], &big);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "produced 0 records to {t}\n\
             error: 1 of 1 records failed; first failure: MESSAGE_TOO_LARGE: Message size too large\n"
        )
    );

    // A line without the key separator stops the input; earlier lines are still delivered.
    let run = broker.cli_with_input(&["produce", t, "--key-separator", ":"], "a:1\nnokey\nb:2\n");
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "produced 1 record to {t}\n\
             error: stopped reading input at line 2: no key separator \":\" found\n"
        )
    );
    let run = broker.cli(&[
        "consume",
        t,
        "--from-beginning",
        "--timeout-ms",
        "1000",
        "--print-key",
    ]);
    run.prints("a\t1\n");
}

#[test]
fn errors_name_the_problem() {
    let broker = Broker::start();
    let known = broker.topic("known");
    let t = known.as_str();
    broker.cli(&["topic", "create", t]).ok();
    broker.cli_with_input(&["produce", t], "a\nb\n").ok();

    let missing = broker.topic("missing");
    let m = missing.as_str();
    let gone = format!("error: topic {m} does not exist\n");
    broker
        .cli(&["consume", m, "--limit", "1"])
        .fails_with(&gone);
    broker.cli(&["topic", "describe", m]).fails_with(&gone);

    broker
        .cli(&["consume", t, "--offset", "99", "--limit", "1"])
        .fails_with(&format!(
            "error: offset 99 is out of range for partition 0 of topic {t} \
             (valid start offsets are 0 to 2)\n"
        ));
    broker
        .cli(&["consume", t, "--format", "%x", "--limit", "1"])
        .fails_with("error: unknown format directive '%x'\n");

    // Usage mistakes are reported by the argument parser with exit code 2.
    let conflict = broker.cli(&["consume", t, "--from-beginning", "--offset", "1"]);
    assert_eq!(conflict.code, 2, "{conflict:#?}");
    assert!(
        conflict.stderr.contains("cannot be used with"),
        "{conflict:#?}"
    );
    let bad_acks = broker.cli_with_input(&["produce", t, "--acks", "2"], "x\n");
    assert_eq!(bad_acks.code, 2, "{bad_acks:#?}");
    // Negative timestamps would mean "latest"/"earliest" to ListOffsets; they are refused.
    let negative = broker.cli(&["consume", t, "--timestamp=-1", "--limit", "1"]);
    assert_eq!(negative.code, 2, "{negative:#?}");
}

#[test]
fn unreachable_broker_is_reported_after_a_bounded_wait() {
    let scratch = tempfile::tempdir().expect("temp dir");
    // Nothing listens on a port that was just free.
    let address = format!("127.0.0.1:{}", free_port());
    let expected = format!("error: cannot reach broker at {address} (no answer within 1000 ms)\n");
    let flags = ["-b", address.as_str(), "--connect-timeout-ms", "1000"];
    for (command, stdin) in [
        (vec!["topic", "list"], ""),
        (vec!["topic", "create", "t"], ""),
        (vec!["produce", "t"], "x\n"),
        (vec!["consume", "t"], ""),
    ] {
        let args: Vec<&str> = command.iter().chain(flags.iter()).copied().collect();
        let started = Instant::now();
        let run = run_sluice(&args, stdin, scratch.path(), &[]);
        assert_eq!(run.code, 1, "{command:?}: {run:#?}");
        assert_eq!(run.stderr, expected, "{command:?}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{command:?} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn bootstrap_comes_from_the_environment() {
    let broker = Broker::start();
    let envtopic = broker.topic("envtopic");
    let t = envtopic.as_str();
    broker.cli(&["topic", "create", t]).ok();
    let run = run_sluice(
        &["topic", "list"],
        "",
        broker.dir.path(),
        &[("SLUICE_BOOTSTRAP", &broker.bootstrap)],
    );
    assert_eq!(listed(&run, &[t]), [t]);
}
