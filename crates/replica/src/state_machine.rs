//! openraft's `RaftStateMachine` for rzk: a thin adapter that turns committed
//! raft entries into `rzk_state::Entry` values and hands them to the server's
//! [`ApplyHook`], then releases the proposers' replies.
//!
//! What it keeps itself is raft bookkeeping only: the last applied log id and
//! the last membership. The tree lives in the server, behind the hooks;
//! snapshots are built beside it from the log ([`crate::snapshots`]).
//!
//! Order of effects for one batch, the reason this file exists:
//! 1. the hook applies every entry and queues its watch events (server side);
//! 2. then each outcome goes to its waiting client ([`Pending::complete`]);
//! 3. then openraft's own responder (the leader's `client_write`) is answered.
//!
//! so a client always sees a watch event before a reply that reflects it.

use std::io;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use openraft::alias::{SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::storage::{ApplyResponder, EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, SnapshotMeta, StoredMembership};
use rzk_state::Entry;

use crate::hooks::{ApplyHook, SnapshotSource};
use crate::membership::config_entry;
use crate::merge::TakenChanges;
use crate::pending::Pending;
use crate::snapshot_store::StoredSnapshot;
use crate::snapshots::{SnapshotBuilder, Snapshots};
use crate::types::{zxid_of, Committed, LogId, Origin, SnapshotData, TypeConfig};

/// Entries handed to the hook in one call. Bounds the time the hook holds the
/// server's lock (reads wait for it) and the memory of one batch.
pub const APPLY_BATCH_ENTRIES_MAX: usize = 256;

/// The largest state encoded on the apply path for a snapshot (see
/// [`ApplyHook::encode_if_small`]), by the server's estimate. Encoding ran
/// at about 600 MB/s on the 2-core benchmark machine (10,000 znodes with
/// 100-byte values: 1.96 MB in about 3.3 ms), so this bounds the pause of
/// apply and reads to about 7 ms, once per snapCount/2 or more entries;
/// replaying those entries instead took 15% of the server's CPU.
pub const LIVE_SNAPSHOT_BYTES_MAX: usize = 4 << 20;

/// The state machine adapter; owned by openraft's state machine worker.
pub struct StateMachine {
    hook: Arc<dyn ApplyHook>,
    installer: Arc<dyn SnapshotSource>,
    pending: Arc<Pending>,
    last_applied: Option<LogId>,
    last_membership: StoredMembershipOf<TypeConfig>,
    /// The log index the hook's kept changes start from: the snapshot the
    /// server restored or installed, or the last snapshot point. The file
    /// at this index is what [`ApplyHook::take_changes`] merges onto.
    changes_since: Option<u64>,
    snapshots: Arc<Snapshots>,
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
    /// `installer` installs snapshots received from the leader into the
    /// server's state. The state machine starts where `snapshots`' current
    /// snapshot (the one the server restored its tree from) ends, or at the
    /// beginning of the log when there is none.
    pub fn new(
        hook: Arc<dyn ApplyHook>,
        installer: Arc<dyn SnapshotSource>,
        pending: Arc<Pending>,
        snapshots: Arc<Snapshots>,
    ) -> Self {
        let (last_applied, last_membership) = match snapshots.current_meta() {
            Some(meta) => (meta.last_log_id, meta.last_membership),
            None => (None, StoredMembership::default()),
        };
        StateMachine {
            hook,
            installer,
            pending,
            last_applied,
            last_membership,
            changes_since: last_applied.map(|id| id.index),
            snapshots,
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
    type SnapshotData = SnapshotData;
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
                        txn: *request.txn,
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
                // A membership change also becomes `/zookeeper/config`
                // (see `crate::membership`), applied in log order with the
                // rest.
                EntryPayload::Membership(membership) => {
                    match config_entry(&log_id, &membership) {
                        Some(entry) => {
                            self.batch.push(entry);
                            self.waiters.push(Waiter {
                                origin: None,
                                responder,
                                zxid,
                            });
                        }
                        None => {
                            if let Some(r) = responder {
                                r.send(Committed { zxid });
                            }
                        }
                    }
                    self.last_membership = StoredMembership::new(Some(log_id), membership);
                }
            }
        }
        self.flush()
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // A small tree is encoded here, between two applies (a millisecond
        // at most); for any other only the target is captured and the state
        // at it is rebuilt from the log beside raft, so a big tree is never
        // paused or copied.
        let target = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
        };
        let (encoded, changes) = if self.snapshots.covering(&target).is_some() {
            (None, None)
        } else {
            // Either way the next changes start from this point, whose file
            // this build writes (an encoding hook starts them over itself,
            // or stops keeping them until the next take).
            let base = std::mem::replace(
                &mut self.changes_since,
                target.last_log_id.map(|id| id.index),
            );
            match self.hook.encode_if_small(LIVE_SNAPSHOT_BYTES_MAX) {
                Some(bytes) => (Some(bytes), None),
                None => (None, base.zip(TakenChanges::take(&self.hook))),
            }
        };
        SnapshotBuilder::new(target, self.snapshots.clone(), encoded, changes)
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<TypeConfig>,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        // From a leader the state arrives in memory; a file (a simulated
        // network hands the sender's over) is read here.
        let stored = StoredSnapshot {
            meta: meta.clone(),
            bytes: snapshot.load()?,
        };
        // On disk first: once the server's state is replaced and raft purges
        // its log, this file is the only record of what was installed.
        let snapshots = self.snapshots.clone();
        let saved = stored.clone();
        tokio::task::spawn_blocking(move || snapshots.persist(saved))
            .await
            .map_err(io::Error::other)??;
        if let Err(e) = self.installer.install(&stored.bytes) {
            // Raft stops on this error; the next start must not restore
            // from a snapshot the server could not read.
            if let Some(index) = stored.index() {
                if let Err(r) = self.snapshots.store().remove(index) {
                    tracing::warn!(index, "removing the snapshot that failed to install: {r}");
                }
            }
            return Err(e);
        }
        // Proposals of ours that the snapshot covers were applied elsewhere;
        // their outcome is unknown here.
        self.pending.abandon_all();
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        self.changes_since = meta.last_log_id.map(|id| id.index);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, SnapshotData>>, io::Error> {
        // No file is read here: the state is loaded only if it is sent.
        Ok(self
            .snapshots
            .current()
            .map(|(meta, snapshot)| SnapshotOf::<TypeConfig, _> { meta, snapshot }))
    }
}
