//! Returns freed memory to the OS once the server goes quiet.
//!
//! mimalloc, the binary's allocator, gives freed pages back to the OS
//! lazily, during the same thread's later allocations. A burst of load
//! therefore leaves what it freed at its end (connection buffers, request
//! batches, the queues of the write path) resident until the next
//! requests arrive, which on an idle server may be hours away: after a
//! million creates from 16 sessions that was 33 MiB, about an eighth of the
//! server's memory (docs/PERFORMANCE.md, fourteenth session).
//!
//! Every [`IDLE_MEMORY_RELEASE_INTERVAL_MS`] this task looks at the count
//! of client packets received. Once it has stood still for a whole
//! interval, it runs the release the binary registered
//! ([`rzk_replica::release_memory`]) once, on the runtime thread that polls
//! it: with the default single worker that is the thread that allocated
//! nearly everything. Under load it does nothing, as the allocator's own
//! lazy return keeps up there.
//!
//! The collect walks the thread's whole heap: 3.7 ms with a million znodes.
//! A request that arrives during it waits that long, at most once per quiet
//! period of 5 s or more.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use crate::shared::Shared;

/// How long the server must receive nothing before freed memory is
/// returned, and how often that is checked.
pub const IDLE_MEMORY_RELEASE_INTERVAL_MS: u64 = 5_000;

/// Decides, from successive readings of the received-packet count, when a
/// quiet period has begun: once per quiet period, however long it lasts.
#[derive(Debug, Default)]
pub struct QuietPeriods {
    last_count: Option<u64>,
    released: bool,
}

impl QuietPeriods {
    /// Takes the count read at this check; true when it equals the previous
    /// check's and no release was made since the count last moved.
    pub fn should_release(&mut self, count: u64) -> bool {
        if self.last_count != Some(count) {
            // Activity (or the first reading, or a `srst` reset).
            self.last_count = Some(count);
            self.released = false;
            return false;
        }
        if self.released {
            return false;
        }
        self.released = true;
        true
    }
}

/// Runs until the server shuts down.
pub async fn run_idle_memory_release(shared: Arc<Shared>) {
    let mut interval =
        tokio::time::interval(Duration::from_millis(IDLE_MEMORY_RELEASE_INTERVAL_MS));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut quiet = QuietPeriods::default();
    loop {
        interval.tick().await;
        if quiet.should_release(shared.stats.packets_received.load(Relaxed)) {
            let started = std::time::Instant::now();
            rzk_replica::release_memory();
            tracing::debug!(
                "Idle: returned freed memory to the OS in {} us",
                started.elapsed().as_micros()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_once_per_quiet_period_and_never_while_busy() {
        let mut q = QuietPeriods::default();
        assert!(
            !q.should_release(10),
            "the first reading has nothing to compare"
        );
        assert!(q.should_release(10), "quiet for one interval");
        assert!(!q.should_release(10), "once per quiet period");
        assert!(!q.should_release(10));
        assert!(!q.should_release(25), "busy");
        assert!(!q.should_release(40), "busy");
        assert!(q.should_release(40), "quiet again");
        assert!(!q.should_release(0), "a reset counts as activity");
        assert!(q.should_release(0));
    }
}
