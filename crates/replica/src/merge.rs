//! Building a snapshot's state by merging the changes the live tree kept
//! onto the previous snapshot file (`rzk_state::snapshot_merge`).
//!
//! Why: a replay loads the previous file into a whole second tree and
//! applies every entry after it again. With a million znodes that was
//! seconds of CPU per snapshot, and under a steady write load the builder
//! never rested (`docs/PERFORMANCE.md`). The server's tree already applied
//! those entries and kept the paths they changed; the state machine takes
//! them at the snapshot point, and this streams the previous file beside
//! them into the new one: no tree, no index, no replay.
//!
//! The base must be the snapshot of exactly the state the changes start
//! from; the state machine tracks that index (`StateMachine`). Any failure
//! (the base file purged or damaged, a change that does not fit) is an
//! error, and the caller replays instead.
//!
//! Blocking: run it on a blocking thread.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::alias::SnapshotMetaOf;
use rzk_state::snapshot_merge::{merge_snapshot, ChangesTicket, SnapshotDelta, TakeStep};

use crate::hooks::ApplyHook;
use crate::snapshot_store::SnapshotStore;
use crate::types::TypeConfig;

/// Records the builder has the hook encode per call: about 0.3 ms of
/// holding the server's state at 0.3 us a record.
pub const TAKE_PATHS_PER_STEP: usize = 1024;

/// Changes taken from the hook at a snapshot point, their records still to
/// be encoded. Given up (`ApplyHook::drop_taken`) if dropped unused.
pub struct TakenChanges {
    hook: Arc<dyn ApplyHook>,
    ticket: Option<ChangesTicket>,
}

impl TakenChanges {
    /// Takes the hook's changes (see `ApplyHook::take_changes`); on the
    /// apply path, between two applies.
    pub fn take(hook: &Arc<dyn ApplyHook>) -> Option<Self> {
        let ticket = hook.take_changes()?;
        Some(TakenChanges {
            hook: Arc::clone(hook),
            ticket: Some(ticket),
        })
    }

    /// Has the hook encode every record, a slice at a time, and returns
    /// the delta; `None` if the changes were lost (see `TakeStep::Lost`).
    ///
    /// Between slices this thread sleeps as long as the slice took, so the
    /// apply path, which waits for the same lock, gets at least half of
    /// the time: a lock handed straight back would let this thread take it
    /// again before the woken applier runs. Blocking.
    pub fn collect(mut self) -> Option<SnapshotDelta> {
        let ticket = self.ticket.take()?;
        let started = Instant::now();
        let mut steps = 0u64;
        loop {
            let step_started = Instant::now();
            steps += 1;
            match self.hook.encode_taken(ticket, TAKE_PATHS_PER_STEP) {
                TakeStep::More => {
                    std::thread::sleep(step_started.elapsed().max(Duration::from_micros(50)))
                }
                TakeStep::Done(delta) => {
                    tracing::debug!(
                        changed_paths = delta.changed_paths(),
                        steps,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "taken changes encoded"
                    );
                    return Some(delta);
                }
                TakeStep::Lost => return None,
            }
        }
    }
}

impl Drop for TakenChanges {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.hook.drop_taken(ticket);
        }
    }
}

/// Writes to `out` the state at `target`: `delta` (the changes kept from the
/// state at `base_index` to the state at `target`) merged onto the snapshot
/// file at `base_index`.
pub fn merge_onto_file(
    store: &SnapshotStore,
    base_index: u64,
    delta: SnapshotDelta,
    target: &SnapshotMetaOf<TypeConfig>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let started = Instant::now();
    let changed_paths = delta.changed_paths();
    let (_, mut base) = store.open_state(base_index)?;
    let meta = merge_snapshot(&mut base, delta, &mut &mut *out)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    tracing::info!(
        target_index = target.last_log_id.map(|id| id.index),
        base_index,
        changed_paths,
        nodes = meta.node_count,
        bytes = meta.size_bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "snapshot state built by merge"
    );
    Ok(())
}
