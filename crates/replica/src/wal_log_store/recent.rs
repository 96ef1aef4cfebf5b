//! The newest entries of the log, kept decoded in memory.
//!
//! Why: openraft's state machine worker does not receive the entries it
//! applies; it reads them back from the log (`try_get_log_entries`) a moment
//! after they were appended. Read from the WAL, every entry paid a `pread`,
//! a checksum and a decode: 6% of the server's CPU under `set 16x8`
//! (docs/PERFORMANCE.md), on the path every write waits on. The entries the
//! store just appended are still in hand, so it keeps the newest ones and
//! hands them over to such reads.
//!
//! The invariant every method keeps: the entries held are consecutive and
//! each is exactly the log's entry at its index (truncation and purging
//! drop them here first). A read of a range within them is answered from
//! here (and takes them, see [`RecentEntries::take`]); any other read goes
//! to the WAL. The store records an append here before it registers the
//! append's flush, so an entry is here before openraft can learn it is
//! durable, let alone commit and apply it.

use std::collections::VecDeque;

use crate::types::RaftEntry;

/// The most entries kept. Apply runs a few hundred entries behind the
/// append at most under load; this leaves room for a burst.
pub const RECENT_ENTRIES_MAX: usize = 4096;

/// The most payload bytes (as encoded in the log) kept, so that a run of
/// near-megabyte values does not pin gigabytes; at least the newest entry is
/// always kept.
pub const RECENT_ENTRIES_BYTES_MAX: usize = 8 * 1024 * 1024;

#[derive(Debug, Default)]
pub(super) struct RecentEntries {
    /// Each entry with its encoded payload's size.
    entries: VecDeque<(RaftEntry, usize)>,
    bytes: usize,
}

impl RecentEntries {
    /// Records entries just appended to the log, in index order, with their
    /// encoded sizes. Entries that do not continue the ones held (the log was
    /// truncated or purged behind this cache's back) replace them.
    pub(super) fn push(&mut self, appended: impl IntoIterator<Item = (RaftEntry, usize)>) {
        for (entry, size) in appended {
            let follows = self
                .last_index()
                .is_none_or(|last| last.checked_add(1) == Some(entry.log_id.index));
            if !follows {
                self.clear();
            }
            self.bytes += size;
            self.entries.push_back((entry, size));
        }
        while self.entries.len() > RECENT_ENTRIES_MAX
            || (self.bytes > RECENT_ENTRIES_BYTES_MAX && self.entries.len() > 1)
        {
            self.pop_front();
        }
    }

    /// Hands over the log's entries in `start..end`, if that range is
    /// non-empty and lies within the entries held; `None` sends the caller
    /// to the WAL (which also clamps a range reaching past the log's end: an
    /// append may have reached the WAL a moment before it reaches here).
    ///
    /// The entries are moved out, not cloned, and the older ones held are
    /// dropped with them: apply reads each entry once, in order, and a clone
    /// allocates as much as decoding the record again would. A second read
    /// of the same range is answered by the WAL.
    pub(super) fn take(&mut self, start: u64, end: u64) -> Option<Vec<RaftEntry>> {
        let first = self.entries.front()?.0.log_id.index;
        let last = self.last_index()?;
        if start < first || start >= end || end > last.saturating_add(1) {
            return None;
        }
        // Both within the entries held: first <= start < end <= last + 1.
        let skip = usize::try_from(start - first).ok()?;
        let count = usize::try_from(end - start).ok()?;
        for _ in 0..skip {
            self.pop_front();
        }
        let taken: Vec<RaftEntry> = self
            .entries
            .drain(..count)
            .map(|(entry, size)| {
                self.bytes -= size;
                entry
            })
            .collect();
        Some(taken)
    }

    /// Forgets every entry at or after `from` (the log is being cut there).
    pub(super) fn truncate_from(&mut self, from: u64) {
        while self
            .entries
            .back()
            .is_some_and(|(entry, _)| entry.log_id.index >= from)
        {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Forgets every entry at or below `index` (purged from the log).
    pub(super) fn purge_upto(&mut self, index: u64) {
        while self
            .entries
            .front()
            .is_some_and(|(entry, _)| entry.log_id.index <= index)
        {
            self.pop_front();
        }
    }

    /// True when apply has read every entry appended (or none is held): the
    /// server has no write between its log and its state machine.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets everything (after a failed write, nothing is known).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    fn pop_front(&mut self) {
        if let Some((_, size)) = self.entries.pop_front() {
            self.bytes -= size;
        }
    }

    fn last_index(&self) -> Option<u64> {
        self.entries.back().map(|(entry, _)| entry.log_id.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::LogId;
    use openraft::EntryPayload;

    fn entry(term: u64, index: u64) -> (RaftEntry, usize) {
        let log_id = LogId::new(
            openraft::vote::leader_id_std::CommittedLeaderId::new(term),
            index,
        );
        (
            RaftEntry {
                log_id,
                payload: EntryPayload::Blank,
            },
            100,
        )
    }

    fn indexes(got: Option<Vec<RaftEntry>>) -> Option<Vec<(u64, u64)>> {
        got.map(|v| {
            v.iter()
                .map(|e| (e.log_id.leader_id.term, e.log_id.index))
                .collect()
        })
    }

    #[test]
    fn reads_inside_the_entries_held_take_them_and_others_are_not_answered() {
        let mut recent = RecentEntries::default();
        assert_eq!(recent.take(0, 10), None, "nothing held: the WAL answers");
        recent.push((5..12).map(|i| entry(1, i)));
        assert_eq!(recent.take(4, 10), None, "starts before the first held");
        assert_eq!(recent.take(10, 13), None, "reaches past the entries held");
        assert_eq!(recent.take(7, 7), None, "empty: the WAL clamps and answers");
        assert_eq!(indexes(recent.take(6, 8)), Some(vec![(1, 6), (1, 7)]));
        assert_eq!(recent.take(5, 6), None, "older entries went with them");
        assert_eq!(
            recent.take(7, 8),
            None,
            "taken entries are read from the WAL"
        );
        assert_eq!(recent.bytes, 4 * 100);
        assert_eq!(indexes(recent.take(8, 12)).map(|v| v.len()), Some(4));
        assert_eq!(recent.bytes, 0);
        assert_eq!(recent.take(12, 13), None, "past the entries held");
    }

    #[test]
    fn truncation_and_a_new_term_replace_the_tail() {
        let mut recent = RecentEntries::default();
        recent.push((1..6).map(|i| entry(1, i)));
        recent.truncate_from(4);
        assert_eq!(recent.take(3, 5), None);
        recent.push((4..6).map(|i| entry(2, i)));
        assert_eq!(
            indexes(recent.take(3, 6)),
            Some(vec![(1, 3), (2, 4), (2, 5)])
        );
        recent.push((6..8).map(|i| entry(2, i)));
        // An append that does not continue what is held replaces it.
        recent.push([entry(3, 9)]);
        assert_eq!(recent.take(6, 7), None);
        assert_eq!(indexes(recent.take(9, 10)), Some(vec![(3, 9)]));
    }

    #[test]
    fn purges_and_limits_drop_the_oldest() {
        let mut recent = RecentEntries::default();
        recent.push((0..10).map(|i| entry(1, i)));
        recent.purge_upto(4);
        assert_eq!(recent.take(4, 5), None);
        assert_eq!(recent.entries.len(), 5);

        recent.push((10..10 + RECENT_ENTRIES_MAX as u64).map(|i| entry(1, i)));
        assert_eq!(recent.entries.len(), RECENT_ENTRIES_MAX);
        assert_eq!(recent.take(9, 10), None, "the oldest went first");
        assert_eq!(indexes(recent.take(10, 11)), Some(vec![(1, 10)]));

        let big = RECENT_ENTRIES_BYTES_MAX / 2 + 1;
        let last = 10 + RECENT_ENTRIES_MAX as u64;
        recent.push([(entry(1, last).0, big), (entry(1, last + 1).0, big)]);
        assert_eq!(recent.entries.len(), 1, "bytes bound, the newest kept");
        assert_eq!(recent.bytes, big);
        assert_eq!(
            indexes(recent.take(last + 1, last + 2)),
            Some(vec![(1, last + 1)])
        );
    }
}
