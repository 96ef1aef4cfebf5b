//! The log store of a simulated server: rzk's [`MemLogStore`], which stands in
//! for the durable log (a crashed server restarts over a clone of it, so
//! everything it reported flushed survives), optionally with an injected
//! durability bug.
//!
//! The bug, for proving the checker can fail: `forget_last_append` reports
//! each append flushed at once but "loses" the entries of the last append
//! call when the server crashes: what a store that acknowledged before its
//! fsync would do on power loss. Raft's guarantee that an acknowledged write
//! survives rests on exactly that acknowledgement, so the simulation must
//! catch it.

use std::fmt::Debug;
use std::io;
use std::sync::{Arc, Mutex};

use openraft::alias::VoteOf;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use rzk_replica::hooks::LogSource;
use rzk_replica::types::{LogId, RaftEntry};
use rzk_replica::{MemLogStore, TypeConfig};

#[derive(Debug, Clone)]
pub struct SimLogStore {
    inner: MemLogStore,
    forget_last_append: bool,
    /// First index of the last append call (only tracked with the bug on).
    last_append_from: Arc<Mutex<Option<u64>>>,
}

impl SimLogStore {
    pub fn new(forget_last_append: bool) -> Self {
        SimLogStore {
            inner: MemLogStore::new(),
            forget_last_append,
            last_append_from: Arc::new(Mutex::new(None)),
        }
    }

    /// The server crashed: with the bug on, the last append call's entries
    /// are lost (and the commit index is pulled back to what is left).
    /// Returns how many entries were forgotten.
    pub async fn crash(&mut self) -> io::Result<u64> {
        if !self.forget_last_append {
            return Ok(0);
        }
        let from = self
            .last_append_from
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(from) = from else {
            return Ok(0);
        };
        let state = self.inner.get_log_state().await?;
        let Some(last) = state.last_log_id else {
            return Ok(0);
        };
        if last.index < from {
            return Ok(0);
        }
        // The entry before the forgotten ones: still in the log, or the purge
        // point (then nothing can be forgotten without a hole).
        let keep = if from == 0 {
            None
        } else {
            let mut reader = self.inner.clone();
            let before = reader.try_get_log_entries(from - 1..from).await?;
            match before.first() {
                Some(e) => Some(e.log_id),
                None => return Ok(0),
            }
        };
        self.inner.truncate_after(keep).await?;
        let committed = self.inner.read_committed().await?;
        if committed.is_some_and(|c| c.index >= from) {
            self.inner.save_committed(keep).await?;
        }
        Ok(last.index - from + 1)
    }
}

impl LogSource for SimLogStore {
    fn read_entries(&self, start: u64, end: u64) -> io::Result<Vec<RaftEntry>> {
        self.inner.read_entries(start, end)
    }
}

impl RaftLogStorage<TypeConfig> for SimLogStore {
    type LogReader = MemLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        self.inner.get_log_state().await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.inner.get_log_reader().await
    }

    async fn save_vote(&mut self, vote: &VoteOf<TypeConfig>) -> Result<(), io::Error> {
        self.inner.save_vote(vote).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        self.inner.save_committed(committed).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        self.inner.read_committed().await
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
        if !self.forget_last_append {
            return self.inner.append(entries, callback).await;
        }
        let entries: Vec<RaftEntry> = entries.into_iter().collect();
        if let Some(first) = entries.first() {
            *self
                .last_append_from
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(first.log_id.index);
        }
        self.inner.append(entries, callback).await
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        self.inner.truncate_after(last_log_id).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        self.inner.purge(log_id).await
    }
}
