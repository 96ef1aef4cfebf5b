//! Turning the loaded ZooKeeper state into rzk's: the tree (through the
//! state crate's `TreeBuilder`, so rzk's own code derives every index) and
//! a data directory a fresh `rzk server` starts from.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rzk_replica::Member;
use rzk_state::import::TreeBuilder;
use rzk_state::{DataTree, SessionInfo, StateConfig};

use crate::error::{MigrateError, Result};
use crate::password::zookeeper_password;
use crate::zk_tree::ZkTree;

/// rzk's snapshot directory under its dataDir (`rzk_server::replicated::SNAPSHOT_DIR_NAME`).
pub const SNAPSHOT_DIR_NAME: &str = "snapshots";
/// rzk's raft log directory under its dataLogDir (`rzk_server::replicated::LOG_DIR_NAME`).
pub const LOG_DIR_NAME: &str = "raft-log";

/// rzk's tree holding exactly `tree`'s nodes (stored Stats, ACLs) and
/// sessions, at `last_zxid`. Each session gets the password ZooKeeper gave
/// it, so its clients can resume it against rzk.
pub fn build_tree(tree: &ZkTree, last_zxid: i64, config: StateConfig) -> Result<DataTree> {
    let mut b = TreeBuilder::new(config);
    let fail = |e: rzk_state::import::BuildError| MigrateError {
        file: PathBuf::from("(the loaded tree)"),
        offset: None,
        what: e.to_string(),
    };
    for (path, node) in tree.preorder() {
        b.add_node(&path, node.data.clone(), &node.acl, node.stat)
            .map_err(fail)?;
    }
    for (&session_id, &timeout_ms) in &tree.sessions {
        b.add_session(SessionInfo {
            session_id,
            timeout_ms,
            password: zookeeper_password(session_id),
        })
        .map_err(fail)?;
    }
    b.finish(last_zxid).map_err(fail)
}

/// Refuses to seed a directory that already holds rzk state: an import
/// never overwrites a server's data.
pub fn check_empty_target(data_dir: &Path, data_log_dir: &Path) -> Result<()> {
    for dir in [
        data_dir.join(SNAPSHOT_DIR_NAME),
        data_log_dir.join(LOG_DIR_NAME),
    ] {
        let used = fs::read_dir(&dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        if used {
            return Err(MigrateError::file(
                &dir,
                "already holds rzk data; import into an empty data directory",
            ));
        }
    }
    Ok(())
}

/// Writes `tree` as the snapshot an rzk server in `data_dir` starts from,
/// at log index `tree.last_zxid()` with `voters` as its ensemble.
pub fn seed_data_dir(
    tree: &DataTree,
    data_dir: &Path,
    voters: BTreeMap<u64, Member>,
) -> Result<PathBuf> {
    let index = u64::try_from(tree.last_zxid()).map_err(|_| {
        MigrateError::file(
            data_dir,
            format!("last zxid {} is negative", tree.last_zxid()),
        )
    })?;
    let mut state = Vec::new();
    tree.write_snapshot(&mut state)
        .map_err(|e| MigrateError::io(data_dir, e))?;
    let dir = data_dir.join(SNAPSHOT_DIR_NAME);
    rzk_replica::seed::write_seed_snapshot(&dir, index, voters, &state)
        .map_err(|e| MigrateError::io(&dir, e))
}
