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

use crate::acl_cache::SharedAcl;
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

pub(crate) fn corrupt(why: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(why.into())
}

pub(crate) fn io_error(e: io::Error) -> SnapshotError {
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
pub(crate) struct SnapWriter<'a, W: Write> {
    out: &'a mut W,
    buf: Vec<u8>,
    crc: u32,
    size_bytes: u64,
}

impl<'a, W: Write> SnapWriter<'a, W> {
    pub(crate) fn new(out: &'a mut W) -> Self {
        SnapWriter {
            out,
            buf: Vec::with_capacity(WRITE_CHUNK_BYTES + 1024),
            crc: 0,
            size_bytes: 0,
        }
    }

    /// Ends the snapshot: the trailer's node count, then the CRC of
    /// everything before it; flushes `out`.
    pub(crate) fn finish(mut self, node_count: u64, last_zxid: i64) -> io::Result<SnapshotMeta> {
        self.u64(node_count);
        self.flush_buf()?;
        let crc = self.crc;
        self.out.write_all(&crc.to_be_bytes())?;
        self.out.flush()?;
        Ok(SnapshotMeta {
            last_zxid,
            node_count,
            size_bytes: self.size_bytes + 4,
            crc32c: crc,
        })
    }

    /// Passes on what is buffered and flushes `out` (for pieces of a
    /// snapshot, which have no trailer of their own).
    pub(crate) fn flush_all(mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.out.flush()
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf);
        self.out.write_all(&self.buf)?;
        self.size_bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Ends a record: hands the chunk on once it is full.
    pub(crate) fn end_record(&mut self) -> io::Result<()> {
        if self.buf.len() >= WRITE_CHUNK_BYTES {
            self.flush_buf()?;
        }
        Ok(())
    }

    pub(crate) fn raw(&mut self, b: &[u8]) -> io::Result<()> {
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

/// A jute length prefix as a length: never negative.
fn jute_len(n: i32, what: &str) -> Result<usize, SnapshotError> {
    usize::try_from(n).map_err(|_| corrupt(format!("{what} length {n}")))
}

/// The quota trie as a snapshot holds it: (depth, name, marked) in preorder.
type TriePreorder = Vec<(usize, String, bool)>;

/// Hashes and counts what it reads; reads exactly the snapshot's bytes.
pub(crate) struct SnapReader<'a, R: Read> {
    inp: &'a mut R,
    crc: u32,
    size_bytes: u64,
}

impl<'a, R: Read> SnapReader<'a, R> {
    pub(crate) fn new(inp: &'a mut R) -> Self {
        SnapReader {
            inp,
            crc: 0,
            size_bytes: 0,
        }
    }

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
        let len = jute_len(self.i32()?, what)?;
        v.clear();
        self.append_unchecked(v, len)?;
        self.crc = crc32c::crc32c_append(self.crc, v);
        self.size_bytes += len as u64;
        Ok(())
    }

    /// One node record (`path:string data:buffer` and the fixed tail) into
    /// `rec`, in three reads and one checksum update: field by field, the
    /// checksum's per-call setup cost a third of a snapshot load. Returns
    /// the path's and the data's ranges in `rec`.
    pub(crate) fn node_record(
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
        let len = jute_len(i32::from_be_bytes(n), what)?;
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

    /// The header: checks magic, version and the header's CRC; returns the
    /// last zxid and the node count.
    pub(crate) fn header(&mut self) -> Result<(i64, u64), SnapshotError> {
        if self.array::<8>()? != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let version = self.u32()?;
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let last_zxid = self.i64()?;
        let node_count = self.u64()?;
        let header_computed = self.crc;
        let header_stored = self.u32()?;
        if header_stored != header_computed {
            return Err(SnapshotError::Checksum {
                stored: header_stored,
                computed: header_computed,
            });
        }
        Ok((last_zxid, node_count))
    }

    /// The ACL section: every list, in (checked) increasing order.
    pub(crate) fn acl_lists(&mut self) -> Result<Vec<Vec<Acl>>, SnapshotError> {
        let mut table: Vec<Vec<Acl>> = Vec::new();
        let list_count = self.u32()?;
        for _ in 0..list_count {
            let len = self.u32()?;
            let mut list = Vec::new();
            for _ in 0..len {
                let perms = self.i32()?;
                let scheme = self.string("ACL scheme")?;
                let id = self.string("ACL id")?;
                list.push(Acl::new(perms, Id::new(scheme, id)));
            }
            if table.last().is_some_and(|prev| *prev >= list) {
                return Err(corrupt("ACL lists are not in increasing order"));
            }
            table.push(list);
        }
        Ok(table)
    }

    /// The sections after the nodes: the sessions (ids checked increasing),
    /// the quota trie's root flag and its preorder.
    pub(crate) fn tail(&mut self) -> Result<(Vec<SessionInfo>, bool, TriePreorder), SnapshotError> {
        let session_count = self.u32()?;
        let mut sessions = Vec::new();
        let mut last_id = None;
        for _ in 0..session_count {
            let session_id = self.i64()?;
            let timeout_ms = self.i32()?;
            let password = self.bytes("password")?;
            if last_id.is_some_and(|last| last >= session_id) {
                return Err(corrupt("session ids are not in increasing order"));
            }
            last_id = Some(session_id);
            sessions.push(SessionInfo {
                session_id,
                timeout_ms,
                password,
            });
        }

        let root_marked = self.flag("quota trie root")?;
        let trie_len = self.u32()?;
        let mut trie = Vec::new();
        for _ in 0..trie_len {
            let depth = self.u32()?;
            let name = self.string("quota trie name")?;
            let marked = self.flag("quota trie")?;
            trie.push((depth as usize, name, marked));
        }
        Ok((sessions, root_marked, trie))
    }

    /// The trailer: the node count again (must be `node_count`) and the
    /// CRC32C of everything before it, checked; returns that CRC.
    pub(crate) fn trailer(&mut self, node_count: u64) -> Result<u32, SnapshotError> {
        let trailer_count = self.u64()?;
        if trailer_count != node_count {
            return Err(corrupt(format!(
                "trailer counts {trailer_count} nodes, header {node_count}"
            )));
        }
        let computed = self.crc;
        let mut stored = [0u8; 4];
        self.inp.read_exact(&mut stored).map_err(io_error)?;
        let stored = u32::from_be_bytes(stored);
        if stored != computed {
            return Err(SnapshotError::Checksum { stored, computed });
        }
        Ok(stored)
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
        write_header(&mut w, self.last_zxid, node_count);
        let acls = self.acl_table()?;
        acls.write(&mut w)?;

        // Nodes in preorder: a stack of each level's remaining children.
        let mut written = 0u64;
        if let Some(root) = self.nodes.get("/") {
            write_node(&mut w, root, acls.index(&root.acl)?)?;
            written += 1;
            let mut stack = vec![self.nodes.children_in_order(root).into_iter()];
            while let Some(children) = stack.last_mut() {
                let Some((_, node)) = children.next() else {
                    stack.pop();
                    continue;
                };
                write_node(&mut w, node, acls.index(&node.acl)?)?;
                written += 1;
                if !node.children().is_empty() {
                    stack.push(self.nodes.children_in_order(node).into_iter());
                }
            }
        }
        if written != node_count {
            return Err(broken(format!(
                "{written} of {node_count} nodes are reachable from /"
            )));
        }
        self.write_tail(&mut w)?;
        w.finish(node_count, self.last_zxid)
    }

    /// Every ACL list in use, numbered as a snapshot of this tree numbers
    /// them.
    pub(crate) fn acl_table(&self) -> io::Result<AclTable> {
        let lists: Vec<SharedAcl> = self.acls.iter().cloned().collect();
        let mut by_ptr: HashMap<usize, u32> = HashMap::with_capacity(lists.len());
        for (i, list) in lists.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| too_large("ACL list count"))?;
            by_ptr.insert(acl_ptr(list), i);
        }
        Ok(AclTable { lists, by_ptr })
    }

    /// The sections after the nodes: sessions, then the quota trie.
    pub(crate) fn write_tail<W: Write>(&self, w: &mut SnapWriter<'_, W>) -> io::Result<()> {
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
        Ok(())
    }

    /// Reads a snapshot written by [`DataTree::write_snapshot`] into a tree
    /// with `config`. Reads exactly the snapshot's bytes. Any damage gives an
    /// error (never a panic, never a different tree): structure is checked as
    /// it is read and the CRC32C over everything once the trailer is reached.
    pub fn read_snapshot(
        input: &mut impl Read,
        config: StateConfig,
    ) -> Result<(DataTree, SnapshotMeta), SnapshotError> {
        let mut r = SnapReader::new(input);
        let (last_zxid, node_count) = r.header()?;
        let table = r.acl_lists()?;

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
        let mut interned: Vec<Option<(SharedAcl, u64)>> = vec![None; table.len()];
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
                check_root(path)?;
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
            let node = Node::new(path, &rec[data], acl, stat);
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

        let (sessions, root_marked, trie) = r.tail()?;
        for session in sessions {
            tree.sessions.insert(session);
        }
        let stored = r.trailer(node_count)?;

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

/// The ACL lists of a tree in snapshot order, and each one's index. It
/// holds the lists (shared), so an index stays valid while the tree changes
/// (`snapshot_merge` encodes records after the snapshot point).
#[derive(Debug)]
pub(crate) struct AclTable {
    lists: Vec<SharedAcl>,
    /// By the address of the cache's shared list (nodes share it).
    by_ptr: HashMap<usize, u32>,
}

impl AclTable {
    /// The index of `acl`: found by address, as nodes share the cache's
    /// lists; by value as the fallback.
    pub(crate) fn index(&self, acl: &SharedAcl) -> io::Result<u32> {
        if let Some(&i) = self.by_ptr.get(&acl_ptr(acl)) {
            return Ok(i);
        }
        match self.lists.binary_search_by(|l| (**l).cmp(&**acl)) {
            Ok(i) => Ok(i as u32),
            Err(_) => Err(broken(format!("ACL {acl:?} is not in the cache"))),
        }
    }

    /// The ACL section: the count, then each list.
    pub(crate) fn write<W: Write>(&self, w: &mut SnapWriter<'_, W>) -> io::Result<()> {
        write_acl_lists(w, self.lists.iter().map(|l| l.as_slice()))
    }

    /// Copies of the lists, in order (shared, not deep).
    pub(crate) fn lists(&self) -> Vec<SharedAcl> {
        self.lists.clone()
    }
}

/// The ACL section: the count, then each list.
pub(crate) fn write_acl_lists<'l, W: Write>(
    w: &mut SnapWriter<'_, W>,
    lists: impl ExactSizeIterator<Item = &'l [Acl]>,
) -> io::Result<()> {
    w.count(lists.len(), "ACL list count")?;
    for list in lists {
        w.count(list.len(), "ACL list")?;
        for acl in list {
            w.i32(acl.perms);
            w.bytes(acl.id.scheme.as_bytes(), "ACL scheme")?;
            w.bytes(acl.id.id.as_bytes(), "ACL id")?;
        }
        w.end_record()?;
    }
    Ok(())
}

/// The header: magic, version, last zxid, node count, and their CRC.
pub(crate) fn write_header<W: Write>(w: &mut SnapWriter<'_, W>, last_zxid: i64, node_count: u64) {
    w.buf.extend_from_slice(&SNAPSHOT_MAGIC);
    w.u32(SNAPSHOT_FORMAT_VERSION);
    w.i64(last_zxid);
    w.u64(node_count);
    let header_crc = crc32c::crc32c(&w.buf);
    w.u32(header_crc);
}

/// One node record.
pub(crate) fn write_node<W: Write>(
    w: &mut SnapWriter<'_, W>,
    node: &Node,
    acl_index: u32,
) -> io::Result<()> {
    w.bytes(node.path_bytes(), "path")?;
    w.bytes(node.data(), "data")?;
    encode_node_tail(&mut w.buf, acl_index, &node.stat());
    w.end_record()
}

/// One node record appended to `buf`, as [`write_node`] writes it (for
/// records gathered in memory rather than streamed).
pub(crate) fn encode_node(buf: &mut Vec<u8>, node: &Node, acl_index: u32) -> io::Result<()> {
    for (bytes, what) in [(node.path_bytes(), "path"), (node.data(), "data")] {
        let len = i32::try_from(bytes.len()).map_err(|_| too_large(what))?;
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(bytes);
    }
    encode_node_tail(buf, acl_index, &node.stat());
    Ok(())
}

/// The size of the record [`encode_node`] appends.
pub(crate) fn node_record_bytes(node: &Node) -> usize {
    4 + node.path_bytes().len() + 4 + node.data().len() + NODE_FIXED_BYTES
}

/// A node record's fixed tail: the ACL index and the stored Stat.
fn encode_node_tail(buf: &mut Vec<u8>, acl_index: u32, s: &StoredStat) {
    buf.extend_from_slice(&acl_index.to_be_bytes());
    for v in [
        s.czxid,
        s.mzxid,
        s.pzxid,
        s.ctime,
        s.mtime,
        s.ephemeral_owner,
    ] {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    for v in [s.version, s.cversion, s.aversion] {
        buf.extend_from_slice(&v.to_be_bytes());
    }
}

/// The address of a shared ACL list, as a map key (identity, not order).
fn acl_ptr(acl: &SharedAcl) -> usize {
    Arc::as_ptr(acl) as usize
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

/// The first node loaded must be `/`.
fn check_root(path: &str) -> Result<(), SnapshotError> {
    if path == "/" {
        Ok(())
    } else {
        Err(corrupt(format!("the first node is {path:?}, not /")))
    }
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
        if tree
            .nodes
            .node_at(top)
            .is_some_and(|n| n.path_bytes() == parent.as_bytes())
        {
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
        return check_root(path);
    }
    let parent = parent_key(path)?;
    if tree.nodes.contains_key(path) {
        return Err(corrupt(format!("node {path:?} appears twice")));
    }
    if !tree.nodes.contains_key(parent) {
        return Err(corrupt(format!("node {path:?} comes before its parent")));
    }
    Ok(())
}
