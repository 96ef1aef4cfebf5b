//! openraft's storage conformance suite against the in-memory log store and
//! the state machine adapter (over a real DataTree), with snapshots in a
//! temporary directory.

mod common;

use std::io;
use std::sync::Arc;

use openraft::testing::blank_ent;
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use rzk_replica::pending::Pending;
use rzk_replica::types::RaftEntry;
use rzk_replica::{LogSource, MemLogStore, SnapshotStore, Snapshots, StateMachine, TypeConfig};
use rzk_state::StateConfig;

/// The suite applies entries straight to the state machine without putting
/// them in a log, and every entry it applies is a blank or membership entry,
/// which do not touch the tree (replay skips them). This stands for that log:
/// every index holds a blank entry.
struct BlankLog;

impl LogSource for BlankLog {
    fn read_entries(&self, start: u64, end: u64) -> io::Result<Vec<RaftEntry>> {
        Ok((start..end)
            .map(|i| blank_ent::<TypeConfig>(0, 0, i))
            .collect())
    }
}

struct Builder;

impl StoreBuilder<TypeConfig, MemLogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, MemLogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapshotStore::open(dir.path()).expect("snapshot dir");
        let snapshots = Arc::new(Snapshots::new(
            store,
            Arc::new(BlankLog),
            StateConfig::default(),
            None,
            None,
        ));
        let tree = common::TreeState::new();
        let sm = StateMachine::new(tree.clone(), tree, Arc::new(Pending::new(0, 0)), snapshots);
        Ok((dir, MemLogStore::new(), sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite() {
    Suite::test_all(Builder).await.expect("storage suite");
}
