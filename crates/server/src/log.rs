//! The ordered log: the only way the data tree changes.
//!
//! Connections, the session tracker and the container checker *propose* a
//! [`Txn`] through a [`LogHandle`]; the replica (openraft, `rzk-replica`)
//! orders it in the replicated log, makes it durable on a quorum, and applies
//! committed entries on every server through [`apply_entry`] (called by the
//! replica's apply hook, `crate::replicated`): the tree changes, watch
//! triggers go to the registry (which pushes events into connections' queues
//! on the spot), the sessions an entry ended are dropped, and the proposer's
//! receiver yields the [`Applied`] outcome. A standalone server is an
//! ensemble of one: the same path.
//!
//! `submit` returns as soon as the proposal has its place in the order, so one
//! connection can pipeline many writes and they apply in submission order.

use crate::control::CloseReason;
use crate::shared::Shared;
use rzk_state::{Applied, Entry, Txn};
use tokio::sync::oneshot;

/// The log is gone (server shutting down), or this server cannot reach a
/// leader: the caller closes the client's connection ("connection loss").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogClosed;

impl std::fmt::Display for LogClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the log is closed")
    }
}

impl std::error::Error for LogClosed {}

/// The proposing side of the log; cheap to clone.
#[derive(Debug, Clone)]
pub struct LogHandle {
    proposer: rzk_replica::Proposer,
}

impl LogHandle {
    /// A handle that proposes through the replica.
    pub fn replicated(proposer: rzk_replica::Proposer) -> Self {
        LogHandle { proposer }
    }

    /// Places `txn` in the order and returns where its outcome will arrive.
    /// Proposals submitted one after the other by one task are applied in
    /// that order. A receiver that closes means the outcome is unknown
    /// (leader change): the client must see "connection loss".
    pub async fn submit(&self, txn: Txn) -> Result<oneshot::Receiver<Applied>, LogClosed> {
        self.proposer.submit(txn).await.map_err(|e| {
            tracing::debug!("proposal refused: {e}");
            LogClosed
        })
    }

    /// Reports sessions that showed activity here to the leader's tracker
    /// (fire and forget; see `session::run_activity_reports`).
    pub fn report_activity(&self, sessions: Vec<i64>) {
        self.proposer.report_activity(sessions);
    }

    /// A client resumed `session_id` on this server: the leader makes this
    /// server its owner and restarts its deadline. `Ok(false)`: the session
    /// is unknown or expiring there.
    pub async fn revalidate(&self, session_id: i64, timeout_ms: i32) -> Result<bool, LogClosed> {
        self.proposer
            .revalidate(session_id, timeout_ms)
            .await
            .map_err(|e| {
                tracing::debug!("revalidation of 0x{session_id:x} failed: {e}");
                LogClosed
            })
    }

    /// Submits and waits for the outcome.
    pub async fn propose(&self, txn: Txn) -> Result<Applied, LogClosed> {
        self.submit(txn).await?.await.map_err(|_| LogClosed)
    }
}

/// How long a `sync` may wait for this server to catch up before the
/// client's connection is closed (it then reconnects, as after any loss).
pub const SYNC_TIMEOUT_MS: u64 = 30_000;

/// Starts a `sync` and returns where its answer arrives, shaped like a
/// write's outcome so the session's FIFO order holds: the answer comes once
/// this server has applied everything the leader had committed when the
/// sync reached it. A closed receiver means the sync failed (no leader):
/// the connection closes, as a ZooKeeper follower drops clients when it
/// loses its leader.
pub fn sync(shared: &std::sync::Arc<Shared>, path: String) -> oneshot::Receiver<Applied> {
    use std::sync::atomic::Ordering::Relaxed;
    let (tx, rx) = oneshot::channel();
    let shared = shared.clone();
    shared.stats.pending_syncs.fetch_add(1, Relaxed);
    tokio::spawn(async move {
        let synced = shared
            .log
            .proposer
            .sync(std::time::Duration::from_millis(SYNC_TIMEOUT_MS))
            .await;
        shared.stats.pending_syncs.fetch_sub(1, Relaxed);
        match synced {
            Ok(()) => {
                let zxid = shared.core().tree.last_zxid();
                let _ = tx.send(Applied {
                    zxid,
                    reply: rzk_state::Reply::ok(rzk_proto::Response::Sync { path }),
                    triggers: Vec::new(),
                    ended_session: None,
                    warnings: Vec::new(),
                });
            }
            Err(e) => tracing::info!("sync failed: {e}"),
        }
    });
    rx
}

/// Applies one entry under the core lock, whichever log ordered it: the tree
/// changes, watch events go into the connections' queues on the spot (before
/// any reply that could reflect this entry), warnings are logged, and a
/// session the entry started or ended is recorded in `sessions`.
/// The returned outcome has its triggers already delivered.
pub(crate) fn apply_entry(
    core: &mut crate::shared::Core,
    entry: &Entry,
    sessions: &mut SessionEvents,
) -> Applied {
    let mut applied = core.tree.apply(entry);
    core.watches.deliver(&applied.triggers);
    applied.triggers.clear();
    for warning in applied.warnings.drain(..) {
        tracing::warn!("{warning}");
    }
    if let Some(session_id) = applied.ended_session {
        let expired = matches!(entry.txn, Txn::ExpireSession { .. });
        sessions.ended.push((session_id, expired));
    }
    if let Txn::CreateSession {
        session_id,
        timeout_ms,
        ..
    } = &entry.txn
    {
        if applied.reply.err == rzk_proto::ErrorCode::Ok {
            sessions
                .started
                .push((*session_id, u64::try_from(*timeout_ms).unwrap_or(0)));
        }
    }
    applied
}

/// Sessions an applied batch started and ended.
#[derive(Debug, Default)]
pub(crate) struct SessionEvents {
    /// Created sessions and their timeouts.
    started: Vec<(i64, u64)>,
    /// Ended sessions, and whether by expiry.
    ended: Vec<(i64, bool)>,
}

/// After the core lock is released: tracks the sessions a batch created
/// (every server tracks every session, so whichever becomes leader can
/// expire it; the server that accepted it tracks it already), forgets the
/// sessions it ended and cuts the connections of the expired ones. A
/// closeSession's own connection closes itself once its reply is out.
pub(crate) fn settle_sessions(shared: &Shared, events: SessionEvents) {
    let SessionEvents { started, ended } = events;
    if started.is_empty() && ended.is_empty() {
        return;
    }
    {
        let now_ms = shared.clock.now_ms();
        let mut sessions = shared.sessions();
        for (session_id, timeout_ms) in started {
            sessions.track_if_absent(session_id, timeout_ms, now_ms);
        }
        for (session_id, _) in &ended {
            sessions.remove(*session_id);
        }
    }
    if !ended.is_empty() {
        let mut conns = shared.conns();
        for (session_id, _) in &ended {
            conns.forget_session(*session_id);
        }
    }
    for (session_id, expired) in ended {
        if expired {
            shared
                .conns()
                .close_session(session_id, CloseReason::SessionExpired);
        }
    }
}
