//! rzk's state machine: the znode tree and everything replicated with it.
//!
//! `DataTree::apply(&Entry) -> Applied` is the only way state changes. It is pure
//! and deterministic: no clock (time rides in the entry), no randomness, no I/O, no
//! iteration over hash-map order that could differ between replicas. Every
//! validation a write needs (path syntax, existence, versions, ACLs, quotas,
//! NoChildrenForEphemerals, ...) happens here, at apply time, so every replica
//! decides identically and the log carries requests, not outcomes.
//!
//! Reads are served by the connection's server directly from a `&DataTree`
//! (`get_data`, `get_children`, ...), with the ACL check done here too.
//!
//! Watches are not state: `apply` returns watch *triggers* as data and the
//! server's watch registry delivers them to local sessions.
//!
//! Code map:
//! - [`codec`]: the versioned binary form of `Entry` and `Txn` (what the
//!   durable log stores).
//! - [`entry`]: what is replicated (`Entry`, `Txn`, `WriteOp`) and what
//!   applying it yields (`Applied`, `Reply`, `WatchTrigger`).
//! - [`tree`]: `DataTree`, its state and its read API.
//! - `ops`: one module per write (create, delete, setData, setACL, check,
//!   multi, sessions, deleteContainer), doing ZooKeeper's validation in
//!   ZooKeeper's order.
//! - `store`: the mutation primitives (createNode, deleteNode, ...) that keep
//!   indexes and quota usage in step and record undo steps for multi.
//! - `node`: the znode record and the client's view of its Stat.
//! - `path`: path validation and splitting.
//! - [`acl`]: ACL checks, `fixupACL`, the digest and ip providers.
//! - `ephemeral`: the ephemeralOwner encodings (session, container, TTL).
//! - `quota`: `StatsTrack` and the quota-root trie.
//! - `sessions`: live sessions and their ephemerals.
//! - [`import`]: building a tree from nodes with exact stored Stats (migration
//!   from ZooKeeper) and listing them back (export).
//! - [`snapshot`]: `DataTree::write_snapshot` / `read_snapshot`, the whole
//!   state as one checksummed stream.

pub mod acl;
mod acl_cache;
mod children;
pub mod codec;
pub mod entry;
mod ephemeral;
pub mod id_hash;
pub mod import;
mod node;
mod node_map;
mod ops;
mod path;
mod quota;
mod sessions;
pub mod snapshot;
pub mod snapshot_merge;
mod store;
pub mod tree;

pub use acl::digest;
pub use acl_cache::SharedAcl;
pub use codec::CodecError;
pub use entry::{Applied, Entry, Reply, Txn, WatchTrigger, WriteOp};
pub use ephemeral::{CONTAINER_OWNER, MAX_TTL_MS};
pub use snapshot::{SnapshotError, SnapshotMeta};
pub use tree::{validate_path, DataTree, SessionInfo, StateConfig};
