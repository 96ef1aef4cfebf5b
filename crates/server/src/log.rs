//! The ordered log: the only way the data tree changes.
//!
//! Connections, the session tracker and the container checker *propose* a
//! [`Txn`]; a single sequencer task orders the proposals, stamps each with the
//! next zxid and the wall-clock time, applies it to the tree, hands the watch
//! triggers to the registry (which pushes events into connections' queues on
//! the spot), closes the connections of sessions the entry ended, and answers
//! the proposer through a oneshot.
//!
//! For now the log is local and in memory. The interface is [`LogHandle`]:
//! `submit` returns as soon as the proposal has its place in the order (so one
//! connection can pipeline many writes and they apply in submission order), and
//! the receiver it returns yields the [`Applied`] outcome. Replication (openraft)
//! replaces what is behind this handle, not its callers.

use crate::control::CloseReason;
use crate::limits::{LOG_BATCH_PROPOSALS_MAX, LOG_QUEUE_PROPOSALS_MAX};
use crate::shared::Shared;
use rzk_state::{Applied, Entry, Txn};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The log is gone (server shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogClosed;

impl std::fmt::Display for LogClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the log is closed")
    }
}

impl std::error::Error for LogClosed {}

/// One proposal and where its outcome goes.
#[derive(Debug)]
pub struct Proposal {
    txn: Txn,
    done: oneshot::Sender<Applied>,
}

/// The proposing side of the log; cheap to clone.
#[derive(Debug, Clone)]
pub struct LogHandle {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    /// The in-memory sequencer ([`run_sequencer`]).
    Local(mpsc::Sender<Proposal>),
    /// openraft through `rzk-replica` (`replication=raft`).
    Replicated(rzk_replica::Proposer),
}

/// The ordering side, consumed by [`run_sequencer`].
#[derive(Debug)]
pub struct LogReceiver {
    rx: mpsc::Receiver<Proposal>,
}

/// A new log: the handle to propose with and the receiver its sequencer runs on.
pub fn channel() -> (LogHandle, LogReceiver) {
    let (tx, rx) = mpsc::channel(LOG_QUEUE_PROPOSALS_MAX);
    (
        LogHandle {
            inner: Inner::Local(tx),
        },
        LogReceiver { rx },
    )
}

impl LogHandle {
    /// Places `txn` in the order (waiting only while the queue is full) and
    /// returns where its outcome will arrive. Proposals submitted one after the
    /// other by one task are applied in that order.
    ///
    /// Replicated: a server that is not the leader refuses (`LogClosed`, so
    /// the client reconnects elsewhere) until forwarding to the leader exists;
    /// a receiver that closes means the outcome is unknown (leader change).
    pub async fn submit(&self, txn: Txn) -> Result<oneshot::Receiver<Applied>, LogClosed> {
        match &self.inner {
            Inner::Local(tx) => {
                let (done, rx) = oneshot::channel();
                tx.send(Proposal { txn, done })
                    .await
                    .map_err(|_| LogClosed)?;
                Ok(rx)
            }
            Inner::Replicated(proposer) => proposer.submit(txn).await.map_err(|e| {
                tracing::debug!("proposal refused: {e}");
                LogClosed
            }),
        }
    }

    /// A handle that proposes through raft.
    pub fn replicated(proposer: rzk_replica::Proposer) -> Self {
        LogHandle {
            inner: Inner::Replicated(proposer),
        }
    }

    /// Submits and waits for the outcome.
    pub async fn propose(&self, txn: Txn) -> Result<Applied, LogClosed> {
        self.submit(txn).await?.await.map_err(|_| LogClosed)
    }
}

/// What the sequencer must do after releasing the core lock.
struct AfterApply {
    done: Vec<(oneshot::Sender<Applied>, Applied)>,
    /// Sessions the batch started and ended.
    sessions: SessionEvents,
}

/// Orders and applies proposals until every handle is gone. Drains up to
/// [`LOG_BATCH_PROPOSALS_MAX`] proposals per wakeup and applies them under one
/// acquisition of the core lock.
pub async fn run_sequencer(mut log: LogReceiver, shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(LOG_BATCH_PROPOSALS_MAX);
    let mut last_zxid = shared.core().tree.last_zxid();
    // Runs for the server's lifetime: ends when the channel closes or the task
    // is aborted at shutdown.
    while log.rx.recv_many(&mut batch, LOG_BATCH_PROPOSALS_MAX).await > 0 {
        let time_ms = shared.clock.wall_ms();
        let after = apply_batch(&shared, &mut batch, &mut last_zxid, time_ms);
        settle_sessions(&shared, after.sessions);
        for (done, applied) in after.done {
            // The proposer may have gone (connection closed): nothing to do.
            let _ = done.send(applied);
        }
    }
}

fn apply_batch(
    shared: &Shared,
    batch: &mut Vec<Proposal>,
    last_zxid: &mut i64,
    time_ms: i64,
) -> AfterApply {
    let mut after = AfterApply {
        done: Vec::with_capacity(batch.len()),
        sessions: SessionEvents::default(),
    };
    let mut core = shared.core();
    for proposal in batch.drain(..) {
        *last_zxid += 1;
        let entry = Entry {
            zxid: *last_zxid,
            time_ms,
            txn: proposal.txn,
        };
        let applied = apply_entry(&mut core, &entry, &mut after.sessions);
        debug_assert_eq!(applied.zxid, entry.zxid);
        after.done.push((proposal.done, applied));
    }
    after
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
    for (session_id, expired) in ended {
        if expired {
            shared
                .conns()
                .close_session(session_id, CloseReason::SessionExpired);
        }
    }
}
