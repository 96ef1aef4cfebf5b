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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rzk_state::Applied;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::types::{NodeId, Origin, TypeConfig};

/// Proposals one server may have in flight (proposed, not yet applied). Beyond
/// it `register` waits: the backpressure point between clients and raft.
pub const PENDING_PROPOSALS_MAX: usize = 65_536;

struct Waiting {
    done: oneshot::Sender<Applied>,
    /// Forwarded to the leader rather than proposed to the local raft: its
    /// fate depends on the leader link (see [`Pending::abandon_forwarded`]).
    forwarded: bool,
    _permit: OwnedSemaphorePermit,
}

/// This server's in-flight proposals.
pub struct Pending {
    node_id: NodeId,
    incarnation: u64,
    next_seq: AtomicU64,
    slots: Arc<Semaphore>,
    /// A std mutex: every critical section is a map insert or remove.
    waiting: Mutex<HashMap<u64, Waiting>>,
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
        Pending {
            node_id,
            incarnation,
            next_seq: AtomicU64::new(0),
            slots: Arc::new(Semaphore::new(PENDING_PROPOSALS_MAX)),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<u64, Waiting>> {
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
        // The semaphore is never closed, so acquiring only waits; a free
        // slot (the usual case) is taken without building a future.
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match self.slots.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => unreachable!("the pending semaphore is never closed"),
            },
        };
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let (done, rx) = oneshot::channel();
        let previous = self.waiting().insert(
            seq,
            Waiting {
                done,
                forwarded,
                _permit: permit,
            },
        );
        debug_assert!(previous.is_none(), "sequence numbers are unique");
        let origin = Origin {
            node_id: self.node_id,
            incarnation: self.incarnation,
            seq,
        };
        (origin, rx)
    }

    /// Hands `applied` to the client waiting for `origin`, if it is one of ours
    /// and still waiting.
    pub fn complete(&self, origin: &Origin, applied: Applied) {
        if origin.node_id != self.node_id || origin.incarnation != self.incarnation {
            return;
        }
        let waiting = self.waiting().remove(&origin.seq);
        if let Some(w) = waiting {
            // The client may have gone (connection closed): nothing to do.
            let _ = w.done.send(applied);
        }
    }

    /// Gives up on proposal `seq`: its client sees the channel close.
    pub fn abandon(&self, seq: u64) {
        let waiting = self.waiting().remove(&seq);
        drop(waiting);
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
        before - waiting.len()
    }

    /// Forwarded proposals still waiting.
    pub fn forwarded_len(&self) -> usize {
        self.waiting().values().filter(|w| w.forwarded).count()
    }

    /// Gives up on every proposal (raft stopped).
    pub fn abandon_all(&self) {
        let all = std::mem::take(&mut *self.waiting());
        drop(all);
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
}
