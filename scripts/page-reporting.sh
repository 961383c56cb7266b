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
        ;;
    restore)
        echo "${2:?usage: scripts/page-reporting.sh restore ORDER}" > "$PARAM"
        ;;
    *)
        echo "usage: scripts/page-reporting.sh off | restore ORDER" >&2
        exit 2
        ;;
esac
