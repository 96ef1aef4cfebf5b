//! The replica's snapshots: what the state machine and its snapshot builders
//! share (the snapshot directory, read access to the log, the newest snapshot
//! cached in memory) and openraft's `RaftSnapshotBuilder`.
//!
//! A snapshot is built without the server's tree: [`SnapshotBuilder`] holds
//! only the target (last applied log id and membership when openraft asked),
//! and on a blocking thread replays the log onto the newest snapshot at or
//! before the target ([`crate::replay`]), saves the result durably, purges old
//! files if configured, and makes it the current snapshot. Applying goes on
//! meanwhile, untouched.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::alias::{SnapshotMetaOf, SnapshotOf};
use openraft::storage::RaftSnapshotBuilder;
use rzk_state::StateConfig;

use crate::hooks::LogSource;
use crate::replay::replay_snapshot;
use crate::snapshot_store::{SnapshotStore, StoredSnapshot};
use crate::types::{SnapshotBytes, TypeConfig};

/// ZooKeeper's `autopurge.snapRetainCount` minimum: fewer is raised to this,
/// as ZooKeeper does, so a damaged newest file always has older ones behind it.
pub const SNAPSHOT_RETAIN_COUNT_MIN: usize = 3;

/// Shared by the state machine and the builders it hands out.
pub struct Snapshots {
    store: SnapshotStore,
    log: Arc<dyn LogSource>,
    state_config: StateConfig,
    /// `None`: never delete (ZooKeeper's default, `autopurge.purgeInterval=0`).
    retain_count: Option<usize>,
    /// The newest snapshot built, installed or restored. Kept in memory so
    /// that sending it to a follower does not read the file on the state
    /// machine's task.
    current: Mutex<Option<StoredSnapshot>>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots")
            .field("dir", &self.store.dir())
            .field("retain_count", &self.retain_count)
            .field("current", &self.current().map(|s| s.meta))
            .finish()
    }
}

impl Snapshots {
    /// `restored` is the snapshot the server restored its tree from at
    /// startup (`SnapshotStore::load_newest`), if any; it becomes the current
    /// snapshot. `state_config` must be the one the server's tree applies
    /// with: replay has to decide exactly as the live apply does.
    pub fn new(
        store: SnapshotStore,
        log: Arc<dyn LogSource>,
        state_config: StateConfig,
        retain_count: Option<usize>,
        restored: Option<StoredSnapshot>,
    ) -> Self {
        let retain_count = retain_count.map(|n| {
            if n < SNAPSHOT_RETAIN_COUNT_MIN {
                tracing::warn!(
                    "snapshot retain count {n} is below the minimum; keeping {SNAPSHOT_RETAIN_COUNT_MIN}"
                );
            }
            n.max(SNAPSHOT_RETAIN_COUNT_MIN)
        });
        Snapshots {
            store,
            log,
            state_config,
            retain_count,
            current: Mutex::new(restored),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<StoredSnapshot>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest snapshot known.
    pub fn current(&self) -> Option<StoredSnapshot> {
        self.lock().clone()
    }

    pub fn store(&self) -> &SnapshotStore {
        &self.store
    }

    /// Makes `snapshot` current unless a newer one already is (a build and an
    /// install may finish in either order).
    fn offer(&self, snapshot: StoredSnapshot) {
        let mut current = self.lock();
        let newer = current
            .as_ref()
            .is_some_and(|c| c.meta.last_log_id > snapshot.meta.last_log_id);
        if !newer {
            *current = Some(snapshot);
        }
    }

    /// Saves `snapshot` durably (if it covers any entry: the empty state is
    /// not worth a file), purges old files as configured, and makes it
    /// current. Blocking.
    pub fn persist(&self, snapshot: StoredSnapshot) -> io::Result<()> {
        if snapshot.meta.last_log_id.is_some() {
            let path = self.store.save(&snapshot.meta, &snapshot.bytes)?;
            tracing::info!(file = %path.display(), bytes = snapshot.bytes.len(), "snapshot saved");
            if let Some(n) = self.retain_count {
                if let Err(e) = self.store.purge(n) {
                    // Old files cost disk space, not correctness.
                    tracing::warn!(dir = %self.store.dir().display(), "purging old snapshots: {e}");
                }
            }
        }
        self.offer(snapshot);
        Ok(())
    }

    /// Builds, saves and returns the snapshot at `target`. Blocking.
    fn build(&self, target: &SnapshotMetaOf<TypeConfig>) -> io::Result<StoredSnapshot> {
        let current = self.current();
        if let Some(c) = &current {
            // Nothing new since the current one, or a newer one was installed
            // meanwhile: openraft keeps whichever is newer.
            if c.meta.last_log_id >= target.last_log_id {
                return Ok(c.clone());
            }
        }
        let base = match current {
            Some(c) => Some(c),
            None => match target.last_log_id {
                Some(id) => self.store.load_newest_at_most(id.index)?,
                None => None,
            },
        };
        let bytes = match replay_snapshot(base.as_ref(), &*self.log, target, &self.state_config) {
            Ok(bytes) => bytes,
            Err(e) => {
                // A snapshot from the leader installed while we replayed
                // purges the entries we were reading; it is newer, use it.
                if let Some(c) = self.current() {
                    if c.meta.last_log_id >= target.last_log_id {
                        tracing::info!("snapshot build overtaken by an installed snapshot: {e}");
                        return Ok(c);
                    }
                }
                return Err(e);
            }
        };
        let snapshot = StoredSnapshot {
            meta: target.clone(),
            bytes: bytes.into(),
        };
        self.persist(snapshot.clone())?;
        Ok(snapshot)
    }
}

/// openraft's snapshot builder: the target, captured on the state machine's
/// task between two apply batches, and what it needs to build beside raft.
pub struct SnapshotBuilder {
    target: SnapshotMetaOf<TypeConfig>,
    snapshots: Arc<Snapshots>,
}

impl SnapshotBuilder {
    pub fn new(target: SnapshotMetaOf<TypeConfig>, snapshots: Arc<Snapshots>) -> Self {
        SnapshotBuilder { target, snapshots }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotBytes;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotBytes>, io::Error> {
        let target = self.target.clone();
        let snapshots = self.snapshots.clone();
        // Replay and encoding are CPU work, saving is blocking I/O.
        let snapshot = tokio::task::spawn_blocking(move || snapshots.build(&target))
            .await
            .map_err(io::Error::other)??;
        Ok(SnapshotOf::<TypeConfig, _> {
            meta: snapshot.meta,
            snapshot: snapshot.bytes,
        })
    }
}
