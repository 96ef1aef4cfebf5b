//! The replica's snapshots: what the state machine and its snapshot builders
//! share (the snapshot directory, read access to the log, the newest snapshot
//! cached in memory) and openraft's `RaftSnapshotBuilder`.
//!
//! A snapshot of a big tree is built without pausing the server's tree:
//! [`SnapshotBuilder`] holds the target (last applied log id and membership
//! when openraft asked) and the changes the server's tree kept since the
//! previous snapshot point, taken between two applies; on a thread of its
//! own it has their records encoded, then, at a lower CPU priority, merges
//! them onto that snapshot's file ([`crate::merge`]), saves the
//! result durably, purges old files if configured, and makes it the current
//! snapshot. Applying goes on meanwhile. Without kept changes or a base file
//! (the first snapshot, a purged or damaged base), it replays the log onto
//! the newest snapshot at or before the target ([`crate::replay`]) instead.
//! A small tree (at most `LIVE_SNAPSHOT_BYTES_MAX` encoded) is encoded by
//! the server between two applies, and the builder only writes those bytes.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::alias::{SnapshotMetaOf, SnapshotOf};
use openraft::storage::RaftSnapshotBuilder;
use rzk_state::StateConfig;

use crate::hooks::LogSource;
use crate::merge::{merge_onto_file, TakenChanges};
use crate::replay::replay_snapshot;
use crate::snapshot_store::{SnapshotStore, StoredSnapshot};
use crate::types::{SnapshotBytes, SnapshotData, TypeConfig};
use rzk_state::snapshot_merge::SnapshotDelta;

/// What the process runs after a snapshot build has dropped its tree (see
/// [`set_memory_release`]).
static MEMORY_RELEASE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Registers `release`, run on the building thread after each snapshot
/// build has dropped its replay tree (as big as the server's own), and by
/// the server through [`release_memory`] after start-up and when idle.
///
/// Why: an allocator that returns freed memory to the OS lazily, on later
/// allocations by the same thread, never does so for a builder thread that
/// goes idle. With mimalloc the server kept the whole second tree resident
/// after every build (RSS 815 MiB instead of 437 MiB after a million
/// creates, docs/PERFORMANCE.md). The binary registers mimalloc's collect;
/// this crate stays free of allocator knowledge. Only the first call counts.
pub fn set_memory_release(release: fn()) {
    let _ = MEMORY_RELEASE.set(release);
}

/// Runs the function registered with [`set_memory_release`], if any, on
/// the calling thread: for work that frees much and is followed by idleness
/// on that thread, like a snapshot build or a server's start-up.
pub fn release_memory() {
    if let Some(release) = MEMORY_RELEASE.get() {
        release();
    }
}

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
    builds: Mutex<BuildCounts>,
}

/// The current snapshot. Its state part (about 200 MB at a million znodes)
/// is not kept in memory: openraft asks for it when it sends it to a
/// follower too far behind for the log (and once while starting), and then
/// it is read from its file. The one exception is a snapshot of the empty
/// state (no last log id), which has no file: it keeps its few `bytes`.
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

/// How the snapshots built since start were made (builds that found a newer
/// snapshot already current are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildCounts {
    /// From the live tree's encoding (a small tree).
    pub encoded: u64,
    /// By merging the live tree's changes onto the previous file.
    pub merged: u64,
    /// By replaying the log onto the previous file.
    pub replayed: u64,
}

impl Snapshots {
    /// How the snapshots built since start were made.
    pub fn build_counts(&self) -> BuildCounts {
        *self.builds.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count_build(&self, how: impl FnOnce(&mut BuildCounts) -> &mut u64) {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        *how(&mut builds) += 1;
    }

    /// `restored` describes the snapshot the server restored its tree from
    /// at startup (`SnapshotStore::read_newest`), if any; it becomes the
    /// current snapshot. `state_config` must be the one the server's tree applies
    /// with: replay has to decide exactly as the live apply does.
    pub fn new(
        store: SnapshotStore,
        log: Arc<dyn LogSource>,
        state_config: StateConfig,
        retain_count: Option<usize>,
        restored: Option<SnapshotMetaOf<TypeConfig>>,
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
            current: Mutex::new(restored.map(|meta| Current { meta, bytes: None })),
            builds: Mutex::new(BuildCounts::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The metadata of the newest snapshot known.
    pub fn current_meta(&self) -> Option<SnapshotMetaOf<TypeConfig>> {
        self.lock().as_ref().map(|c| c.meta.clone())
    }

    /// The newest snapshot known, as openraft carries it: its state stays
    /// in its file until a sender loads it ([`SnapshotData::load`]).
    pub fn current(&self) -> Option<(SnapshotMetaOf<TypeConfig>, SnapshotData)> {
        let current = self.lock();
        let c = current.as_ref()?;
        Some((c.meta.clone(), self.data_of(&c.meta, c.bytes.as_ref())))
    }

    /// The data of the snapshot `meta` describes: its file, or for the empty
    /// state (which has none) its held bytes.
    fn data_of(
        &self,
        meta: &SnapshotMetaOf<TypeConfig>,
        bytes: Option<&SnapshotBytes>,
    ) -> SnapshotData {
        match (meta.last_log_id, bytes) {
            (Some(id), _) => SnapshotData::File {
                store: self.store.clone(),
                index: id.index,
            },
            (None, Some(bytes)) => SnapshotData::Bytes(bytes.clone()),
            // The empty state with no bytes given: a fresh tree's.
            (None, None) => {
                let mut empty = Vec::new();
                let fresh = rzk_state::DataTree::new(self.state_config.clone());
                if let Err(e) = fresh.write_snapshot(&mut empty) {
                    // Writing to a Vec does not fail.
                    tracing::error!("encoding the empty state: {e}");
                }
                SnapshotData::Bytes(empty.into())
            }
        }
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

    /// The current snapshot's metadata if it is at or past `target`
    /// (nothing new since it, or a newer one was installed).
    pub(crate) fn covering(
        &self,
        target: &SnapshotMetaOf<TypeConfig>,
    ) -> Option<SnapshotMetaOf<TypeConfig>> {
        self.lock()
            .as_ref()
            .filter(|c| c.meta.last_log_id >= target.last_log_id)
            .map(|c| c.meta.clone())
    }

    /// Builds and saves the snapshot at `target`: `encoded` when the state
    /// machine encoded the live state at `target` (a small tree); else the
    /// live tree's kept `changes` merged onto the file they start from
    /// (`None` inside: they were lost before their records were encoded);
    /// else (or when the merge fails) streamed from the tree replaying the
    /// log into its file. Returns the metadata of the snapshot now current.
    /// Blocking.
    fn build(
        &self,
        target: &SnapshotMetaOf<TypeConfig>,
        encoded: Option<Vec<u8>>,
        changes: Option<(u64, Option<SnapshotDelta>)>,
    ) -> io::Result<SnapshotMetaOf<TypeConfig>> {
        // Nothing new since the current one, or a newer one was installed
        // meanwhile: openraft keeps whichever is newer.
        if let Some(meta) = self.covering(target) {
            return Ok(meta);
        }
        if target.last_log_id.is_none() {
            // The empty state: nothing to replay or store.
            let mut bytes = Vec::new();
            rzk_state::DataTree::new(self.state_config.clone()).write_snapshot(&mut bytes)?;
            self.offer(target.clone(), Some(bytes.into()));
            return Ok(target.clone());
        }
        if let Some(bytes) = encoded {
            let path = self.store.save(target, &bytes)?;
            self.count_build(|b| &mut b.encoded);
            return Ok(self.made_current(&path, target));
        }
        if let Some((base_index, delta)) = changes {
            let merged = match delta {
                Some(delta) => self.store.save_with(target, |out| {
                    merge_onto_file(&self.store, base_index, delta, target, out)
                }),
                None => Err(io::Error::other(
                    "the changes taken were lost before their records were encoded",
                )),
            };
            match merged {
                Ok(path) => {
                    self.count_build(|b| &mut b.merged);
                    return Ok(self.made_current(&path, target));
                }
                Err(e) => tracing::warn!(
                    base_index,
                    "could not merge the changes onto the previous snapshot, replaying the log instead: {e}"
                ),
            }
        }
        let saved = self.store.save_with(target, |out| {
            replay_snapshot(&self.store, &*self.log, target, &self.state_config, out)
        });
        // The replay tree is gone, on success or failure.
        release_memory();
        match saved {
            Ok(path) => {
                self.count_build(|b| &mut b.replayed);
                Ok(self.made_current(&path, target))
            }
            // A snapshot from the leader installed while we replayed purges
            // the entries we were reading; it is newer, use it.
            Err(e) => match self.covering(target) {
                Some(meta) => {
                    tracing::info!("snapshot build overtaken by an installed snapshot: {e}");
                    Ok(meta)
                }
                None => Err(e),
            },
        }
    }

    /// After the snapshot at `target` was saved in `path`: purges old files
    /// as configured and makes it current; returns the metadata of the
    /// snapshot now current.
    fn made_current(
        &self,
        path: &std::path::Path,
        target: &SnapshotMetaOf<TypeConfig>,
    ) -> SnapshotMetaOf<TypeConfig> {
        tracing::info!(file = %path.display(), "snapshot saved");
        self.purge();
        self.offer(target.clone(), None);
        self.current_meta().unwrap_or_else(|| target.clone())
    }
}

/// openraft's snapshot builder: the target, captured on the state machine's
/// task between two apply batches, the state at it when it was small enough
/// to encode there, and what it needs to build beside raft.
pub struct SnapshotBuilder {
    target: SnapshotMetaOf<TypeConfig>,
    snapshots: Arc<Snapshots>,
    encoded: Option<Vec<u8>>,
    /// The changes the live tree kept up to `target`, and the index of the
    /// snapshot they start from.
    changes: Option<(u64, TakenChanges)>,
}

impl SnapshotBuilder {
    pub fn new(
        target: SnapshotMetaOf<TypeConfig>,
        snapshots: Arc<Snapshots>,
        encoded: Option<Vec<u8>>,
        changes: Option<(u64, TakenChanges)>,
    ) -> Self {
        SnapshotBuilder {
            target,
            snapshots,
            encoded,
            changes,
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotData>, io::Error> {
        let target = self.target.clone();
        let snapshots = self.snapshots.clone();
        let encoded = self.encoded.take();
        let changes = self.changes.take();
        // Merging, replaying and saving are CPU work and blocking I/O, on a
        // thread of their own at a lower CPU priority: on a busy machine
        // the requests' threads come first, and the build takes longer. A
        // fresh thread, so no pooled one keeps the priority; started from
        // the blocking pool, so the runtime knows work is under way (a
        // paused test clock does not jump past it).
        let meta = tokio::task::spawn_blocking(move || {
            std::thread::Builder::new()
                .name("rzk-snapshot".into())
                .spawn(move || {
                    // The records are encoded holding the server's state
                    // lock: at full priority, so the lock is never held by
                    // a thread the scheduler puts off.
                    let changes = changes.map(|(base_index, taken)| (base_index, taken.collect()));
                    lower_this_threads_priority();
                    snapshots.build(&target, encoded, changes)
                })?
                .join()
                .map_err(|_| io::Error::other("the snapshot build thread panicked"))?
        })
        .await
        .map_err(io::Error::other)??;
        // The state stays in its file: openraft keeps only the metadata.
        let snapshot = self.snapshots.data_of(&meta, None);
        Ok(SnapshotOf::<TypeConfig, _> { meta, snapshot })
    }
}

/// The nice value of a snapshot build's thread: CFS gives it about a tenth
/// of a core's share against a request thread when both want the CPU.
const SNAPSHOT_THREAD_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`SNAPSHOT_THREAD_NICE`]
/// (on Linux a nice value is per thread). Failure is logged and ignored.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread; no memory passed.
        let rc = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, SNAPSHOT_THREAD_NICE)
        };
        if rc != 0 {
            tracing::debug!(
                "lowering the snapshot thread's priority: {}",
                io::Error::last_os_error()
            );
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod priority_tests {
    use super::*;

    /// The build thread's nice value is lowered for that thread alone.
    #[test]
    fn only_the_calling_thread_is_lowered() {
        // SAFETY: plain syscalls on the calling thread.
        let nice_of_this_thread = || unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::getpriority(libc::PRIO_PROCESS, tid)
        };
        let before = nice_of_this_thread();
        let lowered = std::thread::spawn(move || {
            lower_this_threads_priority();
            nice_of_this_thread()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, SNAPSHOT_THREAD_NICE.max(before));
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the caller's own is unchanged"
        );
    }
}
