//! Snapshots by merge: the previous snapshot file plus what changed since,
//! streamed into the new file without building a tree.
//!
//! Why: a snapshot of a big tree used to be built by loading the previous
//! file into a second tree, replaying the log after it, and writing that
//! tree out. With a million znodes the load alone was about a second of CPU,
//! paid every snapCount entries, and under a steady write load the builder
//! ran back to back (`docs/PERFORMANCE.md`). The live tree already knows
//! what the entries changed: every mutation records the path it touched in
//! the undo log. Kept across entries, those paths are the delta:
//!
//! - [`DataTree::track_changes`] starts keeping them, at a state a snapshot
//!   file holds (a tree just loaded, or just snapshotted);
//! - [`DataTree::take_changes`], between two entries, encodes the current
//!   record of each changed path (or notes it deleted) along with the small
//!   sections that are always written whole (ACL lists, sessions, quota
//!   trie), and starts over;
//! - [`merge_snapshot`] (on a blocking thread) walks the previous file's
//!   records in order beside the sorted changes and writes the new file.
//!
//! The result is byte for byte what [`DataTree::write_snapshot`] writes for
//! the tree at that point (tests check it over random histories). The base
//! file is read through its trailer and checked like any load; anything
//! that does not fit (a record out of order, an ACL list missing, the node
//! count off) is an error, and the caller falls back to a replay.

use crate::acl_cache::SharedAcl;
use std::cmp::Ordering;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use hashbrown::HashMap;

use crate::node_map::NodeMap;
use crate::snapshot::{
    corrupt, encode_node, io_error, node_record_bytes, write_acl_lists, write_header, AclTable,
    SnapReader, SnapWriter, SnapshotError, SnapshotMeta,
};
use crate::tree::DataTree;

/// At most this many changed paths are kept between two snapshots; beyond
/// it the delta is dropped (the next snapshot is built by replay) rather
/// than grow without bound when snapshots stop being taken.
pub const CHANGED_PATHS_MAX: usize = 1 << 21;

/// The changed paths, each with the slot its node had just after its last
/// change (`None`: no node), looked up while the node is still in the cache.
/// Nothing moves a node between two changes to its path, so the slot still
/// holds it when its record is encoded.
pub(crate) type ChangedPaths = HashMap<Box<str>, Option<u32>, foldhash::fast::RandomState>;

/// Whether the tree keeps the paths its entries change.
#[derive(Debug, Clone, Default)]
pub(crate) enum Changes {
    /// Not since the last snapshot point: no delta to give.
    #[default]
    Off,
    /// Since the last snapshot point.
    Tracking(ChangedPaths),
}

/// One node record, encoded as a snapshot holds it.
type Record = Box<[u8]>;

/// What changed in a tree between two snapshot points, ready to merge onto
/// the snapshot taken at the first (see the module doc).
#[derive(Debug)]
pub struct SnapshotDelta {
    last_zxid: i64,
    node_count: u64,
    acl_lists: Vec<SharedAcl>,
    /// Each changed path and its record, or `None` when the path held no
    /// node at the snapshot point. Unordered until the merge sorts it.
    changed: Vec<(Box<str>, Option<Record>)>,
    /// The sessions and quota trie sections, encoded.
    tail: Vec<u8>,
}

impl SnapshotDelta {
    /// How many paths changed.
    pub fn changed_paths(&self) -> usize {
        self.changed.len()
    }
}

/// Names one [`DataTree::take_changes`], unique in the process, so a
/// builder never finishes changes taken for another (a later snapshot
/// point, or a tree that replaced this one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangesTicket(u64);

static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// What [`DataTree::encode_taken`] got done.
#[derive(Debug)]
pub enum TakeStep {
    /// Some records are still to encode: call again.
    More,
    /// All of them: the delta to merge.
    Done(SnapshotDelta),
    /// These changes are gone: taken again since, the tree replaced, or a
    /// record that could not be encoded. Build the snapshot another way.
    Lost,
}

/// Changes taken at a snapshot point whose records are not all encoded
/// yet. Every path still in `paths` holds its state at that point: the
/// first change to one after it encodes its record first
/// ([`DataTree::before_change`]).
#[derive(Debug)]
pub(crate) struct Taking {
    ticket: ChangesTicket,
    paths: ChangedPaths,
    acls: AclTable,
    delta: SnapshotDelta,
    /// A change reached a path still in `paths` without encoding it first
    /// (a mutation missing its `before_change`): the delta would be wrong.
    broken: bool,
}

impl Taking {
    /// Encodes the record `path` holds now (`slot`: its node's slot as
    /// tracked) into the delta; marks the take broken if it cannot.
    fn encode(&mut self, nodes: &NodeMap, path: Box<str>, slot: Option<u32>) {
        let node = match slot.and_then(|slot| nodes.node_at(slot)) {
            Some(node) if node.path_bytes() == path.as_bytes() => Some(node),
            // Defensive: the slot should hold it (see `ChangedPaths`).
            _ if slot.is_some() => nodes.get(&path),
            _ => None,
        };
        // Each record gets an allocation of its own: one buffer for them
        // all (megabytes) came from fresh pages each time, and faulting
        // them in was 80% of the time taken.
        let record = match node {
            Some(node) => {
                let mut record = Vec::with_capacity(node_record_bytes(node));
                let encoded = self
                    .acls
                    .index(&node.acl)
                    .and_then(|acl| encode_node(&mut record, node, acl));
                if encoded.is_err() {
                    self.broken = true;
                }
                Some(record.into_boxed_slice())
            }
            None => None,
        };
        self.delta.changed.push((path, record));
    }
}

/// Where a tree holds its [`Taking`]. A clone of the tree starts without
/// one: a ticket names the changes of one tree.
#[derive(Debug, Default)]
pub(crate) struct TakingSlot(Option<Box<Taking>>);

impl Clone for TakingSlot {
    fn clone(&self) -> Self {
        TakingSlot(None)
    }
}

/// Records encoded per [`DataTree::take_all_changes`] step.
const TAKE_ALL_PATHS_PER_STEP: usize = 1 << 16;

impl DataTree {
    /// Starts keeping the paths entries change, from the current state,
    /// which must be the state a snapshot file holds (for a later
    /// [`DataTree::take_changes`] to merge onto).
    pub fn track_changes(&mut self) {
        self.changes = Changes::Tracking(ChangedPaths::default());
    }

    /// Stops keeping the paths entries change (each costs a set insert
    /// and a lookup per changed node). The next [`DataTree::take_changes`]
    /// gives none and starts keeping them again from there.
    pub fn stop_tracking_changes(&mut self) {
        self.changes = Changes::Off;
    }

    /// Takes the changes since tracking started or since the last take, to
    /// merge onto the snapshot of that point; tracking restarts from now.
    /// `None` when they were not all kept (tracking never started, or more
    /// than [`CHANGED_PATHS_MAX`] paths changed). Call between entries: the
    /// delta describes the tree as it is now.
    ///
    /// Only the small sections are encoded here. The changed nodes' records
    /// are encoded by [`DataTree::encode_taken`], a slice at a time, while
    /// entries go on being applied: a node is encoded before anything
    /// changes it. Encoding them all here held up every write for about
    /// 0.3 us per changed path (tens of milliseconds under a create load,
    /// in its p99). An earlier take not finished yet is given up.
    pub fn take_changes(&mut self) -> Option<ChangesTicket> {
        self.taking.0 = None;
        let Changes::Tracking(paths) = std::mem::take(&mut self.changes) else {
            self.track_changes();
            return None;
        };
        self.track_changes();
        let acls = self.acl_table().ok()?;
        let mut tail = Vec::new();
        let mut w = SnapWriter::new(&mut tail);
        self.write_tail(&mut w).ok()?;
        w.flush_all().ok()?;
        let ticket = ChangesTicket(NEXT_TICKET.fetch_add(1, AtomicOrdering::Relaxed));
        self.taking.0 = Some(Box::new(Taking {
            ticket,
            delta: SnapshotDelta {
                last_zxid: self.last_zxid,
                node_count: self.nodes.len() as u64,
                acl_lists: acls.lists(),
                changed: Vec::with_capacity(paths.len()),
                tail,
            },
            paths,
            acls,
            broken: false,
        }));
        Some(ticket)
    }

    /// Encodes the records of up to `max_paths` more paths of the changes
    /// taken as `ticket`; the delta once all are.
    pub fn encode_taken(&mut self, ticket: ChangesTicket, max_paths: usize) -> TakeStep {
        let Some(taking) = self.taking.0.as_deref_mut().filter(|t| t.ticket == ticket) else {
            return TakeStep::Lost;
        };
        // In slot order: the nodes are read front to back, not at random.
        let mut slice: Vec<(Box<str>, Option<u32>)> = taking
            .paths
            .extract_if(|_, _| true)
            .take(max_paths)
            .collect();
        slice.sort_unstable_by_key(|(_, slot)| *slot);
        for (path, slot) in slice {
            taking.encode(&self.nodes, path, slot);
        }
        if taking.broken {
            self.taking.0 = None;
            return TakeStep::Lost;
        }
        if !taking.paths.is_empty() {
            return TakeStep::More;
        }
        match self.taking.0.take() {
            Some(taking) => TakeStep::Done(taking.delta),
            None => TakeStep::Lost,
        }
    }

    /// Gives up the changes taken as `ticket`, if they are still being
    /// encoded (their snapshot is built another way, or not at all).
    pub fn drop_taken(&mut self, ticket: ChangesTicket) {
        if self.taking.0.as_ref().is_some_and(|t| t.ticket == ticket) {
            self.taking.0 = None;
        }
    }

    /// [`DataTree::take_changes`] and all of [`DataTree::encode_taken`] at
    /// once, for a caller that holds the tree meanwhile anyway.
    pub fn take_all_changes(&mut self) -> Option<SnapshotDelta> {
        let ticket = self.take_changes()?;
        loop {
            match self.encode_taken(ticket, TAKE_ALL_PATHS_PER_STEP) {
                TakeStep::More => {}
                TakeStep::Done(delta) => return Some(delta),
                TakeStep::Lost => return None,
            }
        }
    }

    /// Called by every mutation before it changes the node at `path` (a
    /// node map key) or creates one there: if that path's record is still
    /// to be encoded for taken changes, encodes it now, while it holds the
    /// state of the snapshot point.
    pub(crate) fn before_change(&mut self, path: &str) {
        let Some(taking) = self.taking.0.as_deref_mut() else {
            return;
        };
        if let Some((path, slot)) = taking.paths.remove_entry(path) {
            taking.encode(&self.nodes, path, slot);
        }
    }

    /// Moves the paths the entry just applied changed (its undo log) into
    /// the kept set, if changes are being kept.
    pub(crate) fn note_changes(&mut self) {
        if let Some(taking) = self.taking.0.as_deref_mut() {
            // Each of these was encoded before it changed, so none is still
            // waiting; one that is means a mutation skipped `before_change`
            // and its record would hold the new state.
            if self.undo.iter_mut().any(|step| {
                step.path_mut()
                    .is_some_and(|path| taking.paths.contains_key(&**path))
            }) {
                debug_assert!(false, "a change did not encode the taken record first");
                taking.broken = true;
            }
        }
        let Changes::Tracking(paths) = &mut self.changes else {
            return;
        };
        for mut step in self.undo.drain(..) {
            if let Some(path) = step.path_mut().map(std::mem::take) {
                let slot = self.nodes.slot_of(&path);
                paths.insert(path, slot);
            }
        }
        if paths.len() > CHANGED_PATHS_MAX {
            self.changes = Changes::Off;
        }
    }
}

/// The order of nodes in a snapshot (preorder, siblings by name) as an order
/// on full paths: byte order with `/` below every other byte, so that a
/// node's subtree comes before its next sibling (`/a/b/c` before `/a/b!`).
///
/// Only the first byte where the two differ decides (the byte map is
/// one-to-one), so the common prefix is skipped eight bytes at a time and
/// only that byte is mapped: a merge compares every base record with its
/// predecessor and with the next change, and paths share long prefixes.
/// Mapping every byte through an iterator was half of a merge's CPU under
/// a create load (docs/PERFORMANCE.md).
pub fn preorder_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = common_prefix_len(a, b);
    match (a.get(at), b.get(at)) {
        (Some(&x), Some(&y)) => preorder_key(x).cmp(&preorder_key(y)),
        (x, y) => x.is_some().cmp(&y.is_some()),
    }
}

/// A path byte's rank in [`preorder_cmp`]: `/` below every other byte.
fn preorder_key(c: u8) -> u16 {
    if c == b'/' {
        0
    } else {
        u16::from(c) + 1
    }
}

/// How many leading bytes `a` and `b` share.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    const WORD: usize = std::mem::size_of::<u64>();
    let len = a.len().min(b.len());
    let mut at = 0;
    while at + WORD <= len {
        let word = |s: &[u8]| {
            let mut w = [0u8; WORD];
            w.copy_from_slice(&s[at..at + WORD]);
            u64::from_le_bytes(w)
        };
        let diff = word(a) ^ word(b);
        if diff != 0 {
            // Little-endian: the lowest set bit is in the first differing byte.
            return at + diff.trailing_zeros() as usize / 8;
        }
        at += WORD;
    }
    at + a[at..len]
        .iter()
        .zip(&b[at..len])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Writes to `out` the snapshot of the state `delta` leads to, from `base`,
/// the snapshot of the state it started from (see the module doc). `base`
/// is read to its end and checked; an error leaves `out` incomplete (the
/// caller discards it).
pub fn merge_snapshot(
    base: &mut impl Read,
    mut delta: SnapshotDelta,
    out: &mut impl Write,
) -> Result<SnapshotMeta, SnapshotError> {
    delta
        .changed
        .sort_unstable_by(|a, b| preorder_cmp(&a.0, &b.0));
    let mut r = SnapReader::new(base);
    let (_, base_count) = r.header()?;
    // Base ACL index -> new index, for the records that did not change.
    let renumber: Vec<Option<u32>> = r
        .acl_lists()?
        .iter()
        .map(|list| {
            delta
                .acl_lists
                .binary_search_by(|l| l.as_slice().cmp(list.as_slice()))
                .ok()
                .map(|i| i as u32)
        })
        .collect();

    let mut w = SnapWriter::new(out);
    write_header(&mut w, delta.last_zxid, delta.node_count);
    write_acl_lists(&mut w, delta.acl_lists.iter().map(|l| l.as_slice())).map_err(io_error)?;

    let mut written = 0u64;
    let mut changed = delta.changed.iter().peekable();
    let mut rec = Vec::new();
    let mut previous = String::new();
    for i in 0..base_count {
        let (path, data) = r.node_record(&mut rec)?;
        let path = std::str::from_utf8(&rec[path]).map_err(|_| corrupt("a path is not UTF-8"))?;
        if i > 0 && preorder_cmp(&previous, path) != Ordering::Less {
            return Err(corrupt(format!(
                "base node {path:?} is out of order after {previous:?}"
            )));
        }
        previous.clear();
        previous.push_str(path);
        // The changes that sort before this node, and its own.
        let mut replaced = false;
        while let Some((changed_path, record)) = changed.peek() {
            let order = preorder_cmp(changed_path, path);
            if order == Ordering::Greater {
                break;
            }
            if let Some(record) = record {
                write_record(&mut w, record, &mut written)?;
            }
            changed.next();
            if order == Ordering::Equal {
                replaced = true;
                break;
            }
        }
        if replaced {
            continue;
        }
        let at = data.end;
        let mut index = [0u8; 4];
        index.copy_from_slice(&rec[at..at + 4]);
        let index = u32::from_be_bytes(index);
        let Some(Some(new)) = renumber.get(index as usize) else {
            return Err(corrupt(format!(
                "unchanged node {path:?} has ACL list {index}, which the tree no longer holds"
            )));
        };
        rec[at..at + 4].copy_from_slice(&new.to_be_bytes());
        write_record(&mut w, &rec, &mut written)?;
    }
    for (_, record) in changed {
        if let Some(record) = record {
            write_record(&mut w, record, &mut written)?;
        }
    }
    // The rest of the base, read for its checks only.
    r.tail()?;
    r.trailer(base_count)?;
    if written != delta.node_count {
        return Err(corrupt(format!(
            "the merge gave {written} nodes where the tree holds {}",
            delta.node_count
        )));
    }
    w.raw(&delta.tail).map_err(io_error)?;
    w.finish(delta.node_count, delta.last_zxid)
        .map_err(io_error)
}

/// One whole node record into the merged snapshot, counted.
fn write_record<W: Write>(
    w: &mut SnapWriter<'_, W>,
    record: &[u8],
    written: &mut u64,
) -> Result<(), SnapshotError> {
    w.raw(record).map_err(io_error)?;
    w.end_record().map_err(io_error)?;
    *written += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Preorder, siblings by name: a node, then its subtree, then the next
    /// sibling, whatever bytes the names hold.
    /// The definition: byte order with every byte mapped through
    /// `preorder_key`, compared as whole sequences.
    fn reference_preorder_cmp(a: &str, b: &str) -> Ordering {
        a.bytes().map(preorder_key).cmp(b.bytes().map(preorder_key))
    }

    proptest::proptest! {
        /// Paths from a small alphabet with `/`, so that long shared
        /// prefixes, prefixes of each other and differences at every
        /// offset of a word all occur.
        #[test]
        fn preorder_cmp_agrees_with_its_definition(
            a in "[/a!0\\x{7f}\\x{e9}]{0,40}",
            b in "[/a!0\\x{7f}\\x{e9}]{0,40}",
            shared in "[/ab]{0,20}",
        ) {
            let (a, b) = (format!("{shared}{a}"), format!("{shared}{b}"));
            proptest::prop_assert_eq!(preorder_cmp(&a, &b), reference_preorder_cmp(&a, &b));
            proptest::prop_assert_eq!(preorder_cmp(&a, &a), Ordering::Equal);
        }
    }

    #[test]
    fn preorder_puts_a_subtree_before_the_next_sibling() {
        let sorted = [
            "/", "/a", "/a/b", "/a/b/c", "/a/b!", "/a!", "/a!/x", "/a0", "/b",
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(preorder_cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }
}
