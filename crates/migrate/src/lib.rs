//! Moving between Apache ZooKeeper and rzk (`rzk import`, `rzk export`).
//!
//! Import reads ZooKeeper's own files (the newest snapshot that reads
//! completely, then the transaction logs after it), replays them with
//! ZooKeeper's rules into a model of its tree, and seeds an rzk data
//! directory with a snapshot holding every znode with its stored Stat, ACL
//! and ephemeral owner, and every live session. Export writes an rzk
//! tree as a ZooKeeper snapshot file, which ZooKeeper can start from and
//! `rzk import` reads back.
//!
//! Modules, one job each:
//! - `error`: the one error type (file, byte offset, what).
//! - `adler32`: ZooKeeper's checksum.
//! - `input`: streaming jute reads from a file, bounded, with offsets.
//! - `progress`: the progress line on stderr for large inputs.
//! - [`zk_txn`]: transaction records (header and bodies).
//! - [`zk_snapshot`]: reading a snapshot file.
//! - [`zk_txnlog`]: reading a transaction log file, and where it ends.
//! - [`zk_tree`]: ZooKeeper's tree and its replay rules.
//! - `replay`: one logged transaction applied to that tree.
//! - [`zk_dir`]: choosing the files and loading the state they hold.
//! - `password`: the session passwords ZooKeeper's clients hold.
//! - [`to_rzk`]: building rzk's tree and seeding its data directory.
//! - [`zk_export`]: writing a tree as a ZooKeeper snapshot.

pub mod adler32;
pub mod error;
mod input;
mod password;
pub mod progress;
mod replay;
pub mod to_rzk;
pub mod zk_dir;
pub mod zk_export;
pub mod zk_snapshot;
pub mod zk_tree;
pub mod zk_txn;
pub mod zk_txnlog;

pub use error::MigrateError;
pub use password::zookeeper_password;
