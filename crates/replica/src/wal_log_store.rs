//! The durable raft log: openraft's `RaftLogStorage` and `RaftLogReader`
//! over rzk-wal, replacing [`crate::MemLogStore`] in production.
//!
//! # Layout
//!
//! One raft entry is one WAL record: index = log index, term = the entry's
//! term, payload = a format version byte and the postcard encoding of the
//! whole entry (`codec.rs`). Two values live in the WAL's meta store, each
//! replaced atomically and fsynced before the call that wrote it returns:
//! `vote` and `purged` (the last purged log id).
//!
//! # Durability, operation by operation
//!
//! - `append` writes the records to the page cache and returns; the flush
//!   callback that openraft passes in is called from rzk-wal's group-commit
//!   flusher only after a fdatasync that covers them ([`Wal::flush_with`]).
//!   openraft pipelines appends, and concurrent proposals share one
//!   fdatasync.
//! - `save_vote` first waits until every earlier append is durable (openraft
//!   requires write IO to take effect in the order it is issued; votes are
//!   rare, so the extra flush costs nothing that matters), then saves the
//!   vote to the meta store and returns after its fsync.
//! - `truncate_after` is durable when it returns (rzk-wal fsyncs the cut), so
//!   a truncated entry can never come back after a crash and mix with the
//!   entries appended in its place.
//! - `purge` saves the new purge point first, then deletes whole segments.
//!   A crash between the two leaves segments holding entries at or below the
//!   saved purge point. That is harmless: reads never return entries at or
//!   below the purge point, and the log state takes the purge point as its
//!   floor. The one case that needs repair is a log whose records all lie at
//!   or below the purge point (a purge past the end, as after installing a
//!   snapshot): rzk-wal would then expect the next append right after its last
//!   record, while openraft appends right after the purge point. `open`
//!   therefore finishes any purge the meta store records but the segments do
//!   not show, before anything is appended.
//!
//! # The committed log id is kept in memory only
//!
//! openraft calls `save_committed` on every commit and reads it back once,
//! in `Raft::build` (`StorageHelper::get_initial_state`): if the state
//! machine's last applied id is below it, openraft re-applies the log up to
//! it right there, before `build` returns. It is a hint: without it a single
//! voter re-commits its whole log when it elects itself (its first blank
//! entry commits everything before it), and a follower learns the commit
//! point from the leader's first append or heartbeat; the entries are then
//! applied through the normal path. Persisting it is deliberately not done:
//!
//! 1. rzk builds raft *before* the server attaches its hooks
//!    ([`crate::Replica::build`], then `ServerHooks::attach`, then
//!    [`crate::Replica::run`]). Entries re-applied inside `build` would reach
//!    hooks with no server behind them, which drop them while the state
//!    machine's last applied id moves past them: the server's tree would
//!    silently miss them. Applying after `run` is the only correct place.
//! 2. The state machine is not persisted (the tree is rebuilt from the log
//!    at startup). Once the log has been purged, a persisted committed id
//!    above the purge point makes openraft demand entries that are gone, and
//!    it refuses to start; that is the snapshot-persistence problem, not
//!    something to trip over here.
//! 3. openraft may commit up to entries it has *submitted* but this node has
//!    not yet fdatasynced (a quorum elsewhere holds them); a persisted id
//!    could then point past the durable log after a crash.
//! 4. Keeping it off the disk keeps fsync off the commit path, which is the
//!    hot path.
//!
//! The price: after a restart the tree is empty until commit is re-learned
//! (one election timeout for a standalone server). A server must not serve
//! reads before that; ZooKeeper's own servers serve only after syncing with
//! the leader. [`openraft::Raft::wait_for_recovery`] is the hook for that.
//!
//! # Failing
//!
//! Any error on a write path (append, flush, vote, truncate, purge) makes the
//! store refuse every later write until it is reopened: after a failed
//! fdatasync the kernel may have dropped dirty pages, so nothing written
//! afterwards could be trusted to be durable (rzk-wal itself stays failed
//! for the same reason). Errors reach openraft, which stops.
//!
//! Reads run on the calling task: they are positioned reads of recent
//! records, from the page cache in the common case. The commonest read,
//! apply asking for the entries just committed, does not reach the WAL at
//! all: the newest appended entries are kept decoded and handed over
//! (`recent.rs`). Operations that fsync (vote, truncate, purge) run on
//! tokio's blocking pool.

mod codec;
mod error;
mod idle;
mod recent;

/// The version byte every payload this store writes starts with.
pub use codec::FORMAT_VERSION as PAYLOAD_FORMAT_VERSION;

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, Range, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::alias::VoteOf;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use rzk_wal::{FlushCallback, Record, RecoveryReport, Wal, WalError, WalOptions, WalStats};

pub use error::WalLogStoreError;
use idle::IdleAppends;
pub use idle::RequestCount;
use recent::RecentEntries;
pub use recent::RECENT_ENTRIES_MAX;

use crate::hooks::LogSource;
use crate::types::{LogId, RaftEntry, TypeConfig};

/// Meta store key of the vote.
const VOTE_KEY: &str = "vote";
/// Meta store key of the last purged log id.
const PURGED_KEY: &str = "purged";

/// The most entries one `limited_get_log_entries` call returns (openraft's
/// replication asks for at most `max_payload_entries` anyway; this bounds the
/// memory of one read whatever the caller asks).
pub const LIMITED_READ_ENTRIES_MAX: u64 = 1024;

/// The most bytes (as stored in the log) one `limited_get_log_entries` call
/// returns, unless its first entry alone is larger. Replication reads
/// through that call, so this bounds one AppendEntries message: 512 entries
/// of near-megabyte values would be hundreds of megabytes in one message,
/// which a follower takes seconds to receive and fsync, and during which
/// the leader hears no acknowledgement from it (long enough, under load,
/// for the leader to count its quorum as lost).
pub const LIMITED_READ_BYTES_MAX: u64 = 4 * 1024 * 1024;

type Vote = VoteOf<TypeConfig>;

/// The small values kept beside the log, in memory. `vote` and
/// `last_purged` mirror the meta store; `committed` lives only here (see the
/// module doc).
#[derive(Debug, Default)]
struct Pointers {
    vote: Option<Vote>,
    last_purged: Option<LogId>,
    committed: Option<LogId>,
}

/// The first write failure, kept so that every later write is refused.
/// Shared with flush callbacks, which must not hold the store itself (the
/// last handle dropped from the flusher thread would join that thread).
#[derive(Debug, Default)]
struct FailFlag(Mutex<Option<String>>);

impl FailFlag {
    fn lock(&self) -> MutexGuard<'_, Option<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, cause: &dyn std::fmt::Display) {
        let mut failed = self.lock();
        if failed.is_none() {
            *failed = Some(cause.to_string());
        }
    }

    fn get(&self) -> Option<String> {
        self.lock().clone()
    }
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    wal: Wal,
    /// A std mutex: every critical section is a field access, never an await.
    pointers: Mutex<Pointers>,
    /// The newest entries, decoded (`recent.rs`): what apply reads back.
    recent: Mutex<RecentEntries>,
    failed: Arc<FailFlag>,
    /// See [`WalLogStore::sync_idle_appends_here`]. Its own `Arc` for the
    /// same reason as `failed`: flush callbacks hold it.
    idle: Arc<IdleAppends>,
}

impl Inner {
    fn pointers(&self) -> MutexGuard<'_, Pointers> {
        self.pointers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn recent(&self) -> MutexGuard<'_, RecentEntries> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wal_error(&self, op: &'static str) -> impl FnOnce(WalError) -> WalLogStoreError + '_ {
        move |source| WalLogStoreError::Wal {
            dir: self.dir.clone(),
            op,
            source,
        }
    }

    /// The first index a read may return: everything at or below the purge
    /// point is gone as far as openraft is concerned, even if a segment
    /// still holds it.
    fn first_readable_index(&self) -> u64 {
        self.pointers()
            .last_purged
            .map_or(0, |p| p.index.saturating_add(1))
    }

    /// The entries the log holds in `start..end` (clamped to what is held).
    /// Answered from the newest entries when they cover the range.
    fn read_range(&self, start: u64, end: u64) -> Result<Vec<RaftEntry>, WalLogStoreError> {
        let start = start.max(self.first_readable_index());
        if let Some(entries) = self.recent().take(start, end) {
            return Ok(entries);
        }
        self.read_range_with(start, end, |wal, range| wal.read(range))
    }

    /// As [`Inner::read_range`], stopping at `max_bytes` of records (but
    /// never returning nothing for a non-empty readable range).
    fn read_range_bounded(
        &self,
        start: u64,
        end: u64,
        max_bytes: u64,
    ) -> Result<Vec<RaftEntry>, WalLogStoreError> {
        self.read_range_with(start, end, |wal, range| wal.read_bounded(range, max_bytes))
    }

    /// Clamps `start..end` to what is held, reads it with `read` and decodes
    /// and checks every record.
    fn read_range_with(
        &self,
        start: u64,
        end: u64,
        read: impl FnOnce(&Wal, Range<u64>) -> Result<Vec<Record>, WalError>,
    ) -> Result<Vec<RaftEntry>, WalLogStoreError> {
        let start = start.max(self.first_readable_index());
        if start >= end {
            return Ok(Vec::new());
        }
        let records = read(&self.wal, start..end).map_err(self.wal_error("read"))?;
        records.iter().map(|r| self.decode_record(r)).collect()
    }

    /// Decodes a record and checks it is the entry its place says it is.
    fn decode_record(&self, record: &Record) -> Result<RaftEntry, WalLogStoreError> {
        let corrupt = |detail: String| WalLogStoreError::Corrupt {
            dir: self.dir.clone(),
            what: format!("the entry at index {}", record.index),
            detail,
        };
        let entry = codec::decode_entry(&record.payload).map_err(corrupt)?;
        let log_id = entry.log_id;
        if log_id.index != record.index || codec::term_of(&log_id) != record.term {
            return Err(corrupt(format!(
                "the record (index {}, term {}) holds the entry with log id {log_id}",
                record.index, record.term
            )));
        }
        Ok(entry)
    }

    /// The last entry's log id, or the purge point if no entry is above it.
    fn last_log_id(&self) -> Result<Option<LogId>, WalLogStoreError> {
        let purged = self.pointers().last_purged;
        let Some(last) = self.wal.last_index() else {
            return Ok(purged);
        };
        if purged.is_some_and(|p| last <= p.index) {
            return Ok(purged);
        }
        let records = self
            .wal
            .read(last..last.saturating_add(1))
            .map_err(self.wal_error("read"))?;
        let record = records.first().ok_or_else(|| WalLogStoreError::Corrupt {
            dir: self.dir.clone(),
            what: format!("the last entry (index {last})"),
            detail: "the log reports it but the read returned nothing".to_string(),
        })?;
        Ok(Some(self.decode_record(record)?.log_id))
    }

    fn check_writable(&self) -> Result<(), WalLogStoreError> {
        match self.failed.get() {
            Some(cause) => Err(WalLogStoreError::Failed {
                dir: self.dir.clone(),
                cause,
            }),
            None => Ok(()),
        }
    }

    /// Passes `result` through, marking the store failed if it is an error.
    fn fail_on_error<T>(&self, result: Result<T, WalLogStoreError>) -> Result<T, WalLogStoreError> {
        if let Err(e) = &result {
            self.failed.set(e);
        }
        result
    }

    fn save_purge_point_then_purge(&self, log_id: LogId) -> Result<(), WalLogStoreError> {
        let bytes = codec::encode_log_id(&log_id).map_err(|detail| WalLogStoreError::Encode {
            dir: self.dir.clone(),
            what: format!("the purge point {log_id}"),
            detail,
        })?;
        self.wal
            .save_meta(PURGED_KEY, &bytes)
            .map_err(self.wal_error("save the purge point"))?;
        // Readers stop at the purge point from here on; what the next step
        // deletes is already invisible.
        self.pointers().last_purged = Some(log_id);
        self.recent().purge_upto(log_id.index);
        self.wal
            .purge_upto(log_id.index)
            .map_err(self.wal_error("purge segments"))
    }
}

/// The durable raft log. Cheap to clone: clones share one log, as openraft
/// takes the store once and hands out clones as readers. The WAL (and its
/// directory lock) closes when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct WalLogStore {
    inner: Arc<Inner>,
}

impl WalLogStore {
    /// Opens (creating if needed) the raft log in `dir` with rzk-wal's
    /// default limits. Runs rzk-wal's recovery (a torn tail is cut and
    /// reported; any other damage is refused with its file and byte offset),
    /// reads the vote and purge point, finishes a purge that a crash cut
    /// short, and checks that the last entry decodes. Fails if another
    /// process (or another open store in this one) holds the directory.
    pub fn open(dir: &Path) -> Result<(WalLogStore, RecoveryReport), WalLogStoreError> {
        Self::open_with(dir, WalOptions::default())
    }

    /// [`WalLogStore::open`] with explicit WAL limits (tests use small
    /// segments to exercise purging across segment files).
    pub fn open_with(
        dir: &Path,
        options: WalOptions,
    ) -> Result<(WalLogStore, RecoveryReport), WalLogStoreError> {
        let wal_error = |op: &'static str| {
            let dir = dir.to_path_buf();
            move |source| WalLogStoreError::Wal { dir, op, source }
        };
        let (wal, report) = Wal::open(dir, options).map_err(wal_error("open"))?;
        let vote = load_meta(&wal, dir, VOTE_KEY, codec::decode_vote)?;
        let last_purged = load_meta(&wal, dir, PURGED_KEY, codec::decode_log_id)?;
        if let Some(purged) = last_purged {
            let next = wal.next_index();
            let log_behind = next.is_none_or(|n| n <= purged.index);
            let segments_to_drop = wal.first_index().is_some_and(|f| f <= purged.index);
            if log_behind || segments_to_drop {
                wal.purge_upto(purged.index)
                    .map_err(wal_error("finish an interrupted purge"))?;
            }
        }
        check_no_gap(&wal, dir, last_purged)?;
        let inner = Inner {
            dir: dir.to_path_buf(),
            wal,
            pointers: Mutex::new(Pointers {
                vote,
                last_purged,
                committed: None,
            }),
            recent: Mutex::default(),
            failed: Arc::default(),
            idle: Arc::default(),
        };
        // Refuse an unreadable tail now rather than at raft's first read.
        inner.last_log_id()?;
        Ok((
            WalLogStore {
                inner: Arc::new(inner),
            },
            report,
        ))
    }

    /// Lets an append that finds the server idle fdatasync on the appending
    /// task (raft's core) instead of handing the flush to the WAL's flusher
    /// thread; what idle means, and why, is in `wal_log_store/idle.rs`. A
    /// lone writer's set then crosses two threads fewer.
    ///
    /// Only for a server without peers: on a leader with followers the core
    /// would send an entry to them only after its own fdatasync, putting the
    /// two in series.
    pub fn sync_idle_appends_here(&self, on: bool) {
        self.inner.idle.enable(on);
    }

    /// Gives the idle rule the server's count of client requests received:
    /// an append then syncs here only if no other client's request arrived
    /// since the writer's previous one (a fdatasync here blocks the worker
    /// thread other clients' reads would run on).
    pub fn count_requests_with(&self, requests: RequestCount) {
        self.inner.idle.count_requests(requests);
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// rzk-wal's counters since open (records, bytes, fdatasync rounds).
    pub fn wal_stats(&self) -> WalStats {
        self.inner.wal.stats()
    }

    /// Runs `op` on tokio's blocking pool: it fsyncs.
    async fn blocking<T, F>(&self, op: F) -> Result<T, WalLogStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, WalLogStoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || op(&inner))
            .await
            .map_err(|e| WalLogStoreError::Task {
                dir: self.inner.dir.clone(),
                detail: e.to_string(),
            })?
    }

    fn encode_records<'a>(
        &self,
        entries: impl Iterator<Item = &'a RaftEntry>,
    ) -> Result<Vec<Record>, WalLogStoreError> {
        entries
            .map(|entry| {
                let payload =
                    codec::encode_entry(entry).map_err(|detail| WalLogStoreError::Encode {
                        dir: self.inner.dir.clone(),
                        what: format!("the entry {}", entry.log_id),
                        detail,
                    })?;
                Ok(Record {
                    index: entry.log_id.index,
                    term: codec::term_of(&entry.log_id),
                    payload,
                })
            })
            .collect()
    }
}

/// The session a client write or session close in `entry` came from.
fn writer_of(entry: &RaftEntry) -> Option<i64> {
    match &entry.payload {
        openraft::EntryPayload::Normal(request) => match &*request.txn {
            rzk_state::Txn::Write { session_id, .. }
            | rzk_state::Txn::CloseSession { session_id } => Some(*session_id),
            _ => None,
        },
        _ => None,
    }
}

/// Reads and decodes meta value `key`, if it was ever saved.
fn load_meta<T>(
    wal: &Wal,
    dir: &Path,
    key: &str,
    decode: fn(&[u8]) -> Result<T, codec::CodecError>,
) -> Result<Option<T>, WalLogStoreError> {
    let Some(bytes) = wal.load_meta(key) else {
        return Ok(None);
    };
    decode(&bytes)
        .map(Some)
        .map_err(|detail| WalLogStoreError::Corrupt {
            dir: dir.to_path_buf(),
            what: format!("the meta value {key:?}"),
            detail,
        })
}

/// Refuses a log that does not continue from the purge point: entries
/// between them would be missing, a hole raft must never see.
fn check_no_gap(wal: &Wal, dir: &Path, last_purged: Option<LogId>) -> Result<(), WalLogStoreError> {
    let expected = last_purged.map_or(0, |p| p.index.saturating_add(1));
    let Some(starts_at) = wal.first_index().or(wal.next_index()) else {
        return Ok(()); // a new, empty directory
    };
    if starts_at > expected {
        let purged = last_purged.map_or("none".to_string(), |p| p.to_string());
        return Err(WalLogStoreError::Corrupt {
            dir: dir.to_path_buf(),
            what: "the log's start".to_string(),
            detail: format!(
                "the log starts at index {starts_at} but the last purged entry is {purged}: \
                 entries in between are missing"
            ),
        });
    }
    Ok(())
}

/// `range` as `start..end` over u64 indexes.
fn index_range<RB: RangeBounds<u64>>(range: &RB) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => e.saturating_add(1),
        Bound::Excluded(e) => *e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for WalLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<RaftEntry>, io::Error> {
        let (start, end) = index_range(&range);
        Ok(self.inner.read_range(start, end)?)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.inner.pointers().vote)
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<RaftEntry>, io::Error> {
        let end = end.min(start.saturating_add(LIMITED_READ_ENTRIES_MAX));
        Ok(self
            .inner
            .read_range_bounded(start, end, LIMITED_READ_BYTES_MAX)?)
    }
}

impl RaftLogStorage<TypeConfig> for WalLogStore {
    type LogReader = WalLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id = self.inner.pointers().last_purged;
        let last_log_id = self.inner.last_log_id()?;
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let inner = &self.inner;
        inner.check_writable()?;
        let bytes = codec::encode_vote(vote).map_err(|detail| WalLogStoreError::Encode {
            dir: inner.dir.clone(),
            what: format!("the vote {vote}"),
            detail,
        });
        let bytes = inner.fail_on_error(bytes)?;
        // Appends handed over before this vote become durable before it.
        let flushed = inner
            .wal
            .flush()
            .await
            .map_err(inner.wal_error("flush before saving the vote"));
        inner.fail_on_error(flushed)?;
        let saved = self
            .blocking(move |inner| {
                inner
                    .wal
                    .save_meta(VOTE_KEY, &bytes)
                    .map_err(inner.wal_error("save the vote"))
            })
            .await;
        inner.fail_on_error(saved)?;
        inner.pointers().vote = Some(*vote);
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // In memory only: see the module doc.
        self.inner.pointers().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.inner.pointers().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = RaftEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let inner = &self.inner;
        let entries: Vec<RaftEntry> = entries.into_iter().collect();
        let written = inner.check_writable().and_then(|()| {
            let records = self.encode_records(entries.iter())?;
            inner
                .wal
                .append(&records)
                .map_err(inner.wal_error("append"))?;
            Ok(records)
        });
        let records = match inner.fail_on_error(written) {
            Ok(records) => records,
            Err(e) => {
                inner.recent().clear();
                callback.io_completed(Err(io::Error::other(e.to_string())));
                return Err(e.into());
            }
        };
        // Before the flush is registered: apply reads these only after it.
        let sizes = records.iter().map(|record| record.payload.len());
        let lone_writer = match entries.as_slice() {
            [entry] => writer_of(entry),
            _ => None,
        };
        let applied = {
            let mut recent = inner.recent();
            let applied = recent.is_empty();
            recent.push(entries.into_iter().zip(sizes));
            applied
        };
        let (here, started) = inner.idle.begin(lone_writer, applied);
        let idle = inner.idle.clone();
        let failed = inner.failed.clone();
        let dir = inner.dir.clone();
        let flushed: FlushCallback = Box::new(move |result| match result {
            Ok(()) => {
                idle.flushed(started);
                callback.io_completed(Ok(()))
            }
            Err(source) => {
                let e = WalLogStoreError::Wal {
                    dir,
                    op: "flush",
                    source,
                };
                failed.set(&e);
                callback.io_completed(Err(e.into()));
            }
        });
        if here {
            inner.wal.flush_here_with(flushed);
        } else {
            inner.wal.flush_with(flushed);
        }
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let inner = &self.inner;
        inner.check_writable()?;
        // Entries at or below the purge point are gone already; cutting below
        // it would move the log's start behind the purge point.
        let first_readable = inner.first_readable_index();
        let from = match last_log_id {
            None => first_readable,
            Some(id) => match id.index.checked_add(1) {
                Some(next) => next.max(first_readable),
                None => return Ok(()),
            },
        };
        inner.recent().truncate_from(from);
        let truncated = self
            .blocking(move |inner| {
                inner
                    .wal
                    .truncate_from(from)
                    .map_err(inner.wal_error("truncate"))
            })
            .await;
        Ok(inner.fail_on_error(truncated)?)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let inner = &self.inner;
        inner.check_writable()?;
        if inner
            .pointers()
            .last_purged
            .is_some_and(|p| p.index >= log_id.index)
        {
            return Ok(());
        }
        let purged = self
            .blocking(move |inner| inner.save_purge_point_then_purge(log_id))
            .await;
        Ok(inner.fail_on_error(purged)?)
    }
}

impl LogSource for WalLogStore {
    fn read_entries(&self, start: u64, end: u64) -> io::Result<Vec<RaftEntry>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let first_readable = self.inner.first_readable_index();
        if start < first_readable {
            return Err(WalLogStoreError::Missing {
                dir: self.inner.dir.clone(),
                start,
                end,
                detail: format!("entries below index {first_readable} are purged"),
            }
            .into());
        }
        let entries = self.inner.read_range(start, end)?;
        let wanted = end - start;
        if entries.len() as u64 != wanted {
            return Err(WalLogStoreError::Missing {
                dir: self.inner.dir.clone(),
                start,
                end,
                detail: format!("the log holds {} of the {wanted}", entries.len()),
            }
            .into());
        }
        Ok(entries)
    }
}
