//! When an append may fdatasync on the appending task itself.
//!
//! The WAL's flusher thread makes group commit work: while one fdatasync
//! runs, raft's core goes on appending, and everything appended meanwhile
//! shares the next fdatasync. A lone writer pays for that with two thread
//! hand-offs per write (the core wakes the flusher, the flusher wakes the
//! core), which on the VM of docs/PERFORMANCE.md cost a lone set about
//! 35 us of latency and 35 us of server CPU. Syncing on the core's task saves
//! both, but blocks the core for the fdatasync: a write arriving meanwhile
//! waits for it instead of being appended, and the next round then starts
//! late, after the core and after a flusher wake-up. Under 16 sessions with
//! one set each in flight, syncing here whenever the server merely looked
//! idle (10% of rounds) cost 9% of the throughput.
//!
//! So an append syncs here only when one client is writing alone:
//! - it carries one entry, and apply has read every entry before it (no
//!   write is between the log and the state machine);
//! - that entry and the [`SAME_WRITER_APPENDS`] appends before it were each
//!   one entry from the same session: concurrent writers interleave;
//! - the previous append started longer ago than the last flush took (the
//!   writer waits for its replies rather than pipelining);
//! - the server received no client request since the writer's previous
//!   append but this one (when the server gives a [`RequestCount`]): the
//!   fdatasync blocks the worker thread the core runs on, and with one
//!   worker, reads of other clients arriving meanwhile would wait for it
//!   (a lone writer beside 15 readers cost the reads 40% of their
//!   throughput on one worker).
//!
//! The WAL adds its own condition: no fdatasync round running or queued.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Client requests the server has received so far (any count that grows by
/// one per request; a reset only costs one round its sync here).
pub type RequestCount = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How many lone appends in a row, before this one, must come from this
/// append's session.
pub(super) const SAME_WRITER_APPENDS: u32 = 4;

pub(super) struct IdleAppends {
    enabled: AtomicBool,
    /// The server's request count, if it gave one.
    requests: OnceLock<RequestCount>,
    /// Time base of the timestamps here.
    epoch: Instant,
    run: Mutex<WriterRun>,
    /// How long the last flush took from its append to durable, in ns.
    last_flush_ns: AtomicU64,
}

/// The appends seen so far, as far as the conditions need them.
#[derive(Debug, Default)]
struct WriterRun {
    /// When the previous append started, in ns since `epoch`, if it was
    /// timed (only a lone writer's are).
    last_append_ns: Option<u64>,
    /// The session of the previous append, if it was one entry from one.
    writer: Option<i64>,
    /// Lone appends in a row from `writer`, the previous one included.
    appends: u32,
    /// The request count when the previous append was timed.
    requests: Option<u64>,
}

impl Default for IdleAppends {
    fn default() -> Self {
        IdleAppends {
            enabled: AtomicBool::new(false),
            requests: OnceLock::new(),
            epoch: Instant::now(),
            run: Mutex::default(),
            last_flush_ns: AtomicU64::new(u64::MAX),
        }
    }
}

impl std::fmt::Debug for IdleAppends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleAppends")
            .field("enabled", &self.enabled)
            .field("counts_requests", &self.requests.get().is_some())
            .field("run", &self.run)
            .field("last_flush_ns", &self.last_flush_ns)
            .finish()
    }
}

impl IdleAppends {
    pub(super) fn enable(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Sets the server's request count (once; later calls are ignored).
    pub(super) fn count_requests(&self, requests: RequestCount) {
        let _ = self.requests.set(requests);
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Called as an append starts. `lone_writer` is the session of its
    /// entry if it carries exactly one entry from a session, and `applied`
    /// whether apply has read every entry before it. Returns whether to sync
    /// here, and, for [`IdleAppends::flushed`], the append's start if it was
    /// timed. Only appends of a writer alone read the clock: under
    /// concurrent writes this is a lock and a comparison.
    pub(super) fn begin(&self, lone_writer: Option<i64>, applied: bool) -> (bool, Option<u64>) {
        let mut run = self.run.lock().unwrap_or_else(|e| e.into_inner());
        let same_writer = lone_writer.is_some() && lone_writer == run.writer;
        let alone = same_writer && run.appends >= SAME_WRITER_APPENDS;
        run.appends = match (lone_writer, same_writer) {
            (None, _) => 0,
            (Some(_), true) => run.appends.saturating_add(1),
            (Some(_), false) => 1,
        };
        run.writer = lone_writer;
        if !(alone && self.enabled.load(Ordering::Relaxed)) {
            run.last_append_ns = None;
            run.requests = None;
            return (false, None);
        }
        let now = self.now_ns();
        let previous = run.last_append_ns.replace(now);
        let requests = self.requests.get().map(|count| count());
        let previous_requests = std::mem::replace(&mut run.requests, requests);
        drop(run);
        let quiet = previous.is_some_and(|previous| {
            now.saturating_sub(previous) > self.last_flush_ns.load(Ordering::Relaxed)
        });
        // This append's own request is the one allowed.
        let nobody_else = match (previous_requests, requests) {
            (Some(before), Some(now)) => now.wrapping_sub(before) <= 1,
            (None, Some(_)) => false,
            (_, None) => true,
        };
        (applied && quiet && nobody_else, Some(now))
    }

    /// Called when the flush of an append completed, with what
    /// [`IdleAppends::begin`] returned for it.
    pub(super) fn flushed(&self, started_ns: Option<u64>) {
        if let Some(started_ns) = started_ns {
            let took = self.now_ns().saturating_sub(started_ns);
            self.last_flush_ns.store(took, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{IdleAppends, SAME_WRITER_APPENDS};

    /// An append of one entry from `session` after a pause longer than the
    /// last flush took, whose flush then completes at once.
    fn paused_append(idle: &IdleAppends, session: Option<i64>, applied: bool) -> bool {
        std::thread::sleep(Duration::from_millis(2));
        let (here, started) = idle.begin(session, applied);
        idle.flushed(started);
        here
    }

    #[test]
    fn syncs_here_only_for_one_session_writing_alone_and_waiting() {
        let idle = IdleAppends::default();
        // Disabled: never, however alone the writer.
        for _ in 0..=SAME_WRITER_APPENDS {
            assert!(!paused_append(&idle, Some(7), true));
        }
        idle.enable(true);
        // Enabled: the first append of the writer's run that is timed has
        // nothing to compare with; the next one syncs here.
        assert!(!paused_append(&idle, Some(7), true));
        assert!(paused_append(&idle, Some(7), true));
        // Entries not yet applied: not here, and the run goes on.
        assert!(!paused_append(&idle, Some(7), false));
        assert!(paused_append(&idle, Some(7), true));
        // Another session writes: the run starts over.
        assert!(!paused_append(&idle, Some(8), true));
        for _ in 0..=SAME_WRITER_APPENDS {
            assert!(!paused_append(&idle, Some(7), true));
        }
        assert!(paused_append(&idle, Some(7), true));
        // An append of several entries (no lone writer) ends the run too.
        assert!(!paused_append(&idle, None, true));
        assert!(!paused_append(&idle, Some(7), true));
        // Alone, but appending again before a flush's time has passed.
        let idle = IdleAppends::default();
        idle.enable(true);
        for _ in 0..=SAME_WRITER_APPENDS {
            paused_append(&idle, Some(7), true);
        }
        // A flush that took 5 ms, then two appends in quick succession (a
        // writer pipelining): the second came sooner than a flush takes.
        let (_, started) = idle.begin(Some(7), true);
        assert!(started.is_some(), "a lone writer's append is timed");
        std::thread::sleep(Duration::from_millis(5));
        idle.flushed(started);
        idle.begin(Some(7), true);
        assert!(!idle.begin(Some(7), true).0, "appended right after another");
    }

    #[test]
    fn syncs_here_only_if_no_other_request_arrived_since_the_previous_append() {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let received = Arc::new(AtomicU64::new(0));
        let idle = IdleAppends::default();
        idle.enable(true);
        let count = received.clone();
        idle.count_requests(Arc::new(move || count.load(Ordering::Relaxed)));
        // The writer's own request before each append.
        let append = |others: u64| {
            received.fetch_add(1 + others, Ordering::Relaxed);
            paused_append(&idle, Some(7), true)
        };
        for _ in 0..=SAME_WRITER_APPENDS {
            assert!(!append(0), "the writer's run is not long enough yet");
        }
        assert!(append(0), "alone, and nobody else asked anything");
        assert!(!append(1), "another client's request arrived meanwhile");
        assert!(append(0), "quiet again");
        // The count was reset (srst): that round goes to the flusher.
        received.store(0, Ordering::Relaxed);
        assert!(!paused_append(&idle, Some(7), true));
        assert!(append(0));
    }
}
