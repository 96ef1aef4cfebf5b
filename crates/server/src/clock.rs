//! The server's clocks: monotonic milliseconds for timeouts and latencies, wall
//! milliseconds for log entries and for printing. The state machine never reads
//! either; time reaches it inside log entries.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    start_wall_ms: i64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            start: Instant::now(),
            start_wall_ms: wall_ms(),
        }
    }

    /// Monotonic milliseconds since the server started.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Milliseconds since the Unix epoch.
    pub fn wall_ms(&self) -> i64 {
        wall_ms()
    }

    /// The wall time at which monotonic time `mono_ms` falls (for printing).
    pub fn wall_of(&self, mono_ms: u64) -> i64 {
        self.start_wall_ms
            .saturating_add(i64::try_from(mono_ms).unwrap_or(i64::MAX))
    }
}

pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
