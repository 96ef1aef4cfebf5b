//! Building a snapshot's state by replaying the raft log onto an older
//! snapshot, beside the live tree rather than from it.
//!
//! Why replay: the live tree belongs to the server and changes under its lock
//! with every applied batch. Copying it for a consistent snapshot means a
//! pause of the whole server (hundreds of ms at a million znodes); encoding it
//! while it changes (ZooKeeper's "fuzzy" snapshot) is not an option here,
//! because the log carries requests, not outcomes: replaying an entry onto a
//! state that already holds later changes would decide differently (a create
//! that succeeded would now fail with NodeExists, a version check would see
//! the wrong version, ...). So the state at the target index is rebuilt from
//! the last snapshot at or before it plus the committed entries after it, with
//! exactly the `Entry` values the live apply used, on a private tree.
//!
//! Blocking and CPU-bound: run it on a blocking thread.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use openraft::alias::SnapshotMetaOf;
use openraft::EntryPayload;

use crate::membership::config_entry;
use rzk_state::{DataTree, Entry, StateConfig};

use crate::hooks::LogSource;
use crate::snapshot_store::SnapshotStore;
use crate::types::{zxid_of, TypeConfig};

/// Entries read from the log at a time: bounds the memory replay holds beyond
/// the tree (one chunk of up to ZooKeeper's 1 MiB requests is at most 1 GiB in
/// the worst case, a few hundred KiB typically).
pub const REPLAY_CHUNK_ENTRIES: u64 = 1024;

/// Writes the state at `target.last_log_id`, as the state crate's snapshot
/// bytes, to `out` (see [`replay_tree`]).
pub fn replay_snapshot(
    store: &SnapshotStore,
    log: &dyn LogSource,
    target: &SnapshotMetaOf<TypeConfig>,
    state_config: &StateConfig,
    out: &mut dyn Write,
) -> io::Result<()> {
    let started = Instant::now();
    let (tree, replayed, base_loaded) = replay_tree_timed(store, log, target, state_config)?;
    let replayed_at = started.elapsed();
    let meta = tree.write_snapshot(&mut &mut *out)?;
    let elapsed = started.elapsed();
    // The three phases, so that an operator (and a profile) can tell a big
    // base from a long log from a slow disk.
    tracing::info!(
        target_index = target.last_log_id.map(|id| id.index),
        replayed_entries = replayed,
        nodes = meta.node_count,
        bytes = meta.size_bytes,
        elapsed_ms = elapsed.as_millis() as u64,
        base_load_ms = base_loaded.as_millis() as u64,
        replay_ms = replayed_at.saturating_sub(base_loaded).as_millis() as u64,
        write_ms = elapsed.saturating_sub(replayed_at).as_millis() as u64,
        "snapshot state built by replay"
    );
    Ok(())
}

/// The tree at `target.last_log_id`, and how many entries were replayed.
///
/// The base is the newest snapshot file in `store` at or before the target
/// that reads back intact (read as a stream, its own checksum checked); with
/// none, replay starts from the log's first entry (index 0) onto an empty
/// tree. Every entry after the base up to the target must be in `log`; a
/// missing one is an error, never skipped.
pub fn replay_tree(
    store: &SnapshotStore,
    log: &dyn LogSource,
    target: &SnapshotMetaOf<TypeConfig>,
    state_config: &StateConfig,
) -> io::Result<(DataTree, u64)> {
    replay_tree_timed(store, log, target, state_config).map(|(tree, n, _)| (tree, n))
}

/// [`replay_tree`], also saying how long reading the base took.
fn replay_tree_timed(
    store: &SnapshotStore,
    log: &dyn LogSource,
    target: &SnapshotMetaOf<TypeConfig>,
    state_config: &StateConfig,
) -> io::Result<(DataTree, u64, Duration)> {
    let started = Instant::now();
    let target_index = target.last_log_id.map(|id| id.index);
    let (mut tree, start) = match target_index.and_then(|i| base_tree(store, i, state_config)) {
        Some((tree, base_index)) => (tree, base_index.saturating_add(1)),
        None => (DataTree::new(state_config.clone()), 0),
    };
    let base_loaded = started.elapsed();
    let end = target_index.map_or(0, |i| i.saturating_add(1));
    if start > end {
        return Err(io::Error::other(format!(
            "base snapshot (next index {start}) is newer than the target (next index {end})"
        )));
    }
    let mut next = start;
    // Bounded: `next` grows by a whole chunk per round (or the round fails).
    while next < end {
        let chunk_end = end.min(next.saturating_add(REPLAY_CHUNK_ENTRIES));
        let entries = log.read_entries(next, chunk_end)?;
        for entry in entries {
            if entry.log_id.index != next {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "log entry {next} missing (the log gave {} instead)",
                        entry.log_id.index
                    ),
                ));
            }
            // Exactly what the state machine hands the live apply.
            match entry.payload {
                EntryPayload::Normal(request) => {
                    tree.apply(&Entry {
                        zxid: zxid_of(&entry.log_id),
                        time_ms: request.time_ms,
                        txn: *request.txn,
                    });
                }
                EntryPayload::Membership(membership) => {
                    if let Some(config) = config_entry(&entry.log_id, &membership) {
                        tree.apply(&config);
                    }
                }
                EntryPayload::Blank => {}
            }
            next += 1;
        }
        if next != chunk_end {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("log entries {next}..{chunk_end} missing"),
            ));
        }
    }
    Ok((tree, end - start, base_loaded))
}

/// The tree of the newest snapshot file at or before `index` that reads
/// back intact, and the index it covers. A damaged file is skipped with a
/// WARN, as at startup.
fn base_tree(
    store: &SnapshotStore,
    index: u64,
    state_config: &StateConfig,
) -> Option<(DataTree, u64)> {
    let candidates = match store.indexes() {
        Ok(indexes) => indexes,
        Err(e) => {
            tracing::warn!(dir = %store.dir().display(), "listing snapshots: {e}");
            return None;
        }
    };
    for candidate in candidates.into_iter().rev().filter(|&i| i <= index) {
        let read = store.open_state(candidate).and_then(|(_, mut state)| {
            DataTree::read_snapshot(&mut state, state_config.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        });
        match read {
            Ok((tree, _)) => return Some((tree, candidate)),
            Err(e) => tracing::warn!(index = candidate, reason = %e,
                "skipping a snapshot that cannot be replayed onto; trying an older one"),
        }
    }
    None
}
