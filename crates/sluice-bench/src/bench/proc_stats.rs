//! The broker's cost as Linux accounts it: CPU time (utime + stime from /proc/PID/stat) and
//! resident memory (VmRSS, and the peak VmHWM from /proc/PID/status).
//!
//! The peak is reset through /proc/PID/clear_refs when we may write it (same user), so it covers
//! this run rather than the process's whole life; the report says whether that worked.

use std::fs;

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("reading /proc/{pid}/{file}: {source}")]
    Read {
        pid: u32,
        file: &'static str,
        source: std::io::Error,
    },
    #[error("/proc/{pid}/{file} has no {what}")]
    Parse {
        pid: u32,
        file: &'static str,
        what: &'static str,
    },
}

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

pub fn sample(pid: u32) -> Result<Sample, ProcError> {
    Ok(Sample {
        cpu_seconds: cpu_seconds(pid)?,
        rss_bytes: status_kb(pid, "VmRSS:")? * 1024,
        peak_rss_bytes: status_kb(pid, "VmHWM:")? * 1024,
    })
}

/// Resets VmHWM to the current RSS; false if the kernel refused (another user's process).
pub fn reset_peak(pid: u32) -> bool {
    fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

fn cpu_seconds(pid: u32) -> Result<f64, ProcError> {
    let file = "stat";
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|source| ProcError::Read { pid, file, source })?;
    let missing = ProcError::Parse {
        pid,
        file,
        what: "utime/stime",
    };
    // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
    let rest = text.rsplit_once(')').map(|(_, r)| r).ok_or(missing)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (tick(11), tick(12)) else {
        return Err(ProcError::Parse {
            pid,
            file,
            what: "utime/stime",
        });
    };
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((utime + stime) as f64 / hz)
}

fn status_kb(pid: u32, key: &'static str) -> Result<u64, ProcError> {
    let file = "status";
    let text = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|source| ProcError::Read { pid, file, source })?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or(ProcError::Parse {
            pid,
            file,
            what: key,
        })
}

/// The broker's cost over a measurement window, as reported.
#[derive(Serialize, Debug, Clone)]
pub struct BrokerCost {
    pub pid: u32,
    /// CPU seconds (user + system, all threads) spent inside the window.
    pub cpu_seconds: f64,
    /// cpu_seconds per 10^9 payload bytes moved in the window.
    pub cpu_seconds_per_gb: Option<f64>,
    /// Average cores busy over the window.
    pub cores_busy: f64,
    /// RSS when the window opened (before load, for the first workload on a fresh broker).
    pub rss_before_mb: f64,
    pub rss_after_mb: f64,
    /// VmHWM at the end of the window.
    pub peak_rss_mb: f64,
    /// Whether the peak was reset when the window opened (otherwise it spans the process's life).
    pub peak_reset: bool,
}

impl BrokerCost {
    pub fn between(
        pid: u32,
        before: Sample,
        after: Sample,
        peak_reset: bool,
        bytes: u64,
        window_secs: f64,
    ) -> BrokerCost {
        let mb = |b: u64| b as f64 / 1e6;
        let cpu = (after.cpu_seconds - before.cpu_seconds).max(0.0);
        BrokerCost {
            pid,
            cpu_seconds: cpu,
            cpu_seconds_per_gb: (bytes > 0).then(|| cpu / (bytes as f64 / 1e9)),
            cores_busy: if window_secs > 0.0 {
                cpu / window_secs
            } else {
                0.0
            },
            rss_before_mb: mb(before.rss_bytes),
            rss_after_mb: mb(after.rss_bytes),
            peak_rss_mb: mb(after.peak_rss_bytes),
            peak_reset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let s = sample(std::process::id()).expect("our own /proc entry");
        assert!(s.rss_bytes > 0);
        assert!(s.peak_rss_bytes >= s.rss_bytes);
        assert!(s.cpu_seconds >= 0.0);
    }

    #[test]
    fn missing_process_is_an_error() {
        assert!(sample(u32::MAX).is_err());
    }
}
