#!/usr/bin/env bash
# A/B of Sluice builds (or a build against the null broker): alternates them run by run on one
# sluice-bench workload and prints each run's throughput, broker CPU per GB and latency.
#
# Why: on a shared machine a change is only visible side by side, A B A B in one sitting; two
# separate bench.sh runs differ by more than most changes do. Each run starts a fresh broker on
# an empty data directory, pinned to core 1 with the load generator on core 0 (as bench.sh's
# pinned scenarios), and deletes the directory afterwards so no dirty page cache carries over.
#
# Usage: scripts/bench-ab.sh RUNS NAME=BINARY [NAME=BINARY ...]
#   Rounds alternate the order of the builds (see below), so give an even RUNS.
#   A name starting with "null" runs BINARY as the null broker; any other as `sluice serve`.
# Env:
#   WORKLOAD    sluice-bench arguments (default: the headline, produce 1 KiB to 6 partitions, acks=1)
#   SERVE_ARGS  extra `sluice serve` arguments (e.g. --durable)
#   WARMUP=1    6 s of end-to-end load on a throwaway topic first, then `sync` (as bench.sh does)
#   BENCH       the sluice-bench binary (target/release/sluice-bench)
#   OUT         where the JSON results go (target/bench/ab-<time>)
#   NULL_RETAIN_MB  what a null broker keeps per partition for fetches, as bench.sh's scenarios
#               do: 0 for a produce workload, 64 otherwise (enough for an end-to-end consumer to
#               read back). 4096 is bench.sh's keep scenario only: kept, every byte is a fresh page
#               of the null broker's heap (on this VM a first touch of host memory, see
#               mem-cgroup.sh), and after a warm-up it ran the headline at 340 MB/s and 2.8 CPU
#               s/GB against 674 MB/s and 0.17 retaining nothing.
#   MEM_MB      memory limit of each Sluice broker, as bench.sh's BROKER_MEM_MB (default 3072; 0 for
#               none); the null broker, which keeps what it is sent, runs without one
#   PAGE_REPORTING  off (default: the guest's free page reporting off while this runs, as
#               bench.sh does; scripts/page-reporting.sh) or keep
#   PINNED=0    run broker and load generator unpinned, free on both cores (default 1: broker on
#               core 1, load generator on core 0), as bench.sh's unpinned views
#   BALLAST=1   before each Sluice broker starts, fill its memory cgroup with clean page cache
#               (scripts/fill-cgroup.sh), as bench.sh's BROKER_BALLAST does: the broker then writes
#               into a full cgroup, a long-running server's steady state
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:?usage: scripts/bench-ab.sh RUNS NAME=BINARY ...}
shift
(($# > 0)) || { echo "bench-ab.sh: give at least one NAME=BINARY" >&2; exit 2; }
BENCH=${BENCH:-target/release/sluice-bench}
WORKLOAD=${WORKLOAD:-produce --message-size 1024 --partitions 6 --acks 1 --duration 8 --warmup 3}
OUT=${OUT:-target/bench/ab-$(date +%Y%m%d-%H%M%S)}
if [[ -z ${NULL_RETAIN_MB:-} ]]; then
    case $WORKLOAD in produce*) NULL_RETAIN_MB=0 ;; *) NULL_RETAIN_MB=64 ;; esac
fi
mkdir -p "$OUT"
CGROUP=""
if ((${MEM_MB:-3072} > 0)); then
    CGROUP=$(scripts/mem-cgroup.sh sluice-bench-broker "${MEM_MB:-3072}") \
        || echo "bench-ab.sh: running the brokers without a memory limit" >&2
fi

BALLAST_FILE=""
PAGE_REPORTING_SAVED=""
trap '[[ -z $BALLAST_FILE ]] || rm -f "$BALLAST_FILE"; [[ -z $PAGE_REPORTING_SAVED ]] || scripts/page-reporting.sh restore "$PAGE_REPORTING_SAVED"' EXIT
if [[ -n $CGROUP && ${BALLAST:-} == 1 ]]; then
    BALLAST_FILE=$(mktemp "${TMPDIR:-/tmp}/sluice-ab-ballast.XXXXXX")
    truncate -s "$((${MEM_MB:-3072} - 64))M" "$BALLAST_FILE"
fi
[[ ${PAGE_REPORTING:-off} != off ]] || PAGE_REPORTING_SAVED=$(scripts/page-reporting.sh off)
BROKER_PIN=(taskset -c 1) CLIENT_PIN=(taskset -c 0)
[[ ${PINNED:-1} == 1 ]] || BROKER_PIN=() CLIENT_PIN=()

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Each round reverses the order of the builds (A B, B A, A B, ...): on this machine the second run
# of a round tended to measure more broker CPU (10 headline pairs with WARMUP=1: one build gave
# 1.06 s/GB median when first and 1.33 when second), so a fixed order biases the comparison.
SPECS=("$@")
REVERSED=()
for ((i = ${#SPECS[@]} - 1; i >= 0; i--)); do REVERSED+=("${SPECS[i]}"); done
for run in $(seq 1 "$RUNS"); do
    if ((run % 2 == 0)); then order=("${REVERSED[@]}"); else order=("${SPECS[@]}"); fi
    for spec in "${order[@]}"; do
        name=${spec%%=*} bin=${spec#*=}
        dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-ab.XXXXXX")
        port=$(free_port)
        if [[ $name == null* ]]; then
            "${BROKER_PIN[@]}" "$bin" --listen "127.0.0.1:$port" --retain-mb "$NULL_RETAIN_MB" > "$dir/log" 2>&1 &
        else
            [[ -z $BALLAST_FILE ]] || scripts/fill-cgroup.sh "$CGROUP" "$BALLAST_FILE"
            # shellcheck disable=SC2086 # SERVE_ARGS is a list of words
            "${BROKER_PIN[@]}" "$bin" serve --data-dir "$dir/data" --listeners "PLAINTEXT://127.0.0.1:$port" \
                --advertised-listeners "PLAINTEXT://127.0.0.1:$port" --set http.listeners= \
                --set schema.registry.listeners= ${SERVE_ARGS:-} > "$dir/log" 2>&1 &
        fi
        pid=$!
        # The null broker keeps what it retains as its own heap: no memory limit for it.
        [[ -z $CGROUP || $name == null* ]] || echo "$pid" > "$CGROUP/cgroup.procs"
        deadline=$((SECONDS + 60))
        until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
            kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)) || { tail "$dir/log" >&2; exit 1; }
            sleep 0.05
        done
        if [[ -n ${WARMUP:-} ]]; then
            "${CLIENT_PIN[@]}" "$BENCH" end-to-end --duration 6 --drain-timeout 5 --quiet \
                --bootstrap "127.0.0.1:$port" > "$OUT/$name-$run.warmup.txt" 2>&1 || true
            sync
        fi
        # shellcheck disable=SC2086 # WORKLOAD is a list of words
        "${CLIENT_PIN[@]}" "$BENCH" $WORKLOAD --bootstrap "127.0.0.1:$port" --broker-pid "$pid" \
            --json "$OUT/$name-$run.json" > "$OUT/$name-$run.txt" 2>&1 || echo "$name run $run failed" >&2
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        rm -rf "$dir"
        python3 - "$OUT/$name-$run.json" "$name" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(0)
t, b = d["throughput"], d["broker"]
lat = d.get("e2e_latency") or d.get("produce_latency") or {}
print(f"{sys.argv[2]:10s} {t['mb_per_s']:8.1f} MB/s  broker {b['cpu_seconds_per_gb']:.3f} s/GB "
      f"({b['cores_busy']:.2f} cores)  p50 {lat.get('p50_ms', 0):.2f}  p99 {lat.get('p99_ms', 0):.2f}  "
      f"p99.9 {lat.get('p999_ms', 0):.2f}  max {lat.get('max_ms', 0):.2f} ms")
PY
    done
done
echo "results in $OUT"
