//! Three replicas in one process over real loopback TCP.
//!
//! Goal: an ensemble elects one leader, commits writes proposed on it, and
//! every server applies the same entries with the same zxids and times; when
//! the leader stops, the other two elect a new leader and accept writes; a
//! server that joins after the log was compacted catches up from a snapshot
//! sent over the network.
//!
//! Method: each replica runs a real `DataTree` behind the hooks
//! (`common::TreeState`), binds its peer port on 127.0.0.1:0, and is
//! initialised with all three addresses, as each server reads the same
//! `server.N` lines. Timing is zoo.cfg's with a 100 ms tick.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{create, create_session, replica_config, TreeState};
use openraft::async_runtime::WatchReceiver;
use rzk_replica::Member;
use rzk_replica::{MemLogStore, NodeId, ProposeError, Replica, SnapshotStore, Timing};
use rzk_state::Applied;
use rzk_state::Txn;

const TICK_MS: u32 = 100;
const WAIT: Duration = Duration::from_secs(20);

struct Node {
    id: NodeId,
    replica: Option<Replica>,
    tree: Arc<TreeState>,
    snapshot_dir: tempfile::TempDir,
}

impl Node {
    fn replica(&self) -> &Replica {
        self.replica.as_ref().expect("running")
    }
}

fn timing(snap_count: u64) -> Timing {
    Timing {
        tick_time_ms: TICK_MS,
        init_limit_ticks: 10,
        sync_limit_ticks: 3,
        snap_count,
    }
}

async fn start_node(id: NodeId, snap_count: u64) -> Node {
    let tree = TreeState::new();
    let snapshot_dir = tempfile::tempdir().expect("tempdir");
    let config = replica_config(id, timing(snap_count), true, snapshot_dir.path());
    let replica = Replica::start(config, MemLogStore::new(), tree.clone(), tree.clone(), None)
        .await
        .expect("replica starts");
    Node {
        id,
        replica: Some(replica),
        tree,
        snapshot_dir,
    }
}

async fn start_cluster(snap_count: u64) -> Vec<Node> {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_node(id, snap_count).await);
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
    propose(&nodes, create_session()).await;
    nodes
}

/// The leader every running node agrees on.
async fn agreed_leader(nodes: &[Node]) -> NodeId {
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

/// Creates `/path` through whichever node leads.
async fn write(nodes: &[Node], path: &str) -> Applied {
    let applied = propose(nodes, create(path, b"v")).await;
    assert_eq!(applied.reply.err, rzk_proto::ErrorCode::Ok, "create {path}");
    applied
}

/// Proposes on whichever node leads, retrying while leadership settles.
async fn propose(nodes: &[Node], txn: Txn) -> Applied {
    let deadline = Instant::now() + WAIT;
    loop {
        let leader = agreed_leader(nodes).await;
        let node = nodes.iter().find(|n| n.id == leader).unwrap();
        match node.replica().proposer().propose(txn.clone()).await {
            Ok(applied) => return applied,
            Err(e @ (ProposeError::NotLeader { .. } | ProposeError::Lost)) => {
                assert!(Instant::now() < deadline, "{txn:?} never accepted: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{txn:?}: {e}"),
        }
    }
}

/// Waits until every running node has applied `count` entries (a node that
/// installed a snapshot has applied only those after it, but must reach the
/// same last entry), then checks they applied the same ones (zxid and time)
/// and hold the same tree, byte for byte.
async fn assert_converged(nodes: &[Node], count: usize) {
    let deadline = Instant::now() + WAIT;
    let running: Vec<&Node> = nodes.iter().filter(|n| n.replica.is_some()).collect();
    // The node that applied every entry itself (none installed a snapshot).
    let full = || {
        running
            .iter()
            .copied()
            .max_by_key(|n| n.tree.applied().len())
            .expect("a running node")
    };
    loop {
        let reference = full();
        let done = reference.tree.applied().len() >= count
            && running
                .iter()
                .all(|n| n.tree.last_zxid() == reference.tree.last_zxid());
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every node applied {count} entries"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reference = full();
    let applied = reference.tree.applied();
    assert_eq!(applied.len(), count);
    assert!(
        applied.windows(2).all(|w| w[0].0 < w[1].0),
        "zxids strictly increase: {applied:?}"
    );
    for n in &running {
        let theirs = n.tree.applied();
        assert_eq!(
            theirs[..],
            applied[applied.len() - theirs.len()..],
            "server {} applied the same entries (after its snapshot, if any)",
            n.id
        );
        assert_eq!(
            n.tree.dump(),
            reference.tree.dump(),
            "server {} has the same tree",
            n.id
        );
        assert!(
            n.tree.snapshot_bytes() == reference.tree.snapshot_bytes(),
            "server {} has the same tree bytes",
            n.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_elect_replicate_and_fail_over() {
    let mut nodes = start_cluster(0).await;

    // === one leader, writes through it reach every server identically
    let leader = agreed_leader(&nodes).await;
    let mut last_zxid = 0;
    for i in 0..30 {
        let applied = write(&nodes, &format!("/n{i}")).await;
        assert!(applied.zxid > last_zxid, "zxids increase in commit order");
        last_zxid = applied.zxid;
    }
    assert_converged(&nodes, 31).await;

    // === a follower forwards to the leader (tests/forwarding.rs has more)
    let follower = nodes.iter().find(|n| n.id != leader).unwrap();
    let forwarded = follower
        .replica()
        .proposer()
        .propose(create("/x", b""))
        .await
        .expect("forwarded and committed");
    assert_eq!(forwarded.reply.err, rzk_proto::ErrorCode::Ok);
    assert!(forwarded.zxid > last_zxid);
    last_zxid = forwarded.zxid;
    assert_converged(&nodes, 32).await;

    // === the leader stops; the other two elect a new one and take writes
    let old = nodes.iter_mut().find(|n| n.id == leader).unwrap();
    let stopped_at = Instant::now();
    old.replica.take().unwrap().shutdown().await;
    let new_leader = agreed_leader(&nodes).await;
    assert_ne!(new_leader, leader);
    for i in 30..40 {
        let applied = write(&nodes, &format!("/n{i}")).await;
        assert!(
            applied.zxid > last_zxid,
            "zxids increase across the leader change"
        );
        last_zxid = applied.zxid;
    }
    eprintln!(
        "new leader {new_leader} accepted writes {:?} after the old one stopped",
        stopped_at.elapsed()
    );
    assert_converged(&nodes, 42).await;
    // Each new leader's blank entry took an index, not a zxid seen by the tree.
    let zxids: Vec<i64> = nodes[0..]
        .iter()
        .find(|n| n.replica.is_some())
        .unwrap()
        .tree
        .applied()
        .iter()
        .map(|(z, _)| *z)
        .collect();
    assert!(
        zxids.windows(2).any(|w| w[1] > w[0] + 1),
        "a gap at the leader change: {zxids:?}"
    );

    for n in nodes.iter_mut() {
        if let Some(r) = n.replica.take() {
            r.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_server_catches_up_from_a_snapshot_over_the_network() {
    const SNAP_COUNT: u64 = 20;
    let mut nodes = start_cluster(SNAP_COUNT).await;
    for i in 0..100 {
        write(&nodes, &format!("/s{i}")).await;
    }
    assert_converged(&nodes, 101).await;

    // === the leader has compacted its log: a new server can only get a snapshot
    let leader = agreed_leader(&nodes).await;
    let leader_raft = nodes
        .iter()
        .find(|n| n.id == leader)
        .unwrap()
        .replica()
        .raft()
        .clone();
    let deadline = Instant::now() + WAIT;
    loop {
        let purged = leader_raft
            .metrics()
            .borrow_watched()
            .purged
            .map(|id| id.index);
        if purged.is_some_and(|p| p > 10) {
            break;
        }
        assert!(Instant::now() < deadline, "leader never purged its log");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let late = start_node(4, SNAP_COUNT).await;
    let addr = late.replica().peer_addr().unwrap().to_string();
    leader_raft
        .add_learner(4, Member::at(addr), true)
        .await
        .expect("learner added");
    nodes.push(late);
    assert_converged(&nodes, 101).await;
    let installed = nodes[3]
        .replica()
        .raft()
        .metrics()
        .borrow_watched()
        .snapshot;
    let installed = installed.expect("the late server got a snapshot, not just entries");
    assert_eq!(nodes[3].tree.node_count(), nodes[0].tree.node_count());
    assert!(
        nodes[3].tree.applied().len() < 101,
        "the late server applied only what came after the snapshot"
    );
    // The installed snapshot is on the late server's disk, intact.
    let store = SnapshotStore::open(nodes[3].snapshot_dir.path()).expect("open");
    let on_disk = store.load_newest().expect("load").expect("a snapshot file");
    assert_eq!(on_disk.meta.last_log_id, Some(installed));
    let (tree, _) = rzk_state::DataTree::read_snapshot(
        &mut &on_disk.bytes[..],
        rzk_state::StateConfig::default(),
    )
    .expect("the file holds a tree");
    assert!(tree.node_count() > 0);

    for n in nodes.iter_mut() {
        if let Some(r) = n.replica.take() {
            r.shutdown().await;
        }
    }
}
