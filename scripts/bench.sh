#!/usr/bin/env bash
# Runs the benchmark workloads of issue 4 against the null broker (the ceiling), Sluice and Apache
# Kafka, and writes docs/benchmarks.md (medians, min-max, ratios, the command that made them).
#
# Why a script: benchmark figures are only worth something if anyone can reproduce them with one
# command, on a fresh broker each run, with the systems alternated (A B C A B C ...) so that a
# slow minute on a shared machine hurts every system alike.
#
# Every run starts a fresh broker with an empty data directory, runs one sluice-bench workload
# against it and stops it. For the pinned scenarios the broker runs on core $BROKER_CPU and the
# load generator on core $CLIENT_CPU (taskset); "headline-unpinned" repeats the headline with both
# free to use every core.
#
# Usage: scripts/bench.sh [--quick]
#   --quick     one short run per system and scenario (a check that everything works; figures
#               from it are not worth quoting)
# Env:
#   RUNS (3)          runs per system and scenario
#   HEADLINE_RUNS (5) runs per system of the pinned headline, the figure the targets compare
#                     (RUNS when larger, or with --quick)
#   DURATION (8)      measured seconds per run;  WARMUP (3) seconds before that, not measured
#   SYSTEMS           "null sluice kafka", plus "tansu" when $TANSU (.cache/tansu-full/bin/tansu) exists
#                     (Tansu runs in the produce scenarios only; durable has null, Sluice and Kafka)
#   SCENARIOS         "headline headline-unpinned headline-round-robin small large partitions-1
#                     partitions-60 durable fio durable-latency peers consume e2e profile pagecache keep"
#                     headline-round-robin: the headline with messages dealt to the partitions in
#                     turn (sluice-bench --partitioner round-robin) instead of keyless;
#                     fio: fdatasync baseline at durable Sluice's flush size and parallelism (needs fio
#                     and the durable scenario's results), appending as a log does and, as a second
#                     view, overwriting a laid-out file (fio's default); durable-latency: durable produce at a fixed
#                     rate, half the slowest real system's durable peak (DURABLE_RATE msgs/s
#                     overrides), linger.ms 1, its ack p99 set against fio's fdatasync p99, beside the
#                     null broker's at the same rate (the load generator's floor); peers: Redis Streams (appendfsync always and
#                     everysec, redis-benchmark XADD), NATS JetStream (`nats bench js pub`, .cache/bin/nats:
#                     `GOBIN=$PWD/.cache/bin go install github.com/nats-io/natscli/nats@v0.2.4`)
#                     and Tansu (.cache/tansu-full/bin/tansu) when installed; pagecache: the kernel
#                     time of writing 2 GiB into fresh page-cache pages and into pages already cached;
#                     keep: the headline against a null broker that keeps every byte in memory, beside
#                     Sluice (what merely holding the produced bytes costs this machine)
#   TANSU_ENGINE      sqlite (default: Tansu's local-disk engine) or memory
#   CONSUME_MB (2048) data written, then read back, by the consume (catch-up) scenario
#   E2E_PEAK          msgs/s the end-to-end rates are fractions of (default: the slowest real
#                     system's median end-to-end peak, measured first; when given, not measured)
#   E2E_RATES ("10 50 80") the percentages of E2E_PEAK the end-to-end scenario runs at, with
#                     linger.ms 1; 50 % then runs again with linger.ms 0 (e2e-50-linger0)
#   BROKER_WARMUP (6) seconds of full-speed end-to-end load on a throwaway topic on every fresh broker
#                     before the measured run, so a JVM has compiled its hot paths (Kafka needs
#                     several seconds after start on one core); every system gets the same
#   BROKER_CPU (1), CLIENT_CPU (0)
#   BROKER_MEM_MB (3072) memory limit of every broker (a memory cgroup, scripts/mem-cgroup.sh): page
#                     cache and heap together, the same for every system, so that each writes into
#                     recycled pages as a server with full memory does (see mem-cgroup.sh for why);
#                     0 for no limit. The keep and consume scenarios, and a null broker that keeps
#                     the bytes it is sent (e2e), run without one: catch-up is measured from the
#                     page cache, and inside the limit the warm-up's data (written and read, so on
#                     the active list) stayed cached while the 2 GiB to catch up on were evicted.
#   BROKER_BALLAST (1) before each broker starts, fill its memory cgroup with clean page cache (a
#                     sparse file read from inside the cgroup: no disk I/O), so that the broker's
#                     first written byte already lands in a recycled page, as on a server whose
#                     memory is full, rather than in the 3 GiB of fresh pages an empty cgroup holds
#                     (see mem-cgroup.sh); not for the durable scenarios, which are set against fio
#                     outside the cgroup; 0 starts every broker into an empty cgroup
#   PAGE_REPORTING (off) the guest kernel's free page reporting during the run: off
#                     (scripts/page-reporting.sh, restored afterwards) or keep (as the machine has it)
#   OUT (docs/benchmarks.md), RESULTS (target/bench/<timestamp>)
#   NO_BUILD=1        use the existing release binaries
#   RELEASE_DIR       where sluice, sluice-bench and null-broker are (target/release)
#   REPORT_ONLY=1     run nothing: write $OUT from the results already in $RESULTS
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

# The command line to print in the report: the arguments plus any settings given through the
# environment, captured before the defaults fill them in.
COMMAND=""
for var in RUNS HEADLINE_RUNS DURATION WARMUP BROKER_WARMUP SYSTEMS SCENARIOS CONSUME_MB E2E_PEAK E2E_RATES BROKER_CPU CLIENT_CPU BROKER_MEM_MB BROKER_BALLAST PAGE_REPORTING; do
    if [[ -n ${!var:-} ]]; then COMMAND+="$var=${!var@Q} "; fi
done
COMMAND+="scripts/bench.sh $*"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    RUNS=${RUNS:-1}; DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}; CONSUME_MB=${CONSUME_MB:-256}
    BROKER_WARMUP=${BROKER_WARMUP:-3}
fi
RUNS=${RUNS:-3}
# The headline's ratios (to the null broker, to Kafka) are the targets' closest calls, and each
# system's runs there spread by ±5 % (s11: Sluice 590-629 MB/s, Kafka 370-431): more runs
# steady their medians for four more minutes.
if [[ $QUICK == 1 ]]; then HEADLINE_RUNS=${HEADLINE_RUNS:-$RUNS}; fi
HEADLINE_RUNS=${HEADLINE_RUNS:-$((RUNS > 5 ? RUNS : 5))}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-3}
BROKER_WARMUP=${BROKER_WARMUP:-6}
TANSU=${TANSU:-$REPO/.cache/tansu-full/bin/tansu}
TANSU_ENGINE=${TANSU_ENGINE:-sqlite}
INFERNO=${INFERNO:-$REPO/.cache/inferno/bin}
SYSTEMS=${SYSTEMS:-"null sluice kafka$([[ -x $TANSU ]] && echo " tansu")"}
SCENARIOS=${SCENARIOS:-"headline headline-unpinned headline-round-robin small large partitions-1 partitions-60 durable fio durable-latency peers consume e2e profile pagecache keep"}
CONSUME_MB=${CONSUME_MB:-2048}
BROKER_CPU=${BROKER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
BROKER_MEM_MB=${BROKER_MEM_MB:-3072}
OUT=${OUT:-docs/benchmarks.md}
RESULTS=${RESULTS:-target/bench/$(date +%Y%m%d-%H%M%S)}
# A copy of the binaries keeps a long run safe from rebuilds in a shared target directory.
RELEASE=${RELEASE_DIR:-$REPO/target/release}
KAFKA_HOME=${SLUICE_CACHE_DIR:-$REPO/.cache}/kafka

note() { echo "bench.sh: $*" >&2; }
has_system() { [[ " $SYSTEMS " == *" $1 "* ]]; }

mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
note "results in $RESULTS"
if [[ ${REPORT_ONLY:-0} == 1 ]]; then
    SCENARIOS="" NO_BUILD=1
fi

if [[ ${NO_BUILD:-0} != 1 ]]; then
    note "cargo build --release -p sluice -p sluice-bench"
    cargo build --release -p sluice -p sluice-bench
fi

# The commit measured and when, kept with the results: a REPORT_ONLY rewrite of the doc, later
# and from another checkout, must still name the build the figures came from. (Results taken
# before run-info existed get the current checkout's, as the doc used to.)
if [[ ${REPORT_ONLY:-0} != 1 || ! -e $RESULTS/run-info ]]; then
    commit=$(git rev-parse --short HEAD 2> /dev/null || echo "?")
    if [[ -n $(git status --porcelain -- crates Cargo.toml Cargo.lock 2> /dev/null) ]]; then
        commit+=" plus uncommitted changes under crates/"
    fi
    printf '%s\n%s\n' "$commit" "$(date -u '+%Y-%m-%d %H:%M UTC')" > "$RESULTS/run-info"
fi
for bin in $( [[ ${REPORT_ONLY:-0} == 1 ]] || echo sluice sluice-bench null-broker); do
    [[ -x $RELEASE/$bin ]] || { note "$RELEASE/$bin is missing (cargo build --release -p sluice -p sluice-bench)"; exit 1; }
done
if has_system kafka && [[ ${REPORT_ONLY:-0} != 1 ]]; then
    bash scripts/kafka-dist.sh
fi
# The brokers' memory cgroup; mem-limit records what the runs had, for the report.
BROKER_CGROUP=""
if [[ ${REPORT_ONLY:-0} != 1 ]]; then
    if ((BROKER_MEM_MB > 0)) && BROKER_CGROUP=$(scripts/mem-cgroup.sh sluice-bench-broker "$BROKER_MEM_MB"); then
        echo "$BROKER_MEM_MB" > "$RESULTS/mem-limit"
        echo "${BROKER_BALLAST:-1}" > "$RESULTS/ballast"
    else
        ((BROKER_MEM_MB > 0)) && note "running the brokers without a memory limit"
        BROKER_CGROUP=""
        echo 0 > "$RESULTS/mem-limit"
    fi
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

BROKER_PID=""
BROKER_DIR=""
PORT=""

# Kafka's own start scripts' JVM settings (kafka-server-start.sh heap, kafka-run-class.sh flags).
KAFKA_JVM=(-Xmx1G -Xms1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15
    -Djava.awt.headless=true)

start_kafka() { # start_kafka <durable> <pin-prefix...>
    local durable=$1; shift
    local cport cluster props=$BROKER_DIR/server.properties
    cport=$(free_port)
    # Kafka's Uuid text form; like Kafka's own generator, never one starting with '-' (the
    # storage tool would read it as an option).
    cluster=$(python3 -c '
import base64, uuid
while (s := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
    pass
print(s)')
    # Stock settings; only what a single KRaft node needs (the values of Kafka's sample config).
    cat > "$props" <<EOF
process.roles=broker,controller
node.id=0
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$BROKER_DIR/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    if [[ $durable == 1 ]]; then
        # Kafka's closest equivalent of fsync-before-ack: flush the log after every append.
        echo "log.flush.interval.messages=1" >> "$props"
    fi
    "$KAFKA_HOME/bin/kafka-run-class" kafka.tools.StorageTool format --standalone -t "$cluster" -c "$props" \
        > "$BROKER_DIR/log" 2>&1
    "$@" java "${KAFKA_JVM[@]}" -Dlog4j2.configurationFile="$KAFKA_HOME/config/log4j2.properties" \
        -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$props" >> "$BROKER_DIR/log" 2>&1 &
    BROKER_PID=$!
}

# The ballast: a sparse file a little smaller than the memory limit. Reading it from inside the
# cgroup fills the cgroup with clean, zero-filled page-cache pages without touching the disk; a
# broker started next reclaims them as it writes, so it pays the recycled-page price from its first
# byte, whatever the previous run freed.
BALLAST=""
if [[ -n $BROKER_CGROUP && ${BROKER_BALLAST:-1} == 1 ]]; then
    BALLAST=$(mktemp "${TMPDIR:-/tmp}/sluice-bench-ballast.XXXXXX")
    truncate -s "$((BROKER_MEM_MB - 64))M" "$BALLAST"
fi
# in_broker_cgroup_run <cmd...>: runs the command inside the brokers' memory cgroup, so that the
# page cache it touches is charged there.
in_broker_cgroup_run() {
    # shellcheck disable=SC2016 # $$ and $1 belong to the inner shell
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$BROKER_CGROUP" "$@"
}
# empty_ballast: drop the ballast's pages from the cache (and so from the cgroup).
empty_ballast() {
    [[ -z $BALLAST ]] || dd if="$BALLAST" iflag=nocache count=0 status=none
}
fill_broker_cgroup() {
    [[ -z $BALLAST ]] || scripts/fill-cgroup.sh "$BROKER_CGROUP" "$BALLAST"
}

# in_broker_cgroup <pid>: into the brokers' memory cgroup (when there is one) at once, before
# the process has written anything that would be charged elsewhere; its threads move with it.
in_broker_cgroup() {
    [[ -z $BROKER_CGROUP ]] || echo "$1" > "$BROKER_CGROUP/cgroup.procs"
}

start_broker() { # start_broker <system> <pinned> <durable> <retain-mb> [unlimited]
    local system=$1 pinned=$2 durable=$3 retain=$4 unlimited=${5:-0}
    local pin=()
    [[ $pinned == 1 ]] && pin=(taskset -c "$BROKER_CPU")
    BROKER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-broker.XXXXXX")
    PORT=$(free_port)
    case $system in
        null)
            "${pin[@]}" "$RELEASE/null-broker" --listen "127.0.0.1:$PORT" --retain-mb "$retain" \
                > "$BROKER_DIR/log" 2>&1 &
            BROKER_PID=$! ;;
        sluice)
            local args=(serve --data-dir "$BROKER_DIR/data" --listeners "PLAINTEXT://127.0.0.1:$PORT"
                --advertised-listeners "PLAINTEXT://127.0.0.1:$PORT"
                # Only the Kafka listener: the HTTP and schema-registry ones are not measured.
                --set http.listeners= --set schema.registry.listeners=)
            [[ $durable == 1 ]] && args+=(--durable)
            "${pin[@]}" "$RELEASE/sluice" "${args[@]}" > "$BROKER_DIR/log" 2>&1 &
            BROKER_PID=$! ;;
        kafka)
            start_kafka "$durable" "${pin[@]}" ;;
        tansu)
            # Tansu 0.6 built with its libsql and dynostore features (see docs/bench/tansu-note.md).
            # Its engines are chosen by URL scheme, and any scheme it does not know (file:// among
            # them) silently selects its null engine, which stores nothing: sqlite:// is the engine
            # that keeps a single node's data on local disk (memory:// with TANSU_ENGINE=memory).
            mkdir -p "$BROKER_DIR/data"
            local engine="sqlite://tansu.db"
            [[ $TANSU_ENGINE == memory ]] && engine="memory://"
            (cd "$BROKER_DIR/data" && exec "${pin[@]}" "$TANSU" broker --cluster-id sluice-bench \
                --listener-url "tcp://127.0.0.1:$PORT" --advertised-listener-url "tcp://127.0.0.1:$PORT" \
                --storage-engine "$engine") > "$BROKER_DIR/log" 2>&1 &
            BROKER_PID=$! ;;
        *) note "unknown system $system"; exit 2 ;;
    esac
    [[ $unlimited == 1 ]] || in_broker_cgroup "$BROKER_PID"
    local deadline=$((SECONDS + 120))
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            note "$system exited during startup:"; tail -n 30 "$BROKER_DIR/log" >&2; return 1
        fi
        if ((SECONDS >= deadline)); then
            note "$system did not listen on $PORT within 120 s"; tail -n 30 "$BROKER_DIR/log" >&2; return 1
        fi
        sleep 0.1 # poll interval of a deadline-bounded wait
    done
}

stop_broker() {
    if [[ -n $BROKER_PID ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        local deadline=$((SECONDS + 30))
        while kill -0 "$BROKER_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    BROKER_PID=""
    [[ -n $BROKER_DIR ]] && rm -rf "$BROKER_DIR"
    BROKER_DIR=""
}
# Free page reporting off for the whole run, every system alike (scripts/page-reporting.sh says
# why); put back however the script ends.
PAGE_REPORTING_SAVED=""
trap 'stop_broker; [[ -z $BALLAST ]] || rm -f "$BALLAST"; [[ -z $PAGE_REPORTING_SAVED ]] || scripts/page-reporting.sh restore "$PAGE_REPORTING_SAVED"' EXIT
if [[ ${REPORT_ONLY:-0} != 1 ]]; then
    reporting=${PAGE_REPORTING:-off}
    if [[ $reporting == off ]]; then
        PAGE_REPORTING_SAVED=$(scripts/page-reporting.sh off 2> "$RESULTS/page-reporting.touch")
        cat "$RESULTS/page-reporting.touch" >&2
        reporting=${PAGE_REPORTING_SAVED:+off $PAGE_REPORTING_SAVED}
    fi
    echo "${reporting:-absent}" > "$RESULTS/page-reporting"
fi

# warm_up <output-base> <client pin prefix...>: full-speed load on a throwaway topic, produce and
# fetch paths both. Exit status 1 only says not every message was read back (the null broker may
# keep nothing), which does not matter here.
warm_up() {
    local base=$1; shift
    ((BROKER_WARMUP > 0)) || return 0
    local rc=0
    timeout $((BROKER_WARMUP * 10 + 300)) "$@" "$RELEASE/sluice-bench" end-to-end \
        --duration "$BROKER_WARMUP" --drain-timeout 5 --quiet --bootstrap "127.0.0.1:$PORT" \
        > "$base.warmup.txt" 2>&1 || rc=$?
    # Write the warm-up's data out now: left dirty, its writeback would run inside the measured
    # window, and the tick-based CPU accounting bills the block-completion interrupts to whatever
    # runs on that core, the pinned broker.
    sync
    ((rc <= 1))
}

FAILURES=0
# run_scenario <name> <pinned> <durable> <retain-mb> <systems> -- <sluice-bench args...>
run_scenario() {
    local name=$1 pinned=$2 durable=$3 retain=$4 systems=$5
    shift 6
    mkdir -p "$RESULTS/$name"
    printf '%s\n' "$*" > "$RESULTS/$name/args"
    printf '%s\n' "$pinned" > "$RESULTS/$name/pinned"
    local client=()
    [[ $pinned == 1 ]] && client=(taskset -c "$CLIENT_CPU")
    local runs=$RUNS
    [[ $name == headline ]] && runs=$HEADLINE_RUNS
    for run in $(seq 1 "$runs"); do
        for system in $systems; do
            has_system "$system" || continue
            note "$name: $system run $run/$runs"
            local base=$RESULTS/$name/$system-$run
            # Outside the memory limit: the keep and consume scenarios (see BROKER_MEM_MB), and a
            # null broker that keeps what it is sent, as its own heap (inside it would be killed).
            local unlimited=0
            [[ $name == keep || $name == consume || ($system == null && $retain != 0) ]] && unlimited=1
            # The ballast fills the cgroup for every limited run except the durable ones: those are
            # set against fio, which runs outside the cgroup with free memory, and a full cgroup
            # cost durable Sluice's fixed-rate ack p99 32-117 ms against 8.4-8.5 in an empty one
            # (durable-latency, 2 runs each; the kernel-side cause is not pinned down).
            if [[ $unlimited == 0 && $durable == 0 ]]; then fill_broker_cgroup; else empty_ballast; fi
            if ! start_broker "$system" "$pinned" "$durable" "$retain" "$unlimited"; then
                FAILURES=$((FAILURES + 1)); stop_broker; continue
            fi
            cut -d' ' -f1-3 /proc/loadavg > "$base.load"
            # Idle RSS: the fresh broker before any load.
            awk '/^VmRSS:/ {print $2}' "/proc/$BROKER_PID/status" > "$base.idle-rss-kb" 2>/dev/null || true
            if ! warm_up "$base" "${client[@]}"; then
                note "$name: $system warm-up FAILED"; tail -n 20 "$base.warmup.txt" >&2
                FAILURES=$((FAILURES + 1)); stop_broker; continue
            fi
            local counter=""
            if [[ $name == durable && $system == sluice ]] && command -v perf > /dev/null; then
                # fdatasync calls inside the measured window: bytes per sync is the flush size the
                # fio baseline then uses.
                (sleep "$WARMUP"; perf stat -x, -e syscalls:sys_enter_fdatasync -p "$BROKER_PID" \
                    -o "$base.fdatasyncs" -- sleep "$DURATION" > /dev/null 2>&1) &
                counter=$!
            fi
            # Host steal (time the hypervisor ran something else on our vCPUs), in USER_HZ ticks,
            # over the whole run: a stalled run shows here when the cause was outside the guest.
            local steal_before
            steal_before=$(awk '/^cpu / {print $9}' /proc/stat)
            if ! timeout $((DURATION * 10 + 600)) "${client[@]}" "$RELEASE/sluice-bench" "$@" \
                    --bootstrap "127.0.0.1:$PORT" --broker-pid "$BROKER_PID" --json "$base.json" \
                    > "$base.txt" 2>&1; then
                note "$name: $system run $run FAILED"; tail -n 20 "$base.txt" >&2
                FAILURES=$((FAILURES + 1))
            fi
            echo $(($(awk '/^cpu / {print $9}' /proc/stat) - steal_before)) > "$base.steal-ticks"
            [[ -n $counter ]] && wait "$counter"
            cp "$BROKER_DIR/log" "$base.broker.log" 2>/dev/null || true
            stop_broker
        done
    done
}

has_scenario() { [[ " $SCENARIOS " == *" $1 "* ]]; }
TIMED=(--duration "$DURATION" --warmup "$WARMUP")
ALL="null sluice kafka tansu"
REAL="sluice kafka"

if has_scenario headline; then
    run_scenario headline 1 0 0 "$ALL" -- produce --message-size 1024 --partitions 6 --acks 1 "${TIMED[@]}"
fi
if has_scenario headline-unpinned; then
    run_scenario headline-unpinned 0 0 0 "$ALL" -- produce --message-size 1024 --partitions 6 --acks 1 "${TIMED[@]}"
fi
if has_scenario headline-round-robin; then
    # The headline as runs before 2026-11-27 measured it (see "Partitioning" in the report).
    run_scenario headline-round-robin 1 0 0 "$ALL" -- produce --message-size 1024 --partitions 6 --acks 1 --partitioner round-robin "${TIMED[@]}"
fi
if has_scenario keep; then
    # The null broker keeps nothing by default; here it keeps every produced byte in memory
    # (4 GiB per partition), as any broker must keep them somewhere. On this VM new memory is
    # fresh host memory, page cache or heap alike, so its broker CPU per GB is what holding the
    # bytes costs before any storage engine does anything. Nothing could keep 9 GB under the
    # brokers' memory limit, so both systems run here without it.
    run_scenario keep 1 0 4096 "null sluice" -- produce --message-size 1024 --partitions 6 --acks 1 "${TIMED[@]}"
fi
if has_scenario small; then
    run_scenario small 1 0 0 "$ALL" -- produce --message-size 100 --partitions 6 --acks 1 "${TIMED[@]}"
fi
if has_scenario large; then
    run_scenario large 1 0 0 "$ALL" -- produce --message-size 16384 --partitions 6 --acks 1 "${TIMED[@]}"
fi
for n in 1 60; do
    if has_scenario "partitions-$n"; then
        run_scenario "partitions-$n" 1 0 0 "$ALL" -- produce --message-size 1024 --partitions "$n" --acks 1 "${TIMED[@]}"
    fi
done
if has_scenario durable; then
    # The null broker acks at once and stores nothing: here it is the load generator's own ceiling
    # for this client configuration, since a durable broker cannot be faster than its client.
    # A durable broker can only overlap its fsyncs with the client's next requests if the client
    # has more than one request per partition in flight: with the 4 MiB queue split six ways each
    # partition's whole share rides in one request that waits for its sync, and the disk idles
    # between them. So this scenario gives every system a 16 MiB queue in 256 KiB batches. One
    # producer: against the null broker two producers on the load generator's one core reached
    # 257-279 MB/s and one 310-348 (session 9), and durable Sluice 229 against 281 (medians of 3).
    run_scenario durable 1 1 0 "null $REAL" -- produce --message-size 1024 --partitions 6 --acks all \
        --queue-kbytes 16384 --batch-size 262144 "${TIMED[@]}"
fi
if has_scenario durable-latency; then
    # Ack latency of the durable path itself, at a fixed rate where the producer's queue does not
    # dominate it: half the slowest real system's durable peak, as issue 4 sets the end-to-end
    # rates (DURABLE_RATE msgs/s overrides), with linger.ms 1 as the end-to-end scenarios and the
    # OpenMessaging Benchmark use. Until s19 this ran at half durable Sluice's own peak with
    # linger.ms 5: the client then held each message up to 5 ms, and the null broker's ack p99
    # (5.4 ms) was already past fdatasync p99 + 2 ms, so the target could not be judged. At half
    # Kafka's durable peak and linger.ms 1 the null broker's p99 measured 2.76-2.86 ms (s20, 4 runs).
    rate=${DURABLE_RATE:-$(python3 - "$RESULTS/durable" "$REAL" <<'PY'
import json, pathlib, statistics, sys
d, systems = pathlib.Path(sys.argv[1]), sys.argv[2].split()
medians = []
for system in systems:
    xs = [json.loads(p.read_text())["throughput"]["msgs_per_s"] for p in d.glob(f"{system}-*.json")]
    if xs:
        medians.append(statistics.median(xs))
print(round(min(medians) / 2) if medians else "")
PY
)}
    if [[ -z $rate ]]; then
        note "durable-latency: no durable results to take the rate from (set DURABLE_RATE); skipped"
    else
        # The null broker at the same rate and settings: the load generator's own ack latency,
        # the floor under any broker's (as in the end-to-end scenarios).
        run_scenario durable-latency 1 1 0 "null $REAL" -- produce --message-size 1024 --partitions 6 --acks all \
            --queue-kbytes 16384 --batch-size 262144 --rate "$rate" --linger-ms 1 "${TIMED[@]}"
    fi
fi
if has_scenario fio; then
    if ! command -v fio > /dev/null; then
        note "fio: not installed (apt-get install fio); skipped"
    else
        # Durable Sluice's flush size: message bytes acknowledged per fdatasync in the measured
        # window (median over the sluice durable runs), rounded to whole 4 KiB pages; the
        # parallelism is the partition count (the flusher syncs the partitions in parallel).
        flush=$(python3 - "$RESULTS/durable" "$DURATION" <<'PY'
import json, re, pathlib, statistics, sys
d, duration = pathlib.Path(sys.argv[1]), float(sys.argv[2])
sizes = []
for p in d.glob("sluice-*.fdatasyncs"):
    n = 0
    for line in p.read_text().splitlines():
        f = line.split(",")
        if len(f) > 2 and "fdatasync" in line and f[0].strip().isdigit():
            n = int(f[0])
    j = p.with_name(p.name.replace(".fdatasyncs", ".json"))
    if n and j.exists():
        sizes.append(json.loads(j.read_text())["throughput"]["mb_per_s"] * 1e6 * duration / n)
print(max(4096, round(statistics.median(sizes) / 4096) * 4096) if sizes else 65536)
PY
)
        mkdir -p "$RESULTS/fio"
        printf '%s\n' "$flush" > "$RESULTS/fio/flush-bytes"
        for run in $(seq 1 "$RUNS"); do
            # append: fresh files that every write extends, as a log segment grows; each
            # fdatasync then also commits the new blocks and size. overwrite (fio's default): the
            # jobs rewrite a laid-out 256 MiB file, so a sync flushes data only.
            for mode in append overwrite; do
                note "fio: fdatasync baseline run $run/$RUNS, $mode (bs $flush, 6 jobs)"
                fio_args=(--size=256M)
                [[ $mode == append ]] && fio_args=(--size=4G --file_append=1 --fallocate=none)
                dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-fio.XXXXXX")
                taskset -c "$BROKER_CPU" fio --name=durable --directory="$dir" --rw=write --ioengine=sync \
                    --bs="$flush" --fdatasync=1 --numjobs=6 "${fio_args[@]}" --time_based --runtime="$DURATION" \
                    --group_reporting --output-format=json > "$RESULTS/fio/$mode-$run.json" 2> "$RESULTS/fio/$mode-$run.err" \
                    || { note "fio run $run ($mode) failed"; FAILURES=$((FAILURES + 1)); }
                cut -d' ' -f1-3 /proc/loadavg > "$RESULTS/fio/$mode-$run.load"
                rm -rf "$dir"
            done
        done
    fi
fi

if has_scenario pagecache; then
    # What one copy into the page cache costs this machine, the floor under broker CPU per GB
    # produced for any system that writes through it: dd writes 2 GiB into a new file (fresh
    # pages), then the same 2 GiB over it again (pages already cached), on the broker's core. The
    # machine is a VM that hands memory back to its host as soon as the guest frees it, so every
    # new page-cache page is fresh host memory, and the first copy into it costs several times
    # the second. "full" writes 2 GiB into a new file from inside the brokers' memory cgroup
    # after the ballast has filled it, so the kernel recycles the cgroup's own pages from the
    # first byte: what a broker's writes cost on a server whose memory is full, as every broker
    # here is started.
    mkdir -p "$RESULTS/pagecache"
    for run in $(seq 1 "$RUNS"); do
        dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-pages.XXXXXX")
        sync
        for mode in fresh cached; do
            note "pagecache: run $run/$RUNS, $mode"
            # bash's `time` reports the children's system time without needing GNU time.
            { TIMEFORMAT=%S; time taskset -c "$BROKER_CPU" dd if=/dev/zero of="$dir/f" bs=1M count=2048 \
                conv=notrunc status=none; } 2> "$RESULTS/pagecache/$mode-$run.sys"
            sync
        done
        rm -rf "$dir"
        if [[ -n $BALLAST ]]; then
            dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-pages.XXXXXX")
            note "pagecache: run $run/$RUNS, full"
            fill_broker_cgroup
            { TIMEFORMAT=%S; time in_broker_cgroup_run \
                taskset -c "$BROKER_CPU" dd if=/dev/zero of="$dir/f" bs=1M count=2048 status=none; } \
                2> "$RESULTS/pagecache/full-$run.sys"
            rm -rf "$dir"
            sync
        fi
    done
fi

# run_peer <name> <run>: one durable-produce run against a non-Kafka peer, results as a small JSON.
run_peer() {
    local peer=$1 run=$2 port dir out=$RESULTS/peers/$1-$2
    port=$(free_port)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-peer.XXXXXX")
    cut -d' ' -f1-3 /proc/loadavg > "$out.load"
    case $peer in
        redis-always|redis-everysec)
            # Redis Streams: XADD to 6 streams (like 6 partitions) from 6 connections, 16 commands
            # pipelined per connection (a Kafka producer batches too); AOF on, fsync per policy.
            taskset -c "$BROKER_CPU" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
                --appendonly yes --appendfsync "${peer#redis-}" > "$out.server.log" 2>&1 &
            local pid=$! deadline=$((SECONDS + 30))
            in_broker_cgroup "$pid"
            until redis-cli -p "$port" ping > /dev/null 2>&1 || ((SECONDS > deadline)); do sleep 0.1; done
            local n
            [[ $peer == redis-everysec ]] && n=$((DURATION * 40000)) || n=$((DURATION * 10000))
            local value
            value=$(python3 -c 'print("x" * 1024)')
            taskset -c "$CLIENT_CPU" redis-benchmark -p "$port" -c 6 -P 16 -n "$n" -r 6 --csv \
                XADD 's:__rand_int__' '*' v "$value" > "$out.csv" 2> "$out.err" || FAILURES=$((FAILURES + 1))
            redis-cli -p "$port" shutdown nosave > /dev/null 2>&1 || kill "$pid"
            wait "$pid" 2> /dev/null || true ;;
        nats-js)
            # NATS JetStream, file storage, one replica: 6 async publishers (batches of 100 in
            # flight, natscli's default), each publish acknowledged by the stream.
            taskset -c "$BROKER_CPU" nats-server -js -sd "$dir" -a 127.0.0.1 -p "$port" > "$out.server.log" 2>&1 &
            local pid=$! deadline=$((SECONDS + 30))
            in_broker_cgroup "$pid"
            until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || ((SECONDS > deadline)); do sleep 0.1; done
            # natscli 0.2+ syntax (`bench js pub`); older releases took `bench SUBJECT --js --pub N`.
            taskset -c "$CLIENT_CPU" "$NATS" bench js pub sluice.bench --create --purge --storage file \
                --clients 6 --batch 100 --size 1024 --msgs $((DURATION * 15000)) --no-progress \
                --server "nats://127.0.0.1:$port" \
                > "$out.txt" 2>&1 || FAILURES=$((FAILURES + 1))
            kill "$pid"; wait "$pid" 2> /dev/null || true ;;
    esac
    rm -rf "$dir"
}
NATS=${NATS:-$REPO/.cache/bin/nats}
if has_scenario peers; then
    mkdir -p "$RESULTS/peers"
    peers=()
    command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null && peers+=(redis-always redis-everysec)
    command -v nats-server > /dev/null && [[ -x $NATS ]] && peers+=(nats-js)
    ((${#peers[@]} > 0)) || note "peers: neither redis-server nor nats-server + nats found; skipped"
    for run in $(seq 1 "$RUNS"); do
        for peer in "${peers[@]}"; do
            note "peers: $peer run $run/$RUNS"
            run_peer "$peer" "$run"
        done
    done
fi
if has_scenario consume; then
    messages=$((CONSUME_MB * 1024))
    # The null broker keeps the whole fill in memory (per partition, with room to spare).
    retain=$((CONSUME_MB / 6 + CONSUME_MB / 12 + 16))
    # Tansu stays out of consume and e2e: filling 2 GiB at its ~12 MB/s takes minutes per run, and
    # issue 4 asks these figures of Sluice against Kafka and the null broker.
    run_scenario consume 1 0 "$retain" "null $REAL" -- consume --message-size 1024 --partitions 6 --acks 1 \
        --messages "$messages" --drain-timeout 300
fi
if has_scenario e2e; then
    # The peak of the end-to-end workload itself (producer and consumer at full speed): with the
    # load generator on one core, the produce-only peak is beyond what it can also consume.
    # With E2E_PEAK given the peak is not measured again (e.g. to repeat one rate).
    peak=${E2E_PEAK:-}
    if [[ -z $peak ]]; then
        run_scenario e2e-peak 1 0 64 "null $REAL" -- end-to-end --message-size 1024 --partitions 6 --acks 1 \
            --linger-ms 1 "${TIMED[@]}"
    fi
    if [[ -z $peak ]]; then
        peak=$(python3 - "$RESULTS/e2e-peak" <<'PY'
import json, pathlib, statistics, sys
d = pathlib.Path(sys.argv[1])
medians = []
for system in ("sluice", "kafka"):
    rates = []
    for p in d.glob(f"{system}-*.json"):
        r = json.loads(p.read_text())
        # Sustained end to end: what was both acknowledged and read back in the window.
        rates.append(min(r["throughput"]["msgs_per_s"], r["consumed_in_window"]["msgs_per_s"]))
    if rates:
        medians.append(statistics.median(rates))
print(int(min(medians)) if medians else "")
PY
)
    fi
    if [[ -z $peak ]]; then
        note "e2e: no end-to-end peak measured; set E2E_PEAK"; FAILURES=$((FAILURES + 1))
    else
        mkdir -p "$RESULTS/e2e-peak"
        printf '%s\n' "$peak" > "$RESULTS/e2e-peak/peak"
        for pct in ${E2E_RATES:-10 50 80}; do
            rate=$((peak * pct / 100))
            # linger.ms 1 as the OpenMessaging Benchmark's Kafka driver sets it.
            run_scenario "e2e-$pct" 1 0 64 "null $REAL" -- end-to-end --message-size 1024 --partitions 6 --acks 1 \
                --rate "$rate" --linger-ms 1 "${TIMED[@]}"
        done
        # 50 % again with linger.ms 0. librdkafka waits out its linger timer in poll(), whose
        # timeout is whole milliseconds rounded up (rd_timeout_ms), so linger.ms 1 holds a batch's
        # first message 1-2 ms in the client: the null broker's own p50 is close to 1 ms with it.
        # With 0 the client sends what has queued whenever its I/O thread comes round.
        run_scenario "e2e-50-linger0" 1 0 64 "null $REAL" -- end-to-end --message-size 1024 --partitions 6 \
            --acks 1 --rate "$((peak * 50 / 100))" --linger-ms 0 "${TIMED[@]}"
        # And once more unpinned, a second view: pinned, the producer's and the consumer's threads
        # share the load generator's one core and queue behind each other, which sets the null
        # broker's p50 near 1.3 ms; free on both cores it measured 0.48-0.64 ms (s20, 4 runs), so
        # here a broker's p50 can be set against issue 4's 1 ms. Only linger.ms 0: at linger.ms 1
        # the client's own timer keeps the null broker's p50 above 1 ms unpinned too (1.09-1.20).
        run_scenario "e2e-50-linger0-unpinned" 0 0 64 "null $REAL" -- end-to-end --message-size 1024 \
            --partitions 6 --acks 1 --rate "$((peak * 50 / 100))" --linger-ms 0 "${TIMED[@]}"
    fi
fi

if has_scenario profile && has_system sluice; then
    if ! command -v perf > /dev/null; then
        note "profile: perf not found; skipped"
    else
        # Where Sluice spends its CPU during the headline workload: perf samples of the broker
        # process over the measured part of one run.
        note "profile: sluice headline under perf"
        mkdir -p "$RESULTS/profile"
        # Into the full cgroup, as the headline runs it profiles.
        fill_broker_cgroup
        if start_broker sluice 1 0 0 && warm_up "$RESULTS/profile/run" taskset -c "$CLIENT_CPU"; then
            taskset -c "$CLIENT_CPU" "$RELEASE/sluice-bench" produce --message-size 1024 --partitions 6 \
                --acks 1 --duration "$DURATION" --warmup "$WARMUP" --bootstrap "127.0.0.1:$PORT" \
                --broker-pid "$BROKER_PID" --json "$RESULTS/profile/run.json" > "$RESULTS/profile/run.txt" 2>&1 &
            bench_pid=$!
            sleep "$WARMUP" # the load generator's own warmup: sample only its measured window
            # DWARF call graphs: release builds keep no frame pointers, and the flame graph needs
            # whole stacks.
            perf record -F 499 --call-graph dwarf,16384 -p "$BROKER_PID" -o "$RESULTS/profile/perf.data" -- sleep "$DURATION" \
                > "$RESULTS/profile/perf-record.txt" 2>&1 || note "profile: perf record failed"
            wait "$bench_pid" || note "profile: the load run failed"
            perf report -i "$RESULTS/profile/perf.data" --stdio --no-children -g none --percent-limit 0.7 \
                --sort dso,symbol > "$RESULTS/profile/symbols.txt" 2> /dev/null || true
            perf report -i "$RESULTS/profile/perf.data" --stdio --no-children -g none --sort dso \
                > "$RESULTS/profile/dso.txt" 2> /dev/null || true
            # The flame graph (inferno: `cargo install inferno --root .cache/inferno`).
            if [[ -x $INFERNO/inferno-collapse-perf && -x $INFERNO/inferno-flamegraph ]]; then
                mkdir -p "$(dirname "$OUT")/bench"
                perf script --no-inline -i "$RESULTS/profile/perf.data" 2> /dev/null | "$INFERNO/inferno-collapse-perf" \
                    > "$RESULTS/profile/folded.txt" \
                    && "$INFERNO/inferno-flamegraph" --title "Sluice broker, headline produce (1 KiB, 6 partitions, acks=1)" \
                        --width 1400 < "$RESULTS/profile/folded.txt" > "$(dirname "$OUT")/bench/flamegraph-headline.svg" \
                    || note "profile: flame graph failed"
            else
                note "profile: inferno not installed (cargo install inferno --root .cache/inferno); no flame graph"
            fi
        else
            FAILURES=$((FAILURES + 1))
        fi
        stop_broker
    fi
fi

note "writing $OUT"
HEADLINE_RUNS=$HEADLINE_RUNS BROKER_WARMUP_S=$BROKER_WARMUP TANSU_ENGINE=$TANSU_ENGINE python3 - "$RESULTS" "$OUT" "$COMMAND" "$RUNS" "$DURATION" "$WARMUP" "$BROKER_CPU" "$CLIENT_CPU" "$QUICK" <<'PY'
import json, os, pathlib, platform, re, statistics, subprocess, sys

results, out, command, runs, duration, warmup, broker_cpu, client_cpu, quick = sys.argv[1:]
results = pathlib.Path(results)
SYSTEMS = ["null", "sluice", "kafka", "tansu"]
NAMES = {"null": "null broker", "sluice": "Sluice", "kafka": "Apache Kafka", "tansu": f"Tansu 0.6 ({os.environ.get('TANSU_ENGINE', 'sqlite')})"}

def load(scenario):
    """system -> list of result dicts."""
    d = results / scenario
    by = {}
    for s in SYSTEMS:
        rs = []
        for p in sorted(d.glob(f"{s}-*.json")):
            try:
                rs.append(json.loads(p.read_text()))
            except ValueError:
                pass
        if rs:
            by[s] = rs
    return by

def get(r, path):
    for k in path.split("."):
        if r is None:
            return None
        r = r.get(k)
    return r

def stat(rs, path):
    xs = [x for x in (get(r, path) for r in rs) if isinstance(x, (int, float))]
    if not xs:
        return None
    return statistics.median(xs), min(xs), max(xs), len(xs)

def fmt(st, digits=1, unit=""):
    if st is None:
        return "–"
    med, lo, hi, n = st
    f = f"{{:.{digits}f}}"
    if n == 1:
        return f.format(med) + unit
    return f"{f.format(med)}{unit} ({f.format(lo)}–{f.format(hi)})"

def med(rs, path):
    st = stat(rs, path)
    return st[0] if st else None

# A target's verdict as (met, detail). A miss the null broker (which does no work) shares is
# n/a: the load generator and the shared cores set that figure, so this machine cannot show
# whether a broker meets the target; a broker that clears it all the same meets it.
def judged(met, null_missed, detail, why_na):
    return ("n/a", why_na) if not met and null_missed else (met, detail)

def mark(met):
    return met if met == "n/a" else ("yes" if met else ("no" if met is False else "–"))

def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"

lines = []
w = lines.append
# Written when the runs were taken (see above the scenarios): the last run's build and time.
commit, now = ((results / "run-info").read_text().splitlines() + ["?", "?"])[:2]
# The brokers' memory limit in MiB (0: none; results from before the limit existed have no file).
mem_limit_file = results / "mem-limit"
mem_limit = int(mem_limit_file.read_text().strip() or 0) if mem_limit_file.exists() else 0
ballast_file = results / "ballast"
ballast = mem_limit and ballast_file.exists() and ballast_file.read_text().strip() == "1"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
kafka_version = ""
kv = pathlib.Path(os.environ.get("SLUICE_CACHE_DIR", ".cache")) / "kafka" / "VERSION"
if kv.exists():
    kafka_version = kv.read_text().split()[0]

w("# Benchmarks")
w("")
w("Generated by `scripts/bench.sh`; edit the script, not this file. Issue 4 states what these")
w("figures must show; the checks against its targets are at the end.")
w("")
if quick == "1":
    w("> **Quick mode** (`--quick`): one short run per system, a smoke check of the pipeline. These")
    w("> figures are not worth quoting.")
    w("")
w(f"- Reproduce: `{command.strip()}` (about an hour with the defaults; `--quick` takes a few).")
w(f"- Run {now} at commit `{commit}` on {os.cpu_count()} vCPU ({cpu}), Linux {platform.release()}.")
w(f"- {runs} run(s) per system and scenario ({os.environ.get('HEADLINE_RUNS', runs)} in the pinned headline), systems alternated (null, Sluice, Kafka, null, …), each run on a")
w(f"  freshly started broker with an empty data directory; {duration} s measured after a {warmup} s warmup.")
w(f"- Pinned scenarios: broker on core {broker_cpu}, load generator on core {client_cpu} (`taskset`).")
w(f"- Before each measured run the fresh broker gets {os.environ.get('BROKER_WARMUP_S', '?')} s of full-speed produce and consume on a")
w("  throwaway topic (not measured), so that a JVM has compiled its hot paths; every system gets the same.")
w("  A `sync` then writes that data out, so its writeback stays out of the measured window.")
if mem_limit:
    w(f"- Memory: every broker runs in a memory cgroup limited to {mem_limit} MiB (page cache and heap")
    w("  together, the same for every system; `scripts/mem-cgroup.sh`). Not limited: the keep and consume")
    w("  scenarios (catch-up is measured from the page cache, and 2 GiB to read back plus the warm-up's")
    w("  data do not stay cached in 3 GiB), and the null broker wherever it keeps what it is sent. A")
    w("  server that has run a while has its memory full of page cache, and each page a broker writes")
    w("  is one the kernel just reclaimed from older data. This machine has some 20 GB free instead,")
    w("  and as a VM it returns free memory to its host within seconds, so without a limit every new")
    w("  page-cache page is a first touch of host memory, which costs several times the copy itself")
    w("  (see [Page-cache writes](#page-cache-writes-on-this-machine)). The limit puts every system")
    w("  in the server's steady state, whatever ran before it.")
    if ballast:
        w("- Ballast: before each broker starts, its memory cgroup is filled with clean page cache (a")
        w(f"  sparse file of {mem_limit - 64} MiB read from inside the cgroup, so no disk I/O), so the broker's first")
        w("  written byte already lands in a page the kernel recycles. Without it a broker started into")
        w("  an empty cgroup wrote its first 3 GiB, the whole of a short run, into fresh pages. The pages")
        w("  are dropped and read again before each fill, so that they sit on the inactive list as")
        w("  long-unread data does and reclaim takes them before the broker's own. The durable scenarios")
        w("  start into an empty cgroup instead: they are set against fio, which runs outside it with free")
        w("  memory, and with the cgroup full durable Sluice's fixed-rate ack p99 measured 32–117 ms")
        w("  against 8.4–8.5 ms empty (2 runs each, before this run; why the kernel's reclaim inside a")
        w("  full cgroup stalls the durable path is not pinned down).")
else:
    w("- Memory: no limit; every broker could use all of the machine's free memory for page cache.")
reporting_file = results / "page-reporting"
if reporting_file.exists():
    saved = reporting_file.read_text().split()
    if saved[:1] == ["off"]:
        w(f"- Free page reporting off for the run (`scripts/page-reporting.sh`: `page_reporting_order` {saved[1]}")
        w("  set to 11, put back afterwards), every system alike. With it on, this VM hands freed memory")
        w("  back to its host every few seconds, and while the host unmaps it, work on either vCPU that")
        w("  touches memory slows down: the four end-to-end stalls of 45–113 ms traced with it on, whose")
        w("  traces were kept, each fell on such a report (see the script and the run note). A server does")
        w("  not hand its memory back.")
        touch_file = results / "page-reporting.touch"
        touched = [l.split(": ", 1)[1] for l in (touch_file.read_text().splitlines() if touch_file.exists() else [])
                   if l.startswith("page-reporting.sh: touched")]
        if touched:
            w(f"  Before the first run the script {touched[0]},")
            w("  so that the host backs the guest's memory again (a first touch of a page the host had taken")
            w("  back cost 2.04 s per GB here, against 0.36 once backed), as a server's RAM is.")
    elif saved[:1] == ["keep"]:
        w("- Free page reporting left as the machine had it (`PAGE_REPORTING=keep`).")
w(f"- Systems: the **null broker** (`null-broker`, acks at once, stores nothing: the ceiling of client +")
w(f"  loopback + CPU), **Sluice** (release build, default settings; `--durable` for the durable case) and")
w(f"  **Apache Kafka {kafka_version or '4.1'}** (one KRaft node, stock settings, the JVM flags and 1 GiB heap of")
w("  its own start scripts; `log.flush.interval.messages=1` for the durable case)" +
  (f", and **{NAMES['tansu']}** where a table has it (see the Tansu section)." if any((results / sc / "tansu-1.json").exists() for sc in ("headline", "headline-unpinned")) else "."))
w("- Load generator: `sluice-bench` (crates/sluice-bench, librdkafka 2.12), one producer and one consumer,")
w("  linger.ms 5 and batch.size 1000000 (librdkafka's defaults) unless a table says otherwise, TCP_NODELAY")
w("  on (`socket.nagle.disable`, as Kafka's Java clients), and a 4 MiB producer queue")
w("  (`queue.buffering.max.kbytes`; librdkafka's own cap is 100,000 messages, 100 MB at 1 KiB). With the")
w("  100 MB queue every message went cold in the CPU caches between send and acknowledgement and the")
w("  client alone topped out near 440 MB/s; with 4 MiB it reaches about 600. Each message's value is 16 bytes of header")
w("  (send time, sequence) plus incompressible filler.")
w("- Partitioning: messages carry no key and no partition, so librdkafka's default partitioner picks")
w("  one (`--partitioner keyless`): for keyless messages it sticks to one partition for")
w("  `sticky.partitioning.linger.ms` (twice linger.ms) and then moves on, as Kafka's Java client does")
w("  and as the OpenMessaging Benchmark's `NO_KEY` workloads send. Runs before 2026-11-27 dealt")
w("  messages to the partitions in turn instead: librdkafka then grows every partition's batch at")
w("  once, spends more CPU per message and reaches less (the null broker's row); the headline's")
w("  round-robin view keeps that workload.")
w("- Load average: the machine's 1-minute load average when each run started (other engineers were")
w("  compiling on the same two cores); a run at load 8 and one at load 3 are not the same experiment.")
w("- Units: MB = 10^6 bytes and GB = 10^9 bytes of message values; latencies in ms. Cells read")
w("  `median (min–max)` over the runs. Broker CPU is utime+stime of the broker process inside the")
w("  measured window per GB moved; peak RSS is VmHWM, reset at the start of the window. This kernel")
w("  accounts CPU time by ticks without IRQ time accounting, so interrupts that land on the broker's")
w("  core (network softirqs, block I/O completions of the writeback of its own data) are billed to")
w("  the broker: the figure moves by tens of percent between runs of the same build.")
w("")

def loads(scenario, system):
    """The 1-minute load average when each run started (the machine is shared)."""
    xs = [p.read_text().split()[0] for p in sorted((results / scenario).glob(f"{system}-*.load"))]
    return ", ".join(xs) if xs else "–"

def throughput_table(title, scenario, note=None, latency=True):
    by = load(scenario)
    if not by:
        return
    w(f"## {title}")
    w("")
    if note:
        w(note)
        w("")
    args = (results / scenario / "args")
    if args.exists():
        pinned = (results / scenario / "pinned").read_text().strip() == "1"
        w(f"`sluice-bench {args.read_text().strip()}`" + (" (pinned)" if pinned else " (unpinned)"))
        w("")
    cols = ["system", "MB/s", "msgs/s (k)"]
    if latency:
        cols += ["ack p50 ms", "ack p99 ms", "ack p99.9 ms"]
    cols += ["broker CPU s/GB", "peak RSS MB", "vs null", "vs Kafka", "load avg per run"]
    w("| " + " | ".join(cols) + " |")
    w("|" + "---|" * len(cols))
    null_mb = med(by.get("null", []), "throughput.mb_per_s")
    kafka_mb = med(by.get("kafka", []), "throughput.mb_per_s")
    for s in SYSTEMS:
        rs = by.get(s)
        if not rs:
            continue
        mb = med(rs, "throughput.mb_per_s")
        kmsgs = stat(rs, "throughput.msgs_per_s")
        kmsgs = tuple(x / 1e3 for x in kmsgs[:3]) + (kmsgs[3],) if kmsgs else None
        row = [NAMES[s], fmt(stat(rs, "throughput.mb_per_s")), fmt(kmsgs)]
        if latency:
            row += [fmt(stat(rs, "produce_latency.p50_ms"), 2), fmt(stat(rs, "produce_latency.p99_ms"), 2),
                    fmt(stat(rs, "produce_latency.p999_ms"), 2)]
        row += [fmt(stat(rs, "broker.cpu_seconds_per_gb"), 2), fmt(stat(rs, "broker.peak_rss_mb"), 0),
                ratio(mb, null_mb) if s != "null" else "1", ratio(mb, kafka_mb) if s != "kafka" else "1",
                loads(scenario, s)]
        w("| " + " | ".join(row) + " |")
    bad = [f"{s}: {sum(1 for r in rs if not get(r, 'messages.all_accounted'))} run(s)"
           for s, rs in by.items() if any(not get(r, "messages.all_accounted") for r in rs)]
    if bad:
        w("")
        w("Runs with messages not accounted for: " + ", ".join(bad) + ".")
    w("")

throughput_table("Headline: produce 1 KiB, 6 partitions, acks=1 (pinned)", "headline",
                 "Produce-ack latency at full throughput is mostly time spent in librdkafka's queue. "
                 "Pinned to one core, Kafka shares it with its JIT compiler, garbage collector and some "
                 "thirty threads; the unpinned view below lets every system use both cores.")
throughput_table("Headline, unpinned (second view)", "headline-unpinned",
                 "Broker and load generator share both cores as the scheduler likes.")
throughput_table("Headline, round-robin partitioning (third view)", "headline-round-robin",
                 "The pinned headline with every message sent to an explicit partition in turn "
                 "(`--partitioner round-robin`), as runs before 2026-11-27 measured it; why that "
                 "lowers the client's ceiling (the null broker's row) is under Partitioning above.")
throughput_table("Keeping the bytes: the headline against a null broker that holds them in memory", "keep",
                 "The same workload as the headline, with the null broker keeping every produced byte "
                 "(`null-broker --retain-mb 4096`) instead of dropping it, alternated with Sluice; "
                 "both without the memory limit, since the null broker holds some 9 GB. "
                 "Any broker has to put the bytes somewhere: on this VM every new page of memory, heap "
                 "or page cache, is fresh host memory, and the null broker's CPU per GB here is what "
                 "holding the bytes costs before any storage engine does any work.")
throughput_table("Produce 100 B messages", "small")
throughput_table("Produce 16 KiB messages", "large")
throughput_table("Produce to 1 partition", "partitions-1")
throughput_table("Produce to 60 partitions", "partitions-60")
throughput_table("Durable produce: fsync before ack, acks=all", "durable",
                 "Sluice `--durable` (group commit across partitions) against Kafka with "
                 "`log.flush.interval.messages=1`. The null broker acks at once and syncs nothing: its row "
                 "is the load generator's own ceiling with these settings.")
def pct(d, key):
    return d.get("percentile", {}).get(key)

# fio runs by mode: "append" (the log's pattern, the baseline the targets use) and "overwrite"
# (fio's default, a second view). Results of older runs (run-N.json) were overwrites.
fio_modes = {"append": [], "overwrite": []}
# Set by the fio section when there are fio and durable results; the targets table reads them.
s_mb = f_mb = f_p99 = l_p99 = n_mb = n_p99 = None
# The two durable targets as (met, detail), met True, False or "n/a": judged once in the fio section,
# printed by its own table and by the targets table.
durable_tp = durable_lat = None
for f in sorted((results / "fio").glob("*-*.json")):
    mode = f.stem.rsplit("-", 1)[0]
    mode = "overwrite" if mode == "run" else mode
    if mode not in fio_modes:
        continue
    try:
        j = json.loads(f.read_text())
        job = j["jobs"][0]
        sync = job.get("sync", {}).get("lat_ns", {})
        load_f = f.with_suffix(".load")
        fio_modes[mode].append({"mb": job["write"]["bw_bytes"] / 1e6,
                         "p50": (pct(sync, "50.000000") or 0) / 1e6, "p99": (pct(sync, "99.000000") or 0) / 1e6,
                         "iops": job["write"]["iops"],
                         "load": load_f.read_text().split()[0] if load_f.exists() else "?"})
    except (ValueError, KeyError, IndexError):
        pass
fio_runs = fio_modes["append"] or fio_modes["overwrite"]
fio_mode = "append" if fio_modes["append"] else "overwrite"

def mm(xs, nd=1):
    if not xs:
        return "–"
    return f"{statistics.median(xs):.{nd}f} ({min(xs):.{nd}f}–{max(xs):.{nd}f})"

if fio_runs:
    flush = int((results / "fio" / "flush-bytes").read_text().strip())
    d = load("durable")
    s_mb = med(d.get("sluice", []), "throughput.mb_per_s")
    s_p99 = med(d.get("sluice", []), "produce_latency.p99_ms")
    f_mb = statistics.median(r["mb"] for r in fio_runs)
    f_p99 = statistics.median(r["p99"] for r in fio_runs)
    w("## The fdatasync baseline (fio)")
    w("")
    w(f"What the disk gives when nothing but writes and fdatasync run: `fio --rw=write --ioengine=sync "
      f"--fdatasync=1 --bs={flush} --numjobs=6` for {duration} s on the data directory's file system, "
      "pinned like a broker. The block size is durable Sluice's own flush size: the message bytes it "
      "acknowledged per fdatasync call in the measured window (`perf stat -e syscalls:sys_enter_fdatasync` "
      "on the broker, median over its durable runs, rounded to 4 KiB), and six jobs are its six "
      "partitions synced in parallel by the group commit.")
    w("")
    w("fio runs two ways. **append** (`--file_append=1 --fallocate=none`, fresh files) extends each file "
      "with every write, as a broker's log does: each fdatasync also commits the new blocks and the new "
      "file size to the journal. This is the baseline the targets use. **overwrite** is fio's default: "
      "each job lays out a 256 MiB file and rewrites it in a loop, so after the first pass a sync "
      "flushes data only, with nothing to journal. No log does that, so it is shown as a second view.")
    w("")
    w("| | MB/s | fdatasync (or ack) p50 ms | p99 ms | load avg (1 min) |")
    w("|---|---|---|---|---|")
    for mode, runs in fio_modes.items():
        if runs:
            w(f"| fio {mode}, {flush // 1024} KiB per fdatasync, 6 jobs | {mm([r['mb'] for r in runs])} | "
              f"{mm([r['p50'] for r in runs], 2)} | {mm([r['p99'] for r in runs], 2)} | "
              f"{', '.join(r['load'] for r in runs)} |")
    if s_mb:
        w(f"| Sluice `--durable` (table above) | {fmt(stat(d['sluice'], 'throughput.mb_per_s'))} | "
          f"{fmt(stat(d['sluice'], 'produce_latency.p50_ms'), 2)} | {fmt(stat(d['sluice'], 'produce_latency.p99_ms'), 2)} | |")
        w("")
        over = fio_modes["overwrite"]
        vs_over = (f" ({s_mb / statistics.median(r['mb'] for r in over):.2f}× the overwrite loop)"
                   if over and fio_mode == "append" else "")
        w(f"Durable Sluice moves **{s_mb / f_mb:.2f}×** the bytes of the bare fdatasync {fio_mode} loop{vs_over}, "
          f"and its ack p99 at full speed is **{s_p99 / f_p99:.0f}×** the fdatasync p99 ({s_p99:.1f} vs "
          f"{f_p99:.2f} ms): an ack waits for librdkafka's queue and the batch ahead of it, not only for one sync.")
        n_mb = med(d.get("null", []), "throughput.mb_per_s")
        if n_mb:
            w("")
            w(f"The load generator itself, with the same settings against the null broker (which acks at once "
              f"and writes nothing), reached {n_mb:.1f} MB/s, **{n_mb / f_mb:.2f}×** the fio append loop: "
              f"durable Sluice moved {s_mb / n_mb:.2f}× of that ceiling.")
    dl_by = load("durable-latency")
    dl, dl_null, dl_kafka = (dl_by.get(s, []) for s in ("sluice", "null", "kafka"))
    l_p99 = med(dl, "produce_latency.p99_ms")
    n_p99 = med(dl_null, "produce_latency.p99_ms")
    if l_p99 is not None:
        rate = med(dl, "settings.rate")
        linger = med(dl, "settings.linger_ms")
        # Runs before s20 took half durable Sluice's own peak at librdkafka's default linger.ms 5.
        which = "half durable Sluice's peak" if linger == 5 else "half the slowest real system's durable peak"
        w("")
        w(f"At a fixed rate{f' of {rate / 1000:.0f}k msgs/s' if rate else ''} ({which}"
          f"{f', linger.ms {linger:g}' if linger is not None else ''}, latency from each message's intended "
          "send time) the producer's queue no longer dominates: durable Sluice's ack p50 "
          f"{fmt(stat(dl, 'produce_latency.p50_ms'), 2)} ms, p99 {fmt(stat(dl, 'produce_latency.p99_ms'), 2)} ms "
          f"against the fdatasync p99 of {f_p99:.2f} ms (fio {fio_mode}).")
        if dl_kafka:
            w(f"Apache Kafka (`log.flush.interval.messages=1`) at the same rate and settings: ack p50 "
              f"{fmt(stat(dl_kafka, 'produce_latency.p50_ms'), 2)} ms, p99 {fmt(stat(dl_kafka, 'produce_latency.p99_ms'), 2)} ms.")
        if n_p99 is not None:
            w(f"The null broker at the same rate and settings (it acks at once): ack p50 "
              f"{fmt(stat(dl_null, 'produce_latency.p50_ms'), 2)} ms, p99 {fmt(stat(dl_null, 'produce_latency.p99_ms'), 2)} ms, "
              "the load generator's own floor.")
    if s_mb:
        # As for the "faster than a peer" lines: when the load generator alone (the null broker)
        # cannot reach 80 % of fio, this machine cannot show whether a broker does.
        durable_tp = judged(s_mb >= 0.8 * f_mb, bool(n_mb) and n_mb < 0.8 * f_mb, f"{s_mb / f_mb:.2f}×",
                            f"{s_mb / f_mb:.2f}×; null broker {(n_mb or 0) / f_mb:.2f}×: the client's ceiling is below the target")
    if l_p99 is not None:
        # As for the end-to-end latencies: a p99 the null broker cannot reach is the client's.
        floor = f"; null broker {n_p99:.2f}" if n_p99 is not None else ""
        durable_lat = judged(l_p99 <= f_p99 + 2, n_p99 is not None and n_p99 > f_p99 + 2,
                             f"{l_p99:.2f} vs {f_p99:.2f} ms ({l_p99 - f_p99:+.2f} ms{floor})",
                             f"{l_p99:.2f} vs {f_p99:.2f} ms; null broker {n_p99 or 0:.2f}: the client's floor is above the target")
    if durable_tp or durable_lat:
        w("")
        w("| issue 4 durable target | met | measured |")
        w("|---|---|---|")
        for what, verdict in ((f"throughput ≥ 80 % of fio ({fio_mode}) at the same flush size and parallelism", durable_tp),
                              ("ack p99 (fixed rate) within 2 ms of fdatasync p99", durable_lat)):
            if verdict:
                met, detail = verdict
                w(f"| {what} | {mark(met)} | {detail} |")
    w("")

peer_rows = {}
for f in sorted((results / "peers").glob("*-*.load")):
    peer, run = f.stem.rsplit("-", 1)
    base = f.with_suffix("")
    row = None
    csvf, txtf = pathlib.Path(f"{base}.csv"), pathlib.Path(f"{base}.txt")
    if csvf.exists():
        last = [l for l in csvf.read_text().splitlines() if l.startswith('"XADD')]
        if last:
            cells = [c.strip('"') for c in last[-1].rsplit(",", 7)]
            rps = float(cells[1])
            row = {"msgs": rps, "mb": rps * 1024 / 1e6, "p50": float(cells[4]), "p99": float(cells[6])}
    elif txtf.exists():
        m = re.search(r"Pub stats: ([\d,]+) msgs/sec", txtf.read_text())
        if m:
            rate = float(m.group(1).replace(",", ""))
            row = {"msgs": rate, "mb": rate * 1024 / 1e6, "p50": None, "p99": None}
    if row:
        row["load"] = f.read_text().split()[0]
        peer_rows.setdefault(peer, []).append(row)

if peer_rows:
    w("## Other durable-produce peers: Redis Streams and NATS JetStream")
    w("")
    w("Not Kafka-protocol systems, so `sluice-bench` cannot drive them; each runs with its own load tool, "
      "1 KiB values, six producers, pinned like the brokers above, fresh data directory per run. Their "
      "latency columns are per request as their tools measure it (not comparable in detail with librdkafka's ack latency).")
    w("")
    w("- **Redis 7.0 Streams** (Debian `redis-server`): AOF on; `appendfsync always` syncs before it answers a "
      "command batch (its durable mode), `everysec` once a second (acknowledged writes of the last second can be lost). "
      "Load: `redis-benchmark -c 6 -P 16 -r 6 XADD s:__rand_int__ * v <1 KiB>` (six streams, six connections, 16 "
      "commands pipelined per connection).")
    w("- **NATS 2.9 JetStream** (Debian `nats-server -js`), file storage, one replica. JetStream acknowledges a "
      "publish once the stream has stored it in its file store, without an fsync per message (2.9 has no "
      "`sync_always`), so it sits between Sluice's default and `--durable`. Load: `nats bench js pub --clients 6 --batch 100 --size 1024` "
      "(natscli, async publishes in batches of 100); natscli reports throughput only.")
    w("")
    w("| system | MB/s | msgs/s (k) | p50 ms | p99 ms | load avg (1 min) per run |")
    w("|---|---|---|---|---|---|")
    names = {"redis-always": "Redis Streams, appendfsync always", "redis-everysec": "Redis Streams, appendfsync everysec",
             "nats-js": "NATS JetStream (file store)"}
    for peer in ("redis-always", "redis-everysec", "nats-js"):
        rs = peer_rows.get(peer)
        if not rs:
            continue
        lat = lambda k: mm([r[k] for r in rs if r[k] is not None], 2)
        w(f"| {names[peer]} | {mm([r['mb'] for r in rs])} | {mm([r['msgs'] / 1e3 for r in rs])} | {lat('p50')} | "
          f"{lat('p99')} | {', '.join(r['load'] for r in rs)} |")
    d = load("durable")
    if d.get("sluice"):
        w(f"| Sluice `--durable` (acks=all) | {fmt(stat(d['sluice'], 'throughput.mb_per_s'))} | "
          f"{fmt(tuple(x / 1e3 for x in stat(d['sluice'], 'throughput.msgs_per_s')[:3]) + (0,))} | "
          f"{fmt(stat(d['sluice'], 'produce_latency.p50_ms'), 2)} | {fmt(stat(d['sluice'], 'produce_latency.p99_ms'), 2)} | |")
    w("")

throughput_table("Consume catch-up", "consume",
                 "The topic is filled first (not measured), then read from the start by one consumer; "
                 "MB/s is the read rate and broker CPU is per GB read.", latency=False)

peak_file = results / "e2e-peak" / "peak"
if peak_file.exists():
    peak = int(peak_file.read_text().strip())
    w("## End-to-end latency")
    w("")
    w("First the peak: producer and consumer both at full speed (linger.ms 1); \"sustained\" is what was")
    w("both acknowledged and read back inside the window. With the load generator on one core this peak")
    w("is set by the client, which both produces and consumes there.")
    w("")
    cols = ["system", "acked msgs/s (k)", "consumed msgs/s (k)", "e2e p50 ms", "e2e p99 ms", "broker CPU s/GB"]
    by = load("e2e-peak")
    if by:
        w("| " + " | ".join(cols) + " |")
        w("|" + "---|" * len(cols))
    else:
        w("This run did not measure the peak: `E2E_PEAK` gave it.")
    for s in SYSTEMS:
        rs = by.get(s)
        if not rs:
            continue
        k = lambda st: tuple(x / 1e3 for x in st[:3]) + (st[3],) if st else None
        w("| " + " | ".join([NAMES[s], fmt(k(stat(rs, "throughput.msgs_per_s"))),
                               fmt(k(stat(rs, "consumed_in_window.msgs_per_s"))),
                               fmt(stat(rs, "e2e_latency.p50_ms"), 1), fmt(stat(rs, "e2e_latency.p99_ms"), 1),
                               fmt(stat(rs, "broker.cpu_seconds_per_gb"), 2)]) + " |")
    w("")
    w(f"Then fixed rates of 10 %, 50 % and 80 % of {peak:,} msgs/s, the slowest real system's sustained")
    w("peak. Latency counts from each message's *intended* send time (no coordinated omission) to its")
    w("arrival at the consumer; linger.ms 1. A rate marked † was not kept (achieved < 95 % of target).")
    w("The last rows repeat 50 % with linger.ms 0: librdkafka waits for its linger timer in `poll()`,")
    w("whose timeout it rounds up to whole milliseconds, so linger.ms 1 holds the first message of each")
    null_p50 = med(load("e2e-50").get("null", []), "e2e_latency.p50_ms")
    in_run = f" ({null_p50:.2f} ms in this run)" if null_p50 else ""
    w(f"batch 1–2 ms in the client, and the null broker's own p50 is close to 1 ms with it{in_run}. With linger.ms 0")
    w("the client sends whatever has queued each time its I/O thread comes round, and batches still form")
    w("while a request is in flight. The Java client's linger timer is exact, which is why the")
    w("OpenMessaging Benchmark can use 1 there.")
    if load("e2e-50-linger0-unpinned"):
        w("The unpinned rows run 50 % at linger.ms 0 with broker and load generator free on both cores, a")
        w("second view: pinned, the producer's and the consumer's threads queue behind each other on the")
        w("client's one core, which sets the null broker's p50 above 1 ms; unpinned they do not, but the")
        w("broker then competes with them for both cores, and the tails grow for every system.")
    w("The null broker's row is the floor the client and the shared cores set: where it misses a")
    w("latency target too, this machine cannot show whether a broker meets it. The broker CPU column")
    w("(core-seconds per GB) times the rate in MB/s gives how busy the broker's one core was (in the")
    w("unpinned rows, how much of the two cores it took).")
    w("")
    cols = ["rate", "system", "achieved msgs/s", "e2e p50 ms", "e2e p99 ms", "e2e p99.9 ms", "e2e max ms",
            "ack p99 ms", "broker CPU s/GB"]
    w("| " + " | ".join(cols) + " |")
    w("|" + "---|" * len(cols))
    for rate, scenario in (("10 %", "e2e-10"), ("50 %", "e2e-50"), ("80 %", "e2e-80"),
                           ("50 % linger.ms 0", "e2e-50-linger0"),
                           ("50 % linger.ms 0, unpinned", "e2e-50-linger0-unpinned")):
        by = load(scenario)
        for s in SYSTEMS:
            rs = by.get(s)
            if not rs:
                continue
            kept = all(get(r, "rate.kept") for r in rs)
            row = [rate, NAMES[s], fmt(stat(rs, "throughput.msgs_per_s"), 0) + ("" if kept else " †"),
                   fmt(stat(rs, "e2e_latency.p50_ms"), 2), fmt(stat(rs, "e2e_latency.p99_ms"), 2),
                   fmt(stat(rs, "e2e_latency.p999_ms"), 2), fmt(stat(rs, "e2e_latency.max_ms"), 2),
                   fmt(stat(rs, "produce_latency.p99_ms"), 2), fmt(stat(rs, "broker.cpu_seconds_per_gb"), 1)]
            w("| " + " | ".join(row) + " |")
    w("")

def idle_rss(scenario, system):
    """RSS in MB of each fresh broker before any load (bench.sh reads it right after start)."""
    xs = []
    for p in sorted((results / scenario).glob(f"{system}-*.idle-rss-kb")):
        try:
            xs.append(int(p.read_text().strip()) / 1024 * 1.048576)
        except ValueError:
            pass
    return (statistics.median(xs), min(xs), max(xs), len(xs)) if xs else None

by = load("headline")
if by:
    w("## Memory")
    w("")
    w("Idle: the fresh broker right after it started listening. Peak: VmHWM during the measured headline")
    w("window (reset when the window opened).")
    w("")
    w("| system | idle RSS MB | peak RSS under the headline load MB |")
    w("|---|---|---|")
    for s in SYSTEMS:
        if s in by:
            w(f"| {NAMES[s]} | {fmt(idle_rss('headline', s), 1)} | {fmt(stat(by[s], 'broker.peak_rss_mb'), 1)} |")
    w("")

# Issue 4's targets, checked against these medians.
checks = []
def check(what, ok, detail):
    checks.append((what, mark(ok), detail))
# "At least 1.5 times a peer": where the null broker is itself under 1.5 times that peer, the
# client's ceiling is below the target (see judged).
def faster_than(what, value, peer, null_value):
    if not value or not peer:
        check(what, None, "–")
    else:
        check(what, *judged(value / peer >= 1.5, bool(null_value) and null_value / peer < 1.5, ratio(value, peer),
                            f"{ratio(value, peer)}; null broker {ratio(null_value, peer)}: the client's ceiling is below the target"))
h = load("headline")
sl, nl, kf = (med(h.get(s, []), "throughput.mb_per_s") for s in ("sluice", "null", "kafka"))
check("Headline ≥ 70 % of the null broker", sl / nl >= 0.7 if sl and nl else None, ratio(sl, nl))
faster_than("Headline ≥ 1.5 × Apache Kafka", sl, kf, nl)
ts = med(h.get("tansu", []), "throughput.mb_per_s")
faster_than(f"Headline ≥ 1.5 × {NAMES['tansu']}", sl, ts, nl)
# The same two lines for the round-robin view, which the runs before 2026-11-27 took as the headline.
rr = load("headline-round-robin")
rsl, rnl, rkf = (med(rr.get(s, []), "throughput.mb_per_s") for s in ("sluice", "null", "kafka"))
if rsl:
    check("Headline, round-robin view: ≥ 70 % of the null broker", rsl / rnl >= 0.7 if rnl else None, ratio(rsl, rnl))
    faster_than("Headline, round-robin view: ≥ 1.5 × Apache Kafka", rsl, rkf, rnl)
c = load("consume")
cs = med(c.get("sluice", []), "throughput.mb_per_s")
check("Consume catch-up ≥ 1 GB/s", cs >= 1000 if cs else None, f"{cs:.0f} MB/s" if cs else "–")
scpu = med(h.get("sluice", []), "broker.cpu_seconds_per_gb")
kcpu = med(h.get("kafka", []), "broker.cpu_seconds_per_gb")
check("Broker CPU ≤ 1.0 s per GB produced", scpu <= 1.0 if scpu else None, f"{scpu:.2f}" if scpu else "–")
check("Broker CPU ≤ ½ of Kafka's per GB produced", scpu <= kcpu / 2 if scpu and kcpu else None,
      ratio(scpu, kcpu))
ccpu = med(c.get("sluice", []), "broker.cpu_seconds_per_gb")
check("Broker CPU ≤ 0.3 s per GB consumed", ccpu <= 0.3 if ccpu else None, f"{ccpu:.2f}" if ccpu else "–")
idle = (idle_rss("headline", "sluice") or [None])[0]
check("Idle RSS ≤ 30 MB", idle <= 30 if idle else None, f"{idle:.1f} MB" if idle else "–")
peak_rss = med(h.get("sluice", []), "broker.peak_rss_mb")
check("RSS under load ≤ 256 MB", peak_rss <= 256 if peak_rss else None, f"{peak_rss:.0f} MB" if peak_rss else "–")
# The end-to-end checks, at linger.ms 1 (the OpenMessaging Benchmark's setting) and at linger.ms 0,
# where librdkafka does not hold the message (see the end-to-end section): each on its own line.
for scenario, label in (("e2e-50", "linger.ms 1"), ("e2e-50-linger0", "linger.ms 0"),
                        ("e2e-50-linger0-unpinned", "linger.ms 0, unpinned")):
    e = load(scenario)
    if not e:
        continue
    p50, p99, p999 = (med(e.get("sluice", []), f"e2e_latency.{k}") for k in ("p50_ms", "p99_ms", "p999_ms"))
    kp99 = med(e.get("kafka", []), "e2e_latency.p99_ms")
    np50, np99, np999 = (med(e.get("null", []), f"e2e_latency.{k}") for k in ("p50_ms", "p99_ms", "p999_ms"))
    # A latency the null broker (no work at all) cannot reach either is the client's floor, not
    # the broker's (see judged and the end-to-end section).
    def latency(what, value, limit, null_value):
        if not value:
            check(what, None, "–")
        else:
            floor = f" (null broker {null_value:.2f})" if null_value else ""
            check(what, *judged(value <= limit, bool(null_value) and null_value > limit, f"{value:.2f} ms{floor}",
                                f"{value:.2f} ms; null broker {null_value or 0:.2f}: the client's floor is above the target"))
    latency(f"E2E at 50 %, {label}: p50 ≤ 1 ms", p50, 1, np50)
    latency(f"E2E at 50 %, {label}: p99 ≤ 5 ms", p99, 5, np99)
    latency(f"E2E at 50 %, {label}: p99.9 ≤ 20 ms", p999, 20, np999)
    check(f"E2E at 50 %, {label}: p99 ≤ ⅓ of Kafka's", p99 <= kp99 / 3 if p99 and kp99 else None, ratio(p99, kp99))
if durable_tp:
    check(f"Durable ≥ 80 % of fio fdatasync ({fio_mode}, same flush size, 6 jobs)", *durable_tp)
if durable_lat:
    check(f"Durable ack p99 (fixed rate) ≤ fdatasync p99 ({fio_mode}) + 2 ms", *durable_lat)
flame_svg = pathlib.Path(out).parent / "bench" / "flamegraph-headline.svg"
check("Flame graph or profile of the headline run, top three costs named",
      flame_svg.exists() or (results / "profile" / "symbols.txt").exists(),
      "flame graph + self-time table below" if flame_svg.exists() else "self-time table below")
w("## Issue 4's targets, from these medians")
w("")
w("| target | met | Sluice |")
w("|---|---|---|")
for what, ok, detail in checks:
    w(f"| {what} | {ok} | {detail} |")
w("")
if any(ok == "n/a" for _, ok, _ in checks):
    w("n/a: the null broker, which acknowledges at once and does no work, missed that target itself")
    w("(a latency above the limit, or a throughput under the multiple of the peer's), so the load")
    w("generator and the shared cores, not the broker, set the figure and this machine cannot show")
    w("whether a broker meets it.")
    if any(ok == "n/a" and what.startswith("E2E") for what, ok, _ in checks):
        w("The end-to-end targets are checked at linger.ms 0 too, where the null broker's figures are below them.")
    w("")

# The page-cache floor under broker CPU per GB produced (the pagecache scenario).
def page_cache_costs():
    d = results / "pagecache"
    out = {}
    for mode, mib in (("fresh", 2048), ("cached", 2048), ("limited", 6144), ("full", 2048)):
        xs = []
        for p in sorted(d.glob(f"{mode}-*.sys")):
            try:
                xs.append(float(p.read_text().split()[-1]) / (mib * 2**20 / 1e9))
            except (ValueError, IndexError):
                pass
        if xs:
            out[mode] = xs
    return out
pages = page_cache_costs()
if "fresh" in pages and "cached" in pages:
    fresh, cached = statistics.median(pages["fresh"]), statistics.median(pages["cached"])
    w(f"For scale, the copy into the page cache that every produced byte takes: in this run `dd` "
      f"spent {fresh:.2f} s of kernel time per GB writing into fresh page-cache pages and {cached:.2f} s "
      f"writing over pages already cached, alone on the broker's core "
      f"(see [Page-cache writes](#page-cache-writes-on-this-machine)).")
    w("")

keep = load("keep")
kn, ks = (med(keep.get(s, []), "broker.cpu_seconds_per_gb") for s in ("null", "sluice"))
if kn and ks:
    w(f"Holding the produced bytes in new memory costs this machine: without a memory limit, the null "
      f"broker that keeps every byte in memory spent {kn:.2f} s of CPU per GB on the headline workload, "
      f"and Sluice {ks:.2f} s beside it in the same alternation (see [Keeping the bytes](#keeping-the-bytes-the-headline-against-a-null-broker-that-holds-them-in-memory)).")
    w("")

# How noisy: the spread of each system's runs relative to its median.
spreads = []
for scen in ["headline", "headline-unpinned", "headline-round-robin", "small", "large", "durable", "consume"]:
    for s, rs in load(scen).items():
        st = stat(rs, "throughput.mb_per_s")
        if st and st[3] > 1 and st[0] > 0:
            spreads.append((scen, s, (st[2] - st[1]) / st[0] * 100))
w("## How noisy these figures are")
w("")
w("The machine has 2 vCPUs shared with other work, and the figures move from minute to minute (see")
w("shared/notes/machine-and-tools.md: fsync p99 alone varies severalfold). Alternating the systems")
w("spreads slow minutes over all of them, but a single run can still be off by tens of percent; read")
w("ratios within one table, not absolute values across tables.")
if spreads:
    worst = max(spreads, key=lambda x: x[2])
    typical = statistics.median(x[2] for x in spreads)
    w(f"In this run the throughput spread (max−min)/median was {typical:.0f} % typically and "
      f"{worst[2]:.0f} % at worst ({NAMES[worst[1]]}, {worst[0]}).")
# Host steal per run (bench.sh reads /proc/stat around each load-generator run; 100 ticks a second).
steals = []
for p in sorted(results.glob("*/*.steal-ticks")):
    try:
        steals.append((int(p.read_text().strip()) / 100, p.parent.name, p.name.split(".")[0]))
    except ValueError:
        pass
if steals:
    most = max(steals)
    w(f"Host steal (time the hypervisor gave these vCPUs to other guests, from `/proc/stat`) over each "
      f"run: median {statistics.median(x[0] for x in steals):.2f} s, most {most[0]:.2f} s "
      f"({most[1]}, {most[2]}), {sum(x[0] for x in steals):.1f} s over all {len(steals)} runs.")
w("")
sym = results / "profile" / "symbols.txt"
if sym.exists():
    rows = []
    for line in sym.read_text(errors="replace").splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$", line)
        if m:
            # perf pads the symbol column and appends "-  -" (no branch data).
            name = re.sub(r"(\s+-)*\s*$", "", m.group(4))
            rows.append((float(m.group(1)), m.group(2), m.group(3), name))
    dsos = []
    dso = results / "profile" / "dso.txt"
    if dso.exists():
        for line in dso.read_text(errors="replace").splitlines():
            m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s*$", line)
            if m:
                dsos.append((float(m.group(1)), m.group(2)))
    if rows:
        w("## Profile of the headline run (Sluice)")
        w("")
        w(f"`perf record -F 499 --call-graph dwarf` on the broker over the {duration} s measured window of one pinned headline")
        w("run; self time per symbol (`[k]` kernel, `[.]` user space). By object: " +
          ", ".join(f"{d} {p:.0f} %" for p, d in dsos[:5]) + ".")
        w("")
        top = rows[:3]
        w("Top three costs: " + "; ".join(f"`{r[3][:70]}` ({r[0]:.1f} %)" for r in top) + ".")
        w("")
        w("| self % | object | symbol |")
        w("|---|---|---|")
        for p, d, k, name in rows[:20]:
            w(f"| {p:.1f} | {d} | `[{k}] {name[:90]}` |")
        w("")

w("## The tools")
w("")
w("- `sluice-bench` (crates/sluice-bench; `cargo build --release -p sluice-bench`) is the load generator:")
w("  `sluice-bench produce|consume|end-to-end --bootstrap HOST:PORT` with `--message-size`, `--partitions`,")
w("  `--acks`, `--partitioner` (keyless or round-robin), `--producers`, `--consumers`, `--duration`/`--messages`, `--warmup`, `--rate` (fixed rate,")
w("  latency from the intended send time), `--compression`, `--linger-ms`, `--batch-size`, `-X key=value`")
w("  for any librdkafka setting, `--broker-pid PID` for the broker's CPU and memory, `--json FILE`. It prints")
w("  a progress line each second on stderr and exits 1 if any message is unaccounted for. It is a separate")
w("  binary, not a `sluice bench` subcommand.")
w("- `null-broker` (same crate) answers ApiVersions, Metadata, Produce, Fetch, ListOffsets, CreateTopics,")
w("  InitProducerId and FindCoordinator; `--retain-mb N` keeps the newest N MiB per partition in memory")
w("  for Fetch (0, the default, keeps nothing).")
w("- `scripts/bench-ab.sh RUNS NAME=BINARY ...` alternates builds (or a build and the null broker) run")
w("  by run on one workload (`WORKLOAD`, default the headline) with the same pinning: the way to see")
w("  whether a change moved a figure on a machine this noisy.")
w("- `scripts/blocked-stacks.py PID SECONDS` (root) samples the kernel stacks of the broker's threads")
w("  that are blocked in a syscall: for a latency tail that a CPU profile does not explain.")
w("- CI runs each workload for about two seconds against both brokers")
w("  (`cargo test -p sluice-bench --test smoke`); it checks the tools work, not the figures.")
w("")
# The plot: median MB/s per scenario and system with min–max bars.
plot = pathlib.Path(out).parent / "bench" / "medians.png"
venv_python = pathlib.Path(os.environ.get("BENCH_VENV", ".cache/bench-venv")) / "bin" / "python"
series = {}
for scen, label in [("headline", "headline\n1 KiB x6"), ("partitions-1", "1 KiB x1"), ("partitions-60", "1 KiB x60"),
                    ("small", "100 B x6"), ("large", "16 KiB x6"), ("durable", "durable\nacks=all"),
                    ("consume", "consume\ncatch-up")]:
    for s, rs in load(scen).items():
        st = stat(rs, "throughput.mb_per_s")
        if st:
            series.setdefault(NAMES[s], []).append((label, st[0], st[1], st[2]))
for peer, rs in peer_rows.items():
    xs = [r["mb"] for r in rs]
    series.setdefault({"redis-always": "Redis (always)", "redis-everysec": "Redis (everysec)",
                       "nats-js": "NATS JetStream"}[peer], []).append(
        ("durable\nacks=all", statistics.median(xs), min(xs), max(xs)))
if fio_runs:
    xs = [r["mb"] for r in fio_runs]
    series.setdefault(f"fio fdatasync ({fio_mode})", []).append(("durable\nacks=all", statistics.median(xs), min(xs), max(xs)))
if series and venv_python.exists():
    plot.parent.mkdir(parents=True, exist_ok=True)
    script = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
series, out = json.loads(sys.argv[1]), sys.argv[2]
labels = []
for rows in series.values():
    for r in rows:
        if r[0] not in labels:
            labels.append(r[0])
width = 0.8 / max(1, len(series))
fig, ax = plt.subplots(figsize=(12, 5))
for i, (name, rows) in enumerate(series.items()):
    xs = [labels.index(r[0]) + i * width for r in rows]
    ax.bar(xs, [r[1] for r in rows], width, label=name,
           yerr=[[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]], capsize=2)
ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(labels))], labels)
ax.set_ylabel("MB/s (median, min-max bars)")
ax.set_yscale("log")
ax.set_title("scripts/bench.sh: throughput medians")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
fig.savefig(out, dpi=110)
"""
    r = subprocess.run([str(venv_python), "-c", script, json.dumps(series), str(plot)], capture_output=True, text=True)
    if r.returncode == 0:
        w("## Plot")
        w("")
        w(f"![Median MB/s per scenario and system, min–max bars, log scale](bench/{plot.name})")
        w("")
    else:
        print("bench.sh: plot failed: " + r.stderr[-500:], file=sys.stderr)

if pages:
    w("## Page-cache writes on this machine")
    w("")
    w("`dd if=/dev/zero bs=1M count=2048` pinned to the broker's core, into a new file (fresh pages), then")
    w("over the same file again (pages already cached); kernel (system) time per GB written. The")
    w("machine is a VM that hands memory back to its host as soon as the guest frees it, so each new")
    w("page-cache page is fresh host memory, and its first touch is what costs. Every broker that")
    w("writes through the page cache, Kafka included, pays at least the first figure per GB produced;")
    w("under load, with the load generator on the other core, the same copy has measured several times")
    w("dearer (the profile's `copy_folio_from_iter_atomic`). Inside a memory limit the kernel, once")
    w("the limit is reached, reclaims the cgroup's older pages and hands them out again while they")
    w("are still backed by the host, as on a server whose memory is full; the last row is that case,")
    w("and the brokers' memory limit (filled first by the ballast) exists to measure them in it.")
    w("")
    w("| pages | kernel s per GB, median (min–max) |")
    w("|---|---|")
    for mode, label in (("fresh", "fresh (new file)"), ("cached", "already cached (same file again)"),
                        ("limited", f"6 GiB into a new file inside the brokers' {mem_limit} MiB memory limit"),
                        ("full", f"2 GiB into a new file inside the brokers' {mem_limit} MiB memory limit, filled first by the ballast")):
        if mode in pages:
            xs = pages[mode]
            w(f"| {label} | {statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f}) |")
    w("")

flame = pathlib.Path(out).parent / "bench" / "flamegraph-headline.svg"
if flame.exists():
    w(f"Flame graph of the profiled headline run: [bench/{flame.name}](bench/{flame.name}).")
    w("")

def include_note(title, name):
    """A hand-written note from docs/bench/, when there is one."""
    note = pathlib.Path(out).parent / "bench" / name
    if note.exists():
        w(f"## {title}")
        w("")
        w(note.read_text().strip())
        w("")

# How this particular run was taken (pieces, binaries, conditions), then how Tansu was set up.
include_note("How this run was taken", "run-note.md")
include_note("Tansu", "tansu-note.md")
w(f"Raw results (one JSON per run, the load generator's output and the broker's log) were in `{results}`.")
pathlib.Path(out).write_text("\n".join(lines) + "\n")
PY

if ((FAILURES > 0)); then
    note "$FAILURES run(s) failed; see $RESULTS"
    exit 1
fi
note "done: $OUT"
