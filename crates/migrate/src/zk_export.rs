//! Writing an rzk tree as a ZooKeeper snapshot file (`rzk export`), in the
//! layout `zk_snapshot` reads (see there), without the optional digest
//! trailer, which ZooKeeper treats as absent.
//!
//! Why a ZooKeeper snapshot rather than a format of rzk's own: it is the
//! one dump both directions understand. ZooKeeper starts from it when it is
//! put in `<dataDir>/version-2/` (the way back), and `rzk import` reads it
//! like any other ZooKeeper data directory. Every node keeps its stored
//! Stat (the persisted cversion and ephemeral-owner encodings), ACL and
//! data; live sessions keep their ids and timeouts.
//!
//! The file is named `snapshot.<hex zxid>` after the tree's last zxid, so
//! ZooKeeper continues numbering after it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rzk_proto::Acl;
use rzk_state::DataTree;

use crate::adler32::Adler32;
use crate::error::{MigrateError, Result};
use crate::zk_snapshot::SNAP_MAGIC;

/// `FileSnap.VERSION`.
const SNAP_VERSION: i32 = 2;
/// `FileSnap.dbId`.
const SNAP_DB_ID: i64 = -1;

/// Jute output that keeps the Adler-32 of what it wrote.
struct JuteOut<W: Write> {
    out: W,
    adler: Adler32,
}

impl<W: Write> JuteOut<W> {
    fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.adler.update(b);
        self.out.write_all(b)
    }
    fn i32(&mut self, v: i32) -> std::io::Result<()> {
        self.raw(&v.to_be_bytes())
    }
    fn i64(&mut self, v: i64) -> std::io::Result<()> {
        self.raw(&v.to_be_bytes())
    }
    fn buffer(&mut self, b: &[u8]) -> std::io::Result<()> {
        let len = i32::try_from(b.len()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "a value over 2 GiB")
        })?;
        self.i32(len)?;
        self.raw(b)
    }
}

/// Writes `tree` into `dir/version-2/snapshot.<hex last zxid>` (through a
/// temp file, fsynced, then renamed) and returns the file's path.
pub fn write_zookeeper_snapshot(tree: &DataTree, dir: &Path) -> Result<PathBuf> {
    let v2 = dir.join("version-2");
    fs::create_dir_all(&v2).map_err(|e| MigrateError::io(&v2, e))?;
    let path = v2.join(format!("snapshot.{:x}", tree.last_zxid()));
    if path.exists() {
        return Err(MigrateError::file(&path, "already exists"));
    }
    let temp = v2.join(format!(".tmp.snapshot.{:x}", tree.last_zxid()));
    let written = write_to(tree, &temp);
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(MigrateError::io(&temp, e));
    }
    fs::rename(&temp, &path).map_err(|e| MigrateError::io(&path, e))?;
    Ok(path)
}

fn write_to(tree: &DataTree, path: &Path) -> std::io::Result<()> {
    let file = File::create(path)?;
    let mut w = JuteOut {
        out: BufWriter::new(file),
        adler: Adler32::default(),
    };
    w.i32(SNAP_MAGIC)?;
    w.i32(SNAP_VERSION)?;
    w.i64(SNAP_DB_ID)?;

    let sessions = tree.sessions();
    w.i32(count(sessions.len())?)?;
    for s in &sessions {
        w.i64(s.session_id)?;
        w.i32(s.timeout_ms)?;
    }

    // The ACL cache: each distinct list once, keys from 1 as ZooKeeper
    // numbers them.
    let nodes = tree.persisted_nodes();
    let mut keys: HashMap<&[Acl], i64> = HashMap::new();
    let mut lists: Vec<&[Acl]> = Vec::new();
    for n in &nodes {
        if !keys.contains_key(n.acl.as_slice()) {
            lists.push(&n.acl);
            keys.insert(&n.acl, lists.len() as i64);
        }
    }
    w.i32(count(lists.len())?)?;
    for (i, list) in lists.iter().enumerate() {
        w.i64(i as i64 + 1)?;
        w.i32(count(list.len())?)?;
        for acl in list.iter() {
            w.i32(acl.perms)?;
            w.buffer(acl.id.scheme.as_bytes())?;
            w.buffer(acl.id.id.as_bytes())?;
        }
    }

    for n in &nodes {
        // ZooKeeper's key for the root is "".
        let path = if n.path == "/" { "" } else { n.path.as_str() };
        w.buffer(path.as_bytes())?;
        w.buffer(&n.data)?;
        w.i64(keys.get(n.acl.as_slice()).copied().unwrap_or(-1))?;
        let s = &n.stat;
        w.i64(s.czxid)?;
        w.i64(s.mzxid)?;
        w.i64(s.ctime)?;
        w.i64(s.mtime)?;
        w.i32(s.version)?;
        w.i32(s.cversion)?;
        w.i32(s.aversion)?;
        w.i64(s.ephemeral_owner)?;
        w.i64(s.pzxid)?;
    }
    w.buffer(b"/")?;
    let seal = w.adler.value();
    w.i64(seal)?;
    w.buffer(b"/")?;
    let file = w.out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

fn count(n: usize) -> std::io::Result<i32> {
    i32::try_from(n)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "count over 2^31"))
}
