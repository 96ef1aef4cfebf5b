//! The server side of one simulated server: a real `DataTree` behind the
//! replica's hooks, reporting every apply and install to the [`World`].

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::EntryPayload;
use rzk_replica::hooks::{ApplyHook, LogSource, SnapshotSource};
use rzk_replica::NodeId;
use rzk_state::{Applied, DataTree, Entry, StateConfig};

use super::world::World;

pub struct SimTree {
    node: NodeId,
    tree: Mutex<DataTree>,
    /// The server's log, to check that indexes skipped between two applied
    /// entries hold raft's own entries only.
    log: Arc<dyn LogSource>,
    world: World,
}

impl SimTree {
    /// A tree restored from `snapshot` bytes (a restart), or empty.
    pub fn new(
        node: NodeId,
        snapshot: Option<&[u8]>,
        log: Arc<dyn LogSource>,
        world: World,
    ) -> io::Result<Arc<Self>> {
        let tree = match snapshot {
            Some(bytes) => read_tree(bytes)?,
            None => DataTree::new(StateConfig::default()),
        };
        world.lock().started(node, tree.last_zxid());
        Ok(Arc::new(SimTree {
            node,
            tree: Mutex::new(tree),
            log,
            world,
        }))
    }

    fn tree(&self) -> MutexGuard<'_, DataTree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree as snapshot bytes (same tree, same bytes).
    pub fn snapshot_bytes(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.tree().write_snapshot(&mut out)?;
        Ok(out)
    }

    pub fn exists(&self, path: &str) -> bool {
        self.tree().exists(path).is_some()
    }

    pub fn last_zxid(&self) -> i64 {
        self.tree().last_zxid()
    }

    /// rzk entries the log holds strictly between `after` and `before`, or
    /// why it cannot tell.
    fn rzk_entries_between(&self, after: i64, before: i64) -> Result<usize, String> {
        let start = u64::try_from(after.saturating_add(1)).map_err(|e| e.to_string())?;
        let end = u64::try_from(before).map_err(|e| e.to_string())?;
        let entries = self
            .log
            .read_entries(start, end)
            .map_err(|e| e.to_string())?;
        Ok(entries
            .iter()
            .filter(|e| matches!(e.payload, EntryPayload::Normal(_)))
            .count())
    }
}

pub fn read_tree(bytes: &[u8]) -> io::Result<DataTree> {
    let (tree, _) = DataTree::read_snapshot(&mut &bytes[..], StateConfig::default())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(tree)
}

impl ApplyHook for SimTree {
    fn apply(&self, batch: &[Entry]) -> Vec<Applied> {
        let mut tree = self.tree();
        let mut out = Vec::with_capacity(batch.len());
        for entry in batch {
            let skipped = self.rzk_entries_between(tree.last_zxid(), entry.zxid);
            self.world.lock().applied(self.node, entry, skipped);
            out.push(tree.apply(entry));
        }
        out
    }
}

impl SnapshotSource for SimTree {
    fn install(&self, bytes: &[u8]) -> io::Result<()> {
        let tree = read_tree(bytes)?;
        self.world.lock().installed(self.node, tree.last_zxid());
        *self.tree() = tree;
        Ok(())
    }
}
