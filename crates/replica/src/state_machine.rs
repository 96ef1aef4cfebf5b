//! openraft's `RaftStateMachine` for rzk: a thin adapter that turns committed
//! raft entries into `rzk_state::Entry` values and hands them to the server's
//! [`ApplyHook`], then releases the proposers' replies.
//!
//! What it keeps itself is raft bookkeeping only: the last applied log id, the
//! last membership, and the current snapshot's bytes with their metadata. The
//! tree lives in the server, behind the hooks.
//!
//! Order of effects for one batch, the reason this file exists:
//! 1. the hook applies every entry and queues its watch events (server side);
//! 2. then each outcome goes to its waiting client ([`Pending::complete`]);
//! 3. then openraft's own responder (the leader's `client_write`) is answered.
//!
//! so a client always sees a watch event before a reply that reflects it.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{Stream, StreamExt};
use openraft::alias::{SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::storage::{ApplyResponder, EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, SnapshotMeta, StoredMembership};
use rzk_state::Entry;

use crate::hooks::{ApplyHook, SnapshotJob, SnapshotSource};
use crate::pending::Pending;
use crate::types::{zxid_of, Committed, LogId, Origin, SnapshotBytes, TypeConfig};

/// Entries handed to the hook in one call. Bounds the time the hook holds the
/// server's lock (reads wait for it) and the memory of one batch.
pub const APPLY_BATCH_ENTRIES_MAX: usize = 256;

/// The snapshot openraft last built or installed.
#[derive(Debug, Clone)]
struct StoredSnapshot {
    meta: SnapshotMetaOf<TypeConfig>,
    bytes: SnapshotBytes,
}

type SharedSnapshot = Arc<Mutex<Option<StoredSnapshot>>>;

fn lock(s: &SharedSnapshot) -> MutexGuard<'_, Option<StoredSnapshot>> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The state machine adapter; owned by openraft's state machine worker.
pub struct StateMachine {
    hook: Arc<dyn ApplyHook>,
    snapshots: Arc<dyn SnapshotSource>,
    pending: Arc<Pending>,
    last_applied: Option<LogId>,
    last_membership: StoredMembershipOf<TypeConfig>,
    current: SharedSnapshot,
    /// Reused between batches to avoid reallocating.
    batch: Vec<Entry>,
    waiters: Vec<Waiter>,
}

/// Who is told about one rzk entry of the batch once it is applied.
struct Waiter {
    origin: Option<Origin>,
    responder: Option<ApplyResponder<TypeConfig>>,
    zxid: i64,
}

impl StateMachine {
    pub fn new(
        hook: Arc<dyn ApplyHook>,
        snapshots: Arc<dyn SnapshotSource>,
        pending: Arc<Pending>,
    ) -> Self {
        StateMachine {
            hook,
            snapshots,
            pending,
            last_applied: None,
            last_membership: StoredMembership::default(),
            current: Arc::default(),
            batch: Vec::with_capacity(APPLY_BATCH_ENTRIES_MAX),
            waiters: Vec::with_capacity(APPLY_BATCH_ENTRIES_MAX),
        }
    }

    /// Applies the collected batch through the hook and releases its waiters.
    fn flush(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let outcomes = self.hook.apply(&self.batch);
        if outcomes.len() != self.batch.len() {
            // A hook bug; going on would answer clients with the wrong outcome.
            return Err(io::Error::other(format!(
                "apply hook returned {} outcomes for {} entries",
                outcomes.len(),
                self.batch.len()
            )));
        }
        self.batch.clear();
        for (applied, waiter) in outcomes.into_iter().zip(self.waiters.drain(..)) {
            debug_assert_eq!(applied.zxid, waiter.zxid);
            if let Some(origin) = &waiter.origin {
                self.pending.complete(origin, applied);
            }
            if let Some(responder) = waiter.responder {
                responder.send(Committed { zxid: waiter.zxid });
            }
        }
        Ok(())
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotBytes;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembershipOf<TypeConfig>), io::Error> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        // Bounded by the stream: openraft hands over exactly the committed range.
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id;
            let zxid = zxid_of(&log_id);
            self.last_applied = Some(log_id);
            match entry.payload {
                EntryPayload::Normal(request) => {
                    self.batch.push(Entry {
                        zxid,
                        time_ms: request.time_ms,
                        txn: request.txn,
                    });
                    self.waiters.push(Waiter {
                        origin: request.origin,
                        responder,
                        zxid,
                    });
                    if self.batch.len() >= APPLY_BATCH_ENTRIES_MAX {
                        self.flush()?;
                    }
                }
                // Raft's own entries take an index but do not touch the tree.
                EntryPayload::Blank => {
                    if let Some(r) = responder {
                        r.send(Committed { zxid });
                    }
                }
                EntryPayload::Membership(membership) => {
                    self.last_membership = StoredMembership::new(Some(log_id), membership);
                    if let Some(r) = responder {
                        r.send(Committed { zxid });
                    }
                }
            }
        }
        self.flush()
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Runs between two apply calls: the frozen state is exactly the state
        // at `last_applied`.
        SnapshotBuilder {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.last_membership.clone(),
            },
            job: Mutex::new(Some(self.snapshots.freeze())),
            current: self.current.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<TypeConfig>,
        snapshot: SnapshotBytes,
    ) -> Result<(), io::Error> {
        self.snapshots.install(&snapshot)?;
        // Proposals of ours that the snapshot covers were applied elsewhere;
        // their outcome is unknown here.
        self.pending.abandon_all();
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        *lock(&self.current) = Some(StoredSnapshot {
            meta: meta.clone(),
            bytes: snapshot,
        });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, SnapshotBytes>>, io::Error> {
        Ok(lock(&self.current)
            .clone()
            .map(|s| SnapshotOf::<TypeConfig, _> {
                meta: s.meta,
                snapshot: s.bytes,
            }))
    }
}

/// Encodes a frozen state into a snapshot; runs on its own task while applying
/// goes on.
pub struct SnapshotBuilder {
    meta: SnapshotMetaOf<TypeConfig>,
    /// In a mutex only to make the builder `Sync` as openraft requires; it is
    /// taken once.
    job: Mutex<Option<SnapshotJob>>,
    current: SharedSnapshot,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotBytes;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotBytes>, io::Error> {
        let job = self
            .job
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| io::Error::other("snapshot builder used twice"))?;
        // Encoding a large tree is CPU work: keep it off the async workers.
        let bytes = tokio::task::spawn_blocking(job)
            .await
            .map_err(io::Error::other)??;
        let bytes: SnapshotBytes = bytes.into();
        let stored = StoredSnapshot {
            meta: self.meta.clone(),
            bytes: bytes.clone(),
        };
        {
            let mut current = lock(&self.current);
            // Never replace a newer snapshot (an install may have raced us).
            let newer = current
                .as_ref()
                .is_some_and(|c| c.meta.last_log_id > stored.meta.last_log_id);
            if !newer {
                *current = Some(stored);
            }
        }
        Ok(SnapshotOf::<TypeConfig, _> {
            meta: self.meta.clone(),
            snapshot: bytes,
        })
    }
}
