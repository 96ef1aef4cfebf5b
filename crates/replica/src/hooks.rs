//! What the replica asks of the server that owns the data tree: applying
//! entries, snapshots, and (on the leader) session bookkeeping.
//!
//! The replica decides *what* is applied and *when* (committed entries, in log
//! order, each with its zxid and leader-stamped time); the server decides what
//! applying means beyond the tree: delivering watch events to its local
//! sessions, dropping connections of ended sessions, logging warnings. Keeping
//! that in the server keeps this crate free of connections and watches, and
//! lets the server keep one lock around the tree and the watch registry.

use std::io;
use std::sync::{Arc, OnceLock};

use rzk_state::snapshot_merge::{ChangesTicket, TakeStep};
use rzk_state::{Applied, Entry, Txn};

use crate::types::NodeId;

/// Applies committed entries to the server's state.
///
/// Called by the raft state machine worker only, one batch at a time, in log
/// order, never concurrently with itself or with [`SnapshotSource::install`].
pub trait ApplyHook: Send + Sync + 'static {
    /// Applies `batch` in order and returns one [`Applied`] per entry, in the
    /// same order.
    ///
    /// Contract (the replica relies on it):
    /// - watch events an entry triggers are queued on the watchers' connections
    ///   before this returns: the replica releases the proposer's reply only
    ///   after, which is how a client sees an event before any reply that
    ///   reflects the change;
    /// - it is deterministic in the entries (the tree never reads a clock);
    /// - it does not block on the network or on the raft handle (it runs on the
    ///   apply path; a blocking hook stalls every write).
    fn apply(&self, batch: &[Entry]) -> Vec<Applied>;

    /// The state as snapshot bytes (`DataTree::write_snapshot`), if by the
    /// hook's own estimate they come to at most `max_bytes`; `None` for a
    /// bigger state (or a hook that never encodes its state).
    ///
    /// Called on the apply path between two `apply` calls, so the bytes are
    /// exactly the state at the last applied entry. A snapshot of a small
    /// tree is then a write of these bytes instead of a replay of up to
    /// snapCount entries, which costs as much CPU as applying them did and,
    /// under a steady write load on a small tree, took 15% of the server's
    /// CPU (docs/PERFORMANCE.md). The limit keeps the time the hook holds
    /// its state to about a millisecond. `take_changes` is not called for
    /// this snapshot; a hook that keeps changes (see
    /// [`ApplyHook::take_changes`]) either starts them over when it
    /// encodes (the file of these bytes is what the next changes merge
    /// onto) or stops keeping them (the server does: the next snapshot of
    /// a tree still small is encoded again, and one that grew is replayed
    /// once).
    fn encode_if_small(&self, max_bytes: usize) -> Option<Vec<u8>> {
        let _ = max_bytes;
        None
    }

    /// Takes the changes to the state since the last take, or since the
    /// state was restored from or installed as a snapshot, to merge onto
    /// that snapshot's file (`rzk_state::snapshot_merge`); keeping them
    /// restarts from this point. `None` when they were not all kept (a hook
    /// that never keeps them, or too many).
    ///
    /// Called on the apply path between two `apply` calls, like
    /// [`ApplyHook::encode_if_small`], so the changes end exactly at the
    /// last applied entry. Taking them is quick: their records are encoded
    /// afterwards by [`ApplyHook::encode_taken`], called by the snapshot
    /// builder while applying goes on. A snapshot of a big tree is then a
    /// merge of the previous file with them instead of a replay of the log
    /// onto it.
    fn take_changes(&self) -> Option<ChangesTicket> {
        None
    }

    /// Encodes up to `max_paths` more records of the changes taken as
    /// `ticket` (`DataTree::encode_taken`): holds the state for about
    /// 0.3 us per path. Called from a blocking thread.
    fn encode_taken(&self, ticket: ChangesTicket, max_paths: usize) -> TakeStep {
        let _ = (ticket, max_paths);
        TakeStep::Lost
    }

    /// Gives up the changes taken as `ticket` if they are still being
    /// encoded (the builder did not need them, or stopped).
    fn drop_taken(&self, ticket: ChangesTicket) {
        let _ = ticket;
    }
}

/// Installs snapshots received from the leader into the server's state.
///
/// The byte format belongs to the state crate (`rzk_state` snapshot module):
/// the bytes are `DataTree::write_snapshot` output. The replica builds its own
/// snapshots without the server (by replaying the log, see
/// [`crate::snapshots`]), so this is the only snapshot work the server does.
pub trait SnapshotSource: Send + Sync + 'static {
    /// Replaces the whole state with the snapshot in `bytes` (a follower that
    /// fell too far behind, or a fresh server joining). Called on the apply
    /// path, after the snapshot is saved durably in the snapshot directory.
    /// An error leaves the server unable to go on (raft stops).
    fn install(&self, bytes: &[u8]) -> io::Result<()>;
}

/// Read access to the raft log's entries, for work that runs beside raft
/// rather than inside it (building a snapshot by replaying the log onto the
/// previous snapshot, off the apply path).
///
/// Blocking: callers run it on a blocking thread. Implemented by every log
/// store ([`crate::MemLogStore`], the durable WAL store).
pub trait LogSource: Send + Sync + 'static {
    /// The entries with index in `start..end`, in index order. An entry in the
    /// range that the store does not hold (purged, not yet written) is an
    /// error, never a silent gap: a snapshot built over a gap would be wrong.
    fn read_entries(&self, start: u64, end: u64) -> io::Result<Vec<crate::types::RaftEntry>>;
}

/// The leader's view of client sessions, implemented by the server (its
/// session tracker lives there).
///
/// In ZooKeeper every server accepts sessions but only the leader decides when
/// one expires, and it needs to know which server a session is connected to:
/// a write arriving through a server that no longer owns the session (the
/// client moved) must fail with SessionMoved rather than act on stale state.
/// The replica routes the three events below to the leader's implementation,
/// whichever server they happen on.
///
/// Called from async tasks of the replica: implementations must not block
/// (a map update under a short lock is fine).
pub trait LeaderSessions: Send + Sync + 'static {
    /// Sessions connected to server `from` showed activity (pings, requests).
    fn touched(&self, from: NodeId, sessions: &[i64]);
    /// A client (re)connected to server `from` with session `session_id`
    /// and negotiated `timeout_ms`: record `from` as the owner and restart
    /// its deadline; false if the session is unknown or already expiring.
    fn revalidate(&self, from: NodeId, session_id: i64, timeout_ms: i32) -> bool;
    /// Called on the leader for every proposal before it enters the log,
    /// local or forwarded: may replace it (ZooKeeper turns a write from a
    /// server that no longer owns the session into an error transaction
    /// with SessionMoved, which is logged and answered like any entry).
    fn admit(&self, from: NodeId, txn: Txn) -> Txn;
}

/// What [`LeaderReconfig::reconfigure`] returns: the entry to log.
pub type ReconfigFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Txn> + Send>>;

/// The leader's handling of a client's reconfig (ZooKeeper's
/// PrepRequestProcessor for `OpCode.reconfig`), implemented by the server,
/// which can check the session and the ACL of `/zookeeper/config` and parse
/// server specs.
///
/// Called on the leader for every reconfig write before it enters the log,
/// local or forwarded from `from`, after [`LeaderSessions::admit`]. It
/// returns the txn to log: the request itself once the membership change it
/// asks for has committed (its apply answers the client with the new
/// `/zookeeper/config`), an error txn when the change is refused (answered
/// like any failed write), or the request unchanged when reconfig is
/// disabled (the state machine answers ReconfigDisabled). The proposals
/// that follow it from the same server wait for it, which keeps each
/// session's requests in order.
pub trait LeaderReconfig: Send + Sync + 'static {
    fn reconfigure(&self, from: NodeId, txn: Txn) -> ReconfigFuture;
}

/// Where the server's [`LeaderSessions`] is attached once it exists (the
/// server builds its session tracker around the replica, so the hook arrives
/// after `Replica::build`). Until then: activity is ignored, revalidation
/// succeeds and proposals are admitted unchanged, which is what a server with
/// no session tracking needs.
#[derive(Default)]
pub(crate) struct SessionsSlot {
    hook: OnceLock<Arc<dyn LeaderSessions>>,
}

impl SessionsSlot {
    /// Attaches `hook`; false if one was attached already (the first stays).
    pub(crate) fn set(&self, hook: Arc<dyn LeaderSessions>) -> bool {
        self.hook.set(hook).is_ok()
    }

    pub(crate) fn touched(&self, from: NodeId, sessions: &[i64]) {
        if let Some(hook) = self.hook.get() {
            hook.touched(from, sessions);
        }
    }

    pub(crate) fn revalidate(&self, from: NodeId, session_id: i64, timeout_ms: i32) -> bool {
        match self.hook.get() {
            Some(hook) => hook.revalidate(from, session_id, timeout_ms),
            None => true,
        }
    }

    pub(crate) fn admit(&self, from: NodeId, txn: Txn) -> Txn {
        match self.hook.get() {
            Some(hook) => hook.admit(from, txn),
            None => txn,
        }
    }
}
