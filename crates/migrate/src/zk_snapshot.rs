//! Reading a ZooKeeper snapshot file (`snapshot.<hex zxid>`, written by
//! `FileSnap.serialize`).
//!
//! ```text
//! FileHeader    magic:int ("ZKSN")  version:int  dbid:long
//! sessions      count:int, then count × (id:long timeout:int)
//! ACL cache     count:int, then count × (key:long  acls:vector<ACL>)
//! nodes         path:ustring, then DataNode (data:buffer acl:long StatPersisted),
//!               repeated in preorder (the root's path is ""), ended by the path "/"
//! seal          adler32:long (of every byte before it)  "/":ustring
//! 3.6+, optional: ZxidDigest (zxid:long version:int digest:long or string) + seal;
//! 3.9+, optional: lastProcessedZxid:long + seal
//! ```
//!
//! `StatPersisted` is `czxid mzxid ctime mtime:long version cversion
//! aversion:int ephemeralOwner pzxid:long`. An ACL key of -1 means
//! world:anyone:cdrwa without a cache entry.
//!
//! Snapshots are fuzzy (taken while transactions were applied), which is
//! why the log after the snapshot's zxid is replayed onto this tree
//! (`replay`). Compressed snapshots (`.gz`, `.snappy`) are refused by
//! `zk_dir` before this reader sees them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rzk_proto::{Acl, Id};
use rzk_state::import::PersistedStat;

use crate::error::Result;
use crate::input::FileInput;
use crate::progress::Progress;
use crate::zk_tree::{ZkNode, ZkTree};

/// "ZKSN" as a big-endian int (`FileSnap.SNAP_MAGIC`).
pub const SNAP_MAGIC: i32 = 0x5A4B_534E;
/// `ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`.
const OPEN_UNSAFE_ACL_KEY: i64 = -1;
/// The smallest encodings, to bound counts by the bytes left: a session
/// (long + int), an ACL (perms + two empty strings), a cache entry (key +
/// vector length).
const SESSION_BYTES: u64 = 12;
const ACL_MIN_BYTES: u64 = 12;
const ACL_ENTRY_MIN_BYTES: u64 = 12;

/// A snapshot as read: the tree, its sessions and the file's zxid.
#[derive(Debug)]
pub struct ZkSnapshot {
    /// The zxid in the file name: every transaction up to it is in the
    /// tree; some later ones may be too (fuzzy).
    pub zxid: i64,
    pub tree: ZkTree,
}

/// Reads the whole snapshot at `path` (zxid `zxid`, from its name). Any
/// damage is an error naming the file and byte offset; nothing panics.
pub fn read_snapshot(
    path: &Path,
    zxid: i64,
    extended_types: bool,
    progress: &mut Progress,
) -> Result<ZkSnapshot> {
    let mut f = FileInput::open(path)?;
    let magic = f.i32("file header magic")?;
    if magic != SNAP_MAGIC {
        return Err(f.error_at(
            0,
            format!("not a ZooKeeper snapshot: magic {magic:#010x}, expected {SNAP_MAGIC:#010x} (\"ZKSN\")"),
        ));
    }
    f.i32("file header version")?;
    f.i64("file header dbid")?;

    let mut tree = ZkTree {
        extended_types,
        ..ZkTree::default()
    };
    let sessions = f.count(SESSION_BYTES, "session count")?.unwrap_or(0);
    for _ in 0..sessions {
        let id = f.i64("session id")?;
        let timeout = f.i32("session timeout")?;
        tree.sessions.insert(id, timeout);
    }

    let acls = read_acl_cache(&mut f)?;
    read_nodes(&mut f, &acls, &mut tree, progress)?;
    read_seal(&mut f)?;
    read_optional_trailers(&mut f)?;
    Ok(ZkSnapshot { zxid, tree })
}

fn read_acl(f: &mut FileInput) -> Result<Acl> {
    let perms = f.i32("ACL perms")?;
    let scheme = f.string("ACL scheme")?;
    let id = f.string("ACL id")?;
    Ok(Acl::new(perms, Id::new(scheme, id)))
}

/// `ReferenceCountedACLCache.deserialize`.
fn read_acl_cache(f: &mut FileInput) -> Result<HashMap<i64, Arc<[Acl]>>> {
    let entries = f.count(ACL_ENTRY_MIN_BYTES, "ACL cache size")?.unwrap_or(0);
    let mut acls = HashMap::with_capacity(entries);
    for _ in 0..entries {
        let key = f.i64("ACL cache key")?;
        let at = f.offset();
        let Some(len) = f.count(ACL_MIN_BYTES, "ACL list")? else {
            return Err(f.error_at(at, "ACL list is null"));
        };
        let mut list = Vec::with_capacity(len);
        for _ in 0..len {
            list.push(read_acl(f)?);
        }
        acls.insert(key, Arc::from(list));
    }
    Ok(acls)
}

/// `DataTree.deserialize`: nodes until the path "/".
fn read_nodes(
    f: &mut FileInput,
    acls: &HashMap<i64, Arc<[Acl]>>,
    tree: &mut ZkTree,
    progress: &mut Progress,
) -> Result<()> {
    let open: Arc<[Acl]> = Acl::open_unsafe().into();
    let mut read = 0u64;
    loop {
        let at = f.offset();
        let path = f.string("node path")?;
        if path == "/" {
            break;
        }
        if read == 0 && !path.is_empty() {
            return Err(f.error_at(at, format!("the first node is {path:?}, not the root")));
        }
        if read > 0 && !path.starts_with('/') {
            return Err(f.error_at(at, format!("node path {path:?} does not start with /")));
        }
        let data = f.buffer("node data")?;
        let key_at = f.offset();
        let key = f.i64("node ACL key")?;
        let acl = match acls.get(&key) {
            Some(list) => list.clone(),
            None if key == OPEN_UNSAFE_ACL_KEY => open.clone(),
            None => {
                return Err(f.error_at(
                    key_at,
                    format!("node {path:?} refers to ACL {key}, which is not in the snapshot"),
                ))
            }
        };
        let stat = PersistedStat {
            czxid: f.i64("czxid")?,
            mzxid: f.i64("mzxid")?,
            ctime: f.i64("ctime")?,
            mtime: f.i64("mtime")?,
            version: f.i32("version")?,
            cversion: f.i32("cversion")?,
            aversion: f.i32("aversion")?,
            ephemeral_owner: f.i64("ephemeralOwner")?,
            pzxid: f.i64("pzxid")?,
        };
        let node = ZkNode {
            data,
            acl,
            stat,
            children: Default::default(),
        };
        if tree.nodes.contains_key(&path) {
            return Err(f.error_at(at, format!("node {path:?} appears twice")));
        }
        if !tree.insert_loaded(path.clone(), node) {
            return Err(f.error_at(
                at,
                format!("node {path:?} comes before its parent (invalid DataTree)"),
            ));
        }
        read += 1;
        progress.update(f.offset(), read);
    }
    if read == 0 {
        return Err(f.error_at(f.offset(), "the snapshot holds no nodes"));
    }
    Ok(())
}

/// `SnapStream.checkSealIntegrity`: the Adler-32 of everything so far, then "/".
fn read_seal(f: &mut FileInput) -> Result<()> {
    let computed = f.checksum();
    let at = f.offset();
    let stored = f.i64("checksum")?;
    if stored != computed {
        return Err(f.error_at(
            at,
            format!("checksum mismatch: stored {stored:#x}, computed {computed:#x} (Adler-32)"),
        ));
    }
    let end = f.offset();
    let slash = f.string("seal")?;
    if slash != "/" {
        return Err(f.error_at(end, format!("seal is {slash:?}, expected \"/\"")));
    }
    Ok(())
}

/// The digest (3.6+) and last-processed-zxid (3.9+) trailers, each with its
/// own seal. Absent trailers end the file; present ones must check out, as
/// ZooKeeper refuses a snapshot whose trailer seal is wrong.
fn read_optional_trailers(f: &mut FileInput) -> Result<()> {
    if f.remaining() == 0 {
        return Ok(());
    }
    f.i64("digest zxid")?;
    let version = f.i32("digest version")?;
    if version < 2 {
        f.string("digest")?;
    } else {
        f.i64("digest")?;
    }
    read_seal(f)?;
    if f.remaining() == 0 {
        return Ok(());
    }
    f.i64("last processed zxid")?;
    read_seal(f)?;
    if f.remaining() != 0 {
        return Err(f.error_at(
            f.offset(),
            format!("{} unexpected bytes after the snapshot", f.remaining()),
        ));
    }
    Ok(())
}
