//! Proposing a [`Txn`]: the replicated counterpart of the server's in-memory
//! `LogHandle`, with the same shape (`submit` returns once the proposal has
//! its place in the order; the receiver yields the `Applied` outcome), and the
//! one place the server reaches the leader's session tracker from.
//!
//! On the leader a proposal goes straight to raft; on a follower it goes to
//! the leader through the [leader link](crate::leader_link). Either way the
//! leader admits it through [`LeaderSessions::admit`](crate::hooks::LeaderSessions),
//! stamps the time and queues it for raft ([`Proposer::enter_log`]), and the
//! proposing server's own apply answers the client.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use openraft::alias::{WatchReceiverOf, WriteResponderOf};
use openraft::async_runtime::WatchReceiver;
use openraft::metrics::RaftServerMetrics;
use openraft::raft::ClientWriteResult;
use openraft::vote::RaftLeaderId;
use rzk_state::{Applied, Txn};
use tokio::sync::oneshot;

use crate::forward_order::ForwardOrder;
use crate::hooks::{LeaderReconfig, LeaderSessions, SessionsSlot};
use crate::intake::{BatchSink, Intake};
use crate::leader_link::LinkHandle;
use crate::network::wire::PeerResponse;
use crate::pending::{CallbackResponder, Pending};
use crate::types::{ForwardedTxn, NodeId, Origin, Raft, Request, TypeConfig};

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
    /// No leader to take the proposal: `leader` is the one this server knows
    /// of, if any (none during an election; or one whose address is not in
    /// the membership).
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

/// Who leads, as raft last reported it (a local, possibly stale view: raft,
/// or the leader for a forwarded proposal, has the final word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leadership {
    /// This server.
    Me,
    /// Another server; `addressed` when the membership holds its address, so
    /// the leader link can reach it.
    Other { id: NodeId, addressed: bool },
    /// None yet (an election is under way).
    Unknown,
}

/// Where a request goes that the leader must serve: see [`Proposer::route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// This server leads: serve it here.
    Here,
    /// To the leader, over the leader link.
    Link,
}

impl Leadership {
    /// The refusal of a proposal this server cannot take: the leader it
    /// knows of, if any. (`Me` never needs one; it maps to no leader.)
    fn not_leader(self) -> ProposeError {
        match self {
            Leadership::Other { id, .. } => ProposeError::NotLeader { leader: Some(id) },
            Leadership::Me | Leadership::Unknown => ProposeError::NotLeader { leader: None },
        }
    }
}

/// A proposal on its way into raft's log: the entry and, for a local one,
/// what releases the waiting client if raft refuses it.
type Proposal = (Request, Option<WriteResponderOf<TypeConfig>>);

/// Hands the intake's batches to raft, which merges consecutive client
/// writes into one append.
struct RaftSink(Raft);

impl BatchSink<Proposal> for RaftSink {
    async fn deliver(&mut self, batch: &mut Vec<Proposal>) {
        for (request, responder) in batch.drain(..) {
            if self.0.client_write_ff(request, responder).await.is_err() {
                // Raft has stopped: the rest of the batch is dropped with
                // its responders, which releases the waiting clients.
                break;
            }
        }
    }
}

/// The proposing side of the replicated log; cheap to clone.
#[derive(Clone)]
pub struct Proposer {
    node_id: NodeId,
    raft: Raft,
    /// The leader's way into raft's log (see [`crate::intake`]).
    intake: Intake<Proposal>,
    /// Raft's vote and membership, read by [`Proposer::leadership`] on every
    /// proposal. This channel changes only with them, unlike the full
    /// metrics `Raft::as_leader` reads (sent on every apply), and reading it
    /// clones nothing.
    roles: WatchReceiverOf<TypeConfig, RaftServerMetrics<TypeConfig>>,
    pending: Arc<Pending>,
    clock: WallClock,
    /// The last time stamped, so stamps never go backwards on this leader even
    /// if the wall clock does.
    last_stamp_ms: Arc<AtomicI64>,
    sessions: Arc<SessionsSlot>,
    /// The server's reconfig handling, used while this server leads.
    reconfig: Arc<std::sync::OnceLock<Arc<dyn LeaderReconfig>>>,
    link: LinkHandle,
    /// Leader side: the newest Forward batch taken from each follower.
    forward_order: Arc<ForwardOrder>,
    /// Follower side: when the leader was last heard from (the peer
    /// listener records it; the status reads it).
    pub(crate) leader_contact: Arc<crate::status::LeaderContact>,
}

impl std::fmt::Debug for Proposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposer")
            .field("node_id", &self.node_id)
            .field("pending", &self.pending)
            .finish()
    }
}

impl Proposer {
    pub(crate) fn new(
        node_id: NodeId,
        raft: Raft,
        pending: Arc<Pending>,
        clock: WallClock,
        link: LinkHandle,
    ) -> Self {
        let (intake, _feeder) = Intake::spawn(RaftSink(raft.clone()));
        Proposer {
            node_id,
            roles: raft.server_metrics(),
            raft,
            intake,
            pending,
            clock,
            last_stamp_ms: Arc::new(AtomicI64::new(i64::MIN)),
            sessions: Arc::new(SessionsSlot::default()),
            reconfig: Arc::new(std::sync::OnceLock::new()),
            link,
            forward_order: Arc::new(ForwardOrder::default()),
            leader_contact: Arc::new(crate::status::LeaderContact::default()),
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
    /// On the leader the proposal goes to raft; on a follower it is forwarded
    /// to the leader. Proposals submitted one after the other by one task are
    /// applied in that order either way (they enter raft's queue, or the
    /// leader link's, in submission order). If the receiver closes instead of
    /// yielding the outcome, the proposal failed before committing *as far as
    /// this server knows* (leadership moved, the link to the leader failed,
    /// raft stopped): the entry may still commit, so the client must be told
    /// "connection loss", not "not applied".
    ///
    /// `NotLeader` at once when no leader is known (an election is under way).
    pub async fn submit(&self, txn: Txn) -> Result<oneshot::Receiver<Applied>, ProposeError> {
        // A local, possibly stale view: raft (or the leader, for a forwarded
        // proposal) has the final word.
        match self.route()? {
            Route::Here => self.submit_local(txn).await,
            Route::Link => self.submit_forwarded(txn).await,
        }
    }

    async fn submit_local(&self, txn: Txn) -> Result<oneshot::Receiver<Applied>, ProposeError> {
        let (origin, outcome) = self.pending.register().await;
        let seq = origin.seq;
        let pending = self.pending.clone();
        let responder =
            CallbackResponder::new(move |result: Option<ClientWriteResult<TypeConfig>>| {
                // Success is answered during apply; anything else releases the
                // waiting client now.
                if !matches!(result, Some(Ok(_))) {
                    pending.abandon(seq);
                }
            });
        if let Err(e) = self
            .enter_log(self.node_id, Some(origin), txn, Some(responder))
            .await
        {
            self.pending.abandon(seq);
            return Err(e);
        }
        Ok(outcome)
    }

    async fn submit_forwarded(&self, txn: Txn) -> Result<oneshot::Receiver<Applied>, ProposeError> {
        let (origin, outcome) = self.pending.register_forwarded().await;
        if let Err(e) = self.link.forward(ForwardedTxn { origin, txn }).await {
            self.pending.abandon(origin.seq);
            return Err(e);
        }
        Ok(outcome)
    }

    /// Leader side, for every proposal, local (`from` = this server) or
    /// forwarded: lets the session tracker admit it, stamps the time and
    /// queues it for raft. Returns once it is queued, in call order.
    pub(crate) async fn enter_log(
        &self,
        from: NodeId,
        origin: Option<Origin>,
        txn: Txn,
        responder: Option<WriteResponderOf<TypeConfig>>,
    ) -> Result<(), ProposeError> {
        self.ensure_leader()?;
        let mut txn = self.sessions.admit(from, txn);
        if is_reconfig(&txn) {
            if let Some(reconfig) = self.reconfig.get() {
                txn = reconfig.reconfigure(from, txn).await;
                // The change took a while: leadership may have moved.
                self.ensure_leader()?;
            }
        }
        let request = Request {
            time_ms: self.stamp(),
            origin,
            txn: Box::new(txn),
        };
        // A refused proposal is dropped here with its responder, which
        // releases the waiting client.
        self.intake
            .push((request, responder))
            .map_err(|_| ProposeError::Stopped)
    }

    /// Leader side of a follower's `Forward`: appends `requests` in order, one
    /// at a time, unless a newer batch from the same follower run was taken
    /// already (then this one is stale and refused whole).
    pub(crate) async fn accept_forwarded(
        &self,
        from: NodeId,
        incarnation: u64,
        batch: u64,
        requests: Vec<ForwardedTxn>,
    ) -> PeerResponse {
        let mut order = self.forward_order.lock().await;
        if let Err(why) = order.admit(from, incarnation, batch) {
            return PeerResponse::Failed(why);
        }
        // Bounded by FORWARD_BATCH_PROPOSALS_MAX (checked by the listener).
        for ForwardedTxn { origin, txn } in requests {
            match self.enter_log(from, Some(origin), txn, None).await {
                Ok(()) => {}
                Err(ProposeError::NotLeader { leader }) => {
                    return PeerResponse::NotLeader { leader }
                }
                Err(e) => return PeerResponse::Failed(e.to_string()),
            }
        }
        drop(order);
        PeerResponse::Forwarded
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

    /// Attaches the server's reconfig handling (see [`LeaderReconfig`]);
    /// only the first call counts. Without it (a standalone server) reconfig
    /// requests are logged as they are and the state machine answers them.
    pub fn set_leader_reconfig(&self, reconfig: Arc<dyn LeaderReconfig>) -> bool {
        self.reconfig.set(reconfig).is_ok()
    }

    /// The same answer as `Raft::as_leader`: the leader is the one a
    /// committed vote names.
    fn leadership(&self) -> Leadership {
        let roles = self.roles.borrow_watched();
        if !roles.vote.is_committed() {
            return Leadership::Unknown;
        }
        let id = *roles.vote.leader_id().node_id();
        if id == self.node_id {
            return Leadership::Me;
        }
        let addressed = roles.membership_config.membership().get_node(&id).is_some();
        Leadership::Other { id, addressed }
    }

    /// Where a request the leader must serve goes from this server: here,
    /// over the leader link (a leader whose address the membership holds),
    /// or nowhere, refused with the leader this server knows of.
    fn route(&self) -> Result<Route, ProposeError> {
        match self.leadership() {
            Leadership::Me => Ok(Route::Here),
            Leadership::Other {
                addressed: true, ..
            } => Ok(Route::Link),
            other => Err(other.not_leader()),
        }
    }

    /// `Err` unless this server leads, with the leader to name in the refusal.
    fn ensure_leader(&self) -> Result<(), ProposeError> {
        match self.leadership() {
            Leadership::Me => Ok(()),
            other => Err(other.not_leader()),
        }
    }

    /// Attaches the server's session tracker (see [`LeaderSessions`]); only
    /// the first call counts. Returns whether this one did.
    pub fn set_leader_sessions(&self, sessions: Arc<dyn LeaderSessions>) -> bool {
        self.sessions.set(sessions)
    }

    /// Reports that `sessions`, connected to this server, showed activity
    /// since the last report (the server calls it about every tickTime/2).
    /// Fire and forget: on the leader it reaches the session tracker at once,
    /// on a follower it goes to the leader over the leader link; with no
    /// leader known it is dropped (a new leader restarts every deadline).
    pub fn report_activity(&self, sessions: Vec<i64>) {
        if sessions.is_empty() {
            return;
        }
        match self.leadership() {
            Leadership::Me => self.sessions.touched(self.node_id, &sessions),
            Leadership::Other { .. } => self.link.touched(sessions),
            Leadership::Unknown => {}
        }
    }

    /// A client reconnected to this server with `session_id` and negotiated
    /// `timeout_ms`: asks the leader's session tracker to make this server
    /// the owner and restart the deadline. `Ok(false)`: the session is
    /// unknown or expiring. On a follower this is a round trip to the
    /// leader, in order with this server's forwarded proposals.
    pub async fn revalidate(&self, session_id: i64, timeout_ms: i32) -> Result<bool, ProposeError> {
        match self.route()? {
            Route::Here => Ok(self
                .sessions
                .revalidate(self.node_id, session_id, timeout_ms)),
            Route::Link => self.link.revalidate(session_id, timeout_ms).await,
        }
    }

    /// ZooKeeper's `sync`: returns once this server has applied everything
    /// the leader had committed when the sync reached it. The leader
    /// confirms its leadership with a quorum round first (raft's ReadIndex),
    /// so a deposed leader cannot answer from a stale commit point. On a
    /// follower the request travels over the leader link, in order with this
    /// server's forwarded proposals.
    pub async fn sync(&self, timeout: std::time::Duration) -> Result<(), ProposeError> {
        let index = match self.route()? {
            Route::Here => self.leader_read_index().await?,
            Route::Link => self.link.read_index().await?,
        };
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "sync")
            .await
            .map(|_| ())
            .map_err(|_| ProposeError::Lost)
    }

    async fn leader_read_index(&self) -> Result<u64, ProposeError> {
        match self
            .raft
            .ensure_linearizable(openraft::ReadPolicy::ReadIndex)
            .await
        {
            Ok(read) => Ok(read.index()),
            Err(e) => match e.forward_to_leader() {
                Some(forward) => Err(ProposeError::NotLeader {
                    leader: forward.leader_id,
                }),
                None => Err(ProposeError::Stopped),
            },
        }
    }

    /// Leader side of a follower's `ReadIndex`.
    pub(crate) async fn accept_read_index(&self) -> PeerResponse {
        match self.leader_read_index().await {
            Ok(index) => PeerResponse::ReadIndex(index),
            Err(e) => refusal(e),
        }
    }

    /// Leader side of a follower's `SessionActivity`.
    pub(crate) fn accept_activity(&self, from: NodeId, sessions: &[i64]) -> PeerResponse {
        match self.ensure_leader() {
            Ok(()) => {
                self.sessions.touched(from, sessions);
                PeerResponse::ActivityNoted
            }
            Err(e) => refusal(e),
        }
    }

    /// Leader side of a follower's `Revalidate`.
    pub(crate) fn accept_revalidate(
        &self,
        from: NodeId,
        session_id: i64,
        timeout_ms: i32,
    ) -> PeerResponse {
        match self.ensure_leader() {
            Ok(()) => {
                PeerResponse::Revalidated(self.sessions.revalidate(from, session_id, timeout_ms))
            }
            Err(e) => refusal(e),
        }
    }
}

/// What a follower's request gets when the leader side cannot serve it.
fn refusal(e: ProposeError) -> PeerResponse {
    match e {
        ProposeError::NotLeader { leader } => PeerResponse::NotLeader { leader },
        e => PeerResponse::Failed(e.to_string()),
    }
}

/// Whether `txn` is a client's reconfig, which the leader carries out
/// before logging it.
fn is_reconfig(txn: &Txn) -> bool {
    matches!(
        txn,
        Txn::Write {
            op: rzk_state::WriteOp::Reconfig(_),
            ..
        }
    )
}
