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

/// One znode. Its full path and its data share one allocation (`bytes`:
/// the path's length as 4 little-endian bytes, the path, the data), so a
/// node costs one heap block and one 16-byte pointer for both instead of
/// two of each: about 24 bytes less per znode (a million znodes of
/// 20-byte paths and 100-byte values: 23 MiB). The node map finds nodes by
/// this path, and a node never moves to another path (ZooKeeper has no
/// rename). The bytes are replaced whole when the data changes, never grown.
/// Children are slot numbers (see `children`). With the ACL a thin pointer
/// (see `acl_cache`) a node is 96 bytes plus its one heap block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    bytes: Box<[u8]>,
    /// Shared with every node that has the same ACL (see `acl_cache`).
    pub acl: SharedAcl,
    pub stat: StoredStat,
    pub children: Children,
}

/// The length prefix of [`Node`]'s bytes.
const PATH_LEN_BYTES: usize = 4;

/// A node's path and data laid out as [`Node`] keeps them.
fn node_bytes(path: &[u8], data: &[u8]) -> Box<[u8]> {
    // A path longer than 4 GiB cannot arrive: a request is at most
    // `jute.maxbuffer` (a few MiB) long.
    let path_len = u32::try_from(path.len()).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(PATH_LEN_BYTES + path.len() + data.len());
    bytes.extend_from_slice(&path_len.to_le_bytes());
    bytes.extend_from_slice(path);
    bytes.extend_from_slice(data);
    bytes.into_boxed_slice()
}

/// `bytes` as [`node_bytes`] laid them out: (path, data). Never fails on
/// such bytes; anything shorter than its prefix says reads as empty.
fn split(bytes: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = bytes.split_first_chunk::<PATH_LEN_BYTES>() else {
        return (&[], &[]);
    };
    rest.split_at_checked(u32::from_le_bytes(*len) as usize)
        .unwrap_or((rest, &[]))
}

impl Node {
    pub fn new(path: &str, data: &[u8], acl: SharedAcl, stat: StoredStat) -> Self {
        Node {
            bytes: node_bytes(path.as_bytes(), data),
            acl,
            stat,
            children: Children::default(),
        }
    }

    /// The node's full path, as bytes (what the node map compares).
    pub fn path_bytes(&self) -> &[u8] {
        split(&self.bytes).0
    }

    /// The node's full path. The bytes were a `&str` when the node was
    /// made, so the check cannot fail; it costs a few nanoseconds for a
    /// short ASCII path and keeps this type free of `unsafe`.
    pub fn path(&self) -> &str {
        std::str::from_utf8(self.path_bytes()).unwrap_or_default()
    }

    pub fn data(&self) -> &[u8] {
        split(&self.bytes).1
    }

    /// Replaces the data; returns the bytes it replaced, which
    /// [`Node::restore_bytes`] puts back (a multi's rollback).
    pub fn replace_data(&mut self, data: &[u8]) -> NodeBytes {
        let bytes = node_bytes(self.path_bytes(), data);
        NodeBytes(std::mem::replace(&mut self.bytes, bytes))
    }

    /// Puts back bytes that [`Node::replace_data`] returned for this node.
    pub fn restore_bytes(&mut self, old: NodeBytes) {
        debug_assert_eq!(
            old.path_bytes(),
            self.path_bytes(),
            "restored another node's bytes"
        );
        self.bytes = old.0;
    }

    /// What this node's owner field means, under the tree's extended-types setting.
    pub fn kind(&self, extended_types: bool) -> EphemeralKind {
        EphemeralKind::of(self.stat.ephemeral_owner, extended_types)
    }

    /// `DataNode.copyStat`: the client's view of this node's Stat.
    pub fn client_stat(&self, extended_types: bool) -> Stat {
        let s = &self.stat;
        let num_children = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        let ephemeral_owner = match self.kind(extended_types) {
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
            data_length: i32::try_from(self.data().len()).unwrap_or(i32::MAX),
            num_children,
            pzxid: s.pzxid,
        }
    }
}

/// A node's path and data as [`Node::replace_data`] took them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBytes(Box<[u8]>);

impl NodeBytes {
    fn path_bytes(&self) -> &[u8] {
        split(&self.0).0
    }

    /// The data part.
    pub fn data(&self) -> &[u8] {
        split(&self.0).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn node(path: &str, data: &[u8]) -> Node {
        Node::new(path, data, Arc::new(Vec::new()), StoredStat::default())
    }

    /// Path and data come back apart, whatever their lengths (empty data,
    /// data that looks like a length prefix, a non-ASCII path), and the
    /// client's dataLength counts the data only.
    #[test]
    fn keeps_path_and_data_apart_in_one_allocation() {
        let big = vec![0xffu8; 70_000];
        for (path, data) in [
            ("/", &b""[..]),
            ("/a", &b"\x05\x00\x00\x00xyz"[..]),
            ("/ünïcode/ノード", &b"v"[..]),
            ("/big", &big[..]),
        ] {
            let n = node(path, data);
            assert_eq!(n.path(), path);
            assert_eq!(n.path_bytes(), path.as_bytes());
            assert_eq!(n.data(), data);
            assert_eq!(n.client_stat(false).data_length as usize, data.len());
            assert_eq!(n.bytes.len(), PATH_LEN_BYTES + path.len() + data.len());
        }
    }

    /// The node map's slot: path and data behind one pointer and the ACL
    /// behind a thin one, so 96 bytes (it was 120 with a fat pointer each).
    /// A field that grows it fails here.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_slot_is_96_bytes() {
        assert_eq!(std::mem::size_of::<Option<Node>>(), 96);
    }

    /// A data change keeps the path; the bytes it hands back hold the old
    /// data and, put back, restore the node exactly.
    #[test]
    fn replaced_data_keeps_the_path_and_restores_exactly() {
        let mut n = node("/app/config", b"old value");
        let before = n.clone();
        let old = n.replace_data(b"a longer new value");
        assert_eq!(n.path(), "/app/config");
        assert_eq!(n.data(), b"a longer new value");
        assert_eq!(old.data(), b"old value");
        let emptied = n.replace_data(b"");
        assert_eq!(n.data(), b"");
        assert_eq!(n.path(), "/app/config");
        n.restore_bytes(emptied);
        n.restore_bytes(old);
        assert_eq!(n, before);
    }
}
