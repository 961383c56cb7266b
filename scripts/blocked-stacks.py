#!/usr/bin/env python3
"""Where a broker's threads wait on the kernel: samples the kernel stack of every thread of a
process that is in uninterruptible sleep (state D), and prints the most frequent stacks.

Why: a latency tail of hundreds of milliseconds with the broker's core half idle is a thread
blocked in a syscall, and which one (a page-cache write waiting for an allocator, an fsync, a
truncate's discard) decides the fix. A CPU profile cannot show it; `strace -T` shows only how
long a call took, not what it waited for. Reading /proc/PID/task/TID/stack needs root.

Usage: scripts/blocked-stacks.py PID SECONDS [--every MS] [--top N] [--frames N]
Each count is one sample (every 5 ms by default), so 200 samples of a stack is about a second
spent blocked there, summed over threads.
"""
import argparse
import collections
import os
import sys
import time


def thread_state(pid: str, tid: str) -> tuple[str, str]:
    """(name, state letter) of one thread, from /proc/PID/task/TID/stat."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        stat = f.read()
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    state = stat[stat.rindex(")") + 2 :].split()[0]
    return name, state


def kernel_frames(pid: str, tid: str, depth: int) -> str:
    """The innermost `depth` function names of the thread's kernel stack, innermost first."""
    with open(f"/proc/{pid}/task/{tid}/stack") as f:
        lines = f.read().splitlines()
    names = [line.split("]", 1)[-1].strip().split("+")[0] for line in lines]
    return " < ".join(n for n in names[:depth] if n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pid")
    ap.add_argument("seconds", type=float)
    ap.add_argument("--every", type=float, default=5.0, help="sampling period in ms")
    ap.add_argument("--top", type=int, default=12, help="stacks to print")
    ap.add_argument("--frames", type=int, default=10, help="frames per stack")
    args = ap.parse_args()
    counts: collections.Counter = collections.Counter()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        try:
            tids = os.listdir(f"/proc/{args.pid}/task")
        except FileNotFoundError:
            break  # the process exited: report what was seen
        for tid in tids:
            try:
                name, state = thread_state(args.pid, tid)
                if state == "D":
                    counts[(name, kernel_frames(args.pid, tid, args.frames))] += 1
            except (FileNotFoundError, ProcessLookupError):
                continue  # the thread ended between listing and reading
            except PermissionError:
                print("blocked-stacks: reading kernel stacks needs root", file=sys.stderr)
                return 1
        time.sleep(args.every / 1000)
    if not counts:
        print("no thread was seen blocked")
    for (name, stack), n in counts.most_common(args.top):
        print(f"{n:6} {name}: {stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
