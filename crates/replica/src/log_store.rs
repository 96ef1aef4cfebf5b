//! The raft log in memory: openraft's `RaftLogStorage` and `RaftLogReader`
//! over a `BTreeMap` of entries.
//!
//! For tests; production uses the durable [`crate::WalLogStore`]. Nothing
//! else in the crate depends on it: [`crate::replica::Replica::start`] takes any
//! `RaftLogStorage<TypeConfig> + LogSource + Clone` (the state machine reads
//! the log through a clone to build snapshots), so the WAL-backed store
//! replaces this one at that single call. What a durable store must add is exactly what this one
//! skips: `append` reports "flushed" only after fsync, and `save_vote` returns
//! only after the vote is on disk (a vote forgotten across a restart lets a
//! server vote twice in one term).
//!
//! Nothing survives a restart here, so a restarted server rejoins with an
//! empty log and catches up from the leader (entries or a snapshot).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::alias::VoteOf;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;

use crate::hooks::LogSource;
use crate::types::{LogId, RaftEntry, TypeConfig};

/// Purged entries up to this many are freed inline; more are freed on a
/// blocking thread (see `purge`).
const PURGE_DROP_INLINE_ENTRIES_MAX: usize = 4096;

#[derive(Debug, Default)]
struct Log {
    last_purged: Option<LogId>,
    entries: BTreeMap<u64, RaftEntry>,
    vote: Option<VoteOf<TypeConfig>>,
    committed: Option<LogId>,
}

/// The in-memory log. Cloning shares the same log (openraft takes one handle
/// as the store and hands out others as readers).
#[derive(Debug, Clone, Default)]
pub struct MemLogStore {
    /// A std mutex: every critical section is a map operation and never awaits.
    log: Arc<Mutex<Log>>,
}

impl MemLogStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.log().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RaftLogReader<TypeConfig> for MemLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<RaftEntry>, io::Error> {
        let log = self.log();
        Ok(log.entries.range(range).map(|(_, e)| e.clone()).collect())
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<TypeConfig>>, io::Error> {
        Ok(self.log().vote)
    }
}

impl LogSource for MemLogStore {
    fn read_entries(&self, start: u64, end: u64) -> io::Result<Vec<RaftEntry>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let log = self.log();
        let mut out = Vec::new();
        for (index, entry) in log.entries.range(start..end) {
            let expected = start + out.len() as u64;
            if *index != expected {
                return Err(missing(expected));
            }
            out.push(entry.clone());
        }
        let next = start + out.len() as u64;
        if next != end {
            return Err(missing(next));
        }
        Ok(out)
    }
}

fn missing(index: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("log entry {index} is not in the in-memory log (purged or never written)"),
    )
}

impl RaftLogStorage<TypeConfig> for MemLogStore {
    type LogReader = MemLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let log = self.log();
        let last = log
            .entries
            .last_key_value()
            .map(|(_, e)| e.log_id)
            .or(log.last_purged);
        Ok(LogState {
            last_purged_log_id: log.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<TypeConfig>) -> Result<(), io::Error> {
        self.log().vote = Some(*vote);
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        self.log().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.log().committed)
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
        {
            let mut log = self.log();
            for entry in entries {
                log.entries.insert(entry.log_id.index, entry);
            }
        }
        // Memory is as durable as this store gets: flushed as soon as stored.
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let mut log = self.log();
        let keep_through = last_log_id.map(|id| id.index);
        match keep_through {
            // split_off keeps [0, index] and returns (index, ..].
            Some(index) if index < u64::MAX => drop(log.entries.split_off(&(index + 1))),
            Some(_) => {}
            None => log.entries.clear(),
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let purged = {
            let mut log = self.log();
            debug_assert!(log.last_purged.is_none_or(|p| p <= log_id));
            let rest = log.entries.split_off(&(log_id.index.saturating_add(1)));
            log.last_purged = Some(log_id);
            std::mem::replace(&mut log.entries, rest)
        };
        // Freeing a snapshot's worth of entries (each with its own path and
        // data allocations) takes ~0.5 µs apiece: 170 ms for 300k entries
        // measured, during which appends (writes) would wait behind this
        // call. Free them on a blocking thread instead.
        if purged.len() > PURGE_DROP_INLINE_ENTRIES_MAX {
            drop(tokio::task::spawn_blocking(move || drop(purged)));
        }
        Ok(())
    }
}
