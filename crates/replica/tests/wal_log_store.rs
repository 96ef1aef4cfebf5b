//! The durable raft log (`WalLogStore`) on real files with real fdatasync:
//! openraft's storage conformance suite, what survives a reopen, when the
//! append callback fires, torn tails, interrupted purges, the directory lock,
//! fail-stop, and a single-server replica restarted on the same directory.

mod common;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{create, create_session, TreeState};
use openraft::alias::CommittedLeaderIdOf;
use openraft::async_runtime::WatchReceiver;
use openraft::storage::{IOFlushed, RaftLogReader, RaftLogStorage};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::{Entry, EntryPayload, StorageError};
use rzk_replica::hooks::LogSource;
use rzk_replica::pending::Pending;
use rzk_replica::types::{LogId, RaftEntry};
use rzk_replica::{
    MemLogStore, ProposeError, Replica, ReplicaConfig, Request, StateMachine, Timing, TypeConfig,
    WalLogStore, WalLogStoreError,
};
use rzk_state::{Applied, Txn};
use rzk_wal::{Wal, WalOptions};

const WAIT: Duration = Duration::from_secs(20);

fn small_segments() -> WalOptions {
    WalOptions {
        segment_size_bytes: 1024,
        ..WalOptions::default()
    }
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderIdOf::<TypeConfig>::new(term), index)
}

/// An rzk entry whose content depends on its index, so an entry read from
/// the wrong place never matches.
fn entry(term: u64, index: u64) -> RaftEntry {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Request {
            time_ms: 1_000 + index as i64,
            origin: None,
            txn: Box::new(create(&format!("/n{index}"), &index.to_be_bytes())),
        }),
    }
}

fn entries(term: u64, indexes: std::ops::Range<u64>) -> Vec<RaftEntry> {
    indexes.map(|i| entry(term, i)).collect()
}

/// Entries compare by their debug form (openraft's entry has no `PartialEq`
/// for rzk's payload).
fn same(a: &[RaftEntry], b: &[RaftEntry]) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn open(dir: &Path) -> WalLogStore {
    WalLogStore::open(dir).expect("open").0
}

/// Appends and waits for the flush callback, returning what it reported.
async fn append(store: &mut WalLogStore, batch: Vec<RaftEntry>) -> io::Result<()> {
    let (tx, rx) = TypeConfig::oneshot();
    store.append(batch, IOFlushed::signal(tx)).await?;
    rx.await.expect("the callback is always called")
}

async fn all_entries(store: &mut WalLogStore) -> Vec<RaftEntry> {
    store.try_get_log_entries(0..).await.expect("read")
}

// ---------------------------------------------------------------- suite

struct Builder {
    options: WalOptions,
}

impl StoreBuilder<TypeConfig, WalLogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, WalLogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = WalLogStore::open_with(dir.path(), self.options.clone()).expect("open");
        let tree = TreeState::new();
        let snapshots =
            rzk_replica::SnapshotStore::open(dir.path().join("snapshots")).expect("snapshot dir");
        let snapshots = Arc::new(rzk_replica::Snapshots::new(
            snapshots,
            Arc::new(common::BlankLog),
            rzk_state::StateConfig::default(),
            None,
            None,
        ));
        let sm = StateMachine::new(tree.clone(), tree, Arc::new(Pending::new(0, 0)), snapshots);
        Ok((dir, store, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_default_segments() {
    Suite::test_all(Builder {
        options: WalOptions::default(),
    })
    .await
    .expect("storage suite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_small_segments() {
    Suite::test_all(Builder {
        options: small_segments(),
    })
    .await
    .expect("storage suite");
}

// ---------------------------------------------------------------- reopen

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_vote_and_purge_point_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vote = openraft::alias::VoteOf::<TypeConfig>::new_committed(3, 2);
    let written = {
        let mut store = WalLogStore::open_with(dir.path(), small_segments())
            .expect("open")
            .0;
        append(&mut store, entries(1, 0..40)).await.expect("append");
        for i in 40..100 {
            append(&mut store, vec![entry(2 + i / 30, i)])
                .await
                .expect("append");
        }
        store.save_vote(&vote).await.expect("vote");
        store
            .save_committed(Some(log_id(4, 99)))
            .await
            .expect("commit");
        store.purge(log_id(1, 35)).await.expect("purge");
        all_entries(&mut store).await
    };
    assert_eq!(written.len(), 64, "36..=99 readable after the purge");
    let segment_files = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count();

    let (mut store, report) = WalLogStore::open_with(dir.path(), small_segments()).expect("reopen");
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.segment_count, segment_files);
    assert!(
        report.first_index.expect("records") > 0,
        "whole segments below the purge point were deleted: {report}"
    );
    assert_eq!(store.read_vote().await.expect("vote"), Some(vote));
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 35)));
    assert_eq!(state.last_log_id, Some(log_id(5, 99)));
    assert!(same(&all_entries(&mut store).await, &written));
    // The committed id is a hint kept in memory only (see the module doc).
    assert_eq!(store.read_committed().await.expect("committed"), None);

    // The log continues where it ended.
    append(&mut store, vec![entry(5, 100)])
        .await
        .expect("append after reopen");
    assert_eq!(
        store.get_log_state().await.expect("state").last_log_id,
        Some(log_id(5, 100))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_purged_past_its_end_reopens_empty_at_the_purge_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = open(dir.path());
        append(&mut store, entries(1, 0..5)).await.expect("append");
        // As after installing a snapshot ahead of the log.
        store.purge(log_id(3, 50)).await.expect("purge");
    }
    let mut store = open(dir.path());
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(3, 50)));
    assert_eq!(state.last_log_id, Some(log_id(3, 50)));
    assert!(all_entries(&mut store).await.is_empty());
    append(&mut store, vec![entry(3, 51)])
        .await
        .expect("append");
    assert_eq!(all_entries(&mut store).await.len(), 1);
}

// ---------------------------------------------------------------- flush

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_append_callback_fires_only_after_an_fdatasync_covering_the_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(dir.path());
    for i in 0..50u64 {
        let before = store.wal_stats();
        let (tx, rx) = TypeConfig::oneshot();
        store
            .append(vec![entry(1, i)], IOFlushed::signal(tx))
            .await
            .expect("append");
        // Readable as soon as append returns, before it is durable.
        assert_eq!(
            store.try_get_log_entries(i..=i).await.expect("read").len(),
            1
        );
        rx.await.expect("callback").expect("flushed");
        let after = store.wal_stats();
        assert_eq!(after.records_appended, i + 1);
        assert!(
            after.sync_rounds > before.sync_rounds
                && after.fdatasync_calls > before.fdatasync_calls,
            "callback for entry {i} fired without a new fdatasync: {before:?} -> {after:?}"
        );
        assert!(after.flushes_completed > before.flushes_completed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_appends_share_fdatasyncs_and_all_complete_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(dir.path());
    let mut receivers = Vec::new();
    for i in 0..200u64 {
        let (tx, rx) = TypeConfig::oneshot();
        store
            .append(vec![entry(1, i)], IOFlushed::signal(tx))
            .await
            .expect("append");
        receivers.push(rx);
    }
    for rx in receivers {
        rx.await.expect("callback").expect("flushed");
    }
    let stats = store.wal_stats();
    assert_eq!(stats.records_appended, 200);
    assert_eq!(stats.flushes_completed, 200);
    assert!(stats.sync_rounds >= 1 && stats.sync_rounds <= 200);
    drop(store);
    let (_, report) = WalLogStore::open(dir.path()).expect("reopen");
    assert_eq!(report.record_count, 200);
}

// ---------------------------------------------------------------- damage

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_reopens_with_the_intact_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = open(dir.path());
        append(&mut store, entries(1, 0..10)).await.expect("append");
    }
    let segment = dir.path().join(rzk_wal::layout::segment_file_name(0));
    let len = std::fs::metadata(&segment).expect("segment").len();
    // A crash in the middle of writing the last record.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open segment")
        .set_len(len - 5)
        .expect("cut");

    let (mut store, report) = WalLogStore::open(dir.path()).expect("reopen");
    let torn = report.torn_tail.expect("the cut is reported");
    assert_eq!(torn.path, segment);
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, None);
    assert_eq!(state.last_log_id, Some(log_id(1, 8)));
    assert!(same(&all_entries(&mut store).await, &entries(1, 0..9)));
    // The lost entry was never acknowledged; the log takes a new one there.
    append(&mut store, vec![entry(2, 9)]).await.expect("append");
    drop(store);
    let mut store = open(dir.path());
    assert_eq!(
        store.get_log_state().await.expect("state").last_log_id,
        Some(log_id(2, 9))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_inside_the_log_is_refused_naming_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = WalLogStore::open_with(dir.path(), small_segments())
            .expect("open")
            .0;
        append(&mut store, entries(1, 0..60)).await.expect("append");
    }
    let first_segment = dir.path().join(rzk_wal::layout::segment_file_name(0));
    let mut bytes = std::fs::read(&first_segment).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&first_segment, &bytes).expect("write");
    let err = WalLogStore::open_with(dir.path(), small_segments()).expect_err("refused");
    assert!(matches!(
        err,
        WalLogStoreError::Wal {
            source: rzk_wal::WalError::Corrupt { .. },
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.contains(&first_segment.display().to_string()) && message.contains("byte offset"),
        "{message}"
    );
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidData);
}

/// The encoding of a purge point in the meta store, written here without the
/// store, to simulate a crash between saving it and deleting segments.
fn save_purge_point_only(dir: &Path, purged: LogId) {
    let (wal, _) = Wal::open(dir, WalOptions::default()).expect("raw open");
    let bytes = postcard::to_extend(
        &purged,
        vec![rzk_replica::wal_log_store::PAYLOAD_FORMAT_VERSION],
    )
    .expect("encode");
    wal.save_meta("purged", &bytes).expect("save");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_cut_short_by_a_crash_is_consistent_after_reopen() {
    // The purge point was saved; no segment was deleted.
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = open(dir.path());
        append(&mut store, entries(1, 0..10)).await.expect("append");
    }
    save_purge_point_only(dir.path(), log_id(1, 4));
    let mut store = open(dir.path());
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 4)));
    assert_eq!(state.last_log_id, Some(log_id(1, 9)));
    assert!(same(&all_entries(&mut store).await, &entries(1, 5..10)));
    drop(store);

    // Past the end: the log must continue after the purge point, not after
    // its last record.
    save_purge_point_only(dir.path(), log_id(2, 20));
    let mut store = open(dir.path());
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 20)));
    assert_eq!(state.last_log_id, Some(log_id(2, 20)));
    assert!(all_entries(&mut store).await.is_empty());
    append(&mut store, vec![entry(2, 21)])
        .await
        .expect("append after the purge point");
    drop(store);
    let mut store = open(dir.path());
    assert_eq!(
        store.get_log_state().await.expect("state").last_log_id,
        Some(log_id(2, 21))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_with_a_hole_before_its_first_entry_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = open(dir.path());
        // Nothing purged, yet the log starts at 5: entries 0..5 are missing.
        append(&mut store, entries(1, 5..8)).await.expect("append");
    }
    let err = WalLogStore::open(dir.path()).expect_err("refused");
    assert!(err.to_string().contains("missing"), "{err}");
}

// ---------------------------------------------------------------- lock, failure

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_open_of_the_same_directory_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let reader = store.clone();
    let err = WalLogStore::open(dir.path()).expect_err("locked");
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()) && message.contains("in use"),
        "{message}"
    );
    drop(store);
    // A clone is the same open log: the lock is held until the last goes.
    assert!(WalLogStore::open(dir.path()).is_err());
    drop(reader);
    open(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_append_the_store_refuses_every_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(dir.path());
    append(&mut store, entries(1, 0..3)).await.expect("append");
    // A hole: rzk-wal refuses it; the callback hears it too.
    let (tx, rx) = TypeConfig::oneshot();
    let err = store
        .append(vec![entry(1, 5)], IOFlushed::signal(tx))
        .await
        .expect_err("hole refused");
    assert!(err.to_string().contains("does not follow"), "{err}");
    assert!(rx.await.expect("callback").is_err());
    // Fail-stop: even a correct append, a vote, a truncate or a purge.
    let err = append(&mut store, vec![entry(1, 3)])
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("failed earlier"), "{err}");
    let vote = openraft::alias::VoteOf::<TypeConfig>::new(2, 1);
    assert!(store.save_vote(&vote).await.is_err());
    assert!(store.truncate_after(Some(log_id(1, 1))).await.is_err());
    assert!(store.purge(log_id(1, 0)).await.is_err());
    // Reads still work, and reopening clears the failure.
    assert_eq!(all_entries(&mut store).await.len(), 3);
    drop(store);
    let mut store = open(dir.path());
    append(&mut store, vec![entry(1, 3)]).await.expect("append");
    assert!(same(&all_entries(&mut store).await, &entries(1, 0..4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_is_durable_and_never_reaches_below_the_purge_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = WalLogStore::open_with(dir.path(), small_segments())
            .expect("open")
            .0;
        append(&mut store, entries(1, 0..50)).await.expect("append");
        store
            .truncate_after(Some(log_id(1, 29)))
            .await
            .expect("cut");
        append(&mut store, entries(2, 30..35))
            .await
            .expect("append");
        store.purge(log_id(1, 10)).await.expect("purge");
        // None = everything not purged.
        store.truncate_after(None).await.expect("cut all");
        let state = store.get_log_state().await.expect("state");
        assert_eq!(state.last_log_id, Some(log_id(1, 10)));
        append(&mut store, entries(3, 11..13))
            .await
            .expect("append");
    }
    let mut store = WalLogStore::open_with(dir.path(), small_segments())
        .expect("reopen")
        .0;
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 10)));
    assert_eq!(state.last_log_id, Some(log_id(3, 12)));
    assert!(same(&all_entries(&mut store).await, &entries(3, 11..13)));
}

/// Exact-range reads (what apply asks for) are answered from the entries
/// the store keeps in memory after an append; truncation and purging must
/// reach those too, and a range the memory does not cover must still come
/// whole from the WAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_reads_see_truncation_purges_and_entries_older_than_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = WalLogStore::open_with(dir.path(), small_segments())
        .expect("open")
        .0;
    append(&mut store, entries(1, 0..10)).await.expect("append");
    let read = |store: &mut WalLogStore, range: std::ops::Range<u64>| {
        let mut store = store.clone();
        async move { store.try_get_log_entries(range).await.expect("read") }
    };
    assert!(same(&read(&mut store, 0..3).await, &entries(1, 0..3)));
    // Read twice: the first read hands the entries over from memory, the
    // second comes from the WAL.
    assert!(same(&read(&mut store, 0..3).await, &entries(1, 0..3)));

    store.truncate_after(Some(log_id(1, 5))).await.expect("cut");
    assert!(
        read(&mut store, 6..8).await.is_empty(),
        "cut entries are gone"
    );
    assert!(same(&read(&mut store, 4..6).await, &entries(1, 4..6)));
    append(&mut store, entries(2, 6..8)).await.expect("append");
    let mut expected = entries(1, 4..6);
    expected.extend(entries(2, 6..8));
    assert!(same(&read(&mut store, 4..8).await, &expected));

    store.purge(log_id(1, 4)).await.expect("purge");
    assert!(same(&read(&mut store, 3..7).await, &expected[1..3]));

    // More entries than memory keeps: the oldest come from the WAL.
    let many = rzk_replica::RECENT_ENTRIES_MAX as u64 + 100;
    append(&mut store, entries(2, 8..8 + many))
        .await
        .expect("append");
    assert!(same(&read(&mut store, 8..20).await, &entries(2, 8..20)));
    assert!(same(
        &read(&mut store, 7 + many..8 + many).await,
        &entries(2, 7 + many..8 + many)
    ));
}

// ---------------------------------------------------------------- LogSource

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_source_reads_exact_ranges_and_refuses_missing_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wal_store = open(dir.path());
    let mut mem_store = MemLogStore::new();
    append(&mut wal_store, entries(1, 0..20))
        .await
        .expect("append");
    let (tx, rx) = TypeConfig::oneshot();
    mem_store
        .append(entries(1, 0..20), IOFlushed::signal(tx))
        .await
        .expect("append");
    rx.await.expect("callback").expect("flushed");
    wal_store.purge(log_id(1, 4)).await.expect("purge");
    mem_store.purge(log_id(1, 4)).await.expect("purge");

    let sources: [(&str, &dyn LogSource); 2] = [("wal", &wal_store), ("mem", &mem_store)];
    for (name, source) in sources {
        let got = source.read_entries(5, 20).expect(name);
        assert!(same(&got, &entries(1, 5..20)), "{name}");
        assert!(source.read_entries(7, 7).expect(name).is_empty(), "{name}");
        assert!(source.read_entries(9, 3).expect(name).is_empty(), "{name}");
        for (start, end) in [(3, 10), (0, 1), (15, 21), (20, 25)] {
            let err = source.read_entries(start, end).expect_err(name);
            assert_eq!(
                err.kind(),
                io::ErrorKind::NotFound,
                "{name} {start}..{end}: {err}"
            );
        }
    }
}

// ---------------------------------------------------------------- a replica

fn timing() -> Timing {
    Timing {
        tick_time_ms: 100,
        init_limit_ticks: 10,
        sync_limit_ticks: 3,
        snap_count: 0,
    }
}

async fn start_single(store: WalLogStore, tree: &Arc<TreeState>) -> Replica {
    let replica = Replica::start(
        // snapCount 0: no snapshot is written; the directory only has to exist.
        ReplicaConfig::new(1, timing(), None, std::env::temp_dir()),
        store,
        tree.clone(),
        tree.clone(),
        None,
    )
    .await
    .expect("replica starts");
    replica.initialize_single().await.expect("initialize");
    replica
}

/// Proposes, retrying while the new leader settles.
async fn propose(replica: &Replica, txn: Txn) -> Applied {
    let deadline = Instant::now() + WAIT;
    loop {
        match replica.proposer().propose(txn.clone()).await {
            Ok(applied) => return applied,
            Err(e @ (ProposeError::NotLeader { .. } | ProposeError::Lost)) => {
                assert!(Instant::now() < deadline, "{txn:?} never accepted: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{txn:?}: {e}"),
        }
    }
}

/// Opens `dir` once the previous replica's tasks have let go of it.
async fn reopen_when_released(dir: &Path) -> WalLogStore {
    let deadline = Instant::now() + WAIT;
    loop {
        match WalLogStore::open(dir) {
            Ok((store, _)) => return store,
            Err(WalLogStoreError::Wal {
                source: rzk_wal::WalError::Locked { .. },
                ..
            }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_server_restarted_on_its_log_keeps_its_entries_and_continues() {
    const WRITES: usize = 25;
    let dir = tempfile::tempdir().expect("tempdir");

    // === first life: write, then stop
    let tree = TreeState::new();
    let replica = start_single(open(dir.path()), &tree).await;
    propose(&replica, create_session()).await;
    let mut last_zxid = 0;
    for i in 0..WRITES {
        let applied = propose(&replica, create(&format!("/n{i}"), b"v")).await;
        assert_eq!(applied.reply.err, rzk_proto::ErrorCode::Ok);
        assert!(applied.zxid > last_zxid);
        last_zxid = applied.zxid;
    }
    let metrics = replica.raft().metrics().borrow_watched().clone();
    let last_index = metrics.last_log_index.expect("entries");
    let term = metrics.current_term;
    replica.shutdown().await;
    let history = tree.applied();
    assert_eq!(history.len(), WRITES + 1);
    let nodes_before = tree.node_count();

    // === the log on disk holds every entry
    let mut store = reopen_when_released(dir.path()).await;
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, None);
    assert_eq!(state.last_log_id.map(|id| id.index), Some(last_index));
    assert_eq!(
        all_entries(&mut store).await.len() as u64,
        last_index + 1,
        "membership, blank and rzk entries from index 0"
    );
    let vote = store.read_vote().await.expect("vote").expect("saved");
    assert_eq!(vote.leader_id().term, term);

    // === second life on the same directory, with an empty tree
    let tree = TreeState::new();
    let replica = start_single(store, &tree).await;
    let deadline = Instant::now() + WAIT;
    while tree.applied().len() < history.len() {
        assert!(
            Instant::now() < deadline,
            "the log was not re-applied: {} of {} entries",
            tree.applied().len(),
            history.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        tree.applied(),
        history,
        "the same entries with the same zxids and times"
    );
    assert_eq!(tree.last_zxid(), last_zxid);
    for i in 0..5 {
        let applied = propose(&replica, create(&format!("/after{i}"), b"v")).await;
        assert_eq!(applied.reply.err, rzk_proto::ErrorCode::Ok);
        assert!(
            applied.zxid > last_zxid,
            "zxids continue after the old ones"
        );
        last_zxid = applied.zxid;
    }
    // The saved vote was read back: a lone voter with a committed vote for
    // itself resumes leading in that term (never a lower one).
    assert!(replica.raft().metrics().borrow_watched().current_term >= term);
    assert_eq!(tree.node_count(), nodes_before + 5);
    replica.shutdown().await;
}
