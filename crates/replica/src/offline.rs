//! The state a stopped server's directories hold, read without starting a
//! server (`rzk export`): the newest intact snapshot with every log entry
//! after it replayed, by the same replay that builds snapshots.
//!
//! Every entry the log holds is replayed. On a standalone server that is
//! exactly the committed history (an entry is committed once it is durable
//! on its one voter). On an ensemble member the tail may hold entries it
//! had not yet learned were committed; export from a member that was
//! stopped after the ensemble was idle.

use std::io;
use std::path::Path;

use openraft::storage::RaftLogStorage;
use openraft::SnapshotMeta;
use rzk_state::{DataTree, StateConfig};

use crate::replay::replay_tree;
use crate::snapshot_store::SnapshotStore;
use crate::wal_log_store::WalLogStore;

/// The tree at the last entry of the log in `log_dir` (or at the newest
/// snapshot in `snapshot_dir`, if the log holds nothing after it).
pub fn current_tree(
    snapshot_dir: &Path,
    log_dir: &Path,
    config: &StateConfig,
) -> io::Result<DataTree> {
    let store = SnapshotStore::open(snapshot_dir)?;
    let base = store.load_newest()?;
    let (mut log, _report) = WalLogStore::open(log_dir).map_err(io::Error::other)?;
    let state = tokio::runtime::Builder::new_current_thread()
        .build()?
        .block_on(log.get_log_state())?;
    let base_id = base.as_ref().and_then(|b| b.meta.last_log_id);
    let last_log_id = match (state.last_log_id, base_id) {
        (Some(l), Some(b)) if l.index < b.index => Some(b),
        (Some(l), _) => Some(l),
        (None, b) => b,
    };
    let target = SnapshotMeta {
        last_log_id,
        last_membership: base
            .as_ref()
            .map(|b| b.meta.last_membership.clone())
            .unwrap_or_default(),
    };
    replay_tree(&store, &log, &target, config).map(|(tree, _)| tree)
}
