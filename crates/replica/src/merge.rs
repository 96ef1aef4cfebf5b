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
use std::time::Instant;

use openraft::alias::SnapshotMetaOf;
use rzk_state::snapshot_merge::{merge_snapshot, SnapshotDelta};

use crate::snapshot_store::SnapshotStore;
use crate::types::TypeConfig;

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
