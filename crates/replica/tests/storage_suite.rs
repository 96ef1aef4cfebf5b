//! openraft's storage conformance suite against the in-memory log store and
//! the state machine adapter (over a real DataTree).

mod common;

use std::sync::Arc;

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use rzk_replica::pending::Pending;
use rzk_replica::{MemLogStore, StateMachine, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, MemLogStore, StateMachine, ()> for Builder {
    async fn build(&self) -> Result<((), MemLogStore, StateMachine), StorageError<TypeConfig>> {
        let tree = common::TreeState::new();
        let sm = StateMachine::new(tree.clone(), tree, Arc::new(Pending::new(0, 0)));
        Ok(((), MemLogStore::new(), sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite() {
    Suite::test_all(Builder).await.expect("storage suite");
}
