#!/usr/bin/env bash
# Installs everything the non-Rust tests need, under the repo where possible:
#   - kcat and chromium (apt; the only global installs besides python3-venv if missing)
#   - a Python venv at .venv with the pinned tests/python/requirements.txt
#   - Apache Kafka via scripts/kafka-dist.sh (when that script exists)
# Idempotent: when everything is present it does no network access and finishes in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "install-test-deps: $*" >&2; }

apt_updated=0
apt_install() {
    if [[ $apt_updated == 0 ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- apt packages -----------------------------------------------------------
need_apt=()
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
# Headless browser for the web console's tests (driven by Playwright from the venv).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# The system python (Debian's 3.11) is used for the venv so it does not depend on anything user-installed.
PY=/usr/bin/python3
[[ -x $PY ]] || need_apt+=(python3)
if ! $PY -c 'import ensurepip, venv' >/dev/null 2>&1; then need_apt+=(python3-venv); fi
# scripts/kafka-dist.sh resolves Apache Kafka's jars with Maven and runs them on a JDK.
if [[ -f scripts/kafka-dist.sh ]]; then
    command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
    command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
fi
if [[ ${#need_apt[@]} -gt 0 ]]; then apt_install "${need_apt[@]}"; fi

# --- python venv --------------------------------------------------------------
REQ=tests/python/requirements.txt
STAMP=.venv/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    if [[ ! -x .venv/bin/python ]]; then
        log "creating .venv"
        $PY -m venv .venv
    fi
    log "pip install -r $REQ"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQ"
    echo "$want" >"$STAMP"
fi

# --- Apache Kafka (reference broker, CLI tools, kafka-dump-log) ----------------
if [[ -x scripts/kafka-dist.sh ]]; then
    scripts/kafka-dist.sh
elif [[ -f scripts/kafka-dist.sh ]]; then
    bash scripts/kafka-dist.sh
fi
