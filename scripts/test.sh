#!/usr/bin/env bash
# THE test command (README and .ci/run call it): installs test dependencies, builds the broker,
# runs the Rust tests, then the Python suites that drive `sluice serve` with real Kafka clients.
#
# Runs every stage it can and exits non-zero if any failed. pytest runs last so its closing
# summary line ("N passed, ...") is the last line printed.
# Env: PYTEST_ARGS (extra pytest arguments, e.g. "-k kcat"), SKIP_CARGO_TEST=1 (local iteration only).
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
note() { echo "test.sh: $*" >&2; }

note "installing test dependencies"
if ! timeout 30m scripts/install-test-deps.sh; then
    note "scripts/install-test-deps.sh FAILED"
    exit 1
fi

note "cargo build -p sluice"
if ! timeout 40m cargo build -p sluice; then
    note "cargo build -p sluice FAILED"
    exit 1
fi

if [[ "${SKIP_CARGO_TEST:-0}" != 1 ]]; then
    note "cargo test --workspace --no-fail-fast"
    if ! timeout 30m cargo test --workspace --no-fail-fast; then
        note "cargo test --workspace FAILED"
        status=1
    fi
fi

note "pytest tests/python"
log=$(mktemp -t sluice-pytest.XXXXXX.log)
# shellcheck disable=SC2086
timeout 40m .venv/bin/pytest tests/python ${PYTEST_ARGS:-} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [[ $rc -ne 0 ]]; then status=$rc; fi
# Client libraries may still log from background threads while the interpreter exits; repeat
# pytest's closing summary so it is the last line whatever they printed.
summary=$(grep -E '(passed|failed|errors?|skipped|no tests ran).* in [0-9.]+s' "$log" | tail -n 1)
rm -f "$log"
if [[ -n $summary ]]; then echo "$summary"; fi
exit $status
