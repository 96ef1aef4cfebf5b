//! What the raft log carries and how a log position becomes a zxid.
//!
//! A log entry's application payload is a [`Request`]: the [`Txn`] a server
//! proposed, the wall time the leader stamped on it, and the [`Origin`] that
//! lets the proposing server find its waiting client when the entry is applied.
//! The zxid is not in the payload: it is the entry's raft log index
//! ([`zxid_of`]), known identically on every server once the entry has a place
//! in the log.

use openraft::impls::leader_id_std;
use serde::{Deserialize, Serialize};

use rzk_state::Txn;

/// A server's id in the ensemble: `N` of `server.N` in zoo.cfg (`myid`).
pub type NodeId = u64;

/// openraft's type parameters for rzk.
///
/// - `leader_id_std`: one leader per term, as ZooKeeper has one leader per
///   epoch (and log ids stay `(term, index)`).
/// - `Node = Member`: a server's peer address for raft traffic plus the rest
///   of its zoo.cfg spec (`server.N=host:peerPort:electionPort;client`), so
///   `/zookeeper/config` follows from the membership (see
///   [`crate::membership`]).
/// - `Responder`: a boxed callback, so a proposal that fails before it commits
///   (leadership lost, shutdown) releases its waiting client at once; replies
///   to committed entries travel through [`crate::pending`]. (Written out by
///   hand because `declare_raft_types!` cannot take a generic responder.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct TypeConfig;

impl openraft::RaftTypeConfig for TypeConfig {
    type D = Request;
    type R = Committed;
    type NodeId = NodeId;
    type Node = crate::membership::Member;
    type Term = u64;
    type LeaderId = leader_id_std::LeaderId<u64, NodeId>;
    type Vote = openraft::impls::Vote<Self::LeaderId>;
    type Payload = openraft::EntryPayload<Self::D, Self::NodeId, Self::Node>;
    type Entry =
        openraft::Entry<<Self::LeaderId as openraft::vote::RaftLeaderId>::Committed, Self::Payload>;
    type AsyncRuntime = openraft::impls::TokioRuntime;
    type Responder<T>
        = crate::pending::CallbackResponder<T>
    where
        T: openraft::OptionalSend + 'static;
    type Batch<T>
        = openraft::impls::InlineBatch<T>
    where
        T: openraft::OptionalSend + 'static;
    type ErrorSource = openraft::impls::BoxedErrorSource;
}

/// openraft's log id for rzk's type config.
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
/// A raft log entry for rzk's type config.
pub type RaftEntry = openraft::alias::EntryOf<TypeConfig>;
/// The raft handle, with rzk's state machine adapter.
pub type Raft = openraft::Raft<TypeConfig, crate::state_machine::StateMachine>;
/// A snapshot's bytes, shared between the stored snapshot and senders.
pub type SnapshotBytes = std::sync::Arc<[u8]>;

/// A snapshot's state as openraft carries it between the state machine and
/// the network: in memory, or a file of the snapshot store that is read only
/// when the snapshot is actually sent.
///
/// Why not always bytes: openraft asks the state machine for its current
/// snapshot at every start and after every build, and uses only the
/// metadata; reading a million-znode state (about 200 MB) for that left the
/// process holding it long after (the allocator returns such memory lazily).
#[derive(Debug, Clone)]
pub enum SnapshotData {
    /// Received from a leader, or the empty state (which has no file).
    Bytes(SnapshotBytes),
    /// The snapshot file covering `index` in `store`.
    File {
        store: crate::snapshot_store::SnapshotStore,
        index: u64,
    },
}

impl SnapshotData {
    /// The state bytes; a file is read and fully checked. Blocking.
    pub fn load(&self) -> std::io::Result<SnapshotBytes> {
        match self {
            SnapshotData::Bytes(bytes) => Ok(bytes.clone()),
            SnapshotData::File { store, index } => Ok(store.load(*index)?.bytes),
        }
    }
}
/// A snapshot's raft metadata: the last log id it covers and the membership.
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;

/// The zxid of the entry at `log_id`: its raft log index.
///
/// Why the index alone, rather than ZooKeeper's `(epoch << 32) | counter`:
/// - it is strictly increasing in commit order and identical on every server by
///   construction (raft log indexes are), which is all a client relies on
///   (clients only compare zxids: `lastZxidSeen` on reconnect, `setWatches`);
/// - it never overflows (2^63 entries), whereas a 32-bit per-epoch counter
///   forces an election when it wraps (ZOOKEEPER-1277), and openraft's index is
///   global, not per term, so `(term << 32) | index` would not even be monotone
///   once the index passed 2^32;
/// - a snapshot's zxid is its `last_log_id.index`, with no extra state to keep.
///
/// Entries openraft writes itself (the blank entry each new leader appends,
/// membership changes) consume an index but never reach the tree: zxids seen
/// by clients have gaps there, as ZooKeeper's do at an epoch change, and
/// `DataTree::last_zxid` is the index of the last *rzk* entry applied.
pub fn zxid_of(log_id: &LogId) -> i64 {
    // Indexes start at 0 (openraft's initial membership entry) and grow by one
    // per entry; i64::MAX entries is beyond any deployment.
    i64::try_from(log_id.index).unwrap_or(i64::MAX)
}

/// Which server proposed an entry, and which of its proposals it is. Only the
/// proposing server acts on it: when it applies the entry, it hands the outcome
/// to the client waiting for proposal `seq`.
///
/// `incarnation` distinguishes restarts of the same server: an entry proposed
/// before a restart must never answer a proposal made after it, even if the
/// sequence numbers coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub node_id: NodeId,
    pub incarnation: u64,
    pub seq: u64,
}

/// The application payload of a raft log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Wall-clock milliseconds stamped by the leader when it accepted the
    /// proposal. Apply uses this, never a clock, so every server computes the
    /// same mtime/ctime and TTL decisions.
    pub time_ms: i64,
    pub origin: Option<Origin>,
    /// Boxed: openraft moves a request (inside its messages, batches and
    /// log entries) a dozen times between proposal and apply, and an inline
    /// `Txn` made each move a 184-byte copy (memmove was 10% of the server's
    /// CPU under set 16x8).
    #[serde(with = "serde_txn")]
    pub txn: Box<Txn>,
}

/// A proposal a follower forwards to the leader: the leader stamps the time
/// and puts `Request { time_ms, origin: Some(origin), txn }` in the log, so the
/// follower's own apply answers its client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedTxn {
    pub origin: Origin,
    #[serde(with = "serde_txn")]
    pub txn: Txn,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &*self.txn {
            Txn::CreateSession { .. } => "createSession",
            Txn::CloseSession { .. } => "closeSession",
            Txn::ExpireSession { .. } => "expireSession",
            Txn::Write { .. } => "write",
            Txn::Error { .. } => "error",
            Txn::DeleteContainer { .. } => "deleteContainer",
            Txn::SetConfig { .. } => "setConfig",
        };
        write!(f, "{kind}@{}", self.time_ms)
    }
}

/// What openraft hands back to a `client_write` caller on the leader: the zxid
/// the entry took. The full outcome (`rzk_state::Applied`) goes to the waiting
/// client through [`crate::pending`], on whichever server proposed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub zxid: i64,
}

/// `Txn` has no serde impls (the state crate has no serde dependency); it
/// crosses serde as one byte string in the state crate's versioned codec
/// (`rzk_state::codec`), the same bytes the durable log stores.
mod serde_txn {
    use super::*;
    use serde::de::Visitor;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(txn: &Txn, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&txn.to_bytes())
    }

    /// Into a `Txn` or a `Box<Txn>`, whichever the field holds.
    pub fn deserialize<'de, D: Deserializer<'de>, T: From<Txn>>(d: D) -> Result<T, D::Error> {
        struct TxnBytes;
        impl<'de> Visitor<'de> for TxnBytes {
            type Value = Txn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an encoded txn")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Txn, E> {
                Txn::from_bytes(v).map_err(E::custom)
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Txn, E> {
                self.visit_bytes(v)
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Txn, E> {
                self.visit_bytes(&v)
            }
        }
        d.deserialize_bytes(TxnBytes).map(T::from)
    }
}
