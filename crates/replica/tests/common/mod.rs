//! A real `DataTree` behind the replica's hooks, for tests.
//!
//! Besides the tree it records every entry it applied (zxid, time, txn), so
//! tests can compare what servers applied and rebuild the state at any index.
//! A server that installed a snapshot (or started from one) holds only the
//! entries after it.

#![allow(dead_code)]

pub mod ensemble;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, OpCode, Stat};
use rzk_replica::hooks::{ApplyHook, SnapshotSource};
use rzk_replica::{ReplicaConfig, Timing};
use rzk_state::{Applied, DataTree, Entry, StateConfig, Txn, WriteOp};

#[derive(Debug)]
struct Inner {
    tree: DataTree,
    history: Vec<Entry>,
}

#[derive(Debug)]
pub struct TreeState {
    inner: Mutex<Inner>,
    /// When set, [`ApplyHook::encode_if_small`] answers every other call
    /// (the first, third, ...) with the tree's bytes and counts it here, so
    /// snapshots are built both ways in turn; otherwise it never does.
    alternate_encoding: Option<std::sync::atomic::AtomicU64>,
    /// When set, the tree keeps its changes and hands them to every
    /// snapshot build ([`ApplyHook::take_changes`]), as the server does.
    merging: bool,
}

impl TreeState {
    pub fn new() -> Arc<Self> {
        Self::with_tree(DataTree::new(StateConfig::default()))
    }

    /// A tree read from snapshot bytes (a restart), with no history.
    pub fn from_snapshot(bytes: &[u8]) -> Arc<Self> {
        let (tree, _) = DataTree::read_snapshot(&mut &bytes[..], StateConfig::default())
            .expect("snapshot reads");
        Self::with_tree(tree)
    }

    fn with_tree(tree: DataTree) -> Arc<Self> {
        Arc::new(TreeState {
            inner: Mutex::new(Inner {
                tree,
                history: Vec::new(),
            }),
            alternate_encoding: None,
            merging: false,
        })
    }

    /// A tree that keeps its changes for snapshot builds to merge, as the
    /// server's does: fresh, or read from snapshot bytes (a restart).
    pub fn merging(restored: Option<&[u8]>) -> Arc<Self> {
        let mut tree = match restored {
            Some(bytes) => {
                let (mut tree, _) =
                    DataTree::read_snapshot(&mut &bytes[..], StateConfig::default())
                        .expect("snapshot reads");
                tree.track_changes();
                tree
            }
            None => DataTree::new(StateConfig::default()),
        };
        if restored.is_none() {
            // Nothing to merge onto until the first snapshot.
            assert!(tree.take_all_changes().is_none());
        }
        Arc::new(TreeState {
            inner: Mutex::new(Inner {
                tree,
                history: Vec::new(),
            }),
            alternate_encoding: None,
            merging: true,
        })
    }

    /// A fresh tree that hands its encoding to every other snapshot build
    /// (see [`TreeState::encodings`]).
    pub fn alternately_encoding() -> Arc<Self> {
        Arc::new(TreeState {
            inner: Mutex::new(Inner {
                tree: DataTree::new(StateConfig::default()),
                history: Vec::new(),
            }),
            alternate_encoding: Some(std::sync::atomic::AtomicU64::new(0)),
            merging: false,
        })
    }

    /// How often `encode_if_small` was asked (0 unless alternating).
    pub fn encodings(&self) -> u64 {
        self.alternate_encoding
            .as_ref()
            .map_or(0, |n| n.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn last_zxid(&self) -> i64 {
        self.inner().tree.last_zxid()
    }

    /// The (zxid, time) of every client entry applied, in order (the
    /// `/zookeeper/config` entries membership changes become are left out).
    pub fn applied(&self) -> Vec<(i64, i64)> {
        self.inner()
            .history
            .iter()
            .filter(|e| !matches!(e.txn, rzk_state::Txn::SetConfig { .. }))
            .map(|e| (e.zxid, e.time_ms))
            .collect()
    }

    /// Every entry applied, in order (alias of [`TreeState::history`]).
    pub fn entries(&self) -> Vec<Entry> {
        self.history()
    }

    pub fn history(&self) -> Vec<Entry> {
        self.inner().history.clone()
    }

    pub fn dump(&self) -> Vec<(String, Stat, Vec<u8>, Vec<Acl>)> {
        self.inner().tree.dump()
    }

    pub fn node_count(&self) -> usize {
        self.inner().tree.node_count()
    }

    /// The tree as snapshot bytes (deterministic: same tree, same bytes).
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.inner()
            .tree
            .write_snapshot(&mut out)
            .expect("snapshot writes");
        out
    }
}

impl TreeState {
    /// Applies `txns` directly (no raft), with zxids after the tree's last.
    pub fn apply_for_test(&self, txns: &[Txn]) {
        let first = self.last_zxid() + 1;
        let entries: Vec<Entry> = txns
            .iter()
            .enumerate()
            .map(|(i, txn)| Entry {
                zxid: first + i as i64,
                time_ms: 1_000 + i as i64,
                txn: txn.clone(),
            })
            .collect();
        self.apply(&entries);
    }
}

impl ApplyHook for TreeState {
    fn apply(&self, batch: &[Entry]) -> Vec<Applied> {
        let mut inner = self.inner();
        let mut out = Vec::with_capacity(batch.len());
        for entry in batch {
            // The initial membership entry (index 0, as /zookeeper/config)
            // is the one entry at zxid 0.
            assert!(
                entry.zxid > inner.tree.last_zxid()
                    || (entry.zxid == 0 && inner.history.is_empty()),
                "zxids increase"
            );
            out.push(inner.tree.apply(entry));
            inner.history.push(entry.clone());
        }
        out
    }

    fn encode_if_small(&self, max_bytes: usize) -> Option<Vec<u8>> {
        let asked = self
            .alternate_encoding
            .as_ref()?
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let bytes = self.snapshot_bytes();
        (asked % 2 == 0 && bytes.len() <= max_bytes).then_some(bytes)
    }

    fn take_changes(&self) -> Option<rzk_state::snapshot_merge::ChangesTicket> {
        if !self.merging {
            return None;
        }
        self.inner().tree.take_changes()
    }

    fn encode_taken(
        &self,
        ticket: rzk_state::snapshot_merge::ChangesTicket,
        max_paths: usize,
    ) -> rzk_state::snapshot_merge::TakeStep {
        self.inner().tree.encode_taken(ticket, max_paths)
    }

    fn drop_taken(&self, ticket: rzk_state::snapshot_merge::ChangesTicket) {
        self.inner().tree.drop_taken(ticket)
    }
}

impl SnapshotSource for TreeState {
    fn install(&self, bytes: &[u8]) -> io::Result<()> {
        let (mut tree, _) = DataTree::read_snapshot(&mut &bytes[..], StateConfig::default())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if self.merging {
            tree.track_changes();
        }
        *self.inner() = Inner {
            tree,
            history: Vec::new(),
        };
        Ok(())
    }
}

/// The state after applying `entries` in order to an empty tree, as
/// snapshot bytes.
pub fn replay_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut tree = DataTree::new(StateConfig::default());
    for e in entries {
        tree.apply(e);
    }
    let mut out = Vec::new();
    tree.write_snapshot(&mut out).expect("snapshot writes");
    out
}

/// A replica config for tests: given timing, snapshots in `snapshot_dir`.
pub fn replica_config(id: u64, timing: Timing, peer: bool, snapshot_dir: &Path) -> ReplicaConfig {
    let listen = peer.then(|| "127.0.0.1:0".parse().expect("address"));
    ReplicaConfig::new(id, timing, listen, snapshot_dir)
}

/// The session the test writes belong to.
pub const SESSION_ID: i64 = 1;

/// The txn that opens [`SESSION_ID`].
pub fn create_session() -> Txn {
    Txn::CreateSession {
        session_id: SESSION_ID,
        timeout_ms: 30_000,
        password: vec![0; 16],
    }
}

/// A txn that creates `/path` with `data` (persistent, open ACL) in
/// [`SESSION_ID`].
pub fn create(path: &str, data: &[u8]) -> Txn {
    Txn::Write {
        session_id: SESSION_ID,
        auth: Vec::new().into(),
        op: WriteOp::Create {
            op: OpCode::Create,
            create: CreateOp {
                path: path.to_string(),
                data: data.to_vec(),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: 0,
            },
        },
    }
}

/// Another session, opened and closed by [`varied_write`] (its ephemerals
/// come and go with it).
pub const OTHER_SESSION_ID: i64 = 2;

fn create_in(session_id: i64, path: String, data: Vec<u8>, flags: i32) -> Txn {
    Txn::Write {
        session_id,
        auth: Vec::new().into(),
        op: WriteOp::Create {
            op: OpCode::Create,
            create: CreateOp {
                path,
                data,
                acl: Acl::open_unsafe(),
                flags,
                ttl: 0,
            },
        },
    }
}

fn write_op(op: WriteOp) -> Txn {
    Txn::Write {
        session_id: SESSION_ID,
        auth: Vec::new().into(),
        op,
    }
}

/// The `i`th of a deterministic mix of writes: creates (persistent,
/// sequential, ephemeral), setData, deletes, multis, version conflicts and a
/// second session opening and closing. Many fail validation (NodeExists,
/// NoNode, NotEmpty, BadVersion, ...) on purpose: failed writes consume a zxid
/// too, and a replay must decide them identically.
pub fn varied_write(i: u64) -> Txn {
    use rzk_proto::records::{CheckVersionRequest, DeleteRequest, SetDataRequest};
    use rzk_proto::request::MultiOp;
    let d = |k: u64| format!("/d{}", k % 50);
    match i % 10 {
        0 => create_in(SESSION_ID, d(i), i.to_be_bytes().to_vec(), 0),
        1 => write_op(WriteOp::SetData(SetDataRequest {
            path: d(i / 3),
            data: vec![(i % 251) as u8; (i % 64) as usize],
            version: -1,
        })),
        2 => create_in(SESSION_ID, format!("{}/c-", d(i / 7)), Vec::new(), 2),
        3 => write_op(WriteOp::Delete(DeleteRequest {
            path: d(i / 11),
            version: -1,
        })),
        4 => create_in(OTHER_SESSION_ID, format!("/e{}", i % 30), Vec::new(), 1),
        5 => write_op(WriteOp::Multi(vec![
            MultiOp::Check(CheckVersionRequest {
                path: d(i / 13),
                version: -1,
            }),
            MultiOp::Create {
                op: OpCode::Create,
                create: CreateOp {
                    path: format!("/m{i}"),
                    data: b"multi".to_vec(),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                    ttl: 0,
                },
            },
            MultiOp::SetData(SetDataRequest {
                path: format!("/m{i}"),
                data: b"set in the same multi".to_vec(),
                version: 0,
            }),
        ])),
        6 if i % 100 == 6 => Txn::CreateSession {
            session_id: OTHER_SESSION_ID,
            timeout_ms: 30_000,
            password: vec![2; 16],
        },
        6 if i % 100 == 56 => Txn::CloseSession {
            session_id: OTHER_SESSION_ID,
        },
        6 => write_op(WriteOp::SetData(SetDataRequest {
            path: d(i / 5),
            data: Vec::new(),
            version: 3,
        })),
        7 => create_in(SESSION_ID, format!("/big{}", i % 40), vec![7; 2048], 0),
        8 if i % 40 == 8 => write_op(WriteOp::Delete(DeleteRequest {
            path: format!("/m{}", i - 3),
            version: 1,
        })),
        8 => create_in(SESSION_ID, format!("/p{i}"), i.to_le_bytes().to_vec(), 0),
        _ => write_op(WriteOp::Delete(DeleteRequest {
            path: format!("/big{}", (i / 2) % 40),
            version: -1,
        })),
    }
}

/// The suite applies entries straight to the state machine without putting
/// them in a log, and every entry it applies is a blank or membership entry,
/// which do not touch the tree (replay skips them). This stands for that log:
/// every index holds a blank entry.
pub struct BlankLog;

impl rzk_replica::LogSource for BlankLog {
    fn read_entries(
        &self,
        start: u64,
        end: u64,
    ) -> std::io::Result<Vec<rzk_replica::types::RaftEntry>> {
        Ok((start..end)
            .map(|i| openraft::testing::blank_ent::<rzk_replica::TypeConfig>(0, 0, i))
            .collect())
    }
}
