#!/usr/bin/env bash
# Fills a memory cgroup with clean page cache: reads a ballast file (a sparse file a little smaller
# than the limit) from inside the cgroup, so its zero-filled pages are charged there without any
# disk I/O. bench.sh and bench-ab.sh call it before starting a broker, which then writes into a
# full cgroup, as a server whose memory is full of older segments does.
#
# The ballast's pages are dropped from the cache first: a page read a second time goes to the
# active list, and with the ballast there reclaim would take the broker's newest pages first.
# Read once, the ballast is the oldest inactive data, as a server's long-unread segments are.
#
# Usage: scripts/fill-cgroup.sh CGROUP_DIR BALLAST_FILE
set -euo pipefail
CGROUP=${1:?usage: scripts/fill-cgroup.sh CGROUP_DIR BALLAST_FILE}
BALLAST=${2:?usage: scripts/fill-cgroup.sh CGROUP_DIR BALLAST_FILE}
dd if="$BALLAST" iflag=nocache count=0 status=none
# shellcheck disable=SC2016 # $$, $1 and $2 belong to the inner shell
sh -c 'echo $$ > "$1/cgroup.procs" && exec cat "$2"' sh "$CGROUP" "$BALLAST" > /dev/null
