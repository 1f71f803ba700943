//! Counters of what an object source did: requests, bytes and batched round trips.

use std::sync::atomic::{AtomicU64, Ordering};

/// Shared, lock-free I/O counters.
#[derive(Debug, Default)]
pub struct IoStats {
    requests: AtomicU64,
    bytes: AtomicU64,
    round_trips: AtomicU64,
    wait_micros: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IoStatsSnapshot {
    /// Ranged GET requests issued (after coalescing).
    pub requests: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Sequential waves: batches of requests issued together and awaited together.
    pub round_trips: u64,
    /// Time spent waiting for those waves, summed over concurrent granules (microseconds).
    pub wait_micros: u64,
}

impl IoStats {
    pub fn record_wave(&self, requests: u64, bytes: u64) {
        self.record_timed_wave(requests, bytes, std::time::Duration::ZERO);
    }

    /// A wave and how long it was awaited.
    pub fn record_timed_wave(&self, requests: u64, bytes: u64, waited: std::time::Duration) {
        self.wait_micros.fetch_add(
            u64::try_from(waited.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(requests, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> IoStatsSnapshot {
        IoStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            round_trips: self.round_trips.load(Ordering::Relaxed),
            wait_micros: self.wait_micros.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::Add for IoStatsSnapshot {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            requests: self.requests + o.requests,
            bytes: self.bytes + o.bytes,
            round_trips: self.round_trips + o.round_trips,
            wait_micros: self.wait_micros + o.wait_micros,
        }
    }
}
