//! One clock for every timestamp the benchmark takes: CLOCK_MONOTONIC in nanoseconds.
//!
//! It never jumps (unlike wall time), and it is the same clock in every process on the machine,
//! so a send time written into a payload can be compared with the receive time anywhere here.

use std::time::Duration;

/// Nanoseconds on CLOCK_MONOTONIC.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until the clock reads `deadline_ns` (returns at once if it already has).
pub fn sleep_until(deadline_ns: u64) {
    let now = now_ns();
    if deadline_ns > now {
        std::thread::sleep(Duration::from_nanos(deadline_ns - now));
    }
}

pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}
