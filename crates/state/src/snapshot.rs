//! Snapshots: the whole replicated state as one checksummed byte stream.
//!
//! A snapshot holds what the log's entries up to `last_zxid` built, and only
//! what cannot be derived again: the znodes (path, data, the stored Stat with
//! its internal `cversion` and `ephemeralOwner` encodings, the ACL), the
//! sessions, and the quota-root trie (not derivable: deleting a quota root
//! drops the roots below it while their limit nodes stay). The parent/child
//! links, the ephemerals of each session, the container and TTL indexes, the
//! ACL cache and the data size are rebuilt on load by the same primitive
//! (`attach`) that `apply` uses, so they cannot disagree with the nodes.
//!
//! Layout (version 1). Integers are big-endian; `string` and `buffer` are
//! jute's (`i32` length, then the bytes; never null here):
//!
//! ```text
//! header   magic "RZKSNAP\0" (8 bytes)  version:u32  last_zxid:i64  node_count:u64
//!          header_crc32c:u32 (over the header's first 28 bytes, so that the
//!          node count can size the tree before the trailer vouches for it)
//! acls     list_count:u32, then list_count × (len:u32, len × (perms:i32 scheme:string id:string)),
//!          lists distinct and in increasing order
//! nodes    node_count × (path:string data:buffer acl_index:u32
//!                        czxid:i64 mzxid:i64 pzxid:i64 ctime:i64 mtime:i64 ephemeral_owner:i64
//!                        version:i32 cversion:i32 aversion:i32)
//!          parents before children (the writer emits a preorder, children in name order)
//! sessions count:u32, then count × (session_id:i64 timeout_ms:i32 password:buffer),
//!          ids strictly increasing
//! quotas   root_marked:u8  count:u32, then count × (depth:u32 name:string marked:u8),
//!          the trie in preorder, siblings in name order
//! trailer  node_count:u64 (again)  crc32c:u32 over every byte before it
//! ```
//!
//! The same tree always gives the same bytes (no hash-map order reaches the
//! output), so two replicas' snapshots at one zxid can be compared byte for
//! byte.
//!
//! Both directions stream: the writer keeps one chunk buffer and a stack as
//! deep as the tree; the reader allocates only in proportion to the bytes it
//! has actually read (a length prefix larger than a small bound is read with a
//! buffer that grows as the bytes arrive), checks every length, tag and the
//! placement of every node before it is used, and never reads past the
//! trailer (so a snapshot can sit inside a longer stream). Callers should hand
//! both functions buffered streams (`BufWriter`, `BufReader`): the reader
//! reads field by field.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use rzk_proto::{Acl, Id};

use crate::node::{Node, StoredStat};
use crate::path;
use crate::quota::PathTrie;
use crate::tree::{DataTree, SessionInfo, StateConfig};

/// The first eight bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"RZKSNAP\0";

/// The layout [`DataTree::write_snapshot`] writes.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// Bytes the writer gathers before hashing them and handing them on.
const WRITE_CHUNK_BYTES: usize = 64 * 1024;

/// Lengths up to this are allocated at once; longer ones grow as bytes arrive,
/// so a corrupt length cannot allocate more than the input holds.
const EAGER_ALLOC_BYTES: usize = 64 * 1024;

/// At most this many map slots are reserved up front from the header's node
/// count (beyond it the map grows as nodes arrive).
const MAX_PRESIZED_NODES: usize = 1 << 24;

/// A node record's fixed-size tail: ACL index, six i64 and three i32 Stat fields.
const NODE_FIXED_BYTES: usize = 4 + 6 * 8 + 3 * 4;

/// What a snapshot holds, as written or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// The zxid of the last entry applied to the tree the snapshot holds.
    pub last_zxid: i64,
    pub node_count: u64,
    /// The snapshot's whole length, trailer included.
    pub size_bytes: u64,
    /// The trailer's CRC32C.
    pub crc32c: u32,
}

/// Why a snapshot could not be read.
#[derive(Debug)]
pub enum SnapshotError {
    /// The stream failed.
    Io(io::Error),
    /// The stream ended before the trailer did.
    Truncated,
    /// Not a snapshot: the first eight bytes are not `RZKSNAP\0`.
    BadMagic,
    /// A format version this build does not read.
    UnsupportedVersion(u32),
    /// The bytes do not describe a tree (a bad length, a node without a
    /// parent, lists out of order, ...).
    Corrupt(String),
    /// The structure was readable but the checksum disagrees.
    Checksum { stored: u32, computed: u32 },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Io(e) => write!(f, "reading snapshot: {e}"),
            SnapshotError::Truncated => write!(f, "snapshot is truncated"),
            SnapshotError::BadMagic => write!(f, "not an rzk snapshot (bad magic bytes)"),
            SnapshotError::UnsupportedVersion(v) => {
                write!(f, "unsupported snapshot format version {v}")
            }
            SnapshotError::Corrupt(why) => write!(f, "corrupt snapshot: {why}"),
            SnapshotError::Checksum { stored, computed } => write!(
                f,
                "corrupt snapshot: CRC32C {computed:#010x} does not match the stored {stored:#010x}"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Io(e) => Some(e),
            _ => None,
        }
    }
}

fn corrupt(why: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(why.into())
}

fn io_error(e: io::Error) -> SnapshotError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        SnapshotError::Truncated
    } else {
        SnapshotError::Io(e)
    }
}

fn too_large(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("snapshot: {what} too large for the format"),
    )
}

fn broken(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("snapshot: tree invariant broken: {what}"),
    )
}

/// Hashes and counts what it passes on, in chunks.
struct SnapWriter<'a, W: Write> {
    out: &'a mut W,
    buf: Vec<u8>,
    crc: u32,
    size_bytes: u64,
}

impl<'a, W: Write> SnapWriter<'a, W> {
    fn new(out: &'a mut W) -> Self {
        SnapWriter {
            out,
            buf: Vec::with_capacity(WRITE_CHUNK_BYTES + 1024),
            crc: 0,
            size_bytes: 0,
        }
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf);
        self.out.write_all(&self.buf)?;
        self.size_bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Ends a record: hands the chunk on once it is full.
    fn end_record(&mut self) -> io::Result<()> {
        if self.buf.len() >= WRITE_CHUNK_BYTES {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        if b.len() >= WRITE_CHUNK_BYTES {
            // Large values go straight through instead of via the chunk.
            self.flush_buf()?;
            self.crc = crc32c::crc32c_append(self.crc, b);
            self.out.write_all(b)?;
            self.size_bytes += b.len() as u64;
        } else {
            self.buf.extend_from_slice(b);
        }
        Ok(())
    }

    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn count(&mut self, n: usize, what: &str) -> io::Result<()> {
        self.u32(u32::try_from(n).map_err(|_| too_large(what))?);
        Ok(())
    }

    /// A jute buffer: `i32` length, then the bytes.
    fn bytes(&mut self, b: &[u8], what: &str) -> io::Result<()> {
        self.i32(i32::try_from(b.len()).map_err(|_| too_large(what))?);
        self.raw(b)
    }
}

/// Hashes and counts what it reads; reads exactly the snapshot's bytes.
struct SnapReader<'a, R: Read> {
    inp: &'a mut R,
    crc: u32,
    size_bytes: u64,
}

impl<R: Read> SnapReader<'_, R> {
    fn exact(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        self.inp.read_exact(buf).map_err(io_error)?;
        self.crc = crc32c::crc32c_append(self.crc, buf);
        self.size_bytes += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        self.exact(&mut a)?;
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, SnapshotError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn flag(&mut self, what: &str) -> Result<bool, SnapshotError> {
        match self.array::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(corrupt(format!("{what} flag is {v}"))),
        }
    }

    fn bytes(&mut self, what: &str) -> Result<Vec<u8>, SnapshotError> {
        let mut v = Vec::new();
        self.bytes_into(&mut v, what)?;
        Ok(v)
    }

    /// A jute buffer into `v` (replacing its contents). Up to
    /// `EAGER_ALLOC_BYTES` are allocated at once; beyond that `v` grows only
    /// as bytes actually arrive, so a corrupt length costs no more memory
    /// than the input holds.
    fn bytes_into(&mut self, v: &mut Vec<u8>, what: &str) -> Result<(), SnapshotError> {
        let n = self.i32()?;
        let len = usize::try_from(n).map_err(|_| corrupt(format!("{what} length {n}")))?;
        v.clear();
        if len <= EAGER_ALLOC_BYTES {
            v.resize(len, 0);
            return self.exact(v);
        }
        (&mut *self.inp)
            .take(len as u64)
            .read_to_end(v)
            .map_err(io_error)?;
        if v.len() != len {
            return Err(SnapshotError::Truncated);
        }
        self.crc = crc32c::crc32c_append(self.crc, v);
        self.size_bytes += len as u64;
        Ok(())
    }

    /// One node record (`path:string data:buffer` and the fixed tail) into
    /// `rec`, in three reads and one checksum update: field by field, the
    /// checksum's per-call setup cost a third of a snapshot load. Returns
    /// the path's and the data's ranges in `rec`.
    fn node_record(
        &mut self,
        rec: &mut Vec<u8>,
    ) -> Result<(std::ops::Range<usize>, std::ops::Range<usize>), SnapshotError> {
        rec.clear();
        let path_len = self.append_sized(rec, "path")?;
        let path = 4..4 + path_len;
        let data_len = self.append_sized(rec, "data")?;
        let data = path.end + 4..path.end + 4 + data_len;
        self.append_unchecked(rec, NODE_FIXED_BYTES)?;
        self.crc = crc32c::crc32c_append(self.crc, rec);
        self.size_bytes += rec.len() as u64;
        Ok((path, data))
    }

    /// Appends a jute length (i32) and that many bytes to `rec`, neither
    /// checksummed yet, and returns the length.
    fn append_sized(&mut self, rec: &mut Vec<u8>, what: &str) -> Result<usize, SnapshotError> {
        let at = rec.len();
        self.append_unchecked(rec, 4)?;
        let mut n = [0u8; 4];
        n.copy_from_slice(&rec[at..]);
        let n = i32::from_be_bytes(n);
        let len = usize::try_from(n).map_err(|_| corrupt(format!("{what} length {n}")))?;
        self.append_unchecked(rec, len)?;
        Ok(len)
    }

    /// Appends `len` bytes of input to `rec` without checksumming them. Up
    /// to `EAGER_ALLOC_BYTES` are allocated at once; beyond that `rec` grows
    /// only as bytes actually arrive.
    fn append_unchecked(&mut self, rec: &mut Vec<u8>, len: usize) -> Result<(), SnapshotError> {
        let at = rec.len();
        if len <= EAGER_ALLOC_BYTES {
            rec.resize(at + len, 0);
            return self.inp.read_exact(&mut rec[at..]).map_err(io_error);
        }
        (&mut *self.inp)
            .take(len as u64)
            .read_to_end(rec)
            .map_err(io_error)?;
        if rec.len() != at + len {
            return Err(SnapshotError::Truncated);
        }
        Ok(())
    }

    fn string(&mut self, what: &str) -> Result<String, SnapshotError> {
        String::from_utf8(self.bytes(what)?).map_err(|_| corrupt(format!("{what} is not UTF-8")))
    }
}

impl DataTree {
    /// Writes the tree as a snapshot (see the module doc for the layout) and
    /// flushes `out` (but does not sync it: durability is the caller's).
    /// Deterministic: the same tree always gives the same bytes.
    pub fn write_snapshot(&self, out: &mut impl Write) -> io::Result<SnapshotMeta> {
        let mut w = SnapWriter::new(out);
        let node_count = self.nodes.len() as u64;

        w.buf.extend_from_slice(&SNAPSHOT_MAGIC);
        w.u32(SNAPSHOT_FORMAT_VERSION);
        w.i64(self.last_zxid);
        w.u64(node_count);
        let header_crc = crc32c::crc32c(&w.buf);
        w.u32(header_crc);

        // ACL lists, by index. Nodes share the cache's Arcs, so the pointer
        // finds a node's list; the value is the fallback.
        let lists: Vec<&Arc<[Acl]>> = self.acls.iter().collect();
        w.count(lists.len(), "ACL list count")?;
        let mut index_of: HashMap<usize, u32> = HashMap::with_capacity(lists.len());
        for (i, list) in lists.iter().enumerate() {
            w.count(list.len(), "ACL list")?;
            for acl in list.iter() {
                w.i32(acl.perms);
                w.bytes(acl.id.scheme.as_bytes(), "ACL scheme")?;
                w.bytes(acl.id.id.as_bytes(), "ACL id")?;
            }
            w.end_record()?;
            let i = u32::try_from(i).map_err(|_| too_large("ACL list count"))?;
            index_of.insert(acl_ptr(list), i);
        }
        let acl_index = |acl: &Arc<[Acl]>| -> io::Result<u32> {
            if let Some(&i) = index_of.get(&acl_ptr(acl)) {
                return Ok(i);
            }
            match lists.binary_search_by(|l| (***l).cmp(&**acl)) {
                Ok(i) => Ok(i as u32),
                Err(_) => Err(broken(format!("ACL {acl:?} is not in the cache"))),
            }
        };

        // Nodes in preorder: a stack of (path, remaining children).
        let mut written = 0u64;
        let mut write_node = |w: &mut SnapWriter<'_, _>, path: &str, node: &Node| {
            w.bytes(path.as_bytes(), "path")?;
            w.bytes(&node.data, "data")?;
            w.u32(acl_index(&node.acl)?);
            let s = &node.stat;
            w.i64(s.czxid);
            w.i64(s.mzxid);
            w.i64(s.pzxid);
            w.i64(s.ctime);
            w.i64(s.mtime);
            w.i64(s.ephemeral_owner);
            w.i32(s.version);
            w.i32(s.cversion);
            w.i32(s.aversion);
            written += 1;
            w.end_record()
        };
        if let Some(root) = self.nodes.get("/") {
            write_node(&mut w, "/", root)?;
            let mut stack = vec![self.nodes.children_sorted(root).into_iter()];
            while let Some(children) = stack.last_mut() {
                let Some((slot, _)) = children.next() else {
                    stack.pop();
                    continue;
                };
                let (path, node) = self
                    .nodes
                    .at(slot)
                    .ok_or_else(|| broken(format!("child slot {slot} is empty")))?;
                write_node(&mut w, path, node)?;
                if !node.children.is_empty() {
                    stack.push(self.nodes.children_sorted(node).into_iter());
                }
            }
        }
        if written != node_count {
            return Err(broken(format!(
                "{written} of {node_count} nodes are reachable from /"
            )));
        }

        let sessions: Vec<&SessionInfo> = self.sessions.all().collect();
        w.count(sessions.len(), "session count")?;
        for s in sessions {
            w.i64(s.session_id);
            w.i32(s.timeout_ms);
            w.bytes(&s.password, "password")?;
            w.end_record()?;
        }

        let trie = self.quotas.preorder();
        w.u8(u8::from(self.quotas.root_marked()));
        w.count(trie.len(), "quota trie")?;
        for (depth, name, marked) in trie {
            w.count(depth, "quota trie depth")?;
            w.bytes(name.as_bytes(), "quota trie name")?;
            w.u8(u8::from(marked));
            w.end_record()?;
        }

        w.u64(node_count);
        w.flush_buf()?;
        let crc = w.crc;
        w.out.write_all(&crc.to_be_bytes())?;
        w.out.flush()?;
        Ok(SnapshotMeta {
            last_zxid: self.last_zxid,
            node_count,
            size_bytes: w.size_bytes + 4,
            crc32c: crc,
        })
    }

    /// Reads a snapshot written by [`DataTree::write_snapshot`] into a tree
    /// with `config`. Reads exactly the snapshot's bytes. Any damage gives an
    /// error (never a panic, never a different tree): structure is checked as
    /// it is read and the CRC32C over everything once the trailer is reached.
    pub fn read_snapshot(
        input: &mut impl Read,
        config: StateConfig,
    ) -> Result<(DataTree, SnapshotMeta), SnapshotError> {
        let mut r = SnapReader {
            inp: input,
            crc: 0,
            size_bytes: 0,
        };
        if r.array::<8>()? != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let version = r.u32()?;
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let last_zxid = r.i64()?;
        let node_count = r.u64()?;
        let header_computed = r.crc;
        let header_stored = r.u32()?;
        if header_stored != header_computed {
            return Err(SnapshotError::Checksum {
                stored: header_stored,
                computed: header_computed,
            });
        }

        let mut table: Vec<Vec<Acl>> = Vec::new();
        let list_count = r.u32()?;
        for _ in 0..list_count {
            let len = r.u32()?;
            let mut list = Vec::new();
            for _ in 0..len {
                let perms = r.i32()?;
                let scheme = r.string("ACL scheme")?;
                let id = r.string("ACL id")?;
                list.push(Acl::new(perms, Id::new(scheme, id)));
            }
            if table.last().is_some_and(|prev| *prev >= list) {
                return Err(corrupt("ACL lists are not in increasing order"));
            }
            table.push(list);
        }

        if node_count == 0 {
            return Err(corrupt("no nodes: every tree has /"));
        }
        let mut tree = DataTree::empty(config);
        // The header's checksum vouches for the count, and the map is sized
        // once instead of rehashing its way up (which doubles load time).
        // Bounded, and fallible: a hostile count cannot abort the process.
        let presized =
            usize::try_from(node_count).map_or(MAX_PRESIZED_NODES, |n| n.min(MAX_PRESIZED_NODES));
        tree.nodes.try_reserve(presized);
        let mut rec = Vec::new();
        // Each table list is interned once; later nodes share its `Arc` and
        // their references are counted here and handed to the cache after.
        let mut interned: Vec<Option<(Arc<[Acl]>, u64)>> = vec![None; table.len()];
        // The nodes from `/` down to the last one loaded. The writer puts
        // nodes in preorder, so a node's parent is on this stack and is
        // found without hashing its path, and the nodes are indexed by path
        // in bulk at the end. A node elsewhere (still valid if its parent
        // came earlier) needs lookups: the nodes so far are indexed then,
        // and the rest one by one.
        let mut ancestors: Vec<u32> = Vec::new();
        let mut bulk = true;
        for i in 0..node_count {
            let (path, data) = r.node_record(&mut rec)?;
            let mut fixed = [0u8; NODE_FIXED_BYTES];
            fixed.copy_from_slice(&rec[data.end..]);
            let (acl_index, stat) = parse_node_fixed(&fixed);
            let data = rec[data].to_vec();
            let path =
                std::str::from_utf8(&rec[path]).map_err(|_| corrupt("a path is not UTF-8"))?;
            let acl = match interned.get_mut(acl_index as usize) {
                Some(Some((shared, extra_refs))) => {
                    *extra_refs += 1;
                    shared.clone()
                }
                Some(empty) => {
                    let shared = tree.acls.intern(&table[acl_index as usize]);
                    *empty = Some((shared.clone(), 0));
                    shared
                }
                None => return Err(corrupt(format!("{path}: ACL index {acl_index}"))),
            };
            let parent = if i == 0 {
                if path != "/" {
                    return Err(corrupt(format!("the first node is {path:?}, not /")));
                }
                None
            } else {
                let on_chain = chained_parent(&tree, &mut ancestors, path)?;
                if on_chain.is_none() && bulk {
                    index_loaded(&mut tree)?;
                    bulk = false;
                }
                match on_chain {
                    Some(slot) => Some(slot),
                    None => Some(tree.nodes.slot_of(parent_key(path)?).ok_or_else(|| {
                        corrupt(format!("node {path:?} comes before its parent"))
                    })?),
                }
            };
            let node = Node::new(data, acl, stat);
            let slot = if bulk {
                tree.attach_unindexed(parent, path, node)
            } else {
                tree.attach_under(parent, path, node)
                    .map_err(|_| corrupt(format!("node {path:?} appears twice")))?
            };
            ancestors.push(slot);
        }
        if bulk {
            index_loaded(&mut tree)?;
        }
        for (shared, extra_refs) in interned.into_iter().flatten() {
            tree.acls.add_refs(&shared, extra_refs);
        }

        let session_count = r.u32()?;
        let mut last_id = None;
        for _ in 0..session_count {
            let session_id = r.i64()?;
            let timeout_ms = r.i32()?;
            let password = r.bytes("password")?;
            if last_id.is_some_and(|last| last >= session_id) {
                return Err(corrupt("session ids are not in increasing order"));
            }
            last_id = Some(session_id);
            tree.sessions.insert(SessionInfo {
                session_id,
                timeout_ms,
                password,
            });
        }

        let root_marked = r.flag("quota trie root")?;
        let trie_len = r.u32()?;
        let mut trie = Vec::new();
        for _ in 0..trie_len {
            let depth = r.u32()?;
            let name = r.string("quota trie name")?;
            let marked = r.flag("quota trie")?;
            trie.push((depth as usize, name, marked));
        }

        let trailer_count = r.u64()?;
        if trailer_count != node_count {
            return Err(corrupt(format!(
                "trailer counts {trailer_count} nodes, header {node_count}"
            )));
        }
        let computed = r.crc;
        let mut stored = [0u8; 4];
        r.inp.read_exact(&mut stored).map_err(io_error)?;
        let stored = u32::from_be_bytes(stored);
        if stored != computed {
            return Err(SnapshotError::Checksum { stored, computed });
        }

        tree.quotas = PathTrie::from_preorder(root_marked, trie)
            .ok_or_else(|| corrupt("the quota trie is not a preorder"))?;
        tree.last_zxid = last_zxid;
        Ok((
            tree,
            SnapshotMeta {
                last_zxid,
                node_count,
                size_bytes: r.size_bytes + 4,
                crc32c: stored,
            },
        ))
    }
}

/// The address of a shared ACL list, as a map key (identity, not order).
fn acl_ptr(acl: &Arc<[Acl]>) -> usize {
    Arc::as_ptr(acl) as *const Acl as usize
}

fn parse_node_fixed(b: &[u8; NODE_FIXED_BYTES]) -> (u32, StoredStat) {
    let mut pos = 0;
    let mut next = |n: usize| {
        let mut a = [0u8; 8];
        a[8 - n..].copy_from_slice(&b[pos..pos + n]);
        pos += n;
        u64::from_be_bytes(a)
    };
    let acl_index = next(4) as u32;
    let stat = StoredStat {
        czxid: next(8) as i64,
        mzxid: next(8) as i64,
        pzxid: next(8) as i64,
        ctime: next(8) as i64,
        mtime: next(8) as i64,
        ephemeral_owner: next(8) as i64,
        version: next(4) as u32 as i32,
        cversion: next(4) as u32 as i32,
        aversion: next(4) as u32 as i32,
    };
    (acl_index, stat)
}

/// The key of `path`'s parent, for a node being loaded (which must have a
/// name).
fn parent_key(path: &str) -> Result<&str, SnapshotError> {
    let Some((parent, name)) = path::split_last(path) else {
        return Err(corrupt(format!("node path {path:?} has no /")));
    };
    if name.is_empty() {
        return Err(corrupt(format!("node path {path:?} ends in /")));
    }
    Ok(DataTree::key(parent))
}

/// The slot of `path`'s parent if it is on `ancestors`, the chain of nodes
/// down to the one loaded last; the chain is cut back to the parent, so
/// that pushing `path` keeps it a chain (or emptied, when the parent is not
/// on it).
fn chained_parent(
    tree: &DataTree,
    ancestors: &mut Vec<u32>,
    path: &str,
) -> Result<Option<u32>, SnapshotError> {
    let parent = parent_key(path)?;
    while let Some(&top) = ancestors.last() {
        if tree.nodes.at(top).is_some_and(|(p, _)| p == parent) {
            return Ok(Some(top));
        }
        ancestors.pop();
    }
    Ok(None)
}

/// Indexes the nodes loaded without an index, refusing a path loaded twice.
fn index_loaded(tree: &mut DataTree) -> Result<(), SnapshotError> {
    tree.nodes
        .index_unindexed()
        .map_err(|path| corrupt(format!("node {path:?} appears twice")))
}

/// A node may join the tree being loaded only where `attach` keeps the tree
/// whole: `/` first, then each node once, under a node already loaded.
pub(crate) fn check_placement(
    tree: &DataTree,
    path: &str,
    first: bool,
) -> Result<(), SnapshotError> {
    if first {
        return if path == "/" {
            Ok(())
        } else {
            Err(corrupt(format!("the first node is {path:?}, not /")))
        };
    }
    let Some((parent, name)) = path::split_last(path) else {
        return Err(corrupt(format!("node path {path:?} has no /")));
    };
    if name.is_empty() {
        return Err(corrupt(format!("node path {path:?} ends in /")));
    }
    if tree.nodes.contains_key(path) {
        return Err(corrupt(format!("node {path:?} appears twice")));
    }
    if !tree.nodes.contains_key(DataTree::key(parent)) {
        return Err(corrupt(format!("node {path:?} comes before its parent")));
    }
    Ok(())
}
