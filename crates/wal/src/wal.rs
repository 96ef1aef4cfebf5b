//! The `Wal` handle: append, flush, read, truncate, purge, meta.
//!
//! One mutex guards the in-memory index (segments and record offsets) and the
//! write position. Appends write to the page cache under it (microseconds);
//! fdatasync happens on the flusher thread outside it (`flusher.rs`). Reads
//! also run under it, because a truncate or purge may shorten or delete the
//! file being read; a read is one positioned read per segment, from the page
//! cache in the common case of reading recent records.
//!
//! Invariants, checked by recovery at every open:
//! * segment `k + 1` starts at the index after segment `k`'s last record;
//! * indexes are consecutive and terms never decrease;
//! * only the last segment (the active one) is ever written to.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::future::Future;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use crate::error::WalError;
use crate::format::{encode_record, record_frame_bytes, SEGMENT_HEADER_BYTES};
use crate::meta::MetaStore;
use crate::recovery::{recover_segments, RecoveryReport};
use crate::segment::Segment;

/// The name of the lock file inside the data log directory.
const LOCK_FILE_NAME: &str = "LOCK";

/// How far ahead of the records the active segment is zero-filled at a time
/// (see [`Segment::preallocate`]); capped at the segment size.
///
/// Small, because the next fdatasync writes the zeros out along with the
/// records and the new file size: an fdatasync that follows a zero-fill is
/// slower than one that does not (p50 113 against 43 us under set 16x8 at
/// 64 KiB). At 64 KiB instead of 1 MiB, set 16x8's p90 latency went from
/// 0.8-0.9 to 0.5-0.7 ms and its throughput up about 10%
/// (`docs/PERFORMANCE.md`, fifteenth and sixteenth sessions; the
/// fifteenth session's fdatasync percentiles were measured low).
pub const PREALLOCATE_CHUNK_BYTES: u64 = 64 * 1024;

/// One log record. The WAL does not look inside `payload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub index: u64,
    pub term: u64,
    pub payload: Vec<u8>,
}

/// Limits of one WAL. Both are checked at open and on every append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// A new segment is started when the next record would take the active
    /// one past this size. Smaller segments make purge finer-grained; larger
    /// ones mean fewer files. A record bigger than this gets a segment of its
    /// own. Recovery reads one segment into memory at a time.
    pub segment_size_bytes: u64,
    /// The largest payload `append` accepts and recovery believes: a length
    /// field above it is treated as damage, never allocated.
    pub max_record_payload_bytes: u32,
}

impl WalOptions {
    pub const DEFAULT_SEGMENT_SIZE_BYTES: u64 = 64 * 1024 * 1024;
    /// Well above ZooKeeper's 1 MiB `jute.maxbuffer` plus Raft entry overhead.
    pub const DEFAULT_MAX_RECORD_PAYLOAD_BYTES: u32 = 16 * 1024 * 1024;
    pub const MIN_SEGMENT_SIZE_BYTES: u64 = 1024;
    pub const MAX_SEGMENT_SIZE_BYTES: u64 = 1 << 32;
    pub const MAX_RECORD_PAYLOAD_BYTES_LIMIT: u32 = 1 << 30;

    fn validate(&self) -> Result<(), WalError> {
        let size = self.segment_size_bytes;
        if !(Self::MIN_SEGMENT_SIZE_BYTES..=Self::MAX_SEGMENT_SIZE_BYTES).contains(&size) {
            return Err(WalError::InvalidOptions {
                detail: format!(
                    "segment_size_bytes {size} is outside {}..={}",
                    Self::MIN_SEGMENT_SIZE_BYTES,
                    Self::MAX_SEGMENT_SIZE_BYTES
                ),
            });
        }
        let max = self.max_record_payload_bytes;
        if max == 0 || max > Self::MAX_RECORD_PAYLOAD_BYTES_LIMIT {
            return Err(WalError::InvalidOptions {
                detail: format!(
                    "max_record_payload_bytes {max} is outside 1..={}",
                    Self::MAX_RECORD_PAYLOAD_BYTES_LIMIT
                ),
            });
        }
        Ok(())
    }
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size_bytes: Self::DEFAULT_SEGMENT_SIZE_BYTES,
            max_record_payload_bytes: Self::DEFAULT_MAX_RECORD_PAYLOAD_BYTES,
        }
    }
}

/// Called once on the flusher thread when everything appended before the
/// flush request is durable (or with the error that prevented it). Must be
/// quick and must not panic: sending on a channel is the intended use.
pub type FlushCallback = Box<dyn FnOnce(Result<(), WalError>) + Send + 'static>;

/// Counters since open, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    pub records_appended: u64,
    pub bytes_appended: u64,
    /// Group-commit rounds: each made every queued flush durable at once.
    pub sync_rounds: u64,
    /// fdatasync calls on segment files: one per round, plus one per
    /// segment sealed.
    pub fdatasync_calls: u64,
    /// Flush requests completed successfully, including those that found
    /// everything already durable (another round had covered them).
    pub flushes_completed: u64,
    /// Rounds run on the appending thread (`Wal::flush_here_with`), out of
    /// `sync_rounds`.
    pub appender_rounds: u64,
}

/// State behind the WAL lock.
pub(crate) struct State {
    /// All segments in index order; the last is the active one. Empty only
    /// before the first append into a new directory.
    pub segments: VecDeque<Segment>,
    /// A segment file was created or deleted since the last directory fsync.
    pub dir_unsynced: bool,
    /// Numbers every write to a segment; `durable_seq` is the highest number
    /// covered by a completed fdatasync round.
    pub written_seq: u64,
    pub durable_seq: u64,
    pub waiters: Vec<FlushCallback>,
    /// An fdatasync round is running (on the flusher thread or, through
    /// `Wal::flush_here_with`, on an appender's); at most one runs at a time.
    pub syncing: bool,
    pub last_term: Option<u64>,
    /// Set by the first failed write or fdatasync; see `WalError::Failed`.
    pub failed: Option<WalError>,
    /// Segments whose files were unlinked, still open: closed by
    /// [`close_in_background`] once the lock is released
    /// ([`finish_removal`]).
    pub removed: Vec<Segment>,
    pub shutdown: bool,
    pub stats: WalStats,
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    /// The directory itself, opened for fsync after creating or deleting files.
    pub dir_file: File,
    pub options: WalOptions,
    pub state: Mutex<State>,
    /// Wakes the flusher.
    pub work: Condvar,
    meta: MetaStore,
    /// Holds the directory's advisory lock for as long as the WAL is open.
    _lock_file: File,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // Every mutation of State either completes or marks the WAL failed
        // before it can panic, and a failed WAL refuses writes; so a poisoned
        // lock holds a state that is safe to read and to fail from.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops the flusher when the last `Wal` clone is dropped, after it has
/// completed every queued flush.
struct Owner {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        if let Some(flusher) = self.flusher.take() {
            // A panicked flusher has nothing left to clean up.
            let _ = flusher.join();
        }
        // A closed log's files end at their last record. Best effort: a
        // zero tail left behind is only padding to recovery.
        if let Some(active) = self.shared.lock().segments.back_mut() {
            let _ = active.cut_preallocated();
        }
    }
}

/// A segmented, checksummed, group-committed write-ahead log.
///
/// Cheap to clone; all clones share one log, and the flusher thread stops
/// when the last clone is dropped.
#[derive(Clone)]
pub struct Wal {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared().dir)
            .finish()
    }
}

impl Wal {
    /// Opens (creating if needed) the log in `dir`, runs recovery and starts
    /// the flusher thread. See `recovery.rs` for what is repaired and what is
    /// refused.
    pub fn open(
        dir: impl AsRef<Path>,
        options: WalOptions,
    ) -> Result<(Wal, RecoveryReport), WalError> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        create_dir_durably(&dir)?;
        let lock_file = lock_dir(&dir)?;
        let dir_file = File::open(&dir).map_err(|e| WalError::io("open directory", &dir, e))?;
        let (recovered, report) = recover_segments(&dir, options.max_record_payload_bytes)?;
        let meta = MetaStore::open(&dir)?;
        let mut segments = VecDeque::with_capacity(recovered.len());
        for segment in recovered {
            segments.push_back(Segment::open(
                segment.path,
                segment.first_index,
                segment.offsets,
                segment.end_offset_bytes,
                segment.file_len_bytes,
            )?);
        }
        let state = State {
            segments,
            dir_unsynced: false,
            written_seq: 0,
            durable_seq: 0,
            waiters: Vec::new(),
            syncing: false,
            last_term: report.last_term,
            failed: None,
            removed: Vec::new(),
            shutdown: false,
            stats: WalStats::default(),
        };
        let shared = Arc::new(Shared {
            dir,
            dir_file,
            options,
            state: Mutex::new(state),
            work: Condvar::new(),
            meta,
            _lock_file: lock_file,
        });
        let flusher_shared = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("rzk-wal-flusher".into())
            .spawn(move || crate::flusher::run(flusher_shared))
            .map_err(|e| WalError::io("spawn flusher thread", &shared.dir, e))?;
        let wal = Wal {
            owner: Arc::new(Owner {
                shared,
                flusher: Some(flusher),
            }),
        };
        Ok((wal, report))
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.owner.shared
    }

    pub fn dir(&self) -> &Path {
        &self.shared().dir
    }

    /// Appends records to the page cache. They are durable only after a
    /// flush requested afterwards completes. Indexes must continue the log
    /// (any index may start an empty, never-used log) and terms must not
    /// decrease. All records are checked before any is written.
    pub fn append(&self, records: &[Record]) -> Result<(), WalError> {
        let shared = self.shared();
        let mut state = shared.lock();
        check_not_failed(&state)?;
        check_batch(&state, &shared.options, records)?;
        let result = write_batch(shared, &mut state, records);
        fail_on_error(&mut state, result)
    }

    /// Requests durability of everything appended so far; `callback` runs on
    /// the flusher thread once it is fdatasynced (or immediately, if it
    /// already is).
    pub fn flush_with(&self, callback: FlushCallback) {
        self.flush_on(callback, false);
    }

    /// As [`Wal::flush_with`], but when no fdatasync round is running or
    /// waiting, runs the round on the calling thread before returning (the
    /// callback runs here too). A lone writer then pays its fdatasync and no
    /// thread hand-off, neither waking the flusher nor being woken by it;
    /// while a round runs, flushes queue for the flusher as before, so
    /// concurrent writers still share fdatasyncs. Only for callers that may
    /// block for as long as an fdatasync takes.
    pub fn flush_here_with(&self, callback: FlushCallback) {
        self.flush_on(callback, true);
    }

    /// `flush_with`, or with `here_if_idle` `flush_here_with`.
    fn flush_on(&self, callback: FlushCallback, here_if_idle: bool) {
        let shared = self.shared();
        let mut state = shared.lock();
        if let Err(error) = check_not_failed(&state) {
            drop(state);
            callback(Err(error));
            return;
        }
        if state.durable_seq == state.written_seq && !state.dir_unsynced {
            state.stats.flushes_completed += 1;
            drop(state);
            callback(Ok(()));
            return;
        }
        if here_if_idle && !state.syncing && state.waiters.is_empty() {
            let round = crate::flusher::Round::take(&mut state, vec![callback]);
            state.stats.appender_rounds += 1;
            drop(state);
            round.run(shared, true);
            return;
        }
        state.waiters.push(callback);
        drop(state);
        shared.work.notify_one();
    }

    /// `flush_with` as a future, for tokio callers.
    pub fn flush(&self) -> FlushFuture {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.flush_with(Box::new(move |result| {
            // The receiver may be gone if the caller stopped waiting.
            let _ = sender.send(result);
        }));
        FlushFuture { receiver }
    }

    /// `flush_with`, blocking the calling thread until durable. Not for use on
    /// an async runtime's worker threads.
    pub fn flush_blocking(&self) -> Result<(), WalError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.flush_with(Box::new(move |result| {
            let _ = sender.send(result);
        }));
        receiver.recv().unwrap_or(Err(WalError::Closed))
    }

    /// The records with indexes in `range` that the log holds, in order:
    /// fewer than asked if the range reaches past either end of the log.
    /// Every record's checksum is verified.
    pub fn read(&self, range: Range<u64>) -> Result<Vec<Record>, WalError> {
        let shared = self.shared();
        let state = shared.lock();
        let mut records = Vec::new();
        for segment in &state.segments {
            let start = range.start.max(segment.first_index);
            let end = range.end.min(segment.next_index());
            if start < end {
                records.extend(segment.read(start..end, shared.options.max_record_payload_bytes)?);
            }
        }
        Ok(records)
    }

    /// As [`Wal::read`], but stops before the record that would take the
    /// records' total size on disk past `max_bytes`; the first record in the
    /// range is always returned, however large. Replication reads through
    /// this so that one message to a follower carries a bounded number of
    /// bytes, not `max_payload_entries` values of up to a megabyte each.
    pub fn read_bounded(&self, range: Range<u64>, max_bytes: u64) -> Result<Vec<Record>, WalError> {
        let end = {
            let state = self.shared().lock();
            let mut end = range.start;
            // Every record has a header, so nothing is taken while this is 0.
            let mut used_bytes = 0u64;
            'segments: for segment in &state.segments {
                let segment_end = range.end.min(segment.next_index());
                let mut index = end.max(segment.first_index);
                while index < segment_end {
                    let size_bytes = segment.offset_of(index + 1) - segment.offset_of(index);
                    if used_bytes > 0 && used_bytes + size_bytes > max_bytes {
                        end = index;
                        break 'segments;
                    }
                    used_bytes += size_bytes;
                    index += 1;
                }
                end = end.max(index.min(segment_end));
            }
            end
        };
        self.read(range.start..end)
    }

    /// Deletes every record after `index` (keeps `index`). Durable when it
    /// returns: a truncated record can never reappear after a crash, so new
    /// records appended at the same indexes are never mixed with old ones.
    pub fn truncate_after(&self, index: u64) -> Result<(), WalError> {
        match index.checked_add(1) {
            Some(from) => self.truncate_from(from),
            None => Ok(()),
        }
    }

    /// Deletes every record at or after `from`; `truncate_after(from - 1)`
    /// for callers that need to remove the whole log (openraft's
    /// `truncate_after(None)`). Durable when it returns. Afterwards the next
    /// append must have index `from`.
    pub fn truncate_from(&self, from: u64) -> Result<(), WalError> {
        let shared = self.shared();
        let mut state = shared.lock();
        check_not_failed(&state)?;
        let result = truncate_locked(shared, &mut state, from);
        finish_removal(state, result)
    }

    /// Deletes whole segments whose records all have indexes `<= index`. The
    /// first index afterwards is the first record of the oldest segment kept,
    /// so records `<= index` may remain readable; the caller keeps its own
    /// purge point. If every record is `<= index` (also when `index` is past
    /// the end of the log, as after installing a snapshot), the log becomes
    /// empty and the next append must have index `index + 1`; that case is
    /// durable when it returns.
    pub fn purge_upto(&self, index: u64) -> Result<(), WalError> {
        let shared = self.shared();
        let mut state = shared.lock();
        check_not_failed(&state)?;
        let result = purge_locked(shared, &mut state, index);
        finish_removal(state, result)
    }

    /// The index of the oldest record, or `None` if the log is empty.
    pub fn first_index(&self) -> Option<u64> {
        let state = self.shared().lock();
        first_index(&state)
    }

    /// The index of the newest record, or `None` if the log is empty.
    pub fn last_index(&self) -> Option<u64> {
        let state = self.shared().lock();
        last_index(&state)
    }

    /// The term of the newest record, or `None` if the log is empty.
    pub fn last_term(&self) -> Option<u64> {
        let state = self.shared().lock();
        last_index(&state).and(state.last_term)
    }

    /// The index the next append must start at, or `None` if the directory
    /// has never held a record (then any index may start it).
    pub fn next_index(&self) -> Option<u64> {
        let state = self.shared().lock();
        state.segments.back().map(Segment::next_index)
    }

    pub fn stats(&self) -> WalStats {
        self.shared().lock().stats
    }

    /// Durably replaces the value of `key` (`[a-z0-9_-]{1,64}`): returns
    /// after the value and the directory entry are fsynced. Blocks for one or
    /// two fsyncs; call it from a blocking context.
    pub fn save_meta(&self, key: &str, value: &[u8]) -> Result<(), WalError> {
        let shared = self.shared();
        shared.meta.save(key, value, &shared.dir_file)
    }

    /// The last value saved for `key`, if any.
    pub fn load_meta(&self, key: &str) -> Option<Vec<u8>> {
        self.shared().meta.get(key)
    }
}

/// The future returned by [`Wal::flush`].
#[derive(Debug)]
pub struct FlushFuture {
    receiver: tokio::sync::oneshot::Receiver<Result<(), WalError>>,
}

impl Future for FlushFuture {
    type Output = Result<(), WalError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.receiver)
            .poll(cx)
            .map(|result| result.unwrap_or(Err(WalError::Closed)))
    }
}

fn first_index(state: &State) -> Option<u64> {
    let first = state.segments.front()?.first_index;
    last_index(state).map(|_| first)
}

fn last_index(state: &State) -> Option<u64> {
    let first = state.segments.front()?.first_index;
    let next = state.segments.back()?.next_index();
    (next > first).then(|| next - 1)
}

pub(crate) fn check_not_failed(state: &State) -> Result<(), WalError> {
    match &state.failed {
        Some(failed) => Err(WalError::Failed {
            cause: Box::new(failed.clone()),
        }),
        None => Ok(()),
    }
}

/// A failed write or sync leaves the file in an unknown state: stop writing.
fn fail_on_error(state: &mut State, result: Result<(), WalError>) -> Result<(), WalError> {
    if let Err(error) = &result {
        if state.failed.is_none() {
            state.failed = Some(error.clone());
        }
    }
    result
}

fn check_batch(state: &State, options: &WalOptions, records: &[Record]) -> Result<(), WalError> {
    let mut expected_index = state.segments.back().map(Segment::next_index);
    let mut last_term = last_index(state).and(state.last_term);
    for record in records {
        if let Some(expected_index) = expected_index.filter(|e| *e != record.index) {
            return Err(WalError::NotConsecutive {
                expected_index,
                index: record.index,
            });
        }
        if let Some(last_term) = last_term.filter(|t| record.term < *t) {
            return Err(WalError::TermDecreased {
                index: record.index,
                term: record.term,
                last_term,
            });
        }
        if record.payload.len() > options.max_record_payload_bytes as usize {
            return Err(WalError::RecordTooLarge {
                index: record.index,
                payload_bytes: record.payload.len(),
                max_payload_bytes: options.max_record_payload_bytes,
            });
        }
        expected_index = Some(
            record
                .index
                .checked_add(1)
                .ok_or(WalError::NotConsecutive {
                    expected_index: record.index,
                    index: record.index,
                })?,
        );
        last_term = Some(record.term);
    }
    Ok(())
}

/// Encodes `records` and writes them with one positioned write per segment
/// touched, starting a new segment where the active one would overflow.
fn write_batch(shared: &Shared, state: &mut State, records: &[Record]) -> Result<(), WalError> {
    // Sized once for the whole batch: grown record by record it was
    // reallocated and copied several times per batch.
    let batch_bytes = records
        .iter()
        .map(|record| record_frame_bytes(record.payload.len()))
        .sum();
    let mut buffer = Vec::with_capacity(batch_bytes);
    let mut offsets = Vec::with_capacity(records.len());
    for record in records {
        let frame_bytes = record_frame_bytes(record.payload.len()) as u64;
        let roll = match state.segments.back() {
            None => true,
            Some(active) => {
                let holds_records = active.record_count() > 0 || !offsets.is_empty();
                let end = active.end_offset_bytes + buffer.len() as u64;
                holds_records && end + frame_bytes > shared.options.segment_size_bytes
            }
        };
        if roll {
            write_to_active(shared, state, &mut buffer, &mut offsets)?;
            start_segment(shared, state, record.index)?;
        }
        let Some(active) = state.segments.back() else {
            unreachable!("a segment was just started");
        };
        offsets.push(active.end_offset_bytes + buffer.len() as u64);
        encode_record(&mut buffer, record.index, record.term, &record.payload);
        state.last_term = Some(record.term);
    }
    write_to_active(shared, state, &mut buffer, &mut offsets)?;
    state.stats.records_appended += records.len() as u64;
    Ok(())
}

fn write_to_active(
    shared: &Shared,
    state: &mut State,
    buffer: &mut Vec<u8>,
    offsets: &mut Vec<u64>,
) -> Result<(), WalError> {
    if buffer.is_empty() {
        return Ok(());
    }
    let Some(active) = state.segments.back_mut() else {
        unreachable!("records are only buffered once a segment exists");
    };
    active.preallocate(
        active.end_offset_bytes + buffer.len() as u64,
        PREALLOCATE_CHUNK_BYTES,
        shared.options.segment_size_bytes,
    )?;
    active
        .file
        .write_all_at(buffer, active.end_offset_bytes)
        .map_err(|e| WalError::io("write", &active.path, e))?;
    active.end_offset_bytes += buffer.len() as u64;
    active.offsets.append(offsets);
    state.stats.bytes_appended += buffer.len() as u64;
    state.written_seq += 1;
    buffer.clear();
    Ok(())
}

/// Seals the active segment and starts a new one whose first record will be
/// `first_index`.
///
/// The sealed segment is fdatasynced *before* its successor is created, under
/// the lock (one fdatasync per segment, so rarely). That makes "only the last
/// segment can have a torn tail" true after a power cut too: if the new file
/// reached the disk, everything in the old one did first, so recovery never
/// meets unacknowledged, half-written records in a segment that is not last.
fn start_segment(shared: &Shared, state: &mut State, first_index: u64) -> Result<(), WalError> {
    if let Some(sealed) = state.segments.back_mut() {
        sealed.cut_preallocated()?;
        sealed
            .file
            .sync_data()
            .map_err(|e| WalError::io("fdatasync", &sealed.path, e))?;
        state.stats.fdatasync_calls += 1;
    }
    let segment = Segment::create(&shared.dir, first_index)?;
    state.segments.push_back(segment);
    state.dir_unsynced = true;
    state.written_seq += 1;
    Ok(())
}

fn truncate_locked(shared: &Shared, state: &mut State, from: u64) -> Result<(), WalError> {
    let Some(next) = state.segments.back().map(Segment::next_index) else {
        return Ok(());
    };
    if from >= next {
        return Ok(());
    }
    let first = state.segments.front().map_or(next, |s| s.first_index);
    if from < first {
        remove_all_segments(shared, state)?;
        create_empty_segment_durably(shared, state, from)?;
        return Ok(());
    }
    // Delete newest first: a crash part-way leaves a consistent, shorter
    // log, never a gap.
    while state.segments.back().is_some_and(|s| s.first_index > from) {
        if let Some(segment) = state.segments.pop_back() {
            remove_segment_file(state, segment)?;
        }
    }
    sync_dir(shared)?;
    let Some(active) = state.segments.back_mut() else {
        unreachable!("the segment holding `from` is kept");
    };
    let cut = active.offset_of(from);
    active
        .file
        .set_len(cut)
        .map_err(|e| WalError::io("truncate", &active.path, e))?;
    active
        .file
        .sync_all()
        .map_err(|e| WalError::io("fsync", &active.path, e))?;
    let kept = usize::try_from(from - active.first_index).unwrap_or(usize::MAX);
    active.offsets.truncate(kept);
    active.end_offset_bytes = cut;
    active.file_len_bytes = cut;
    state.last_term = match from.checked_sub(1).filter(|last| *last >= first) {
        Some(last) => read_term(shared, state, last)?,
        None => None,
    };
    Ok(())
}

fn purge_locked(shared: &Shared, state: &mut State, index: u64) -> Result<(), WalError> {
    let next = state.segments.back().map(Segment::next_index);
    let Some(after) = index.checked_add(1) else {
        return Ok(());
    };
    if next.is_none_or(|next| after >= next) {
        // Everything goes. The new empty segment's name records where the log
        // continues, so the next index survives a restart.
        remove_all_segments(shared, state)?;
        create_empty_segment_durably(shared, state, after)?;
        return Ok(());
    }
    // Oldest first: a crash part-way leaves a suffix of the log, which is
    // consistent. Never the active segment (handled above).
    while state.segments.len() > 1
        && state
            .segments
            .get(1)
            .is_some_and(|s| s.first_index <= after)
    {
        if let Some(segment) = state.segments.pop_front() {
            remove_segment_file(state, segment)?;
            state.dir_unsynced = true;
        }
    }
    Ok(())
}

/// Removes every segment, oldest first, and makes the removal durable.
fn remove_all_segments(shared: &Shared, state: &mut State) -> Result<(), WalError> {
    while let Some(segment) = state.segments.pop_front() {
        remove_segment_file(state, segment)?;
    }
    state.last_term = None;
    sync_dir(shared)
}

fn create_empty_segment_durably(
    shared: &Shared,
    state: &mut State,
    first_index: u64,
) -> Result<(), WalError> {
    let segment = Segment::create(&shared.dir, first_index)?;
    segment
        .file
        .sync_data()
        .map_err(|e| WalError::io("fdatasync", &segment.path, e))?;
    sync_dir(shared)?;
    debug_assert_eq!(segment.end_offset_bytes, SEGMENT_HEADER_BYTES as u64);
    state.segments.push_back(segment);
    Ok(())
}

/// Unlinks `segment`'s file and keeps it open in `state.removed`, for
/// [`close_in_background`] once the lock is released.
fn remove_segment_file(state: &mut State, segment: Segment) -> Result<(), WalError> {
    let unlinked =
        fs::remove_file(&segment.path).map_err(|e| WalError::io("remove", &segment.path, e));
    state.removed.push(segment);
    unlinked
}

/// Ends a call that may have removed segments: records its outcome under
/// the lock (as [`fail_on_error`]), then releases the lock and hands the
/// removed segments to [`close_in_background`].
fn finish_removal(
    mut state: MutexGuard<'_, State>,
    result: Result<(), WalError>,
) -> Result<(), WalError> {
    let result = fail_on_error(&mut state, result);
    let removed = std::mem::take(&mut state.removed);
    drop(state);
    close_in_background(removed);
    result
}

/// How much of a removed segment's file is freed at a time before it is
/// closed (see [`close_in_background`]).
pub const RELEASE_STEP_BYTES: u64 = 1024 * 1024;

/// Frees removed segments' blocks a step at a time, then closes them, on a
/// thread of its own.
///
/// Why: closing the last descriptor of an unlinked file is when the
/// filesystem frees its blocks, and on a filesystem mounted with `discard`
/// (as the VMs we measure on are) that sends the disk one discard of the
/// whole file. For a full 64 MiB segment the close took 15-18 ms, and the
/// WAL's fdatasyncs meanwhile waited behind the discard for up to 12 ms.
/// Closed under the WAL lock, it had also stalled every append and flush;
/// closed on the purging thread, raft's core, which awaits the purge
/// (`docs/PERFORMANCE.md`, fifteenth session). Cutting the file from the
/// end [`RELEASE_STEP_BYTES`] at a time turns that into small discards
/// (about 0.26 ms each there), of which an fdatasync waits for at most one.
/// Nothing waits for this thread: the files are already unlinked, and the
/// directory fsync that makes that durable does not depend on it. A failed
/// cut only means the rest is freed at the close. If no thread can be
/// started, the closure is dropped here and the files are closed on this
/// thread, whole.
fn close_in_background(removed: Vec<Segment>) {
    if removed.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("rzk-wal-close".into())
        .spawn(move || {
            for segment in removed {
                let mut len = segment.file_len_bytes;
                while len > 0 {
                    len = len.saturating_sub(RELEASE_STEP_BYTES);
                    if segment.file.set_len(len).is_err() {
                        break;
                    }
                }
            }
        });
}

fn sync_dir(shared: &Shared) -> Result<(), WalError> {
    shared
        .dir_file
        .sync_all()
        .map_err(|e| WalError::io("fsync directory", &shared.dir, e))
}

fn read_term(shared: &Shared, state: &State, index: u64) -> Result<Option<u64>, WalError> {
    let Some(segment) = state
        .segments
        .iter()
        .rev()
        .find(|s| s.first_index <= index && index < s.next_index())
    else {
        return Ok(None);
    };
    let records = segment.read(index..index + 1, shared.options.max_record_payload_bytes)?;
    Ok(records.first().map(|r| r.term))
}

/// Creates `dir` if missing and makes its directory entry durable, so a log
/// written into a new directory does not vanish with it after a crash.
fn create_dir_durably(dir: &Path) -> Result<(), WalError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| WalError::io("create directory", dir, e))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| WalError::io("fsync directory", parent, e))?;
    }
    Ok(())
}

fn lock_dir(dir: &Path) -> Result<File, WalError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| WalError::io("open lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(WalError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(WalError::io("lock", &path, e)),
    }
}
