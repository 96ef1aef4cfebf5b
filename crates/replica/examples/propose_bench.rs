//! Write throughput of a single-server ensemble ("ensemble of one") with the
//! in-memory log: proposals go through openraft and the state machine adapter
//! into a real `DataTree` (setData on one znode).
//!
//! Run: `cargo run --release -p rzk-replica --example propose_bench [seconds]`
//!
//! Not a test: numbers depend on the machine. It prints writes/s for one
//! sequential proposer, 64 concurrent proposers, and one task pipelining up
//! to 1024 proposals (as a connection with many outstanding requests does).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        Err(io::Error::other("the bench never snapshots"))
    }
}

const SESSION: i64 = 1;

fn set_data() -> Txn {
    Txn::Write {
        session_id: SESSION,
        auth: Vec::new(),
        op: WriteOp::SetData(SetDataRequest {
            path: "/bench".into(),
            data: vec![7; 64],
            version: -1,
        }),
    }
}

async fn sequential(p: &Proposer, run: Duration) -> u64 {
    let end = Instant::now() + run;
    let mut n = 0;
    while Instant::now() < end {
        let a = p.propose(set_data()).await.expect("write");
        assert_eq!(a.reply.err, ErrorCode::Ok);
        n += 1;
    }
    n
}

async fn concurrent(p: &Proposer, run: Duration, tasks: usize) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + run;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let p = p.clone();
        let done = done.clone();
        handles.push(tokio::spawn(async move {
            while Instant::now() < end {
                p.propose(set_data()).await.expect("write");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

async fn pipelined(p: &Proposer, run: Duration, window: usize) -> u64 {
    let end = Instant::now() + run;
    let mut in_flight = std::collections::VecDeque::new();
    let mut n = 0;
    while Instant::now() < end {
        while in_flight.len() < window {
            in_flight.push_back(p.submit(set_data()).await.expect("submit"));
        }
        if let Some(rx) = in_flight.pop_front() {
            rx.await.expect("applied");
            n += 1;
        }
    }
    for rx in in_flight {
        rx.await.expect("applied");
        n += 1;
    }
    n
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let run = Duration::from_secs(secs);
    let tree = Arc::new(Tree(Mutex::new(DataTree::new(StateConfig::default()))));
    let timing = Timing {
        snap_count: 0,
        ..Timing::default()
    };
    // snapCount 0: the directory stays empty.
    let snapshot_dir = tempfile::tempdir().expect("tempdir");
    let replica = Replica::start(
        ReplicaConfig::new(1, timing, None, snapshot_dir.path()),
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
    // The first write to a fresh leader may be refused while it settles.
    let setup = [
        Txn::CreateSession {
            session_id: SESSION,
            timeout_ms: 30_000,
            password: vec![0; 16],
        },
        Txn::Write {
            session_id: SESSION,
            auth: Vec::new(),
            op: WriteOp::Create {
                op: OpCode::Create,
                create: CreateOp {
                    path: "/bench".into(),
                    data: Vec::new(),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                    ttl: 0,
                },
            },
        },
    ];
    for txn in setup {
        let mut tries = 0;
        while p.propose(txn.clone()).await.is_err() {
            tries += 1;
            assert!(tries < 100, "no leader accepted the setup writes");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let rate = |n: u64| n as f64 / run.as_secs_f64();
    let n = sequential(&p, run).await;
    println!("1 sequential proposer:  {:>10.0} writes/s", rate(n));
    let n = concurrent(&p, run, 64).await;
    println!("64 concurrent proposers: {:>10.0} writes/s", rate(n));
    let n = pipelined(&p, run, 1024).await;
    println!("1 task, 1024 in flight:  {:>10.0} writes/s", rate(n));
    replica.shutdown().await;
}
