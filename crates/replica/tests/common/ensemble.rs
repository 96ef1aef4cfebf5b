//! Three replicas in one process over real loopback TCP, each with a real
//! `DataTree` behind its hooks and a recording [`LeaderSessions`], for tests
//! that need an ensemble (timing: zoo.cfg's with a 100 ms tick).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rzk_proto::ErrorCode;
use rzk_replica::{
    LeaderSessions, MemLogStore, NodeId, ProposeError, Replica, ReplicaConfig, Timing,
};
use rzk_state::{Applied, Txn};

use super::{create_session, TreeState};

pub const TICK_MS: u32 = 100;
pub const SYNC_LIMIT_TICKS: u32 = 3;
pub const WAIT: Duration = Duration::from_secs(20);

/// A [`LeaderSessions`] that records what reaches it: activity, owners set by
/// revalidation; it turns a write from a server that does not own the session
/// into an error entry with SessionMoved, as ZooKeeper's leader does.
#[derive(Debug, Default)]
pub struct RecordingSessions {
    pub touches: Mutex<Vec<(NodeId, Vec<i64>)>>,
    pub owners: Mutex<HashMap<i64, NodeId>>,
    /// What `revalidate` answers (true unless a test says otherwise).
    pub refuse_revalidation: AtomicBool,
    /// How many proposals were admitted here.
    pub admitted: Mutex<Vec<NodeId>>,
}

impl RecordingSessions {
    pub fn touches(&self) -> Vec<(NodeId, Vec<i64>)> {
        self.touches.lock().unwrap().clone()
    }

    pub fn admitted(&self) -> Vec<NodeId> {
        self.admitted.lock().unwrap().clone()
    }
}

impl LeaderSessions for RecordingSessions {
    fn touched(&self, from: NodeId, sessions: &[i64]) {
        self.touches.lock().unwrap().push((from, sessions.to_vec()));
    }

    fn revalidate(&self, from: NodeId, session_id: i64, _timeout_ms: i32) -> bool {
        if self.refuse_revalidation.load(Ordering::SeqCst) {
            return false;
        }
        self.owners.lock().unwrap().insert(session_id, from);
        true
    }

    fn admit(&self, from: NodeId, txn: Txn) -> Txn {
        self.admitted.lock().unwrap().push(from);
        if let Txn::Write { session_id, .. } = &txn {
            let owner = self.owners.lock().unwrap().get(session_id).copied();
            if owner.is_some_and(|o| o != from) {
                return Txn::Error {
                    session_id: *session_id,
                    err: ErrorCode::SessionMoved,
                };
            }
        }
        txn
    }
}

pub struct Node {
    pub id: NodeId,
    pub replica: Option<Replica>,
    pub tree: Arc<TreeState>,
    pub sessions: Arc<RecordingSessions>,
}

impl Node {
    pub fn replica(&self) -> &Replica {
        self.replica.as_ref().expect("running")
    }
}

pub fn timing() -> Timing {
    Timing {
        tick_time_ms: TICK_MS,
        init_limit_ticks: 10,
        sync_limit_ticks: SYNC_LIMIT_TICKS,
        snap_count: 0,
    }
}

pub async fn start_node(id: NodeId) -> Node {
    let tree = TreeState::new();
    let sessions = Arc::new(RecordingSessions::default());
    // snapCount 0: no snapshot is written; the directory only has to exist.
    let config = ReplicaConfig::new(
        id,
        timing(),
        Some("127.0.0.1:0".parse().unwrap()),
        std::env::temp_dir(),
    );
    let mut replica = Replica::build(config, MemLogStore::new(), tree.clone(), tree.clone(), None)
        .await
        .expect("replica builds");
    replica.set_leader_sessions(sessions.clone());
    replica.run();
    Node {
        id,
        replica: Some(replica),
        tree,
        sessions,
    }
}

/// Three servers, initialised together, with session 1 open.
pub async fn start_cluster() -> Vec<Node> {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_node(id).await);
    }
    let members: BTreeMap<NodeId, rzk_replica::Member> = nodes
        .iter()
        .map(|n| {
            let addr = n.replica().peer_addr().unwrap().to_string();
            (n.id, rzk_replica::Member::at(addr))
        })
        .collect();
    for n in &nodes {
        n.replica()
            .initialize(members.clone())
            .await
            .expect("initialize");
    }
    propose_on_leader(&nodes, create_session()).await;
    nodes
}

pub async fn stop_all(nodes: &mut [Node]) {
    for n in nodes.iter_mut() {
        if let Some(r) = n.replica.take() {
            r.shutdown().await;
        }
    }
}

/// The leader every running node agrees on.
pub async fn agreed_leader(nodes: &[Node]) -> NodeId {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut seen = Vec::new();
        for n in nodes.iter().filter(|n| n.replica.is_some()) {
            seen.push(n.replica().wait_for_leader(WAIT).await);
        }
        if let Some(Some(first)) = seen.first() {
            let alive = nodes.iter().any(|n| n.id == *first && n.replica.is_some());
            if alive && seen.iter().all(|s| *s == Some(*first)) {
                return *first;
            }
        }
        assert!(Instant::now() < deadline, "no agreed leader: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn node(nodes: &[Node], id: NodeId) -> &Node {
    nodes.iter().find(|n| n.id == id).expect("node exists")
}

/// The running nodes that are not `leader`.
pub fn followers(nodes: &[Node], leader: NodeId) -> Vec<&Node> {
    nodes
        .iter()
        .filter(|n| n.id != leader && n.replica.is_some())
        .collect()
}

/// Proposes on `on`, retrying while leadership settles.
pub async fn propose_via(on: &Node, txn: Txn) -> Applied {
    let deadline = Instant::now() + WAIT;
    loop {
        match on.replica().proposer().propose(txn.clone()).await {
            Ok(applied) => return applied,
            Err(e @ (ProposeError::NotLeader { .. } | ProposeError::Lost)) => {
                assert!(Instant::now() < deadline, "{txn:?} never accepted: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{txn:?}: {e}"),
        }
    }
}

/// Proposes on whichever node leads.
pub async fn propose_on_leader(nodes: &[Node], txn: Txn) -> Applied {
    let leader = agreed_leader(nodes).await;
    propose_via(node(nodes, leader), txn).await
}

/// Waits until every running node has applied `count` entries, then checks
/// they applied the same ones and hold the same tree.
pub async fn assert_converged(nodes: &[Node], count: usize) {
    let deadline = Instant::now() + WAIT;
    let running: Vec<&Node> = nodes.iter().filter(|n| n.replica.is_some()).collect();
    while running.iter().any(|n| n.tree.applied().len() < count) {
        assert!(
            Instant::now() < deadline,
            "not every node applied {count} entries: {:?}",
            running
                .iter()
                .map(|n| n.tree.applied().len())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reference = running[0].tree.entries();
    assert_eq!(running[0].tree.applied().len(), count);
    for n in &running[1..] {
        assert_eq!(
            n.tree.entries(),
            reference,
            "server {} applied the same entries",
            n.id
        );
        assert_eq!(n.tree.dump(), running[0].tree.dump());
    }
}

/// Polls `check` until it holds or [`WAIT`] passes.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
