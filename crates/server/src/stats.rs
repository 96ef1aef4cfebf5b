//! Counters the four-letter words report: per server (`srvr`, `mntr`) and per
//! connection (`cons`, `stat`). Atomics, so the reader and writer halves of a
//! connection update them without a lock; latencies take a small mutex.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// Min/avg/max of request latencies in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    pub min_ms: u64,
    pub max_ms: u64,
    pub total_ms: u64,
    pub count: u64,
}

impl Latency {
    pub fn record(&mut self, ms: u64) {
        if self.count == 0 || ms < self.min_ms {
            self.min_ms = ms;
        }
        self.max_ms = self.max_ms.max(ms);
        self.total_ms = self.total_ms.saturating_add(ms);
        self.count += 1;
    }

    /// ZooKeeper's `AvgMinMaxCounter.getAvg`: a double rounded to 4 decimals,
    /// printed as Java prints a double (`0.0`, `2.3571`).
    pub fn avg_java(&self) -> String {
        let avg = if self.count == 0 {
            0.0
        } else {
            self.total_ms as f64 / self.count as f64
        };
        java_double((avg * 10_000.0).round() / 10_000.0)
    }

    /// Per-connection averages are integers in ZooKeeper.
    pub fn avg_integer(&self) -> u64 {
        self.total_ms.checked_div(self.count).unwrap_or(0)
    }
}

/// Formats a double the way Java's `Double.toString` does for ordinary values.
pub fn java_double(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// Upper bounds (inclusive, in ms) of the request latency histogram's
/// buckets; latencies are measured in whole milliseconds, so `0` is "under
/// one". Slower requests count only in `+Inf`.
pub const LATENCY_BUCKETS_MS: [u64; 12] = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];

/// One request kind's latencies for Prometheus, kept in atomics so that
/// recording is three relaxed adds on the reply path and reading happens
/// at scrape time.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Requests per bucket of [`LATENCY_BUCKETS_MS`] (not cumulative), and
    /// one more for slower ones.
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    sum_ms: AtomicU64,
    count: AtomicU64,
}

impl LatencyHistogram {
    pub fn record(&self, ms: u64) {
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&bound| ms <= bound)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        if let Some(b) = self.buckets.get(bucket) {
            b.fetch_add(1, Relaxed);
        }
        self.sum_ms.fetch_add(ms, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Requests per bucket (the last is over the largest bound), the sum of
    /// their latencies in ms, and their count.
    pub fn read(&self) -> (Vec<u64>, u64, u64) {
        let buckets = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        (buckets, self.sum_ms.load(Relaxed), self.count.load(Relaxed))
    }
}

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub auth_failures: AtomicU64,
    /// `sync` requests waiting for this server to catch up (`pending_syncs`).
    pub pending_syncs: AtomicU64,
    latency: Mutex<Latency>,
    /// Latency by request kind, indexed like [`crate::ops::OP_NAMES`].
    op_latency: [LatencyHistogram; crate::ops::OP_NAMES.len()],
}

impl ServerStats {
    pub fn record_latency(&self, ms: u64) {
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(ms);
    }

    pub fn latency(&self) -> Latency {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one reply's latency to its request kind's histogram.
    pub fn record_op_latency(&self, op: rzk_proto::OpCode, ms: u64) {
        if let Some(h) = self.op_latency.get(crate::ops::op_index(op)) {
            h.record(ms);
        }
    }

    /// Each request kind's histogram, by its `lop` name.
    pub fn op_latencies(&self) -> impl Iterator<Item = (&'static str, &LatencyHistogram)> {
        crate::ops::OP_NAMES
            .iter()
            .copied()
            .zip(self.op_latency.iter())
    }

    /// `srst`.
    pub fn reset(&self) {
        self.packets_received.store(0, Relaxed);
        self.packets_sent.store(0, Relaxed);
        *self.latency.lock().unwrap_or_else(|e| e.into_inner()) = Latency::default();
    }
}

/// One connection's counters, shared by its reader, its writer and the
/// connection table (for `cons`, `stat`, `dump`).
#[derive(Debug)]
pub struct ConnStats {
    pub session_id: AtomicI64,
    pub timeout_ms: AtomicI32,
    pub established_wall_ms: AtomicI64,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    /// Requests read whose reply has not been written yet.
    pub outstanding: AtomicUsize,
    pub last_cxid: AtomicI64,
    pub last_zxid: AtomicI64,
    /// Monotonic server time of the last reply, in ms.
    pub last_response_ms: AtomicU64,
    pub last_latency_ms: AtomicU64,
    /// Monotonic server time of the last frame received, in ms.
    pub last_activity_ms: AtomicU64,
    last_op: Mutex<&'static str>,
    latency: Mutex<Latency>,
}

impl ConnStats {
    pub fn new(now_ms: u64) -> Self {
        ConnStats {
            session_id: AtomicI64::new(0),
            timeout_ms: AtomicI32::new(0),
            established_wall_ms: AtomicI64::new(0),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            outstanding: AtomicUsize::new(0),
            last_cxid: AtomicI64::new(-1),
            last_zxid: AtomicI64::new(0),
            last_response_ms: AtomicU64::new(0),
            last_latency_ms: AtomicU64::new(0),
            last_activity_ms: AtomicU64::new(now_ms),
            last_op: Mutex::new("NA"),
            latency: Mutex::new(Latency::default()),
        }
    }

    /// Bookkeeping when a reply is produced (ZooKeeper's `updateStatsForResponse`).
    pub fn record_reply(
        &self,
        xid: i32,
        zxid: i64,
        op: &'static str,
        latency_ms: u64,
        now_ms: u64,
    ) {
        if xid >= 0 {
            self.last_cxid.store(i64::from(xid), Relaxed);
        }
        self.last_zxid.store(zxid, Relaxed);
        self.last_response_ms.store(now_ms, Relaxed);
        self.last_latency_ms.store(latency_ms, Relaxed);
        *self.last_op.lock().unwrap_or_else(|e| e.into_inner()) = op;
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(latency_ms);
    }

    pub fn last_op(&self) -> &'static str {
        *self.last_op.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn latency(&self) -> Latency {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `crst`.
    pub fn reset(&self) {
        self.packets_received.store(0, Relaxed);
        self.packets_sent.store(0, Relaxed);
        self.last_cxid.store(-1, Relaxed);
        self.last_zxid.store(-1, Relaxed);
        self.last_response_ms.store(0, Relaxed);
        self.last_latency_ms.store(0, Relaxed);
        *self.last_op.lock().unwrap_or_else(|e| e.into_inner()) = "NA";
        *self.latency.lock().unwrap_or_else(|e| e.into_inner()) = Latency::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_style_averages() {
        let mut l = Latency::default();
        assert_eq!(l.avg_java(), "0.0");
        for ms in [0, 9, 1, 0, 2, 1, 3] {
            l.record(ms);
        }
        assert_eq!(l.min_ms, 0);
        assert_eq!(l.max_ms, 9);
        assert_eq!(l.avg_java(), "2.2857");
        assert_eq!(l.avg_integer(), 2);
        assert_eq!(java_double(1.0), "1.0");
    }

    #[test]
    fn histogram_buckets() {
        let h = LatencyHistogram::default();
        for ms in [0, 1, 3, 5000, 5001, 99_999] {
            h.record(ms);
        }
        let (buckets, sum, count) = h.read();
        assert_eq!(buckets.len(), LATENCY_BUCKETS_MS.len() + 1);
        assert_eq!((buckets[0], buckets[1], buckets[3]), (1, 1, 1));
        assert_eq!(buckets[LATENCY_BUCKETS_MS.len() - 1], 1, "5000 is <= 5000");
        assert_eq!(
            buckets[LATENCY_BUCKETS_MS.len()],
            2,
            "slower than every bound"
        );
        assert_eq!((sum, count), (5 + 4 + 5000 + 5001 + 99_999 - 5, 6));
    }
}
