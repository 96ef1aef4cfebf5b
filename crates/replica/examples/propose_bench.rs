//! Write throughput of a single-server ensemble ("ensemble of one"):
//! proposals go through openraft and the state machine adapter into a real
//! `DataTree` (setData on one znode), over the in-memory log or, with
//! `--wal DIR`, the durable WAL log in a new directory `DIR`.
//!
//! Run: `cargo run --release -p rzk-replica --example propose_bench -- [seconds] [--wal DIR]`
//!
//! Not a test: numbers depend on the machine (and, with `--wal`, on its
//! disk's fdatasync latency). It prints writes/s for one sequential proposer,
//! 16 and 64 concurrent proposers, and one task pipelining up to 1024
//! proposals (as a connection with many outstanding requests does); with
//! `--wal` also fdatasync rounds per second and writes per round, which show
//! group commit at work.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rzk_proto::records::SetDataRequest;
use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, ErrorCode, OpCode};
use rzk_replica::hooks::{ApplyHook, SnapshotSource};
use rzk_replica::{MemLogStore, Proposer, Replica, ReplicaConfig, Timing, WalLogStore};
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
        auth: Vec::new().into(),
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

/// Command line: `[seconds] [--wal DIR]`.
struct Args {
    run: Duration,
    wal_dir: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut secs = 3;
    let mut wal_dir = None;
    while let Some(arg) = args.next() {
        if arg == "--wal" {
            wal_dir = Some(PathBuf::from(args.next().expect("--wal takes a directory")));
        } else {
            secs = arg.parse().expect("seconds, or --wal DIR");
        }
    }
    Args {
        run: Duration::from_secs(secs),
        wal_dir,
    }
}

/// Runs one phase and prints its rate over the time it took, plus the WAL's fdatasync rounds if
/// there is a WAL.
async fn phase<F: std::future::Future<Output = u64>>(
    label: &str,
    wal: Option<&WalLogStore>,
    work: F,
) {
    let before = wal.map(WalLogStore::wal_stats);
    let started = Instant::now();
    let n = work.await;
    let secs = started.elapsed().as_secs_f64();
    print!("{label:<26} {:>10.0} writes/s", n as f64 / secs);
    if let (Some(wal), Some(before)) = (wal, before) {
        let after = wal.wal_stats();
        let rounds = after.sync_rounds - before.sync_rounds;
        let fdatasyncs = after.fdatasync_calls - before.fdatasync_calls;
        print!(
            "  {:>8.0} fdatasync rounds/s  {:>8.0} fdatasync calls/s  {:>6.1} writes/round",
            rounds as f64 / secs,
            fdatasyncs as f64 / secs,
            n as f64 / rounds.max(1) as f64
        );
    }
    println!();
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let run = args.run;
    let tree = Arc::new(Tree(Mutex::new(DataTree::new(StateConfig::default()))));
    let timing = Timing {
        snap_count: 0,
        ..Timing::default()
    };
    // snapCount 0: the directory stays empty.
    let snapshot_dir = tempfile::tempdir().expect("tempdir");
    let config = ReplicaConfig::new(1, timing, None, snapshot_dir.path());
    let (replica, wal) = match &args.wal_dir {
        Some(dir) => {
            // A log left by an earlier run would be re-applied while the
            // bench writes; start clean instead.
            let used = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
            assert!(
                !used,
                "{} is not empty: give a new directory",
                dir.display()
            );
            let (store, report) = WalLogStore::open(dir).expect("open the WAL");
            println!("{report}");
            let replica = Replica::start(config, store.clone(), tree.clone(), tree.clone(), None)
                .await
                .expect("start");
            (replica, Some(store))
        }
        None => {
            let replica =
                Replica::start(config, MemLogStore::new(), tree.clone(), tree.clone(), None)
                    .await
                    .expect("start");
            (replica, None)
        }
    };
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
            auth: Vec::new().into(),
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
    let wal = wal.as_ref();
    phase("1 sequential proposer", wal, sequential(&p, run)).await;
    phase("16 concurrent proposers", wal, concurrent(&p, run, 16)).await;
    phase("64 concurrent proposers", wal, concurrent(&p, run, 64)).await;
    phase("1 task, 1024 in flight", wal, pipelined(&p, run, 1024)).await;
    replica.shutdown().await;
}
