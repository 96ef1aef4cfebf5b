//! A real `DataTree` behind the replica's hooks, for tests.
//!
//! Snapshots here are the list of entries applied so far (install = replay
//! them into a fresh tree): slow and large, but exact, and they keep the
//! applied (zxid, time) history comparable across servers, which the tree's
//! own snapshot format (rightly) does not carry.

#![allow(dead_code)]

pub mod ensemble;

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, OpCode, Stat};
use rzk_replica::hooks::{ApplyHook, SnapshotJob, SnapshotSource};
use rzk_state::{Applied, DataTree, Entry, StateConfig, Txn, WriteOp};

#[derive(Debug)]
struct Inner {
    tree: DataTree,
    history: Vec<Entry>,
}

#[derive(Debug)]
pub struct TreeState {
    inner: Mutex<Inner>,
}

impl TreeState {
    pub fn new() -> Arc<Self> {
        Arc::new(TreeState {
            inner: Mutex::new(Inner {
                tree: DataTree::new(StateConfig::default()),
                history: Vec::new(),
            }),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn last_zxid(&self) -> i64 {
        self.inner().tree.last_zxid()
    }

    /// (zxid, time) of every entry applied, in order.
    pub fn applied(&self) -> Vec<(i64, i64)> {
        self.inner()
            .history
            .iter()
            .map(|e| (e.zxid, e.time_ms))
            .collect()
    }

    /// Every entry applied, in order.
    pub fn entries(&self) -> Vec<Entry> {
        self.inner().history.clone()
    }

    pub fn dump(&self) -> Vec<(String, Stat, Vec<u8>, Vec<Acl>)> {
        self.inner().tree.dump()
    }

    pub fn node_count(&self) -> usize {
        self.inner().tree.node_count()
    }
}

impl ApplyHook for TreeState {
    fn apply(&self, batch: &[Entry]) -> Vec<Applied> {
        let mut inner = self.inner();
        let mut out = Vec::with_capacity(batch.len());
        for entry in batch {
            assert!(entry.zxid > inner.tree.last_zxid(), "zxids increase");
            out.push(inner.tree.apply(entry));
            inner.history.push(entry.clone());
        }
        out
    }
}

fn encode_history(history: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in history {
        let bytes = e.to_bytes();
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn decode_history(mut bytes: &[u8]) -> io::Result<Vec<Entry>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad test snapshot");
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(bad());
        }
        let len = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
        let rest = &bytes[4..];
        if rest.len() < len {
            return Err(bad());
        }
        out.push(Entry::from_bytes(&rest[..len]).map_err(|_| bad())?);
        bytes = &rest[len..];
    }
    Ok(out)
}

impl SnapshotSource for TreeState {
    fn freeze(&self) -> SnapshotJob {
        let history = self.inner().history.clone();
        Box::new(move || Ok(encode_history(&history)))
    }

    fn install(&self, bytes: &[u8]) -> io::Result<()> {
        let history = decode_history(bytes)?;
        let mut tree = DataTree::new(StateConfig::default());
        for e in &history {
            tree.apply(e);
        }
        *self.inner() = Inner { tree, history };
        Ok(())
    }
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
        auth: Vec::new(),
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
