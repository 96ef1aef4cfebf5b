//! What the simulation knows about every server, and the safety checks made
//! as events happen.
//!
//! The checks, and the events that feed them:
//! - *State machine safety* (every server applies the same entry at the same
//!   zxid): each applied entry is compared with the first one any server
//!   applied at that zxid (`history`).
//! - *Order, no gaps*: a server's zxids strictly increase, and every log index
//!   it skipped between two applied entries is a raft entry of its own (blank
//!   or membership), never an rzk entry (checked in its log, or against the
//!   history when the log no longer has it).
//! - *Acknowledged writes are committed*: an outcome handed to a proposer must
//!   be the entry it proposed, at the zxid the history has.
//! - *At most one leader per term*: every server's role is watched and each
//!   (term, leader) pair is recorded.
//!
//! A violation is recorded, never panicked on (the apply hook runs inside
//! openraft): the driver fails the run at the end of the step, naming it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rzk_replica::NodeId;
use rzk_state::{Entry, Txn, WriteOp};

use super::rng::Fnv;

/// Events kept for the failure message.
pub const TRACE_TAIL_EVENTS_MAX: usize = 40;

/// A digest of what an entry does: its time and its txn's encoding.
pub fn entry_digest(entry: &Entry) -> u64 {
    let mut h = Fnv::default();
    h.write(&entry.time_ms.to_be_bytes());
    h.write(&entry.txn.to_bytes());
    h.0
}

/// An entry in a line: what it does, to which path, and its time stamp.
pub fn describe(entry: &Entry) -> String {
    let what = match &entry.txn {
        Txn::Write {
            op: WriteOp::Create { create, .. },
            ..
        } => format!("create {}", create.path),
        Txn::Write { .. } => "write".to_string(),
        Txn::CreateSession { session_id, .. } => format!("createSession {session_id}"),
        Txn::CloseSession { session_id } => format!("closeSession {session_id}"),
        Txn::ExpireSession { session_id, .. } => format!("expireSession {session_id}"),
        Txn::Error { .. } => "error".to_string(),
        Txn::DeleteContainer { .. } => "deleteContainer".to_string(),
        Txn::SetConfig { .. } => "setConfig".to_string(),
    };
    format!("[{what} @{}ms]", entry.time_ms)
}

/// One rzk entry of the common history.
#[derive(Debug, Clone)]
pub struct Known {
    pub entry: Entry,
    pub digest: u64,
    /// The server that applied it first.
    pub first: NodeId,
}

/// A write whose outcome reached its proposer.
#[derive(Debug, Clone)]
pub struct Ack {
    pub zxid: i64,
    pub node: NodeId,
    pub path: String,
    /// The write succeeded (the znode was created), not just committed.
    pub ok: bool,
}

#[derive(Debug, Default)]
struct Progress {
    /// zxid of the last rzk entry applied (or the restored tree's).
    last_zxid: i64,
}

#[derive(Debug, Default)]
pub struct WorldState {
    /// Running hash of every event, for the reproducibility check. Events of
    /// one virtual millisecond are hashed sorted: which of two servers applies
    /// an entry first within the same millisecond is up to the runtime's
    /// wake order, which is not fully deterministic (see WIRING.md); what
    /// happens in each millisecond is.
    pub trace_hash: u64,
    /// The virtual millisecond being collected, and its events.
    bucket_ms: u64,
    bucket: Vec<String>,
    /// Virtual time zero of the run.
    start: Option<tokio::time::Instant>,
    pub trace_events: u64,
    tail: VecDeque<String>,
    /// Every event, kept only when asked for (`keep_all_events`), to diff
    /// two runs of a seed.
    pub all_events: Option<Vec<(u64, String)>>,
    history: BTreeMap<i64, Known>,
    progress: BTreeMap<NodeId, Progress>,
    pub acks: Vec<Ack>,
    leaders: BTreeMap<u64, NodeId>,
    pub violations: Vec<String>,
    pub installs: u64,
}

/// Shared by the hooks, the network, the watchers and the driver.
#[derive(Debug, Clone, Default)]
pub struct World {
    inner: Arc<Mutex<WorldState>>,
}

impl World {
    pub fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl WorldState {
    /// Adds an event to the trace hash and the tail kept for messages.
    pub fn event(&mut self, what: String) {
        let start = *self.start.get_or_insert_with(tokio::time::Instant::now);
        let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms != self.bucket_ms {
            self.flush_bucket();
            self.bucket_ms = now_ms;
        }
        self.bucket.push(what.clone());
        self.trace_events += 1;
        if let Some(all) = &mut self.all_events {
            all.push((now_ms, what.clone()));
        }
        if self.tail.len() == TRACE_TAIL_EVENTS_MAX {
            self.tail.pop_front();
        }
        self.tail.push_back(what);
    }

    fn flush_bucket(&mut self) {
        self.bucket.sort();
        let mut h = Fnv(self.trace_hash);
        h.write(&self.bucket_ms.to_be_bytes());
        for e in self.bucket.drain(..) {
            h.write(e.as_bytes());
            h.write(b"\n");
        }
        self.trace_hash = h.0;
    }

    /// The trace hash including the events of the current millisecond.
    pub fn final_trace_hash(&mut self) -> u64 {
        self.flush_bucket();
        self.trace_hash
    }

    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    fn violate(&mut self, invariant: &str, detail: String) {
        let line = format!("{invariant}: {detail}");
        self.event(format!("VIOLATION {line}"));
        self.violations.push(line);
    }

    /// A server (re)started its state machine at `last_zxid` (its restored
    /// snapshot's, or 0).
    pub fn started(&mut self, node: NodeId, last_zxid: i64) {
        self.progress.insert(node, Progress { last_zxid });
        self.event(format!("start {node} zxid={last_zxid}"));
    }

    /// A server replaced its state with a snapshot whose tree ends at
    /// `last_zxid`.
    pub fn installed(&mut self, node: NodeId, last_zxid: i64) {
        self.installs += 1;
        let p = self.progress.entry(node).or_default();
        let before = p.last_zxid;
        p.last_zxid = last_zxid;
        if last_zxid < before {
            self.violate(
                "no state regression",
                format!("server {node} installed a snapshot ending at zxid {last_zxid} after applying up to {before}"),
            );
        }
        self.event(format!("install {node} zxid={last_zxid}"));
    }

    /// Checks and records one applied entry. `skipped` says what the server's
    /// log holds between its previous entry and this one: `Ok(n)` rzk entries
    /// (must be 0), `Err` when the log no longer has them.
    pub fn applied(&mut self, node: NodeId, entry: &Entry, skipped: Result<usize, String>) {
        let zxid = entry.zxid;
        let digest = entry_digest(entry);
        let p = self.progress.entry(node).or_default();
        let before = p.last_zxid;
        p.last_zxid = zxid;
        // The initial membership entry (index 0, applied as
        // /zookeeper/config) is the one entry at zxid 0, where a fresh tree
        // also starts.
        if zxid <= before && !(zxid == 0 && before == 0) {
            self.violate(
                "order",
                format!("server {node} applied zxid {zxid} after zxid {before}"),
            );
        }
        match skipped {
            Ok(0) => {}
            Ok(n) => self.violate(
                "no gaps",
                format!("server {node} skipped {n} rzk entries between zxid {before} and {zxid}"),
            ),
            Err(_) => {
                // The log was purged past them: the history must not know an
                // rzk entry there either.
                let lo = before.saturating_add(1);
                let hi = zxid;
                if let Some((z, _)) = self.history.range(lo..hi).next() {
                    let z = *z;
                    self.violate(
                        "no gaps",
                        format!("server {node} went from zxid {before} to {zxid}, skipping rzk entry {z}"),
                    );
                }
            }
        }
        match self.history.get(&zxid) {
            Some(known) if known.digest != digest => {
                let first = known.first;
                let theirs = describe(&known.entry);
                self.violate(
                    "state machine safety",
                    format!(
                        "server {node} applied {} at zxid {zxid}, but server {first} applied {theirs} there",
                        describe(entry)
                    ),
                );
            }
            Some(_) => {}
            None => {
                self.history.insert(
                    zxid,
                    Known {
                        entry: entry.clone(),
                        digest,
                        first: node,
                    },
                );
            }
        }
        self.event(format!("apply {node} zxid={zxid} digest={digest:x}"));
    }

    /// The outcome of a write proposed on `node` reached it.
    pub fn acked(&mut self, ack: Ack, proposed: &Entry) {
        let digest = entry_digest(proposed);
        match self.history.get(&ack.zxid) {
            Some(known) if known.digest == digest => {}
            Some(known) => {
                let first = known.first;
                self.violate(
                    "acknowledged write committed",
                    format!(
                        "server {} was answered for {} at zxid {}, but server {first} applied another entry there",
                        ack.node, ack.path, ack.zxid
                    ),
                );
            }
            None => self.violate(
                "acknowledged write committed",
                format!(
                    "server {} was answered for {} at zxid {}, which nobody applied",
                    ack.node, ack.path, ack.zxid
                ),
            ),
        }
        self.event(format!(
            "ack {} zxid={} {} ok={}",
            ack.node, ack.zxid, ack.path, ack.ok
        ));
        self.acks.push(ack);
    }

    /// `node` saw itself leader in `term`.
    pub fn leader(&mut self, term: u64, node: NodeId) {
        match self.leaders.get(&term) {
            Some(&other) if other != node => self.violate(
                "one leader per term",
                format!("servers {other} and {node} were both leader in term {term}"),
            ),
            Some(_) => {}
            None => {
                self.leaders.insert(term, node);
                self.event(format!("leader {node} term={term}"));
            }
        }
    }

    /// Every rzk entry any server applied, in zxid order.
    pub fn history(&self) -> Vec<Entry> {
        self.history.values().map(|k| k.entry.clone()).collect()
    }

    pub fn history_len(&self) -> usize {
        self.history.len()
    }
}
