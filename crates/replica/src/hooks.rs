//! The two things the replica asks of the server that owns the data tree.
//!
//! The replica decides *what* is applied and *when* (committed entries, in log
//! order, each with its zxid and leader-stamped time); the server decides what
//! applying means beyond the tree: delivering watch events to its local
//! sessions, dropping connections of ended sessions, logging warnings. Keeping
//! that in the server keeps this crate free of connections and watches, and
//! lets the server keep one lock around the tree and the watch registry.

use std::io;

use rzk_state::{Applied, Entry};

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
