//! A follower's link to the leader: forwarded proposals, session activity and
//! revalidations travel over one peer connection to whoever leads.
//!
//! In ZooKeeper any server accepts writes; a follower forwards each to the
//! leader, which orders it, and answers its client when the committed entry is
//! applied locally. Here the follower registers the proposal in
//! [`Pending`](crate::pending::Pending) (its `Origin` names this server, so
//! this server's apply answers the client, exactly as for a leader's own
//! proposal) and queues it for this link: one task, one connection, requests in
//! lockstep. Everything queued while a `Forward` is in flight goes in the next
//! one, in queue order, so proposals one task submits one after another are
//! logged in that order.
//!
//! Failure rule (ZooKeeper's: a follower that loses its leader drops its
//! clients, whose writes then have unknown outcome): when the connection
//! fails, the leader answers NotLeader, the leader changes (term or leader id
//! in raft's view), or forwarded proposals wait while nothing at all is
//! applied here for [`LinkTiming::stall`], every forwarded proposal still
//! waiting is abandoned: its receiver closes and the server drops that client
//! ("connection loss"). The stall rule is what bounds the wait when the leader
//! is cut off without the connection breaking (openraft's pre-vote keeps a
//! partitioned follower's view of the leader unchanged).

use std::collections::HashSet;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openraft::alias::WatchReceiverOf;
use openraft::async_runtime::WatchReceiver;
use openraft::metrics::RaftServerMetrics;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::{Instant, MissedTickBehavior};

use crate::network::client::Conn;
use crate::network::wire::{
    PeerRequest, PeerResponse, ACTIVITY_SESSIONS_MAX, FORWARD_BATCH_PROPOSALS_MAX,
};
use crate::pending::Pending;
use crate::proposer::ProposeError;
use crate::types::{ForwardedTxn, LogId, NodeId, Raft, TypeConfig};

/// Requests (proposals and revalidations) queued for the leader link. Beyond
/// it the submitting task waits: backpressure, as [`crate::pending`] gives.
pub const FORWARD_QUEUE_PROPOSALS_MAX: usize = 4096;
/// Distinct sessions whose activity may wait for the link at once; more are
/// dropped with a warning (the leader then sees them at the next report).
pub const ACTIVITY_WAITING_SESSIONS_MAX: usize = 1 << 20;

/// A call to the leader slower than this is logged.
const SLOW_CALL: Duration = Duration::from_secs(1);

/// What a request to the leader is, for log lines.
fn request_kind(request: &PeerRequest) -> &'static str {
    match request {
        PeerRequest::Forward { .. } => "Forward",
        PeerRequest::SessionActivity { .. } => "SessionActivity",
        PeerRequest::Revalidate { .. } => "Revalidate",
        PeerRequest::ReadIndex { .. } => "ReadIndex",
        _ => "request",
    }
}

/// One leader's reign as this server sees it: a term and its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Era {
    pub(crate) term: u64,
    pub(crate) leader: NodeId,
}

/// The leader this server knows of, with the address to reach it, or `None`
/// if it knows none.
pub(crate) fn era_of(m: &RaftServerMetrics<TypeConfig>) -> Option<(Era, Option<String>)> {
    if !m.vote.is_committed() {
        return None;
    }
    let lid = m.vote.leader_id();
    let era = Era {
        term: lid.term,
        leader: lid.voted_for,
    };
    let addr = m
        .membership_config
        .get_node(&era.leader)
        .map(|n| n.addr.clone());
    Some((era, addr))
}

/// What waits in the link's queue, in submission order.
pub(crate) enum LinkItem {
    Propose(ForwardedTxn),
    Revalidate {
        session_id: i64,
        timeout_ms: i32,
        reply: oneshot::Sender<Result<bool, ProposeError>>,
    },
    ReadIndex {
        reply: oneshot::Sender<Result<u64, ProposeError>>,
    },
}

/// Session activity waiting to be reported; a set, so a session touched many
/// times between two reports is sent once.
#[derive(Default)]
struct ActivityBuffer {
    sessions: Mutex<HashSet<i64>>,
    notify: Notify,
}

impl ActivityBuffer {
    fn sessions(&self) -> MutexGuard<'_, HashSet<i64>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The submitting side of the link; cheap to clone (it lives in the Proposer).
#[derive(Clone)]
pub(crate) struct LinkHandle {
    queue: mpsc::Sender<LinkItem>,
    activity: Arc<ActivityBuffer>,
}

/// The link task's side, handed to [`run`].
pub(crate) struct LinkInbox {
    queue: mpsc::Receiver<LinkItem>,
    activity: Arc<ActivityBuffer>,
}

/// A connected pair: the handle for proposers, the inbox for the task.
pub(crate) fn channel() -> (LinkHandle, LinkInbox) {
    let (tx, rx) = mpsc::channel(FORWARD_QUEUE_PROPOSALS_MAX);
    let activity = Arc::new(ActivityBuffer::default());
    (
        LinkHandle {
            queue: tx,
            activity: activity.clone(),
        },
        LinkInbox {
            queue: rx,
            activity,
        },
    )
}

impl LinkHandle {
    /// Queues a proposal for the leader (waiting while the queue is full).
    /// Err: the link has stopped.
    pub(crate) async fn forward(&self, proposal: ForwardedTxn) -> Result<(), ProposeError> {
        self.queue
            .send(LinkItem::Propose(proposal))
            .await
            .map_err(|_| ProposeError::Stopped)
    }

    /// Asks the leader's session tracker to revalidate `session_id` for this
    /// server, in order with the proposals queued before it.
    pub(crate) async fn revalidate(
        &self,
        session_id: i64,
        timeout_ms: i32,
    ) -> Result<bool, ProposeError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(LinkItem::Revalidate {
                session_id,
                timeout_ms,
                reply,
            })
            .await
            .map_err(|_| ProposeError::Stopped)?;
        // A dropped reply means the link stopped before asking.
        answer.await.unwrap_or(Err(ProposeError::Stopped))
    }

    /// Asks the leader for the index a `sync` must see applied, in order
    /// with the proposals queued before it.
    pub(crate) async fn read_index(&self) -> Result<u64, ProposeError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(LinkItem::ReadIndex { reply })
            .await
            .map_err(|_| ProposeError::Stopped)?;
        answer.await.unwrap_or(Err(ProposeError::Stopped))
    }

    /// Notes activity of `sessions` for the next report to the leader.
    pub(crate) fn touched(&self, sessions: Vec<i64>) {
        {
            let mut waiting = self.activity.sessions();
            for id in sessions {
                if waiting.len() >= ACTIVITY_WAITING_SESSIONS_MAX {
                    tracing::warn!(
                        "over {ACTIVITY_WAITING_SESSIONS_MAX} sessions' activity waits for the leader; dropping some"
                    );
                    break;
                }
                waiting.insert(id);
            }
        }
        self.activity.notify.notify_one();
    }
}

/// The link's time limits, from zoo.cfg timing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkTiming {
    /// Longest wait for one response from the leader (connect included).
    pub(crate) rpc: Duration,
    /// Forwarded proposals waiting while nothing is applied here for this
    /// long are abandoned.
    pub(crate) stall: Duration,
    /// How often the stall rule is checked.
    pub(crate) check: Duration,
}

impl LinkTiming {
    /// `rpc` = the election timeout's upper end ((syncLimit + 1) ticks): a
    /// leader that cannot answer within it is about to be replaced anyway.
    /// `stall` = twice that, the time for a new leader to be elected and seen.
    pub(crate) fn from_ticks(tick_ms: u32, sync_limit_ticks: u32) -> Self {
        let silence_ms = u64::from(tick_ms) * (u64::from(sync_limit_ticks) + 1);
        LinkTiming {
            rpc: Duration::from_millis(silence_ms),
            stall: Duration::from_millis(2 * silence_ms),
            check: Duration::from_millis(u64::from(tick_ms / 2).max(1)),
        }
    }
}

/// Who this server is, for the Hello and the Forward header.
#[derive(Debug, Clone)]
pub(crate) struct LinkIdentity {
    pub(crate) me: NodeId,
    pub(crate) incarnation: u64,
    pub(crate) cluster_name: Arc<str>,
}

/// Why an exchange with the leader did not go through.
enum LinkError {
    /// No leader known, or this server is the leader now.
    NoLeader(Option<NodeId>),
    /// The leader said it is not the leader.
    NotLeader(Option<NodeId>),
    /// Connect, I/O, deadline or protocol failure.
    Broken(io::Error),
    /// The leader changed while the request was in flight.
    LeaderChanged,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::NoLeader(None) => f.write_str("no leader known"),
            LinkError::NoLeader(Some(id)) => write!(
                f,
                "no link to leader {id} (this server, or no address known)"
            ),
            LinkError::NotLeader(leader) => {
                write!(
                    f,
                    "the server asked is not the leader (it knows {leader:?})"
                )
            }
            LinkError::Broken(e) => write!(f, "{e}"),
            LinkError::LeaderChanged => f.write_str("the leader changed"),
        }
    }
}

struct LeaderConn {
    era: Era,
    conn: Conn,
}

/// The link task's state.
struct Link {
    id: LinkIdentity,
    timing: LinkTiming,
    raft: Raft,
    pending: Arc<Pending>,
    server_metrics: WatchReceiverOf<TypeConfig, RaftServerMetrics<TypeConfig>>,
    conn: Option<LeaderConn>,
    /// The era forwarded proposals were last sent under; a change abandons them.
    sent_era: Option<Era>,
    next_batch: u64,
    /// Last entry applied here and since when forwarded proposals have waited
    /// with no apply (the stall rule).
    last_applied: Option<LogId>,
    stalled_since: Option<Instant>,
}

/// Runs the link until `shutdown` turns true, its sender goes, every handle is
/// dropped, or raft stops.
pub(crate) async fn run(
    id: LinkIdentity,
    timing: LinkTiming,
    raft: Raft,
    pending: Arc<Pending>,
    inbox: LinkInbox,
    mut shutdown: watch::Receiver<bool>,
) {
    let LinkInbox {
        queue: mut rx,
        activity,
    } = inbox;
    let mut link = Link {
        id,
        timing,
        server_metrics: raft.server_metrics(),
        raft,
        pending,
        conn: None,
        sent_era: None,
        next_batch: 0,
        last_applied: None,
        stalled_since: None,
    };
    let mut ticker = tokio::time::interval(timing.check);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // An item taken from the queue while gathering a batch, to handle next.
    let mut held: Option<LinkItem> = None;
    // Runs for the replica's lifetime; each round handles one event.
    loop {
        let item = match held.take() {
            Some(item) => item,
            None => tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                    continue;
                }
                changed = link.server_metrics.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    link.check_era();
                    continue;
                }
                _ = ticker.tick() => {
                    link.check_stall();
                    continue;
                }
                _ = activity.notify.notified() => {
                    let sessions: Vec<i64> = activity.sessions().drain().collect();
                    link.report_activity(sessions).await;
                    continue;
                }
                item = rx.recv() => match item {
                    Some(item) => item,
                    None => break,
                },
            },
        };
        match item {
            LinkItem::Propose(first) => {
                let mut batch = vec![first];
                // Bounded by the batch limit.
                while batch.len() < FORWARD_BATCH_PROPOSALS_MAX {
                    match rx.try_recv() {
                        Ok(LinkItem::Propose(next)) => batch.push(next),
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                link.forward(batch).await;
            }
            LinkItem::Revalidate {
                session_id,
                timeout_ms,
                reply,
            } => {
                let answer = link.revalidate(session_id, timeout_ms).await;
                let _ = reply.send(answer);
            }
            LinkItem::ReadIndex { reply } => {
                let answer = link.read_index().await;
                let _ = reply.send(answer);
            }
        }
    }
    link.pending.abandon_forwarded();
}

impl Link {
    fn current_era(&self) -> Option<(Era, Option<String>)> {
        era_of(&self.server_metrics.borrow_watched())
    }

    /// Gives up on every forwarded proposal waiting and on the connection.
    fn fail(&mut self, why: &dyn std::fmt::Display) {
        self.conn = None;
        self.sent_era = None;
        self.stalled_since = None;
        let abandoned = self.pending.abandon_forwarded();
        if abandoned > 0 {
            tracing::info!("Abandoned {abandoned} forwarded proposals: {why}");
        }
    }

    /// The leader changed since proposals were forwarded: they are abandoned.
    fn check_era(&mut self) {
        let now = self.current_era().map(|(era, _)| era);
        if let Some(sent) = self.sent_era {
            if now != Some(sent) {
                self.fail(&format_args!(
                    "the leader changed (was server {} in term {})",
                    sent.leader, sent.term
                ));
            }
        }
        if self.conn.as_ref().is_some_and(|c| Some(c.era) != now) {
            self.conn = None;
        }
    }

    /// Forwarded proposals wait but nothing is applied here: the leader is
    /// cut off from us or from its quorum.
    fn check_stall(&mut self) {
        if self.pending.forwarded_len() == 0 {
            self.stalled_since = None;
            return;
        }
        let applied = self.raft.metrics().borrow_watched().last_applied;
        let now = Instant::now();
        if applied != self.last_applied {
            self.last_applied = applied;
            self.stalled_since = Some(now);
            return;
        }
        match self.stalled_since {
            None => self.stalled_since = Some(now),
            Some(since) if now.duration_since(since) >= self.timing.stall => {
                let stall = self.timing.stall;
                self.fail(&format_args!(
                    "nothing applied for {stall:?} while they waited"
                ));
            }
            Some(_) => {}
        }
    }

    /// Sends `request` to the current leader (connecting if needed) and reads
    /// its response, within the RPC deadline; gives up early if the leader
    /// changes meanwhile. Drops the connection on any failure.
    async fn call(&mut self, request: &PeerRequest) -> Result<(Era, PeerResponse), LinkError> {
        let (era, addr) = match self.current_era() {
            None => return Err(LinkError::NoLeader(None)),
            Some((era, _)) if era.leader == self.id.me => {
                return Err(LinkError::NoLeader(Some(era.leader)))
            }
            Some((era, None)) => return Err(LinkError::NoLeader(Some(era.leader))),
            Some((era, Some(addr))) => (era, addr),
        };
        if self.conn.as_ref().is_some_and(|c| c.era != era) {
            self.conn = None;
        }
        let started = Instant::now();
        let deadline = started + self.timing.rpc;
        let id = self.id.clone();
        let mut taken = self.conn.take();
        let exchange = async {
            let conn = match &mut taken {
                Some(c) => &mut c.conn,
                None => {
                    let conn = Conn::dial(&addr, id.me, era.leader, &id.cluster_name).await?;
                    &mut taken.insert(LeaderConn { era, conn }).conn
                }
            };
            conn.call(request).await
        };
        let mut metrics = self.server_metrics.clone();
        let leader_changed = async {
            // Ends when the era differs from the one dialled, or raft stops.
            loop {
                if metrics.changed().await.is_err() {
                    return;
                }
                if era_of(&metrics.borrow_watched()).map(|(e, _)| e) != Some(era) {
                    return;
                }
            }
        };
        let outcome = tokio::select! {
            outcome = tokio::time::timeout_at(deadline, exchange) => match outcome {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(e)) => Err(LinkError::Broken(e)),
                Err(_) => Err(LinkError::Broken(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("server {} did not answer within {:?}", era.leader, self.timing.rpc),
                ))),
            },
            () = leader_changed => Err(LinkError::LeaderChanged),
        };
        let took = started.elapsed();
        if took >= SLOW_CALL {
            // Everything queued behind this call waited as long: worth a line
            // when a client's handshake or write seems to hang.
            tracing::warn!(
                "{} to leader {} (term {}) took {took:?}: {}",
                request_kind(request),
                era.leader,
                era.term,
                match &outcome {
                    Ok(response) => format!("answered {response:?}"),
                    Err(e) => e.to_string(),
                }
            );
        }
        match outcome {
            Ok(PeerResponse::NotLeader { leader }) => Err(LinkError::NotLeader(leader)),
            Ok(PeerResponse::Failed(reason)) => Err(LinkError::Broken(io::Error::other(reason))),
            Ok(response) => {
                self.conn = taken;
                Ok((era, response))
            }
            Err(e) => Err(e),
        }
    }

    /// Sends one batch of proposals, dropping those abandoned while queued.
    async fn forward(&mut self, batch: Vec<ForwardedTxn>) {
        // Proposals sent under a leader that is gone are orphans; this also
        // abandons the ones queued behind them, as ZooKeeper drops every
        // client of a follower that loses its leader.
        self.check_era();
        let requests: Vec<ForwardedTxn> = batch
            .into_iter()
            .filter(|f| self.pending.is_waiting(f.origin.seq))
            .collect();
        if requests.is_empty() {
            return;
        }
        self.next_batch += 1;
        let request = PeerRequest::Forward {
            from: self.id.me,
            incarnation: self.id.incarnation,
            batch: self.next_batch,
            requests,
        };
        match self.call(&request).await {
            Ok((era, PeerResponse::Forwarded)) => self.sent_era = Some(era),
            Ok((_, other)) => {
                self.fail(&format_args!("the leader answered Forward with {other:?}"))
            }
            Err(e) => self.fail(&format_args!("forwarding failed: {e}")),
        }
    }

    async fn report_activity(&mut self, sessions: Vec<i64>) {
        // Bounded by the buffer's limit.
        for chunk in sessions.chunks(ACTIVITY_SESSIONS_MAX) {
            let request = PeerRequest::SessionActivity {
                from: self.id.me,
                sessions: chunk.to_vec(),
            };
            match self.call(&request).await {
                Ok((_, PeerResponse::ActivityNoted)) => {}
                Ok((_, other)) => {
                    self.fail(&format_args!("the leader answered activity with {other:?}"));
                    return;
                }
                // No leader: a new leader restarts every session's deadline.
                Err(LinkError::NoLeader(_)) => return,
                Err(e) => {
                    self.fail(&format_args!("reporting activity failed: {e}"));
                    return;
                }
            }
        }
    }

    async fn read_index(&mut self) -> Result<u64, ProposeError> {
        let request = PeerRequest::ReadIndex { from: self.id.me };
        match self.call(&request).await {
            Ok((_, PeerResponse::ReadIndex(index))) => Ok(index),
            other => Err(self.round_trip_failed("ReadIndex", other)),
        }
    }

    async fn revalidate(&mut self, session_id: i64, timeout_ms: i32) -> Result<bool, ProposeError> {
        let request = PeerRequest::Revalidate {
            from: self.id.me,
            session_id,
            timeout_ms,
        };
        match self.call(&request).await {
            Ok((_, PeerResponse::Revalidated(valid))) => Ok(valid),
            other => Err(self.round_trip_failed("Revalidate", other)),
        }
    }

    /// What a failed request/answer round trip (`what`) means to its caller;
    /// the link is dropped unless there simply was no leader to ask.
    fn round_trip_failed<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        outcome: Result<T, LinkError>,
    ) -> ProposeError {
        match outcome {
            Ok(other) => {
                self.fail(&format_args!("the leader answered {what} with {other:?}"));
                ProposeError::Lost
            }
            Err(LinkError::NoLeader(leader)) => ProposeError::NotLeader { leader },
            Err(LinkError::NotLeader(leader)) => {
                self.fail(&"the leader is not the leader any more");
                ProposeError::NotLeader { leader }
            }
            Err(e) => {
                self.fail(&format_args!("{what} failed: {e}"));
                ProposeError::Lost
            }
        }
    }
}
