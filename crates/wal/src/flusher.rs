//! Group commit: one thread that makes appended records durable and then
//! completes every flush that was waiting for them.
//!
//! Appenders write records to the page cache (cheap) and queue a flush
//! callback. The flusher takes *all* queued callbacks at once, fdatasyncs the
//! files they depend on, and completes them together. While one fdatasync runs,
//! new callbacks pile up and share the next one, so the number of fdatasyncs
//! per second stays near 1 / fdatasync latency while the number of records per
//! fdatasync grows with the number of concurrent writers. There is no timer and
//! no batching delay: a lone writer pays one fdatasync and nothing more.
//!
//! A caller that may block can run a round itself (`Wal::flush_here_with`)
//! when none is running or queued, which spares a lone writer the wake-ups
//! of this thread and of the caller; rounds never overlap, and flushes
//! queued during such a round are handed to this thread when it ends.
//!
//! The WAL lock is held only to take the batch and to record the outcome, never
//! across a system call, so appends and reads continue during an fdatasync.

use std::fs::File;
use std::sync::Arc;

use crate::error::WalError;
use crate::wal::{check_not_failed, FlushCallback, Shared, State};

/// One round's work, taken under the lock and done outside it.
pub(crate) struct Round {
    callbacks: Vec<FlushCallback>,
    /// The active segment, if any segment exists.
    active: Option<(Arc<File>, std::path::PathBuf)>,
    sync_dir: bool,
    /// Every write numbered up to this one is covered by this round.
    written_seq: u64,
}

impl Round {
    /// Takes a round covering everything written so far, completing
    /// `callbacks`, and marks a round as running so that no other starts
    /// until [`Round::run`] has recorded its outcome.
    pub(crate) fn take(state: &mut State, callbacks: Vec<FlushCallback>) -> Round {
        state.syncing = true;
        // Sealed segments were fdatasynced when sealed (`start_segment`),
        // so the active one is the only file with unsynced records.
        let active = state
            .segments
            .back()
            .map(|segment| (segment.file.clone(), segment.path.clone()));
        Round {
            callbacks,
            active,
            sync_dir: std::mem::take(&mut state.dir_unsynced),
            written_seq: state.written_seq,
        }
    }

    /// fdatasyncs what the round covers (no lock held), records the outcome,
    /// then completes the round's callbacks. A round run on an appender's
    /// thread (`on_appender`) first wakes the flusher if flushes queued
    /// meanwhile (it waits while any round runs).
    pub(crate) fn run(self, shared: &Shared, on_appender: bool) {
        let synced = sync(shared, &self);
        let result = {
            let mut state = shared.lock();
            state.syncing = false;
            let result = unless_failed(&state, synced);
            match &result {
                Ok(()) => {
                    state.durable_seq = state.durable_seq.max(self.written_seq);
                    state.stats.sync_rounds += 1;
                    state.stats.fdatasync_calls += u64::from(self.active.is_some());
                    state.stats.flushes_completed += self.callbacks.len() as u64;
                }
                Err(error) => {
                    if state.failed.is_none() {
                        state.failed = Some(error.clone());
                    }
                }
            }
            if on_appender && !state.waiters.is_empty() {
                shared.work.notify_one();
            }
            result
        };
        for callback in self.callbacks {
            callback(result.clone());
        }
    }
}

/// A round's fdatasync outcome as its callbacks may see it: a failure if the
/// WAL failed while the round ran, even when this fdatasync returned success.
///
/// Why: the kernel reports a write-back error once per open file
/// description, to whichever fdatasync of that description checks first.
/// An appender sealing the active segment (`start_segment`), or a truncate,
/// fdatasyncs the same descriptor under the WAL lock while a round's
/// fdatasync runs outside it. If that call takes the error, this round's
/// returns success for pages that never reached the disk. That call records
/// the failure before it releases the lock, and this round records its
/// outcome only under the lock, so checking here is enough never to
/// acknowledge such records. Records that did reach the disk are then
/// reported failed too, which is safe: the WAL refuses everything from now on.
fn unless_failed(state: &State, synced: Result<(), WalError>) -> Result<(), WalError> {
    synced.and_then(|()| check_not_failed(state))
}

/// The flusher thread's body. Runs until the WAL is dropped; before exiting it
/// completes every callback that was queued.
pub(crate) fn run(shared: Arc<Shared>) {
    loop {
        let round = {
            let mut state = shared.lock();
            // A round run by an appender (`Wal::flush_here_with`) hands what
            // queued meanwhile over when it finishes.
            while (state.waiters.is_empty() || state.syncing) && !state.shutdown {
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if state.waiters.is_empty() {
                return; // shut down with nothing left to complete
            }
            if let Err(error) = check_not_failed(&state) {
                let callbacks = std::mem::take(&mut state.waiters);
                drop(state);
                for callback in callbacks {
                    callback(Err(error.clone()));
                }
                continue;
            }
            let callbacks = std::mem::take(&mut state.waiters);
            Round::take(&mut state, callbacks)
        };
        round.run(&shared, false);
    }
}

fn sync(shared: &Shared, round: &Round) -> Result<(), WalError> {
    if let Some((file, path)) = &round.active {
        file.sync_data()
            .map_err(|e| WalError::io("fdatasync", path, e))?;
    }
    if round.sync_dir {
        shared
            .dir_file
            .sync_all()
            .map_err(|e| WalError::io("fsync directory", &shared.dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::{Record, Wal, WalOptions};

    /// The race `unless_failed` closes, played out by hand: a round is taken,
    /// then (as an appender sealing the segment would, under the lock, after
    /// the kernel reported a write-back error to it instead of to the round)
    /// the WAL is marked failed, then the round's own fdatasync succeeds.
    #[test]
    fn a_round_does_not_acknowledge_once_the_wal_failed_while_it_ran() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (wal, _) = Wal::open(dir.path(), WalOptions::default()).expect("open");
        wal.append(&[Record {
            index: 1,
            term: 1,
            payload: b"lost page".to_vec(),
        }])
        .expect("append");
        let shared = wal.shared();
        let (sender, receiver) = mpsc::channel();
        let round = {
            let mut state = shared.lock();
            let round = Round::take(
                &mut state,
                vec![Box::new(move |result| {
                    let _ = sender.send(result);
                })],
            );
            state.failed = Some(WalError::io(
                "fdatasync",
                dir.path(),
                std::io::Error::other("write-back error reported to the sealing fdatasync"),
            ));
            round
        };
        round.run(shared, false);
        let result = receiver.recv().expect("the callback ran");
        assert!(
            matches!(result, Err(WalError::Failed { .. })),
            "the round acknowledged records after the WAL failed: {result:?}"
        );
        let state = shared.lock();
        assert_eq!(state.durable_seq, 0, "nothing may be counted durable");
        assert_eq!(state.stats.flushes_completed, 0);
    }
}
