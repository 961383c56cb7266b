#!/usr/bin/env bash
# Switches the guest kernel's free page reporting off for a benchmark, and back on afterwards.
#
# Why: on a VM with a balloon device that reports free memory (this one: virtio_balloon with
# `page_reporting`), the kernel hands blocks of free pages (2 MiB and up) back to the host every
# couple of seconds, and the host then unmaps them. While it does, work that touches memory on
# either vCPU slows down (seen from the guest; what the host does meanwhile cannot be). A broker
# writing 112 MB/s frees and reuses memory continuously (its cgroup reclaims older page cache): on
# this machine a Sluice end-to-end run reported 0.9-2.9 GiB, a null-broker run (which keeps
# nothing) 4-14 MiB. Of the five end-to-end stalls over 40 ms in 34 runs traced with ftrace, the four whose
# traces were kept (45-113 ms) each fell on a report's completion (the `virtio0-reporting_vq`
# interrupt), with every memory-touching step on both cores slow meanwhile: a 110 KB pwritev took
# 9 ms instead of 0.04, and the load generator's threads on the other core ran for milliseconds
# where they take microseconds. A server does not hand its memory back every few seconds: the
# benchmark measures the brokers without it, every system alike.
#
# Reporting is off while `page_reporting_order` (a module parameter: the smallest block, as a
# power of two in pages, that is reported) is above the largest order the page allocator has (10
# on x86-64); 11 is written. The previous value is restored afterwards.
#
# Switching reporting off does not bring back what was already reported: the host backs a reported
# page again only when the guest next touches it, and that first touch is slow. Here, touching
# 16 GiB of fresh anonymous memory (pinned, no huge pages) took 2.04 s per GB the first time after
# a spell of reporting and 0.36 s per GB right after (the guest's own fault and zeroing), so a
# broker whose page cache lands on such pages pays ~1.7 core-seconds per GB that a machine with
# its RAM does not. A broker that stores what it is sent allocates page cache at its produce rate
# (Sluice's headline, 1 GB/s; the null broker keeps nothing): Sluice's headline runs rose run by
# run in the first minutes of s15's run. So `off` also touches every free page once (all of
# MemFree but 512 MiB, in a process that exits at once; one line on stderr says how much and how
# long), leaving the guest's memory backed as a server's is. A 4-round headline A/B right after
# (bench-ab.sh, ballast and warm-up as bench.sh): Sluice 1006-1267 MB/s, median 1232, against the
# null broker's 908-1222, median 1090; in s15's run, without the touch, 756-1049 against 1017-1155.
# It is not the whole story: in the full run that followed (s16) Sluice's headline runs still fell
# into a fast and a slow regime (777-1128 MB/s; see docs/bench/run-note.md). fio's append loop,
# which writes into fresh page cache too, rose from 1050 MB/s in s15 to 1307.
#
# Usage: scripts/page-reporting.sh off        prints the order it replaced; prints nothing (and
#                                              changes nothing) where there is no such parameter
#                                              or it cannot be written
#        scripts/page-reporting.sh restore ORDER
set -euo pipefail
PARAM=/sys/module/page_reporting/parameters/page_reporting_order
case ${1:-} in
    off)
        [[ -w $PARAM ]] || exit 0
        previous=$(cat "$PARAM")
        echo 11 > "$PARAM" 2> /dev/null || exit 0
        echo "$previous"
        # Only the benchmark's conditions are at stake, so a failure to touch must not stop the
        # caller, which needs the order printed above to restore it.
        python3 - <<'PY' >&2 || echo "page-reporting.sh: touching the free memory failed" >&2
import time
free_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemFree:"))
size = max(0, free_kb - 512 * 1024) * 1024
pages = size // 4096
start = time.monotonic()
memory = bytearray(pages * 4096)  # calloc: mapped, not yet touched
memory[::4096] = b"\x01" * pages  # one write per page: each is faulted in
del memory
print(f"page-reporting.sh: touched {size / 2**30:.1f} GiB of free memory in {time.monotonic() - start:.1f} s")
PY
        ;;
    restore)
        echo "${2:?usage: scripts/page-reporting.sh restore ORDER}" > "$PARAM"
        ;;
    *)
        echo "usage: scripts/page-reporting.sh off | restore ORDER" >&2
        exit 2
        ;;
esac
