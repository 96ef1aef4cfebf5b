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

pub mod entry;
pub mod tree;

pub use entry::{Applied, Entry, Reply, Txn, WatchTrigger, WriteOp};
pub use tree::{validate_path, DataTree, SessionInfo, StateConfig};
