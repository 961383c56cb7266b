#!/usr/bin/env bash
# Creates a memory cgroup with a limit, under the caller's own, and prints its directory; a
# benchmark then moves each broker it starts into it (`echo PID > DIR/cgroup.procs`).
#
# Why: a broker on a server that has run for a while finds its memory full of page cache, and each
# new page it writes is a page the kernel just took back from older data. A fresh benchmark machine
# has gigabytes free instead, and on a VM that returns free memory to its host (this one does,
# within seconds: `page_reporting`), every new page-cache page is then a first touch of host
# memory. Writing 6 GiB with dd cost 10.2 s of kernel time that way, and 2.0 s inside a 2 GiB
# memory cgroup, where the kernel recycles the cgroup's own pages. A limit the same for every
# system measures the steady state a server runs in, not the machine's idle memory.
#
# Usage: scripts/mem-cgroup.sh NAME MIB
#   Exit status 1 (with a message on stderr) when no memory cgroup can be made here (not root, no
#   memory controller); the caller then runs without a limit and should say so.
set -euo pipefail
NAME=${1:?usage: scripts/mem-cgroup.sh NAME MIB}
MIB=${2:?usage: scripts/mem-cgroup.sh NAME MIB}
bytes=$((MIB * 1024 * 1024))

fail() { echo "mem-cgroup.sh: $*" >&2; exit 1; }

# cgroup v1: a "N:memory:/path" line in /proc/self/cgroup and the controller's own hierarchy.
v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
if [[ -n $v1 && -d /sys/fs/cgroup/memory ]]; then
    dir=/sys/fs/cgroup/memory${v1%/}/$NAME
    mkdir -p "$dir" 2> /dev/null || fail "cannot create $dir"
    echo "$bytes" > "$dir/memory.limit_in_bytes" 2> /dev/null || fail "cannot set the limit in $dir"
    echo "$dir"
    exit 0
fi

# cgroup v2: "0::/path". A child can take a memory limit only where the memory controller is
# already enabled for the caller's children; enabling it would mean moving the caller's own
# processes around, which this script does not do.
v2=$(awk -F: '$1 == "0" {print $3; exit}' /proc/self/cgroup)
for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    parent=$root${v2%/}
    if [[ -n $v2 && -f $parent/cgroup.subtree_control ]] && grep -qw memory "$parent/cgroup.subtree_control"; then
        dir=$parent/$NAME
        mkdir -p "$dir" 2> /dev/null || fail "cannot create $dir"
        echo "$bytes" > "$dir/memory.max" 2> /dev/null || fail "cannot set the limit in $dir"
        echo "$dir"
        exit 0
    fi
done
fail "no memory cgroup controller found"
