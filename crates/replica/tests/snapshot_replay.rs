//! Snapshots built by replaying the log beside raft, on real files.
//!
//! Goal: a snapshot built from the previous snapshot plus the log is exactly
//! the live state at its index (byte for byte in the state crate's
//! deterministic format); a replica restarted from the newest snapshot file
//! and the same log ends up with the same tree and goes on; a log that does
//! not reach back to the snapshot is refused.
//!
//! Method: one replica (an ensemble of one) over a `MemLogStore` whose clones
//! share the log (it stands in for a durable log across the "restart"), a
//! real `DataTree` behind the hooks (`common::TreeState`, which also records
//! every entry applied), snapshots in a temp dir, a small snapCount.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{create, create_session, replay_bytes, replica_config, varied_write, TreeState};
use openraft::async_runtime::WatchReceiver;
use rzk_proto::ErrorCode;
use rzk_replica::{
    MemLogStore, ProposeError, Replica, SnapshotData, SnapshotStore, StartError, StoredSnapshot,
    Timing,
};
use rzk_state::{Applied, Entry, Txn};

const WAIT: Duration = Duration::from_secs(30);

fn timing(snap_count: u64) -> Timing {
    Timing {
        tick_time_ms: 100,
        init_limit_ticks: 10,
        sync_limit_ticks: 3,
        snap_count,
    }
}

async fn start(
    dir: &Path,
    snap_count: u64,
    log: &MemLogStore,
    tree: &Arc<TreeState>,
    restored: Option<StoredSnapshot>,
) -> Replica {
    let restored = restored.map(|s| s.meta);
    let config = replica_config(1, timing(snap_count), false, dir);
    let replica = Replica::start(config, log.clone(), tree.clone(), tree.clone(), restored)
        .await
        .expect("replica starts");
    replica.initialize_single().await.expect("initialize");
    assert_eq!(replica.wait_for_leader(WAIT).await, Some(1), "leads itself");
    replica
}

/// Proposes `txn`, retrying while a new leader is not yet ready to accept.
async fn propose(replica: &Replica, txn: Txn) -> Applied {
    let deadline = Instant::now() + WAIT;
    loop {
        match replica.proposer().propose(txn.clone()).await {
            Ok(applied) => return applied,
            Err(e @ (ProposeError::NotLeader { .. } | ProposeError::Lost)) => {
                assert!(Instant::now() < deadline, "{txn:?} never accepted: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{txn:?}: {e}"),
        }
    }
}

/// Proposes `count` varied writes; returns (ok, failed) reply counts.
async fn write_varied(replica: &Replica, from: u64, count: u64) -> (usize, usize) {
    let (mut ok, mut failed) = (0, 0);
    for i in from..from + count {
        let applied = propose(replica, varied_write(i)).await;
        if applied.reply.err == ErrorCode::Ok {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    (ok, failed)
}

/// Asks for a snapshot now and waits until one covers the last entry the
/// tree applied (the writes' last zxid: each write is a raft entry, and its
/// zxid is its index). Returns that index.
async fn snapshot_now(replica: &Replica, tree: &TreeState) -> u64 {
    let target = tree.last_zxid() as u64;
    let deadline = Instant::now() + WAIT;
    loop {
        // Asked again each round: a request that arrives while a snapshot
        // is being built is dropped by openraft.
        replica.raft().trigger().snapshot().await.expect("trigger");
        let snap = replica.raft().metrics().borrow_watched().snapshot;
        if snap.is_some_and(|s| s.index >= target) {
            return target;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot covering {target}: {snap:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `rounds` rounds of 200 varied writes numbered from `from`, each followed
/// by a snapshot.
async fn write_and_snapshot(replica: &Replica, tree: &TreeState, from: u64, rounds: u64) {
    for round in 0..rounds {
        write_varied(replica, from + round * 200, 200).await;
        snapshot_now(replica, tree).await;
    }
}

/// Every snapshot file in `indexes` holds exactly the state after the
/// entries of `history` up to its index.
fn each_is_the_state_at_its_index(store: &SnapshotStore, indexes: Vec<u64>, history: &[Entry]) {
    for index in indexes {
        let stored = store.load(index).expect("intact");
        let upto: Vec<_> = history
            .iter()
            .filter(|e| e.zxid <= index as i64)
            .cloned()
            .collect();
        assert!(
            stored.bytes[..] == replay_bytes(&upto)[..],
            "snapshot at {index} is the state at {index}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_snapshot_is_byte_identical_to_the_live_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = MemLogStore::new();
    let tree = TreeState::new();
    let replica = start(dir.path(), 100, &log, &tree, None).await;
    propose(&replica, create_session()).await;
    // Policy snapshots come every 50..100 entries if building keeps up with
    // writing; a snapshot asked for every 250 writes makes sure there is a
    // chain of them, each replayed onto the one before.
    let (mut ok, mut failed) = (0, 0);
    for round in 0..8 {
        let (o, f) = write_varied(&replica, round * 250, 250).await;
        ok += o;
        failed += f;
        if round < 7 {
            snapshot_now(&replica, &tree).await;
        }
    }
    assert!(
        ok > 300 && failed > 300,
        "a mix of successes and failures: {ok} ok, {failed} failed"
    );

    // Writing stopped: the snapshot at the last entry must be the live tree.
    let last = snapshot_now(&replica, &tree).await;
    let store = SnapshotStore::open(dir.path()).expect("open");
    let newest = store.load_newest().expect("load").expect("a snapshot");
    assert_eq!(newest.index(), Some(last));
    let live = tree.snapshot_bytes();
    assert!(
        newest.bytes[..] == live[..],
        "snapshot at {last} ({} bytes) differs from the live tree ({} bytes)",
        newest.bytes.len(),
        live.len()
    );
    assert!(
        tree.node_count() > 200,
        "a real tree: {}",
        tree.node_count()
    );

    // Every snapshot taken, on request or by the snapCount policy, is exactly
    // the state at its index.
    let indexes = store.indexes().expect("indexes");
    assert!(indexes.len() >= 8, "snapshots taken: {indexes:?}");
    each_is_the_state_at_its_index(&store, indexes, &tree.history());
    // And raft compacted its log behind them.
    let purged = replica.raft().metrics().borrow_watched().purged;
    assert!(purged.is_some_and(|p| p.index > 1000), "purged: {purged:?}");
    replica.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_of_the_encoded_live_tree_and_replayed_ones_chain() {
    // Half the builds take the live tree's encoding (a small tree), half
    // replay the log, each onto whichever file came before it.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = MemLogStore::new();
    let tree = TreeState::alternately_encoding();
    let replica = start(dir.path(), 100, &log, &tree, None).await;
    propose(&replica, create_session()).await;
    write_and_snapshot(&replica, &tree, 0, 6).await;
    assert!(tree.encodings() >= 6, "builds asked: {}", tree.encodings());
    let store = SnapshotStore::open(dir.path()).expect("open");
    let indexes = store.indexes().expect("indexes");
    assert!(indexes.len() >= 6, "snapshots taken: {indexes:?}");
    each_is_the_state_at_its_index(&store, indexes, &tree.history());
    let newest = store.load_newest().expect("load").expect("a snapshot");
    assert!(newest.bytes[..] == tree.snapshot_bytes()[..]);
    replica.shutdown().await;
}

/// Snapshots built by merging the tree's kept changes onto the previous
/// file are each the state at their index, chain across a restart (the
/// restored tree keeps changes from the file it was read from), and take
/// over from replay after the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_merged_from_kept_changes_chain_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = MemLogStore::new();
    let tree = TreeState::merging(None);
    let replica = start(dir.path(), 100, &log, &tree, None).await;
    propose(&replica, create_session()).await;
    write_and_snapshot(&replica, &tree, 0, 6).await;
    let builds = replica.snapshot_builds();
    assert_eq!(
        builds.replayed, 1,
        "only the first has no file to merge onto: {builds:?}"
    );
    assert!(builds.merged >= 5, "{builds:?}");
    let store = SnapshotStore::open(dir.path()).expect("open");
    each_is_the_state_at_its_index(&store, store.indexes().expect("indexes"), &tree.history());
    let newest = store.load_newest().expect("load").expect("a snapshot");
    assert!(newest.bytes[..] == tree.snapshot_bytes()[..]);
    // A tail past the newest snapshot, then a restart from that file.
    write_varied(&replica, 1200, 30).await;
    let history = tree.history();
    replica.shutdown().await;

    let tree2 = TreeState::merging(Some(&newest.bytes));
    let replica = start(dir.path(), 100, &log, &tree2, Some(newest)).await;
    write_and_snapshot(&replica, &tree2, 2000, 3).await;
    let builds = replica.snapshot_builds();
    assert_eq!(
        builds.replayed, 0,
        "merged onto the restored file: {builds:?}"
    );
    assert!(builds.merged >= 3, "{builds:?}");
    let mut all = history;
    all.extend(tree2.history());
    all.sort_by_key(|e| e.zxid);
    all.dedup_by_key(|e| e.zxid);
    each_is_the_state_at_its_index(&store, store.indexes().expect("indexes"), &all);
    let newest = store.load_newest().expect("load").expect("a snapshot");
    assert!(newest.bytes[..] == tree2.snapshot_bytes()[..]);
    replica.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_replica_restores_replays_the_log_and_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = MemLogStore::new();
    let tree = TreeState::new();
    let replica = start(dir.path(), 100, &log, &tree, None).await;
    propose(&replica, create_session()).await;
    write_varied(&replica, 0, 600).await;
    let snapshotted = snapshot_now(&replica, &tree).await;
    // A tail that only the log holds (fewer than snapCount/2: no snapshot).
    write_varied(&replica, 600, 30).await;
    let old_bytes = tree.snapshot_bytes();
    let old_zxid = tree.last_zxid();
    replica.shutdown().await;

    // === the server's restart: newest snapshot file, then the replica
    let store = SnapshotStore::open(dir.path()).expect("open");
    let restored = store.load_newest().expect("load").expect("a snapshot");
    assert_eq!(restored.index(), Some(snapshotted));
    let tree2 = TreeState::from_snapshot(&restored.bytes);
    assert!(tree2.last_zxid() < old_zxid, "the snapshot misses the tail");
    let replica = start(dir.path(), 100, &log, &tree2, Some(restored)).await;

    let deadline = Instant::now() + WAIT;
    while tree2.last_zxid() < old_zxid {
        assert!(Instant::now() < deadline, "the log tail was never replayed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        tree2.snapshot_bytes() == old_bytes,
        "restored + replayed tree equals the tree before the restart"
    );
    let replayed = tree2.history();
    assert_eq!(
        replayed.first().map(|e| e.zxid),
        Some(snapshotted as i64 + 1),
        "only the entries after the snapshot were applied again"
    );

    // === it goes on: new writes, higher zxids, on top of the old tree
    let applied = propose(&replica, create("/after-restart", b"x")).await;
    assert_eq!(applied.reply.err, ErrorCode::Ok);
    assert!(applied.zxid > old_zxid, "{} > {old_zxid}", applied.zxid);
    let applied = propose(&replica, create("/after-restart", b"x")).await;
    assert_eq!(applied.reply.err, ErrorCode::NodeExists);
    replica.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_starts_after_the_snapshot_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = MemLogStore::new();
    let tree = TreeState::new();
    let replica = start(dir.path(), 20, &log, &tree, None).await;
    propose(&replica, create_session()).await;
    write_varied(&replica, 0, 200).await;
    let deadline = Instant::now() + WAIT;
    let purged = loop {
        if let Some(p) = replica.raft().metrics().borrow_watched().purged {
            if p.index > 20 {
                break p.index;
            }
        }
        assert!(Instant::now() < deadline, "the log was never purged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    replica.shutdown().await;

    // No snapshot, log purged: entries 0..=purged are nowhere.
    let refused = Replica::build(
        replica_config(1, timing(20), false, dir.path()),
        log.clone(),
        TreeState::new(),
        TreeState::new(),
        None,
    )
    .await;
    match refused {
        Err(StartError::LogHole(why)) => {
            assert!(why.contains("no snapshot"), "{why}");
            eprintln!("refused as expected: {why}");
        }
        Err(e) => panic!("wrong refusal: {e}"),
        Ok(_) => panic!("started over a hole in the log"),
    }

    // A snapshot older than the log's first entry: the same hole.
    let store = SnapshotStore::open(dir.path()).expect("open");
    let old_index = store
        .indexes()
        .expect("indexes")
        .into_iter()
        .find(|i| i + 1 < purged + 1)
        .expect("an old snapshot behind the purge point");
    let old = store.load(old_index).expect("intact");
    let refused = Replica::build(
        replica_config(1, timing(20), false, dir.path()),
        log.clone(),
        TreeState::new(),
        TreeState::new(),
        Some(old.meta),
    )
    .await;
    assert!(
        matches!(refused, Err(StartError::LogHole(_))),
        "snapshot at {old_index}, log purged through {purged}"
    );

    // The newest snapshot is at or past the purge point: accepted.
    let newest = store.load_newest().expect("load").expect("a snapshot");
    assert!(newest.index().expect("index") >= purged);
    let tree2 = TreeState::from_snapshot(&newest.bytes);
    let replica = start(dir.path(), 20, &log, &tree2, Some(newest)).await;
    let deadline = Instant::now() + WAIT;
    while tree2.last_zxid() < tree.last_zxid() {
        assert!(Instant::now() < deadline, "the log tail was never replayed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(tree2.snapshot_bytes() == tree.snapshot_bytes());
    replica.shutdown().await;
}

/// An installer that records whether the snapshot file was already on disk
/// when it was called, and succeeds or fails as told.
struct CheckingInstaller {
    dir: std::path::PathBuf,
    index: u64,
    fail: bool,
    saw_file: std::sync::atomic::AtomicBool,
}

impl rzk_replica::SnapshotSource for CheckingInstaller {
    fn install(&self, bytes: &[u8]) -> std::io::Result<()> {
        let on_disk = SnapshotStore::open(&self.dir)
            .and_then(|s| s.load(self.index))
            .is_ok_and(|s| s.bytes[..] == bytes[..]);
        self.saw_file
            .store(on_disk, std::sync::atomic::Ordering::SeqCst);
        if self.fail {
            Err(std::io::Error::other("cannot install"))
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_snapshot_is_on_disk_before_the_server_installs_it() {
    use openraft::storage::RaftStateMachine;
    use openraft::testing::log_id;
    use openraft::{Membership, SnapshotMeta, StoredMembership};
    use rzk_replica::pending::Pending;
    use rzk_replica::{Snapshots, StateMachine, TypeConfig};

    let source = TreeState::new();
    source.apply_for_test(&[create_session(), create("/a", b"1")]);
    let bytes: Arc<[u8]> = source.snapshot_bytes().into();
    let meta = SnapshotMeta {
        last_log_id: Some(log_id::<TypeConfig>(2, 1, 40)),
        last_membership: StoredMembership::new(
            Some(log_id::<TypeConfig>(1, 1, 0)),
            Membership::new_with_defaults(vec![[1].into()], []),
        ),
    };

    for fail in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let installer = Arc::new(CheckingInstaller {
            dir: dir.path().to_path_buf(),
            index: 40,
            fail,
            saw_file: false.into(),
        });
        let snapshots = Arc::new(Snapshots::new(
            SnapshotStore::open(dir.path()).expect("open"),
            Arc::new(MemLogStore::new()),
            Default::default(),
            None,
            None,
        ));
        let mut sm = StateMachine::new(
            TreeState::new(),
            installer.clone(),
            Arc::new(Pending::new(1, 1)),
            snapshots,
        );
        let result = sm
            .install_snapshot(&meta, SnapshotData::Bytes(bytes.clone()))
            .await;
        assert!(
            installer.saw_file.load(std::sync::atomic::Ordering::SeqCst),
            "the file was saved before install was called"
        );
        let store = SnapshotStore::open(dir.path()).expect("open");
        if fail {
            assert!(result.is_err());
            assert!(
                store.load_newest().expect("load").is_none(),
                "a snapshot that failed to install is not left to restore from"
            );
        } else {
            result.expect("installed");
            let on_disk = store.load_newest().expect("load").expect("saved");
            assert_eq!(on_disk.meta, meta);
            assert_eq!(on_disk.bytes[..], bytes[..]);
            let (applied, membership) = sm.applied_state().await.expect("state");
            assert_eq!(applied, meta.last_log_id);
            assert_eq!(membership, meta.last_membership);
            let current = sm.get_current_snapshot().await.expect("current");
            assert_eq!(current.map(|c| c.meta), Some(meta.clone()));
        }
    }
}
