//! openraft's storage conformance suite against the in-memory log store and
//! the state machine adapter (over a real DataTree), with snapshots in a
//! temporary directory.

mod common;

use std::sync::Arc;

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use rzk_replica::pending::Pending;
use rzk_replica::{MemLogStore, SnapshotStore, Snapshots, StateMachine, TypeConfig};
use rzk_state::StateConfig;

struct Builder;

impl StoreBuilder<TypeConfig, MemLogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, MemLogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapshotStore::open(dir.path()).expect("snapshot dir");
        let snapshots = Arc::new(Snapshots::new(
            store,
            Arc::new(common::BlankLog),
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
