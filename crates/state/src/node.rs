//! The znode record and its persisted Stat.
//!
//! ZooKeeper persists a `StatPersisted` per node and derives the client `Stat`
//! on every read (`DataNode.copyStat`). Two derivations matter:
//! - `cversion` is stored as the number of child *creations*; clients see
//!   `2 * stored - numChildren` (= creations + deletions). The stored value is
//!   what names sequential children and what the container reaper tests.
//! - `ephemeralOwner` is stored with special encodings for containers and TTL
//!   nodes; clients see 0 for those (only session ephemerals show their owner).

use std::sync::Arc;

use rzk_proto::{Acl, Stat};

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

/// One znode. Children are names only (not full paths) to keep the per-node
/// overhead small; the tree's map is keyed by full path. The data is a boxed
/// slice, not a `Vec`: values are replaced whole, never grown, so a capacity
/// field would be 8 bytes per znode for nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub data: Box<[u8]>,
    /// Shared with every node that has the same ACL (see `acl_cache`).
    pub acl: Arc<[Acl]>,
    pub stat: StoredStat,
    pub children: Children,
}

impl Node {
    pub fn new(data: Vec<u8>, acl: Arc<[Acl]>, stat: StoredStat) -> Self {
        Node {
            data: data.into_boxed_slice(),
            acl,
            stat,
            children: Children::default(),
        }
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
            data_length: i32::try_from(self.data.len()).unwrap_or(i32::MAX),
            num_children,
            pzxid: s.pzxid,
        }
    }
}
