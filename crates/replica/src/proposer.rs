//! Proposing a [`Txn`]: the replicated counterpart of the server's in-memory
//! `LogHandle`, with the same shape (`submit` returns once the proposal has
//! its place in the order; the receiver yields the `Applied` outcome).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use openraft::raft::ClientWriteResult;
use rzk_state::{Applied, Txn};
use tokio::sync::oneshot;

use crate::pending::{CallbackResponder, Pending};
use crate::types::{NodeId, Raft, Request, TypeConfig};

/// Wall-clock milliseconds since the Unix epoch.
pub type WallClock = fn() -> i64;

/// The system clock, in milliseconds since the Unix epoch.
pub fn system_wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Why a proposal was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposeError {
    /// This server is not the leader; `leader` is the one it knows of, if any.
    /// (Forwarding to the leader is the caller's business for now.)
    NotLeader { leader: Option<NodeId> },
    /// Raft has stopped (shutdown or a fatal storage error).
    Stopped,
    /// The proposal was accepted but this server lost track of it before it
    /// was applied here (leadership moved): it may or may not commit.
    Lost,
}

impl std::fmt::Display for ProposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProposeError::NotLeader { leader: Some(id) } => {
                write!(f, "not the leader (server {id} is)")
            }
            ProposeError::NotLeader { leader: None } => f.write_str("not the leader (none known)"),
            ProposeError::Stopped => f.write_str("replication has stopped"),
            ProposeError::Lost => f.write_str("the proposal's outcome is unknown (leader changed)"),
        }
    }
}

impl std::error::Error for ProposeError {}

/// The proposing side of the replicated log; cheap to clone.
#[derive(Clone)]
pub struct Proposer {
    raft: Raft,
    pending: Arc<Pending>,
    clock: WallClock,
    /// The last time stamped, so stamps never go backwards on this leader even
    /// if the wall clock does.
    last_stamp_ms: Arc<AtomicI64>,
}

impl std::fmt::Debug for Proposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposer")
            .field("pending", &self.pending)
            .finish()
    }
}

impl Proposer {
    pub(crate) fn new(raft: Raft, pending: Arc<Pending>, clock: WallClock) -> Self {
        Proposer {
            raft,
            pending,
            clock,
            last_stamp_ms: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// The time to put in an entry proposed now: the wall clock, but never
    /// earlier than a stamp this server already handed out.
    fn stamp(&self) -> i64 {
        let now = (self.clock)();
        let previous = self.last_stamp_ms.fetch_max(now, Ordering::Relaxed);
        now.max(previous)
    }

    /// Places `txn` in the log's order and returns where its outcome arrives.
    ///
    /// Proposals submitted one after the other by one task are applied in
    /// that order (they enter raft's queue in submission order). The leader
    /// stamps the time here. If the receiver closes instead of yielding the
    /// outcome, the proposal failed before committing *as far as this server
    /// knows* (leadership moved, raft stopped): the entry may still commit
    /// through another leader, so the client must be told "connection loss",
    /// not "not applied".
    pub async fn submit(&self, txn: Txn) -> Result<oneshot::Receiver<Applied>, ProposeError> {
        // A local, possibly stale view: it saves a round trip through raft in
        // the common case; raft itself has the final word (via the responder).
        if let Err(forward) = self.raft.as_leader() {
            return Err(ProposeError::NotLeader {
                leader: forward.leader_id,
            });
        }
        let (origin, outcome) = self.pending.register().await;
        let seq = origin.seq;
        let request = Request {
            time_ms: self.stamp(),
            origin: Some(origin),
            txn,
        };
        let pending = self.pending.clone();
        let responder =
            CallbackResponder::new(move |result: Option<ClientWriteResult<TypeConfig>>| {
                // Success is answered during apply; anything else releases the
                // waiting client now.
                if !matches!(result, Some(Ok(_))) {
                    pending.abandon(seq);
                }
            });
        if self
            .raft
            .client_write_ff(request, Some(responder))
            .await
            .is_err()
        {
            self.pending.abandon(seq);
            return Err(ProposeError::Stopped);
        }
        Ok(outcome)
    }

    /// Submits and waits for the outcome.
    pub async fn propose(&self, txn: Txn) -> Result<Applied, ProposeError> {
        self.submit(txn)
            .await?
            .await
            .map_err(|_| ProposeError::Lost)
    }

    /// Proposals in flight on this server.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}
