//! The znode record and its persisted Stat.
//!
//! ZooKeeper persists a `StatPersisted` per node and derives the client `Stat`
//! on every read (`DataNode.copyStat`). Two derivations matter:
//! - `cversion` is stored as the number of child *creations*; clients see
//!   `2 * stored - numChildren` (= creations + deletions). The stored value is
//!   what names sequential children and what the container reaper tests.
//! - `ephemeralOwner` is stored with special encodings for containers and TTL
//!   nodes; clients see 0 for those (only session ephemerals show their owner).

use crate::acl_cache::SharedAcl;
use rzk_proto::Stat;

use crate::children::Children;
use crate::ephemeral::EphemeralKind;

/// `StatPersisted`: everything but dataLength and numChildren, with `cversion`
/// counting child creations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredStat {
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub ephemeral_owner: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
}

impl StoredStat {
    /// `DataTree.createStat`: a new node's stat at `zxid`/`time_ms`.
    pub fn new(zxid: i64, time_ms: i64, ephemeral_owner: i64) -> Self {
        StoredStat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            ephemeral_owner,
            version: 0,
            cversion: 0,
            aversion: 0,
        }
    }
}

/// One znode, 48 bytes in the node map's slot plus one heap block.
///
/// The block (`bytes`) holds the node's full path and its data, and before
/// them the parts of its Stat that only change when the block is rebuilt
/// anyway, and only when they differ from what a fresh node has:
///
/// - a 4-byte little-endian word: the path's length, and three flags;
/// - `MODIFIED`: mzxid, mtime (8 bytes each) and version (4), once setData
///   has run (a fresh node has mzxid = czxid, mtime = ctime, version 0);
/// - `OWNED`: ephemeralOwner (8), for ephemeral, container and TTL nodes;
/// - `ACL_CHANGED`: aversion (4), once setACL has run;
/// - the path, then the data.
///
/// Only creation, setData and setACL change those fields, and setData
/// replaces the data (a new block) anyway; a child's creation or deletion
/// changes the parent's cversion and pzxid, which live with its children
/// (see `children`), so a leaf stores neither. A never-modified persistent
/// leaf stores its Stat in 16 bytes of slot and 4 of block, where a
/// 64-byte stat, a 16-byte pointer each for the path, the data and the ACL
/// and a second block cost about 70 bytes more (a million znodes: 67 MiB).
/// The map finds a node by the path it carries (a node never moves:
/// ZooKeeper has no rename). Children are slot numbers (see `children`);
/// the ACL is a thin shared pointer (see `acl_cache`).
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    bytes: Box<[u8]>,
    /// Shared with every node that has the same ACL (see `acl_cache`).
    pub acl: SharedAcl,
    /// The children, and the pzxid and cversion of a node that has had any.
    children: Children,
    czxid: i64,
    ctime: i64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("path", &self.path())
            .field("data", &String::from_utf8_lossy(self.data()))
            .field("acl", &self.acl)
            .field("stat", &self.stat())
            .field("children", &self.children)
            .finish()
    }
}

/// The header word's flags (see [`Node`]); the low bits are the path's
/// length. A path is far shorter than 512 MiB: a request is at most
/// `jute.maxbuffer` long.
const MODIFIED: u32 = 1 << 31;
const OWNED: u32 = 1 << 30;
const ACL_CHANGED: u32 = 1 << 29;
const PATH_LEN_MASK: u32 = ACL_CHANGED - 1;

/// Bytes of each optional header group (see [`Node`]).
const MODIFIED_BYTES: usize = 8 + 8 + 4;
const OWNED_BYTES: usize = 8;
const ACL_CHANGED_BYTES: usize = 4;

/// The header length the flags in `word` say.
fn header_len(word: u32) -> usize {
    let mut len = 0;
    if word & MODIFIED != 0 {
        len += MODIFIED_BYTES;
    }
    if word & OWNED != 0 {
        len += OWNED_BYTES;
    }
    if word & ACL_CHANGED != 0 {
        len += ACL_CHANGED_BYTES;
    }
    len
}

/// A node's block for `path`, `data` and the block's part of `s`, built in
/// one allocation (setData builds one per write).
fn node_bytes(path: &[u8], data: &[u8], s: &StoredStat) -> Box<[u8]> {
    debug_assert!(path.len() <= PATH_LEN_MASK as usize, "path too long");
    let mut word = (path.len() as u32) & PATH_LEN_MASK;
    if s.mzxid != s.czxid || s.mtime != s.ctime || s.version != 0 {
        word |= MODIFIED;
    }
    if s.ephemeral_owner != 0 {
        word |= OWNED;
    }
    if s.aversion != 0 {
        word |= ACL_CHANGED;
    }
    let mut bytes = Vec::with_capacity(4 + header_len(word) + path.len() + data.len());
    bytes.extend_from_slice(&word.to_le_bytes());
    if word & MODIFIED != 0 {
        bytes.extend_from_slice(&s.mzxid.to_le_bytes());
        bytes.extend_from_slice(&s.mtime.to_le_bytes());
        bytes.extend_from_slice(&s.version.to_le_bytes());
    }
    if word & OWNED != 0 {
        bytes.extend_from_slice(&s.ephemeral_owner.to_le_bytes());
    }
    if word & ACL_CHANGED != 0 {
        bytes.extend_from_slice(&s.aversion.to_le_bytes());
    }
    bytes.extend_from_slice(path);
    bytes.extend_from_slice(data);
    bytes.into_boxed_slice()
}

/// A block read back: its flags, the optional header and the path and data.
struct Parts<'a> {
    word: u32,
    header: &'a [u8],
    path: &'a [u8],
    data: &'a [u8],
}

/// `bytes` as [`node_bytes`] laid them out. Never fails on such bytes;
/// a block shorter than its header says reads as empty parts.
fn parts(bytes: &[u8]) -> Parts<'_> {
    let empty = Parts {
        word: 0,
        header: &[],
        path: &[],
        data: &[],
    };
    let Some((word, rest)) = bytes.split_first_chunk::<4>() else {
        return empty;
    };
    let word = u32::from_le_bytes(*word);
    let path_len = (word & PATH_LEN_MASK) as usize;
    let Some((header, rest)) = rest.split_at_checked(header_len(word)) else {
        return empty;
    };
    let Some((path, data)) = rest.split_at_checked(path_len) else {
        return empty;
    };
    Parts {
        word,
        header,
        path,
        data,
    }
}

/// The next `N` bytes of `from` (zeros past its end, which a block made by
/// [`node_bytes`] never reaches).
fn take<const N: usize>(from: &mut &[u8]) -> [u8; N] {
    match from.split_first_chunk::<N>() {
        Some((head, rest)) => {
            *from = rest;
            *head
        }
        None => [0; N],
    }
}

impl Parts<'_> {
    /// The block's part of the Stat, over a fresh node's defaults.
    fn stat_over(&self, czxid: i64, ctime: i64) -> (i64, i64, i32, i64, i32) {
        let mut h = self.header;
        let (mut mzxid, mut mtime, mut version) = (czxid, ctime, 0);
        if self.word & MODIFIED != 0 {
            mzxid = i64::from_le_bytes(take(&mut h));
            mtime = i64::from_le_bytes(take(&mut h));
            version = i32::from_le_bytes(take(&mut h));
        }
        let owner = if self.word & OWNED != 0 {
            i64::from_le_bytes(take(&mut h))
        } else {
            0
        };
        let aversion = if self.word & ACL_CHANGED != 0 {
            i32::from_le_bytes(take(&mut h))
        } else {
            0
        };
        (mzxid, mtime, version, owner, aversion)
    }
}

impl Node {
    pub fn new(path: &str, data: &[u8], acl: SharedAcl, stat: StoredStat) -> Self {
        let mut children = Children::default();
        children.set_counters(stat.cversion, stat.pzxid, stat.czxid);
        Node {
            bytes: node_bytes(path.as_bytes(), data, &stat),
            acl,
            children,
            czxid: stat.czxid,
            ctime: stat.ctime,
        }
    }

    /// The node's children (as slots of the node map).
    pub fn children(&self) -> &Children {
        &self.children
    }

    /// Adds the child in `slot`; false if it was already there. Only the
    /// tree's attach calls this, with the map entry (see `children`).
    pub(crate) fn add_child(&mut self, slot: u32) -> bool {
        self.children.insert(slot, self.czxid)
    }

    /// Removes the child in `slot`; false if it was not there.
    pub(crate) fn remove_child(&mut self, slot: u32) -> bool {
        self.children.remove(slot, self.czxid)
    }

    /// The node's full path, as bytes (what the node map compares).
    pub fn path_bytes(&self) -> &[u8] {
        parts(&self.bytes).path
    }

    /// The node's full path. The bytes were a `&str` when the node was
    /// made, so the check cannot fail; it costs a few nanoseconds for a
    /// short ASCII path and keeps this type free of `unsafe`.
    pub fn path(&self) -> &str {
        std::str::from_utf8(self.path_bytes()).unwrap_or_default()
    }

    pub fn data(&self) -> &[u8] {
        parts(&self.bytes).data
    }

    /// The whole stored Stat.
    pub fn stat(&self) -> StoredStat {
        self.stat_of(&parts(&self.bytes))
    }

    /// [`Node::stat`] from this node's block, already split.
    fn stat_of(&self, parts: &Parts<'_>) -> StoredStat {
        let (mzxid, mtime, version, ephemeral_owner, aversion) =
            parts.stat_over(self.czxid, self.ctime);
        let (cversion, pzxid) = self.children.counters(self.czxid);
        StoredStat {
            czxid: self.czxid,
            mzxid,
            pzxid,
            ctime: self.ctime,
            mtime,
            ephemeral_owner,
            version,
            cversion,
            aversion,
        }
    }

    /// Sets the whole stored Stat; the block is rebuilt only if its part
    /// changes (a rollback of setData or setACL; a parent's cversion and
    /// pzxid are with its children).
    pub fn set_stat(&mut self, stat: StoredStat) {
        // The block stays when only the child counters differ. czxid and
        // ctime are outside it as well, but the block's fields are stored
        // relative to them, so a change there rebuilds it.
        let counters_only = StoredStat {
            pzxid: stat.pzxid,
            cversion: stat.cversion,
            ..self.stat()
        };
        if counters_only != stat {
            let p = parts(&self.bytes);
            self.bytes = node_bytes(p.path, p.data, &stat);
        }
        self.set_stat_outside_block(&stat);
    }

    /// Stores the part of `stat` kept outside the block.
    fn set_stat_outside_block(&mut self, stat: &StoredStat) {
        self.czxid = stat.czxid;
        self.ctime = stat.ctime;
        self.children
            .set_counters(stat.cversion, stat.pzxid, stat.czxid);
    }

    /// The stored cversion: child creations (it names sequential children).
    pub fn cversion(&self) -> i32 {
        self.children.counters(self.czxid).0
    }

    pub fn pzxid(&self) -> i64 {
        self.children.counters(self.czxid).1
    }

    /// A child was created (`cversion`, `pzxid`) or deleted (`pzxid`).
    pub fn set_children_stat(&mut self, cversion: i32, pzxid: i64) {
        self.children.set_counters(cversion, pzxid, self.czxid);
    }

    pub fn version(&self) -> i32 {
        self.stat().version
    }

    pub fn aversion(&self) -> i32 {
        self.stat().aversion
    }

    pub fn mtime(&self) -> i64 {
        self.stat().mtime
    }

    pub fn ephemeral_owner(&self) -> i64 {
        self.stat().ephemeral_owner
    }

    /// Replaces the data and the Stat in one new block; returns the block
    /// it replaced, which [`Node::restore_bytes`] puts back (a multi's
    /// rollback, with the old Stat through [`Node::set_stat`]).
    pub fn replace_data(&mut self, data: &[u8], stat: StoredStat) -> NodeBytes {
        let bytes = node_bytes(self.path_bytes(), data, &stat);
        let old = NodeBytes(std::mem::replace(&mut self.bytes, bytes));
        self.set_stat_outside_block(&stat);
        old
    }

    /// Puts back a block that [`Node::replace_data`] returned for this
    /// node (with the Stat part it had then).
    pub fn restore_bytes(&mut self, old: NodeBytes) {
        debug_assert_eq!(
            parts(&old.0).path,
            self.path_bytes(),
            "restored another node's bytes"
        );
        self.bytes = old.0;
    }

    /// What this node's owner field means, under the tree's extended-types setting.
    pub fn kind(&self, extended_types: bool) -> EphemeralKind {
        EphemeralKind::of(self.ephemeral_owner(), extended_types)
    }

    /// `DataNode.copyStat`: the client's view of this node's Stat.
    pub fn client_stat(&self, extended_types: bool) -> Stat {
        // One read of the block for the Stat and the data's length.
        let parts = parts(&self.bytes);
        let s = self.stat_of(&parts);
        let num_children = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        let ephemeral_owner = match EphemeralKind::of(s.ephemeral_owner, extended_types) {
            EphemeralKind::Session(owner) => owner,
            _ => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner,
            data_length: i32::try_from(parts.data.len()).unwrap_or(i32::MAX),
            num_children,
            pzxid: s.pzxid,
        }
    }
}

/// A node's block as [`Node::replace_data`] took it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBytes(Box<[u8]>);

impl NodeBytes {
    /// The data part.
    pub fn data(&self) -> &[u8] {
        parts(&self.0).data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn node(path: &str, data: &[u8]) -> Node {
        Node::new(
            path,
            data,
            Arc::new(Vec::new()),
            StoredStat::new(7, 1_000, 0),
        )
    }

    /// Path and data come back apart, whatever their lengths (empty data,
    /// data that looks like a header, a non-ASCII path), and the client's
    /// dataLength counts the data only.
    #[test]
    fn keeps_path_and_data_apart_in_one_allocation() {
        let big = vec![0xffu8; 70_000];
        for (path, data) in [
            ("/", &b""[..]),
            ("/a", &b"\x05\x00\x00\xe0xyz"[..]),
            ("/ünïcode/ノード", &b"v"[..]),
            ("/big", &big[..]),
        ] {
            let n = node(path, data);
            assert_eq!(n.path(), path);
            assert_eq!(n.path_bytes(), path.as_bytes());
            assert_eq!(n.data(), data);
            assert_eq!(n.client_stat(false).data_length as usize, data.len());
            // A fresh persistent node keeps nothing of its Stat in the block.
            assert_eq!(n.bytes.len(), 4 + path.len() + data.len());
        }
    }

    /// Every combination of the block's optional Stat fields reads back
    /// exactly, beside the path and data, and the block holds only the
    /// fields that differ from a fresh node's.
    #[test]
    fn every_stat_reads_back_and_only_changed_fields_take_room() {
        let base = StoredStat {
            czxid: 0x1111_2222_3333,
            mzxid: 0x1111_2222_3333,
            pzxid: 0x4444_5555,
            ctime: 1_700_000_000_000,
            mtime: 1_700_000_000_000,
            ephemeral_owner: 0,
            version: 0,
            cversion: 12,
            aversion: 0,
        };
        for mask in 0..8u8 {
            let mut stat = base;
            let mut extra = 0;
            if mask & 1 != 0 {
                stat.mzxid += 5;
                stat.mtime += 9;
                stat.version = -3;
                extra += 20;
            }
            if mask & 2 != 0 {
                stat.ephemeral_owner = i64::MIN + 1;
                extra += 8;
            }
            if mask & 4 != 0 {
                stat.aversion = i32::MAX;
                extra += 4;
            }
            let n = Node::new("/p/n", b"data", Arc::new(Vec::new()), stat);
            assert_eq!(n.stat(), stat, "mask {mask}");
            assert_eq!(n.path(), "/p/n");
            assert_eq!(n.data(), b"data");
            assert_eq!(n.bytes.len(), 4 + extra + 4 + 4, "mask {mask}");
            assert_eq!(n.ephemeral_owner(), stat.ephemeral_owner);
            assert_eq!(n.version(), stat.version);
            assert_eq!(n.aversion(), stat.aversion);
            assert_eq!(n.mtime(), stat.mtime);
        }
        // A modification that happens to restore the fresh values (version
        // 0, mzxid = czxid) stores nothing, and reads back the same.
        let mut n = Node::new("/x", b"", Arc::new(Vec::new()), base);
        n.set_stat(StoredStat { version: 1, ..base });
        assert_eq!(n.version(), 1);
        n.set_stat(base);
        assert_eq!(n.stat(), base);
        assert_eq!(n.bytes.len(), 4 + 2);
    }

    /// The node map's slot: path, data and the block's Stat fields behind
    /// one pointer, the ACL behind a thin one, the children and their
    /// counters behind another, so 48 bytes (it was 120, then 64). A field
    /// that grows it fails here.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_slot_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Option<Node>>(), 48);
    }

    /// A data change keeps the path and takes the new Stat; the block it
    /// hands back, put back with the old Stat, restores the node exactly.
    #[test]
    fn replaced_data_keeps_the_path_and_restores_exactly() {
        let mut n = node("/app/config", b"old value");
        n.set_children_stat(3, 99);
        let before = n.clone();
        let old_stat = n.stat();
        let set = StoredStat {
            version: 1,
            mzxid: 100,
            mtime: 2_000,
            ..old_stat
        };
        let old = n.replace_data(b"a longer new value", set);
        assert_eq!(n.path(), "/app/config");
        assert_eq!(n.data(), b"a longer new value");
        assert_eq!(n.stat(), set);
        assert_eq!(old.data(), b"old value");
        let emptied = n.replace_data(b"", StoredStat { version: 2, ..set });
        assert_eq!(n.data(), b"");
        assert_eq!(n.path(), "/app/config");
        assert_eq!(n.version(), 2);
        n.restore_bytes(emptied);
        n.set_stat(set);
        n.restore_bytes(old);
        n.set_stat(old_stat);
        assert_eq!(n, before);
        // A parent's child counters stay in the slot: no new block.
        let block = n.bytes.as_ptr();
        n.set_children_stat(4, 120);
        n.set_stat(StoredStat {
            cversion: 5,
            pzxid: 130,
            ..n.stat()
        });
        assert_eq!(n.bytes.as_ptr(), block);
        assert_eq!((n.cversion(), n.pzxid()), (5, 130));
    }
}
