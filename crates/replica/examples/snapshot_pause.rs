//! How much a snapshot being built slows writes, with a large tree.
//!
//! Run: `cargo run --release -p rzk-replica --example snapshot_pause [znodes] [seconds]`
//!
//! A single-server ensemble with the in-memory log and a real `DataTree`
//! behind the hooks is loaded with `znodes` znodes (default 200,000). Then one
//! writer proposes setData after setData, one at a time, and the latency of
//! each is recorded: first for `seconds` with no snapshot running, then while
//! a snapshot is built (the first replays the whole log onto an empty tree,
//! the second replays the few entries since onto the first). For contrast it
//! also times what the replaced design paused the server for: cloning the
//! tree under its lock.
//!
//! Not a test: the numbers depend on the machine and its load. Snapshots go
//! to a temp dir on the default temp filesystem.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::async_runtime::WatchReceiver;
use rzk_proto::records::SetDataRequest;
use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, ErrorCode, OpCode};
use rzk_replica::hooks::{ApplyHook, SnapshotSource};
use rzk_replica::{MemLogStore, Proposer, Replica, ReplicaConfig, Timing};
use rzk_state::{Applied, DataTree, Entry, StateConfig, Txn, WriteOp};

struct Tree(Mutex<DataTree>);

impl ApplyHook for Tree {
    fn apply(&self, batch: &[Entry]) -> Vec<Applied> {
        let mut tree = self.0.lock().unwrap();
        batch.iter().map(|e| tree.apply(e)).collect()
    }
}

impl SnapshotSource for Tree {
    fn install(&self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("a single server never installs"))
    }
}

const SESSION: i64 = 1;
/// Proposals in flight while loading the tree.
const LOAD_CONCURRENCY: usize = 64;

fn write(op: WriteOp) -> Txn {
    Txn::Write {
        session_id: SESSION,
        auth: Vec::new().into(),
        op,
    }
}

fn create(path: String, data: Vec<u8>) -> Txn {
    write(WriteOp::Create {
        op: OpCode::Create,
        create: CreateOp {
            path,
            data,
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: 0,
        },
    })
}

fn set_data() -> Txn {
    write(WriteOp::SetData(SetDataRequest {
        path: "/bench".into(),
        data: vec![7; 64],
        version: -1,
    }))
}

async fn must(p: &Proposer, txn: Txn) {
    let a = p.propose(txn).await.expect("committed");
    assert!(
        a.reply.err == ErrorCode::Ok || a.reply.err == ErrorCode::NodeExists,
        "{:?}",
        a.reply.err
    );
}

/// (start, latency) of sequential setData writes until `stop` is set.
async fn sequential_writes(p: Proposer, stop: Arc<AtomicBool>) -> Vec<(Instant, Duration)> {
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        must(&p, set_data()).await;
        out.push((t, t.elapsed()));
    }
    out
}

/// Prints the slowest writes, when they started relative to `since`.
fn slowest(timed: &[(Instant, Duration)], since: Instant) {
    let mut by_latency: Vec<&(Instant, Duration)> = timed.iter().collect();
    by_latency.sort_by_key(|(_, l)| std::cmp::Reverse(*l));
    let top: Vec<String> = by_latency
        .iter()
        .take(3)
        .map(|(t, l)| {
            let at = t.saturating_duration_since(since).as_millis();
            format!("{l:.1?} at +{at} ms")
        })
        .collect();
    println!("    slowest: {}", top.join(", "));
}

fn report(label: &str, timed: &[(Instant, Duration)], window: Duration) {
    let mut lat: Vec<Duration> = timed.iter().map(|(_, l)| *l).collect();
    lat.sort();
    let n = lat.len();
    let pct = |q: f64| lat[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "{label}: {n} writes in {:.2}s; p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        window.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        lat[n - 1]
    );
}

/// Writes sequentially while a snapshot is built; returns when one covers
/// what was applied when it was asked for.
async fn during_snapshot(replica: &Replica, label: &str) {
    let target = replica
        .raft()
        .metrics()
        .borrow_watched()
        .last_applied
        .map(|l| l.index)
        .unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(sequential_writes(replica.proposer(), stop.clone()));
    // Let the writer get going first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    replica.raft().trigger().snapshot().await.expect("trigger");
    let mut metrics = replica.raft().metrics();
    loop {
        let done = metrics
            .borrow_watched()
            .snapshot
            .is_some_and(|s| s.index >= target);
        if done {
            break;
        }
        if metrics.changed().await.is_err() {
            panic!("raft stopped");
        }
    }
    let built_in = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let timed = writer.await.expect("writer");
    // The writer's first 200 ms ran before the snapshot started: a wash.
    report(
        &format!("{label} (built in {built_in:?})"),
        &timed,
        built_in + Duration::from_millis(200),
    );
    slowest(&timed, started);
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let znodes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let tree = Arc::new(Tree(Mutex::new(DataTree::new(StateConfig::default()))));
    // snapCount 0: snapshots only when asked for.
    let timing = Timing {
        snap_count: 0,
        ..Timing::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let replica = Replica::start(
        ReplicaConfig::new(1, timing, None, dir.path()),
        MemLogStore::new(),
        tree.clone(),
        tree.clone(),
        None,
    )
    .await
    .expect("start");
    replica.initialize_single().await.expect("initialize");
    replica
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("leader");
    let p = replica.proposer();
    let deadline = Instant::now() + Duration::from_secs(10);
    while p
        .propose(Txn::CreateSession {
            session_id: SESSION,
            timeout_ms: 30_000,
            password: vec![0; 16],
        })
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "leader never accepted a write");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    must(&p, create("/bench".into(), Vec::new())).await;
    must(&p, create("/n".into(), Vec::new())).await;

    let loading = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..LOAD_CONCURRENCY {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..znodes).step_by(LOAD_CONCURRENCY) {
                must(&p, create(format!("/n/{i:08}"), vec![(i % 251) as u8; 32])).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("loader");
    }
    let nodes = tree.0.lock().unwrap().node_count();
    println!("loaded {nodes} znodes in {:?}", loading.elapsed());

    let t = Instant::now();
    let copy = tree.0.lock().unwrap().clone();
    println!(
        "for contrast: cloning the tree (the old freeze, under the server's lock) took {:?}",
        t.elapsed()
    );
    drop(copy);

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writer = tokio::spawn(sequential_writes(p.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let timed = writer.await.expect("writer");
    report("no snapshot running", &timed, Duration::from_secs(secs));
    slowest(&timed, started);

    during_snapshot(&replica, "first snapshot, whole log replayed").await;
    during_snapshot(&replica, "second snapshot, onto the first").await;
    let files = std::fs::read_dir(dir.path()).expect("dir").count();
    println!("snapshot files: {files}");
    replica.shutdown().await;
}
