//! What the workers count while they run: message and byte counters readable at any moment (for
//! the progress line and the measurement window), and latency histograms.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// Counters shared by every producer and consumer of a run.
#[derive(Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub acked_bytes: AtomicU64,
    pub failed: AtomicU64,
    pub consumed: AtomicU64,
    pub consumed_bytes: AtomicU64,
    pub consume_errors: AtomicU64,
    /// Clock reading of the latest delivery report.
    pub last_ack_ns: AtomicU64,
    /// Clock reading of the latest consumed message.
    pub last_consumed_ns: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Keeps the first error seen, to explain a failed run.
    pub fn note_error(&self, what: String) {
        let mut first = self.first_error.lock();
        if first.is_none() {
            *first = Some(what);
        }
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().clone()
    }
}

/// A latency histogram in microseconds, from 1 µs to an hour at three significant digits.
pub struct Latency {
    hist: Mutex<Histogram<u64>>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            hist: Mutex::new(new_histogram()),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

impl Latency {
    pub fn record_ns(&self, ns: u64) {
        self.hist.lock().saturating_record(ns / 1_000);
    }

    /// Adds a worker's private histogram (consumers record locally and merge at the end).
    pub fn merge(&self, other: &LocalLatency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.lock().add(&other.hist);
    }

    /// p99 so far, for the progress line.
    pub fn p99_ms(&self) -> Option<f64> {
        let h = self.hist.lock();
        (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1e3)
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        let h = self.hist.lock();
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1e3;
        Some(LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1e3,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        })
    }
}

/// A histogram owned by one thread, merged into a [`Latency`] when the thread finishes.
pub struct LocalLatency {
    hist: Histogram<u64>,
}

impl Default for LocalLatency {
    fn default() -> Self {
        LocalLatency {
            hist: new_histogram(),
        }
    }
}

impl LocalLatency {
    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record(ns / 1_000);
    }
}

/// Percentiles in milliseconds (recorded at microsecond resolution).
#[derive(Serialize, Debug, Clone)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_out_in_milliseconds() {
        let lat = Latency::default();
        for i in 1..=1000u64 {
            lat.record_ns(i * 1_000_000); // 1..=1000 ms
        }
        let s = lat.summary().expect("recorded values");
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() < 1.0, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() < 1.0, "{s:?}");
    }

    #[test]
    fn empty_histogram_has_no_summary() {
        assert!(Latency::default().summary().is_none());
    }
}
