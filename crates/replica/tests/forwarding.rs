//! Followers forward writes to the leader; session activity, revalidation and
//! ownership reach the leader's `LeaderSessions`.
//!
//! Goal: a write submitted on any server is committed and answered there with
//! its real outcome, in submission order; the leader's session hook sees
//! activity and revalidations from every server and can turn a write from a
//! server that does not own the session into a SessionMoved error entry; when
//! the leader dies, no forwarded proposal waits forever, and forwarding works
//! again once a new leader is elected.
//!
//! Method: three replicas on loopback (`common::ensemble`), 100 ms tick,
//! syncLimit 3; real TCP between them, real `DataTree`s, a recording
//! `LeaderSessions` on every server (only the leader's is consulted).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::ensemble::{
    agreed_leader, assert_converged, eventually, followers, node, propose_via, start_cluster,
    stop_all, Node, SYNC_LIMIT_TICKS, TICK_MS, WAIT,
};
use common::{create, SESSION_ID};
use rzk_proto::response::Response;
use rzk_proto::ErrorCode;
use rzk_replica::ProposeError;
use rzk_state::Txn;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_forward_writes_and_answer_with_the_real_outcome_in_order() {
    let mut nodes = start_cluster().await;
    let leader = agreed_leader(&nodes).await;
    let mut entries = 1;

    // === a create on each follower: committed, answered there with its path;
    // the same create again is NodeExists
    for f in followers(&nodes, leader) {
        let path = format!("/from{}", f.id);
        let applied = propose_via(f, create(&path, b"v")).await;
        assert_eq!(applied.reply.err, ErrorCode::Ok, "{path}");
        assert_eq!(
            applied.reply.response,
            Response::Create { path: path.clone() }
        );
        let again = propose_via(f, create(&path, b"v")).await;
        assert_eq!(again.reply.err, ErrorCode::NodeExists);
        assert!(again.zxid > applied.zxid);
        entries += 2;
    }
    // Forwarded proposals went through the leader's admit, not the followers'.
    let admitted = node(&nodes, leader).sessions.admitted();
    for f in followers(&nodes, leader) {
        assert!(
            admitted.contains(&f.id),
            "leader admitted server {}'s",
            f.id
        );
        assert!(f.sessions.admitted().is_empty(), "only the leader admits");
    }

    // === 500 pipelined creates from one task on a follower: every one is
    // committed, with zxids strictly increasing in submission order
    const PIPELINED: usize = 500;
    let follower = followers(&nodes, leader)[0];
    let proposer = follower.replica().proposer();
    let started = Instant::now();
    let mut receivers = Vec::with_capacity(PIPELINED);
    for i in 0..PIPELINED {
        let rx = proposer
            .submit(create(&format!("/p{i:03}"), b"x"))
            .await
            .expect("submitted");
        receivers.push(rx);
    }
    let mut zxids = Vec::with_capacity(PIPELINED);
    for (i, rx) in receivers.into_iter().enumerate() {
        let applied = tokio::time::timeout(WAIT, rx)
            .await
            .expect("answered in time")
            .expect("committed, not abandoned");
        assert_eq!(applied.reply.err, ErrorCode::Ok, "/p{i:03}");
        zxids.push(applied.zxid);
    }
    eprintln!(
        "{PIPELINED} pipelined forwarded creates committed in {:?}",
        started.elapsed()
    );
    assert!(
        zxids.windows(2).all(|w| w[0] < w[1]),
        "zxids follow submission order"
    );
    entries += PIPELINED;
    assert_converged(&nodes, entries).await;
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_activity_revalidation_and_ownership_reach_the_leader() {
    let mut nodes = start_cluster().await;
    let leader = agreed_leader(&nodes).await;
    let fs = followers(&nodes, leader);
    let (owner, other) = (fs[0], fs[1]);
    let leader_sessions = &node(&nodes, leader).sessions;

    // === activity reported on a follower reaches the leader's hook, tagged
    // with the follower; on the leader it goes to the hook directly
    owner.replica().report_activity(vec![SESSION_ID, 77]);
    eventually("the follower's activity reaches the leader", || {
        leader_sessions
            .touches()
            .iter()
            .any(|(from, s)| *from == owner.id && s.contains(&SESSION_ID) && s.contains(&77))
    })
    .await;
    node(&nodes, leader).replica().report_activity(vec![5]);
    assert!(leader_sessions.touches().contains(&(leader, vec![5])));
    assert!(
        owner.sessions.touches().is_empty(),
        "not the follower's hook"
    );

    // === revalidation from a follower returns the leader hook's answer
    leader_sessions
        .refuse_revalidation
        .store(true, Ordering::SeqCst);
    assert_eq!(
        owner.replica().revalidate(SESSION_ID, 30_000).await,
        Ok(false)
    );
    leader_sessions
        .refuse_revalidation
        .store(false, Ordering::SeqCst);
    assert_eq!(
        owner.replica().revalidate(SESSION_ID, 30_000).await,
        Ok(true)
    );
    assert_eq!(
        leader_sessions.owners.lock().unwrap().get(&SESSION_ID),
        Some(&owner.id),
        "the leader recorded the follower as the owner"
    );

    // === a write for the session through a server that does not own it:
    // an error entry with SessionMoved, answered and applied everywhere
    let moved = propose_via(other, create("/moved", b"")).await;
    assert_eq!(moved.reply.err, ErrorCode::SessionMoved);
    // The owner's write goes through.
    let owned = propose_via(owner, create("/owned", b"")).await;
    assert_eq!(owned.reply.err, ErrorCode::Ok);
    // 1 createSession + 2 writes.
    assert_converged(&nodes, 3).await;
    for n in &nodes {
        let entries = n.tree.entries();
        let at = entries
            .iter()
            .find(|e| e.zxid == moved.zxid)
            .expect("the moved write's entry");
        assert_eq!(
            at.txn,
            Txn::Error {
                session_id: SESSION_ID,
                err: ErrorCode::SessionMoved
            },
            "server {} logged the error entry",
            n.id
        );
    }
    stop_all(&mut nodes).await;
}

/// The election timeout's upper end, the unit failure handling is measured in.
fn election_timeout() -> Duration {
    Duration::from_millis(u64::from(TICK_MS) * u64::from(SYNC_LIMIT_TICKS + 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_proposals_never_hang_when_the_leader_dies_and_forwarding_resumes() {
    let mut nodes = start_cluster().await;
    let leader = agreed_leader(&nodes).await;
    let follower_id = followers(&nodes, leader)[0].id;

    // === a burst submitted on a follower by one task; the leader stops while
    // it is under way (once some of it has been applied on the follower)
    const BURST: usize = 2000;
    let proposer = node(&nodes, follower_id).replica().proposer();
    let submitter = tokio::spawn(async move {
        let mut receivers = Vec::with_capacity(BURST);
        let mut refused = 0;
        for i in 0..BURST {
            match proposer.submit(create(&format!("/b{i:04}"), b"")).await {
                Ok(rx) => receivers.push(rx),
                // The leader is gone and no new one is known yet.
                Err(ProposeError::NotLeader { .. }) => refused += 1,
                Err(e) => panic!("submit {i}: {e}"),
            }
            if i % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        (receivers, refused)
    });
    let base = node(&nodes, follower_id).tree.applied().len();
    let follower_tree = node(&nodes, follower_id).tree.clone();
    eventually("part of the burst is applied", || {
        follower_tree.applied().len() >= base + 50
    })
    .await;
    let old = nodes.iter_mut().find(|n| n.id == leader).unwrap();
    let stopped_at = Instant::now();
    old.replica.take().unwrap().shutdown().await;
    let (receivers, refused) = submitter.await.expect("submitter");

    // === every waiting receiver resolves (outcome or closed) within a few
    // election timeouts
    let limit = election_timeout() * 10;
    let mut committed = 0;
    let mut abandoned = 0;
    let mut last_committed_zxid = 0;
    for rx in receivers {
        let left = limit.saturating_sub(stopped_at.elapsed());
        match tokio::time::timeout(left, rx).await {
            Ok(Ok(applied)) => {
                assert!(applied.zxid > last_committed_zxid, "in order");
                last_committed_zxid = applied.zxid;
                committed += 1;
            }
            Ok(Err(_closed)) => abandoned += 1,
            Err(_) => panic!(
                "a forwarded proposal still waits {:?} after the leader stopped",
                stopped_at.elapsed()
            ),
        }
    }
    eprintln!(
        "leader stopped: {committed} committed, {abandoned} abandoned, {refused} refused; all resolved within {:?} (limit {limit:?})",
        stopped_at.elapsed()
    );
    assert_eq!(committed + abandoned + refused, BURST);
    assert!(
        committed >= 50,
        "the part applied before the stop was answered"
    );
    assert_eq!(
        node(&nodes, follower_id).replica().proposer().in_flight(),
        0,
        "nothing left waiting"
    );

    // === a new leader; forwarding from the remaining follower works again
    let new_leader = agreed_leader(&nodes).await;
    assert_ne!(new_leader, leader);
    let remaining: Vec<&Node> = followers(&nodes, new_leader);
    assert_eq!(remaining.len(), 1);
    let f = remaining[0];
    let applied = propose_via(f, create("/after", b"")).await;
    assert_eq!(applied.reply.err, ErrorCode::Ok);
    assert!(applied.zxid > last_committed_zxid);
    // A revalidation round trip goes through the new link too.
    assert_eq!(f.replica().revalidate(SESSION_ID, 30_000).await, Ok(true));
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_known_leader_is_not_leader_at_once() {
    let node = common::ensemble::start_node(1).await;
    // Never initialised: no leader exists.
    let started = Instant::now();
    let refused = node.replica().proposer().submit(create("/x", b"")).await;
    assert_eq!(
        refused.err(),
        Some(ProposeError::NotLeader { leader: None })
    );
    assert_eq!(
        node.replica().revalidate(SESSION_ID, 1000).await,
        Err(ProposeError::NotLeader { leader: None })
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let mut nodes = vec![node];
    stop_all(&mut nodes).await;
}
