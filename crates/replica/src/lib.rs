//! rzk's replication layer: openraft glue that turns the server's proposals
//! into an ordered, replicated log and applies it on every server through the
//! server's own hooks.
//!
//! The flow of one write: the server calls [`Proposer::submit`] with a
//! `rzk_state::Txn`; the leader stamps the time and an [`Origin`] on it and
//! hands it to raft; once a quorum has it, every server's [`StateMachine`]
//! turns it into an `rzk_state::Entry` (zxid = raft log index) and calls the
//! server's [`ApplyHook`]; the proposing server's adapter then passes the
//! `Applied` outcome to the waiting client. On a follower, `submit` forwards
//! the proposal to the leader over the [`leader_link`]; the answer still comes
//! from the follower's own apply.
//!
//! Modules, one job each:
//! - [`types`]: openraft's type config, the log payload, zxid from log id.
//! - [`membership`]: ensemble members (raft's node type) and the
//!   `/zookeeper/config` text derived from a membership entry.
//! - [`hooks`]: what the server implements (apply, install a snapshot,
//!   leader sessions) and what log stores implement for snapshots
//!   ([`LogSource`]).
//! - [`state_machine`]: the `RaftStateMachine` adapter over the hooks.
//! - [`snapshots`]: building snapshots by replaying the log ([`replay`])
//!   beside raft, and the current snapshot.
//! - [`snapshot_store`]: the snapshot directory, one durable file per snapshot.
//! - [`direct_io`]: snapshot files written and read around the page cache.
//! - [`pending`]: in-flight proposals and how outcomes find their client.
//! - [`intake`]: the leader's proposals into raft, one batch per scheduler
//!   tick.
//! - [`proposer`]: `submit`/`propose`, the replicated `LogHandle`, and the
//!   server's way to the leader's session tracker.
//! - [`leader_link`]: a follower's connection to the leader (forwarded
//!   proposals, session activity, revalidation).
//! - [`forward_order`]: the leader's guard on the order of forwarded batches.
//! - [`log_store`]: the in-memory `RaftLogStorage`, for tests.
//! - [`wal_log_store`]: the durable `RaftLogStorage` over rzk-wal.
//! - [`status`]: role, indexes and followers in ZooKeeper's terms.
//! - [`network`]: the peer protocol over TCP (postcard frames).
//! - [`config`]: zoo.cfg timing to raft timing.
//! - [`replica`]: starting, initialising and stopping all of the above.
//!
//! Architecture invariants: no clock is read on the apply path (time rides in
//! the entry); nothing from the network is trusted (sizes are checked before
//! they cost memory, decoding never panics); this crate knows nothing of
//! connections, sessions or watches: those stay behind [`ApplyHook`] and
//! [`LeaderSessions`] (which only routes session events to the leader).

pub mod config;
pub mod direct_io;
pub mod forward_order;
pub mod hooks;
pub mod intake;
pub mod leader_link;
pub mod leader_watch;
pub mod log_store;
pub mod membership;
pub mod merge;
pub mod network;
pub mod offline;
pub mod pending;
pub mod proposer;
pub mod replay;
pub mod replica;
pub mod seed;
pub mod snapshot_store;
pub mod snapshots;
pub mod state_machine;
pub mod status;
pub mod types;
pub mod wal_log_store;
pub mod writeback;

pub use config::Timing;
pub use hooks::{
    ApplyHook, LeaderReconfig, LeaderSessions, LogSource, ReconfigFuture, SnapshotSource,
};
pub use log_store::MemLogStore;
pub use membership::Member;
pub use proposer::{ProposeError, Proposer};
pub use replica::{Replica, ReplicaConfig, StartError};
pub use snapshot_store::{SnapshotStore, StoredSnapshot};
pub use snapshots::{release_memory, set_memory_release, Snapshots};
pub use state_machine::StateMachine;
pub use types::{
    zxid_of, Committed, ForwardedTxn, NodeId, Origin, Request, SnapshotData, SnapshotMeta,
    TypeConfig,
};
pub use wal_log_store::{WalLogStore, WalLogStoreError, RECENT_ENTRIES_MAX};
