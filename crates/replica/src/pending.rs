//! Proposals this server made that have not been applied yet, and how their
//! outcome finds the waiting client.
//!
//! Every entry carries its [`Origin`] (server, incarnation, sequence number).
//! When a server applies an entry it proposed, the [`Applied`] outcome goes to
//! the oneshot registered under that sequence number. The reply therefore comes
//! from the proposing server's own apply, after its own watch delivery, as in
//! ZooKeeper (the server a client is connected to answers from its local
//! FinalRequestProcessor), and the same path serves a leader and a follower
//! that forwarded the proposal.
//!
//! A proposal that fails before it commits (this server is not, or stops being,
//! the leader; raft shuts down) is *abandoned*: its sender is dropped, so the
//! waiting client sees the channel close. That means "outcome unknown": the
//! entry may still commit through a new leader, exactly the situation
//! ZooKeeper reports to clients as ConnectionLoss.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rzk_state::id_hash::IdMap;
use rzk_state::Applied;
use tokio::sync::{oneshot, Notify};

use crate::types::{NodeId, Origin, TypeConfig};

/// Proposals one server may have in flight (proposed, not yet applied). Beyond
/// it `register` waits: the backpressure point between clients and raft.
pub const PENDING_PROPOSALS_MAX: usize = 65_536;

struct Waiting {
    done: oneshot::Sender<Applied>,
    /// Forwarded to the leader rather than proposed to the local raft: its
    /// fate depends on the leader link (see [`Pending::abandon_forwarded`]).
    forwarded: bool,
}

/// This server's in-flight proposals.
///
/// The map's size is the limit's count: `register` inserts only below
/// `limit`, under the same lock, so a proposal costs one lock to enter and
/// one to leave (a semaphore beside the map took a second lock each way).
pub struct Pending {
    node_id: NodeId,
    incarnation: u64,
    next_seq: AtomicU64,
    /// At most this many waiting at once ([`PENDING_PROPOSALS_MAX`]).
    limit: usize,
    /// A std mutex: every critical section is a map insert or remove.
    waiting: Mutex<IdMap<u64, Waiting>>,
    /// Signalled when a full map loses an entry, for `register`s waiting
    /// for room.
    room: Notify,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("node_id", &self.node_id)
            .field("incarnation", &self.incarnation)
            .field("in_flight", &self.len())
            .finish()
    }
}

impl Pending {
    /// `incarnation` must differ between two runs of the same server (the
    /// replica uses the start time in nanoseconds).
    pub fn new(node_id: NodeId, incarnation: u64) -> Self {
        Self::with_limit(node_id, incarnation, PENDING_PROPOSALS_MAX)
    }

    fn with_limit(node_id: NodeId, incarnation: u64, limit: usize) -> Self {
        Pending {
            node_id,
            incarnation,
            next_seq: AtomicU64::new(0),
            limit: limit.max(1),
            waiting: Mutex::new(IdMap::default()),
            room: Notify::new(),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, IdMap<u64, Waiting>> {
        // A panic while holding this lock leaves the map intact (single
        // inserts/removes): keep going with it.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a slot (waiting while [`PENDING_PROPOSALS_MAX`] are in flight)
    /// and returns the origin to put in the entry and where its outcome will
    /// arrive.
    pub async fn register(&self) -> (Origin, oneshot::Receiver<Applied>) {
        self.register_as(false).await
    }

    /// [`Pending::register`] for a proposal that goes to the leader through
    /// the leader link.
    pub async fn register_forwarded(&self) -> (Origin, oneshot::Receiver<Applied>) {
        self.register_as(true).await
    }

    async fn register_as(&self, forwarded: bool) -> (Origin, oneshot::Receiver<Applied>) {
        let (done, rx) = oneshot::channel();
        let mut entry = Waiting { done, forwarded };
        loop {
            // Room (the usual case) is taken without building a future.
            entry = match self.try_insert(entry) {
                Ok(seq) => return (self.origin(seq), rx),
                Err(back) => back,
            };
            // Full: listen first, then look again, so that an entry leaving
            // in between still wakes this one.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            entry = match self.try_insert(entry) {
                Ok(seq) => return (self.origin(seq), rx),
                Err(back) => back,
            };
            room.await;
        }
    }

    /// Inserts `entry` under a new sequence number if fewer than `limit`
    /// wait; hands it back otherwise.
    fn try_insert(&self, entry: Waiting) -> Result<u64, Waiting> {
        let mut waiting = self.waiting();
        if waiting.len() >= self.limit {
            return Err(entry);
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let previous = waiting.insert(seq, entry);
        debug_assert!(previous.is_none(), "sequence numbers are unique");
        Ok(seq)
    }

    fn origin(&self, seq: u64) -> Origin {
        Origin {
            node_id: self.node_id,
            incarnation: self.incarnation,
            seq,
        }
    }

    /// Removes `seq`, making room for a waiting `register` if the map was full.
    fn remove(&self, seq: u64) -> Option<Waiting> {
        let mut waiting = self.waiting();
        let full = waiting.len() >= self.limit;
        let removed = waiting.remove(&seq);
        drop(waiting);
        if full && removed.is_some() {
            self.room.notify_waiters();
        }
        removed
    }

    /// Hands `applied` to the client waiting for `origin`, if it is one of ours
    /// and still waiting.
    pub fn complete(&self, origin: &Origin, applied: Applied) {
        if origin.node_id != self.node_id || origin.incarnation != self.incarnation {
            return;
        }
        if let Some(w) = self.remove(origin.seq) {
            // The client may have gone (connection closed): nothing to do.
            let _ = w.done.send(applied);
        }
    }

    /// Gives up on proposal `seq`: its client sees the channel close.
    pub fn abandon(&self, seq: u64) {
        drop(self.remove(seq));
    }

    /// Whether proposal `seq` still waits for its outcome (not applied, not
    /// abandoned).
    pub fn is_waiting(&self, seq: u64) -> bool {
        self.waiting().contains_key(&seq)
    }

    /// Gives up on every forwarded proposal still waiting, sent or not (the
    /// leader link failed or the leader changed): as in ZooKeeper, where a
    /// follower that loses its leader drops its clients, their outcome is
    /// unknown. Returns how many were abandoned.
    pub fn abandon_forwarded(&self) -> usize {
        let mut waiting = self.waiting();
        let before = waiting.len();
        // Dropping a sender only wakes its receiver: safe under the lock.
        waiting.retain(|_, w| !w.forwarded);
        let abandoned = before - waiting.len();
        drop(waiting);
        if abandoned > 0 {
            self.room.notify_waiters();
        }
        abandoned
    }

    /// Forwarded proposals still waiting.
    pub fn forwarded_len(&self) -> usize {
        self.waiting().values().filter(|w| w.forwarded).count()
    }

    /// Gives up on every proposal (raft stopped).
    pub fn abandon_all(&self) {
        let all = std::mem::take(&mut *self.waiting());
        drop(all);
        self.room.notify_waiters();
    }

    pub fn len(&self) -> usize {
        self.waiting().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// openraft's per-write responder for rzk: a callback that sees the write's
/// result, or `None` if openraft drops the responder without answering.
///
/// Successful writes need nothing from it (the reply goes through
/// [`Pending::complete`] during apply); it exists so that a write that fails
/// before committing releases its client at once instead of when a timeout
/// notices.
pub struct CallbackResponder<T> {
    callback: Option<Box<dyn FnOnce(Option<T>) + Send + Sync>>,
}

impl<T> CallbackResponder<T> {
    pub fn new(callback: impl FnOnce(Option<T>) + Send + Sync + 'static) -> Self {
        CallbackResponder {
            callback: Some(Box::new(callback)),
        }
    }
}

impl<T: Send + 'static> openraft::raft::responder::Responder<TypeConfig, T>
    for CallbackResponder<T>
{
    fn on_complete(mut self, result: T) {
        if let Some(callback) = self.callback.take() {
            callback(Some(result));
        }
    }
}

impl<T> Drop for CallbackResponder<T> {
    fn drop(&mut self) {
        if let Some(callback) = self.callback.take() {
            callback(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_state::Reply;

    fn applied(zxid: i64) -> Applied {
        Applied {
            zxid,
            reply: Reply::error(rzk_proto::ErrorCode::Ok),
            triggers: Vec::new(),
            ended_session: None,
            warnings: Vec::new(),
        }
    }

    #[tokio::test]
    async fn outcomes_reach_only_their_own_proposal() {
        let pending = Pending::new(1, 100);
        let (a, rx_a) = pending.register().await;
        let (b, rx_b) = pending.register().await;
        assert_ne!(a.seq, b.seq);
        // Same seq from another server or an earlier incarnation: ignored.
        pending.complete(&Origin { node_id: 2, ..a }, applied(1));
        pending.complete(
            &Origin {
                incarnation: 99,
                ..a
            },
            applied(1),
        );
        assert_eq!(pending.len(), 2);
        pending.complete(&a, applied(5));
        assert_eq!(rx_a.await.map(|x| x.zxid), Ok(5));
        pending.abandon(b.seq);
        assert!(rx_b.await.is_err(), "abandoned: the channel closes");
        assert!(pending.is_empty());
    }

    #[tokio::test]
    async fn register_waits_for_room_at_the_limit() {
        use std::time::Duration;
        let pending = std::sync::Arc::new(Pending::with_limit(1, 100, 2));
        let (a, _rx_a) = pending.register().await;
        let (_b, _rx_b) = pending.register_forwarded().await;
        let third = tokio::spawn({
            let pending = pending.clone();
            async move { pending.register().await.0 }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "full: the third proposal waits");
        assert_eq!(pending.len(), 2);
        pending.complete(&a, applied(1));
        let c = tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("a completed proposal makes room")
            .expect("the task ran");
        assert!(pending.is_waiting(c.seq));
        assert_eq!(pending.len(), 2);

        // Abandoning the forwarded one makes room as well.
        let fourth = tokio::spawn({
            let pending = pending.clone();
            async move { pending.register().await.0 }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!fourth.is_finished());
        assert_eq!(pending.abandon_forwarded(), 1);
        let d = tokio::time::timeout(Duration::from_secs(5), fourth)
            .await
            .expect("an abandoned proposal makes room")
            .expect("the task ran");
        assert_ne!(c.seq, d.seq);
        assert_eq!(pending.len(), 2);
    }
}
