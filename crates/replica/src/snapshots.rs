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
    /// The newest snapshot built, installed or restored: its metadata, and
    /// its bytes only while they are cheaper kept than read again (see
    /// [`Current`]).
    current: Mutex<Option<Current>>,
}

/// The current snapshot. Its state part (about 180 MB at a million znodes)
/// is not kept in memory: openraft asks for it only to send it to a follower
/// that is too far behind for the log, and then it is read from its file.
/// Two exceptions keep `bytes`:
/// - the snapshot a server restored from at startup, until openraft's first
///   `get_current_snapshot` takes it (openraft asks once while starting,
///   which would otherwise read the file a second time on the restart path);
/// - a snapshot of the empty state (no last log id), which has no file.
struct Current {
    meta: SnapshotMetaOf<TypeConfig>,
    bytes: Option<SnapshotBytes>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots")
            .field("dir", &self.store.dir())
            .field("retain_count", &self.retain_count)
            .field("current", &self.current_meta())
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
            current: Mutex::new(restored.map(|s| Current {
                meta: s.meta,
                bytes: Some(s.bytes),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The metadata of the newest snapshot known.
    pub fn current_meta(&self) -> Option<SnapshotMetaOf<TypeConfig>> {
        self.lock().as_ref().map(|c| c.meta.clone())
    }

    /// The newest snapshot known if that needs no file read: `Ok` with it
    /// (or `None` when there is none) when its state is held (see
    /// [`Current`]), otherwise `Err` with its metadata, for
    /// [`Snapshots::load`].
    pub fn current_held(&self) -> Result<Option<StoredSnapshot>, SnapshotMetaOf<TypeConfig>> {
        let mut current = self.lock();
        let Some(c) = current.as_mut() else {
            return Ok(None);
        };
        let bytes = if c.meta.last_log_id.is_some() {
            c.bytes.take()
        } else {
            c.bytes.clone()
        };
        match bytes {
            Some(bytes) => Ok(Some(StoredSnapshot {
                meta: c.meta.clone(),
                bytes,
            })),
            None => Err(c.meta.clone()),
        }
    }

    /// The snapshot `meta` describes, read from its file. Blocking.
    pub fn load(&self, meta: SnapshotMetaOf<TypeConfig>) -> io::Result<Option<StoredSnapshot>> {
        let Some(id) = meta.last_log_id else {
            // The empty state always keeps its bytes; none were given.
            return Ok(None);
        };
        let stored = self.store.load(id.index)?;
        if stored.meta != meta {
            return Err(io::Error::other(format!(
                "snapshot file at index {} holds different metadata than the current snapshot",
                id.index
            )));
        }
        Ok(Some(stored))
    }

    pub fn store(&self) -> &SnapshotStore {
        &self.store
    }

    /// Makes the snapshot described by `meta` current unless a newer one
    /// already is (a build and an install may finish in either order).
    /// `bytes` are kept only for the empty state, which has no file.
    fn offer(&self, meta: SnapshotMetaOf<TypeConfig>, bytes: Option<SnapshotBytes>) {
        let mut current = self.lock();
        let newer = current
            .as_ref()
            .is_some_and(|c| c.meta.last_log_id > meta.last_log_id);
        if !newer {
            let bytes = bytes.filter(|_| meta.last_log_id.is_none());
            *current = Some(Current { meta, bytes });
        }
    }

    /// Purges old snapshot files if configured. Old files cost disk space,
    /// not correctness, so a failure is only logged.
    fn purge(&self) {
        if let Some(n) = self.retain_count {
            if let Err(e) = self.store.purge(n) {
                tracing::warn!(dir = %self.store.dir().display(), "purging old snapshots: {e}");
            }
        }
    }

    /// Saves `snapshot` durably (if it covers any entry: the empty state is
    /// not worth a file), purges old files as configured, and makes it
    /// current. Blocking.
    pub fn persist(&self, snapshot: StoredSnapshot) -> io::Result<()> {
        if snapshot.meta.last_log_id.is_some() {
            let path = self.store.save(&snapshot.meta, &snapshot.bytes)?;
            tracing::info!(file = %path.display(), bytes = snapshot.bytes.len(), "snapshot saved");
            self.purge();
        }
        self.offer(snapshot.meta, Some(snapshot.bytes));
        Ok(())
    }

    /// Builds and saves the snapshot at `target`, streaming it from the
    /// replaying tree into its file; returns the metadata of the snapshot
    /// now current. Blocking.
    fn build(&self, target: &SnapshotMetaOf<TypeConfig>) -> io::Result<SnapshotMetaOf<TypeConfig>> {
        if let Some(meta) = self.current_meta() {
            // Nothing new since the current one, or a newer one was installed
            // meanwhile: openraft keeps whichever is newer.
            if meta.last_log_id >= target.last_log_id {
                return Ok(meta);
            }
        }
        if target.last_log_id.is_none() {
            // The empty state: nothing to replay or store.
            let mut bytes = Vec::new();
            rzk_state::DataTree::new(self.state_config.clone()).write_snapshot(&mut bytes)?;
            self.offer(target.clone(), Some(bytes.into()));
            return Ok(target.clone());
        }
        let saved = self.store.save_with(target, |out| {
            replay_snapshot(&self.store, &*self.log, target, &self.state_config, out)
        });
        let path = match saved {
            Ok(path) => path,
            Err(e) => {
                // A snapshot from the leader installed while we replayed
                // purges the entries we were reading; it is newer, use it.
                if let Some(meta) = self.current_meta() {
                    if meta.last_log_id >= target.last_log_id {
                        tracing::info!("snapshot build overtaken by an installed snapshot: {e}");
                        return Ok(meta);
                    }
                }
                return Err(e);
            }
        };
        tracing::info!(file = %path.display(), "snapshot saved");
        self.purge();
        self.offer(target.clone(), None);
        Ok(self.current_meta().unwrap_or_else(|| target.clone()))
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
        let meta = tokio::task::spawn_blocking(move || snapshots.build(&target))
            .await
            .map_err(io::Error::other)??;
        // openraft takes only the metadata of a built snapshot (its state
        // machine worker and its startup both map the result to `.meta`); it
        // asks `get_current_snapshot` for the state when it sends one, which
        // reads the file. So the state is not read back into memory here,
        // and the data handed over is empty: were it ever sent, the
        // receiver's install would fail its header check, not load it.
        Ok(SnapshotOf::<TypeConfig, _> {
            meta,
            snapshot: SnapshotBytes::from(Vec::new()),
        })
    }
}
