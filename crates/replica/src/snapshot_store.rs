//! Snapshots on disk: a directory with one file per snapshot, named by the
//! last log index it covers (`snapshot.<20-digit zero-padded index>`, so the
//! names sort like the indexes).
//!
//! A file is a small header followed by the state crate's snapshot bytes
//! (`DataTree::write_snapshot`, which carries its own checksum):
//!
//! ```text
//! magic "RZKRSNAP" (8 bytes)  version:u32  meta_len:u32  state_len:u64  state_crc32c:u32
//! meta: meta_len bytes, openraft's SnapshotMeta (last log id + membership) in postcard
//! header_crc32c:u32 over every header byte before it
//! state: state_len bytes
//! ```
//!
//! Integers are big-endian. The header also carries the state part's length
//! and CRC32C so that a truncated or damaged file is recognised without parsing
//! the tree (`load_newest` can then fall back to an older file cheaply; the
//! tree's own checksum is checked again when the server reads it).
//!
//! Why a file per snapshot rather than one file overwritten: a crash or a
//! damaged disk block costs at most the newest snapshot, and the previous one
//! is still there to start from (ZooKeeper keeps several snapshots for the same
//! reason and, like this store, starts from the newest *valid* one).
//!
//! Written atomically: a temp file in the same directory, written, fsynced,
//! renamed to its final name, then the directory fsynced, so a file with a
//! final name is always complete. Temp files left by a crash are removed by
//! [`SnapshotStore::open`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::alias::SnapshotMetaOf;

use crate::direct_io::{DirectReader, DirectWriter};
use crate::network::wire::SNAPSHOT_BYTES_MAX;
use crate::types::TypeConfig;

/// The first eight bytes of every snapshot file.
pub const SNAPSHOT_FILE_MAGIC: [u8; 8] = *b"RZKRSNAP";
/// The header layout this build writes and reads (2: members carry their
/// ZooKeeper spec, `crate::membership::Member`).
pub const SNAPSHOT_FILE_VERSION: u32 = 2;
/// The largest encoded raft metadata accepted (a membership of a few servers
/// takes well under a kilobyte; this bounds what a damaged length can cost).
pub const SNAPSHOT_META_BYTES_MAX: u32 = 1 << 20;
/// Final names: this prefix, then the index in [`INDEX_DIGITS`] digits.
const FILE_PREFIX: &str = "snapshot.";
/// Temp names start with this; anything with it is removed at open.
const TEMP_PREFIX: &str = "tmp.snapshot.";
/// Digits of `u64::MAX`, so names sort as their indexes do.
const INDEX_DIGITS: usize = 20;
/// magic + version + meta_len + state_len + state_crc.
const FIXED_HEADER_BYTES: usize = 8 + 4 + 4 + 8 + 4;
/// The header CRC after the meta.
const HEADER_CRC_BYTES: usize = 4;

/// Makes temp names unique within the process (two saves may run at once: a
/// snapshot being built while one from the leader is installed).
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// A snapshot as stored: raft's metadata and the state crate's bytes.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    pub meta: SnapshotMetaOf<TypeConfig>,
    /// The state part only (what `DataTree::read_snapshot` reads).
    pub bytes: Arc<[u8]>,
}

impl StoredSnapshot {
    /// The last log index the snapshot covers (`None` for the empty state).
    pub fn index(&self) -> Option<u64> {
        self.meta.last_log_id.map(|id| id.index)
    }
}

/// The snapshot directory.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
}

impl SnapshotStore {
    /// Opens (creating it if needed) the snapshot directory and removes the
    /// temp files an interrupted save left behind.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<SnapshotStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let mut removed = false;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                tracing::info!(file = %entry.path().display(), "removing an unfinished snapshot");
                fs::remove_file(entry.path())?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&dir)?;
        }
        Ok(SnapshotStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path a snapshot covering `index` is stored at.
    pub fn path_of(&self, index: u64) -> PathBuf {
        self.dir.join(format!(
            "{FILE_PREFIX}{index:0width$}",
            width = INDEX_DIGITS
        ))
    }

    /// Writes a snapshot durably: when this returns, the file is complete
    /// under its final name and survives a power cut. A snapshot of the same
    /// index already there is replaced (it holds the same state).
    pub fn save(&self, meta: &SnapshotMetaOf<TypeConfig>, bytes: &[u8]) -> io::Result<PathBuf> {
        self.save_with(meta, |out| out.write_all(bytes))
    }

    /// As [`SnapshotStore::save`], with the state part written by `write_state`
    /// straight into the file, so a snapshot is never held in memory whole
    /// (at a million znodes it is about 180 MB). The header, which carries the
    /// state's length and CRC, is written last, over a placeholder.
    pub fn save_with(
        &self,
        meta: &SnapshotMetaOf<TypeConfig>,
        write_state: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<PathBuf> {
        let index = meta.last_log_id.map(|id| id.index).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a snapshot of the empty state (no last log id) is not stored",
            )
        })?;
        let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(
            "{TEMP_PREFIX}{index:0width$}.{}.{seq}",
            std::process::id(),
            width = INDEX_DIGITS
        ));
        let written = write_synced(&temp, meta, write_state);
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        let path = self.path_of(index);
        if let Err(e) = fs::rename(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        sync_dir(&self.dir)?;
        Ok(path)
    }

    /// The indexes of the snapshot files present, ascending (files are not
    /// read; names that are not snapshot names are ignored).
    pub fn indexes(&self) -> io::Result<Vec<u64>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if let Some(index) = index_of_name(&entry.file_name().to_string_lossy()) {
                out.push(index);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The newest snapshot that reads back intact. A newer file that is
    /// unreadable, truncated or corrupt is skipped with a WARN naming it and
    /// the reason, and the next older one is tried (as ZooKeeper does at
    /// startup). `Ok(None)` when no file is intact; `Err` only when the
    /// directory itself cannot be listed.
    pub fn load_newest(&self) -> io::Result<Option<StoredSnapshot>> {
        self.load_newest_at_most(u64::MAX)
    }

    /// As [`SnapshotStore::load_newest`], among the snapshots whose index is
    /// at most `index`.
    pub fn load_newest_at_most(&self, index: u64) -> io::Result<Option<StoredSnapshot>> {
        for candidate in self.indexes()?.into_iter().rev() {
            if candidate > index {
                continue;
            }
            let path = self.path_of(candidate);
            match read_file(&path, candidate) {
                Ok(snapshot) => return Ok(Some(snapshot)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), reason = %e,
                        "skipping a snapshot that cannot be used; trying an older one");
                }
            }
        }
        Ok(None)
    }

    /// Reads the snapshot file covering `index`, checking everything
    /// [`SnapshotStore::load_newest`] checks.
    pub fn load(&self, index: u64) -> io::Result<StoredSnapshot> {
        read_file(&self.path_of(index), index)
    }

    /// Reads the newest snapshot that reads back intact with `read`, which
    /// gets its metadata and its state part as a stream (never held in
    /// memory whole). A file whose header is damaged, or that `read` fails
    /// on (the state crate's reader checks the state's own CRC32C as it
    /// goes), is skipped with a WARN naming it and the reason, and the next
    /// older one is tried, as [`SnapshotStore::load_newest`] does. `Ok(None)`
    /// when no file is intact; `Err` only when the directory cannot be listed.
    pub fn read_newest<T>(
        &self,
        mut read: impl FnMut(&SnapshotMetaOf<TypeConfig>, &mut dyn Read) -> io::Result<T>,
    ) -> io::Result<Option<(SnapshotMetaOf<TypeConfig>, T)>> {
        for candidate in self.indexes()?.into_iter().rev() {
            let result = self
                .open_state(candidate)
                .and_then(|(meta, mut state)| read(&meta, &mut state).map(|t| (meta, t)));
            match result {
                Ok(read) => return Ok(Some(read)),
                Err(e) => {
                    tracing::warn!(file = %self.path_of(candidate).display(), reason = %e,
                        "skipping a snapshot that cannot be used; trying an older one");
                }
            }
        }
        Ok(None)
    }

    /// The snapshot file covering `index`, header checked, positioned at its
    /// state part: for reading the state as a stream (`DataTree::read_snapshot`
    /// checks the state's own CRC as it goes) without holding it in memory.
    pub fn open_state(
        &self,
        index: u64,
    ) -> io::Result<(SnapshotMetaOf<TypeConfig>, io::Take<DirectReader>)> {
        let mut file = DirectReader::open(&self.path_of(index))?;
        let header = read_header(&mut file, index)?;
        Ok((header.meta, file.take(header.state_len)))
    }

    /// Deletes the snapshot file covering `index`, if there is one (a
    /// snapshot from the leader that the server could not install must not
    /// be what the next start restores from).
    pub fn remove(&self, index: u64) -> io::Result<()> {
        match fs::remove_file(self.path_of(index)) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes all but the newest `retain_count` snapshot files; returns how
    /// many were deleted.
    pub fn purge(&self, retain_count: usize) -> io::Result<usize> {
        let indexes = self.indexes()?;
        let excess = indexes.len().saturating_sub(retain_count);
        for &index in &indexes[..excess] {
            let path = self.path_of(index);
            tracing::info!(file = %path.display(), "purging an old snapshot");
            match fs::remove_file(&path) {
                Ok(()) => {}
                // Purged by someone else meanwhile: the goal is met.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if excess > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(excess)
    }
}

/// The index in a final snapshot name, or `None` for any other name.
fn index_of_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(FILE_PREFIX)?;
    if digits.len() != INDEX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn encode_header(
    meta: &SnapshotMetaOf<TypeConfig>,
    state_len: u64,
    state_crc: u32,
) -> io::Result<Vec<u8>> {
    let meta_bytes = postcard::to_allocvec(meta).map_err(io::Error::other)?;
    let meta_len = u32::try_from(meta_bytes.len())
        .ok()
        .filter(|n| *n <= SNAPSHOT_META_BYTES_MAX)
        .ok_or_else(|| io::Error::other("snapshot metadata is over its size limit"))?;
    if state_len > SNAPSHOT_BYTES_MAX {
        return Err(io::Error::other(format!(
            "snapshot of {state_len} bytes is over the limit of {SNAPSHOT_BYTES_MAX}"
        )));
    }
    let mut header = Vec::with_capacity(FIXED_HEADER_BYTES + meta_bytes.len() + HEADER_CRC_BYTES);
    header.extend_from_slice(&SNAPSHOT_FILE_MAGIC);
    header.extend_from_slice(&SNAPSHOT_FILE_VERSION.to_be_bytes());
    header.extend_from_slice(&meta_len.to_be_bytes());
    header.extend_from_slice(&state_len.to_be_bytes());
    header.extend_from_slice(&state_crc.to_be_bytes());
    header.extend_from_slice(&meta_bytes);
    let crc = crc32c::crc32c(&header);
    header.extend_from_slice(&crc.to_be_bytes());
    Ok(header)
}

/// Counts and checksums what passes through to the file.
struct StateWriter<W> {
    inner: W,
    len: u64,
    crc: u32,
}

impl<W: Write> Write for StateWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        if self.len > SNAPSHOT_BYTES_MAX {
            return Err(io::Error::other(format!(
                "snapshot is over the limit of {SNAPSHOT_BYTES_MAX} bytes"
            )));
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Creates `path` (which must not exist), writes a placeholder header, the
/// state through `write_state`, then the real header, and fsyncs it.
///
/// The file's bytes go around the page cache (`crate::direct_io`): a big
/// snapshot through the cache cost seconds of system CPU each time.
fn write_synced(
    path: &Path,
    meta: &SnapshotMetaOf<TypeConfig>,
    write_state: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    // Same length as the final header: only the state's length and CRC differ.
    let placeholder = encode_header(meta, 0, 0)?;
    let mut direct = DirectWriter::new(&file, path);
    direct.write_all(&placeholder)?;
    // Buffered before the checksum, so the CRC runs over large blocks.
    let mut out = io::BufWriter::with_capacity(
        1 << 20,
        StateWriter {
            inner: direct,
            len: 0,
            crc: 0,
        },
    );
    write_state(&mut out)?;
    let state = out.into_inner().map_err(|e| e.into_error())?;
    state.inner.finish()?;
    let header = encode_header(meta, state.len, state.crc)?;
    // Through the cache: the kernel reads the block the direct writes left
    // on the disk, patches it and writes it back at the fsync.
    file.write_all_at(&header, 0)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn corrupt(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// A snapshot file's checked header.
struct Header {
    meta: SnapshotMetaOf<TypeConfig>,
    state_len: u64,
    state_crc: u32,
}

/// Reads and checks the header of a snapshot file expected to cover `index`
/// (its name), leaving `file` at the state part. The file's length must be
/// exactly what the header describes, so the lengths are bounded by it.
fn read_header(file: &mut DirectReader, index: u64) -> io::Result<Header> {
    let file_len = file.file_len()?;
    let mut fixed = [0u8; FIXED_HEADER_BYTES];
    file.read_exact(&mut fixed)
        .map_err(|_| corrupt(format!("{file_len} bytes is shorter than a header")))?;
    if fixed[0..8] != SNAPSHOT_FILE_MAGIC {
        return Err(corrupt("not an rzk snapshot file (bad magic bytes)".into()));
    }
    let version = be_u32(&fixed[8..12]);
    if version != SNAPSHOT_FILE_VERSION {
        return Err(corrupt(format!(
            "unsupported snapshot file version {version}"
        )));
    }
    let meta_len = be_u32(&fixed[12..16]);
    let state_len = be_u64(&fixed[16..24]);
    let state_crc = be_u32(&fixed[24..28]);
    if meta_len > SNAPSHOT_META_BYTES_MAX || state_len > SNAPSHOT_BYTES_MAX {
        return Err(corrupt(format!(
            "implausible lengths in the header (metadata {meta_len}, state {state_len} bytes)"
        )));
    }
    let expected_len =
        (FIXED_HEADER_BYTES + HEADER_CRC_BYTES) as u64 + u64::from(meta_len) + state_len;
    if file_len != expected_len {
        return Err(corrupt(format!(
            "file is {file_len} bytes, its header describes {expected_len} (truncated or overwritten)"
        )));
    }
    // Lengths are now bounded by the file's actual size.
    let mut rest = vec![0u8; meta_len as usize + HEADER_CRC_BYTES];
    file.read_exact(&mut rest)?;
    let (meta_bytes, crc_bytes) = rest.split_at(meta_len as usize);
    let header_crc = crc32c::crc32c_append(crc32c::crc32c(&fixed), meta_bytes);
    let stored_crc = be_u32(crc_bytes);
    if header_crc != stored_crc {
        return Err(corrupt(format!(
            "header CRC32C {header_crc:#010x} does not match the stored {stored_crc:#010x}"
        )));
    }
    let meta: SnapshotMetaOf<TypeConfig> = postcard::from_bytes(meta_bytes)
        .map_err(|e| corrupt(format!("raft metadata does not decode: {e}")))?;
    let meta_index = meta.last_log_id.map(|id| id.index);
    if meta_index != Some(index) {
        return Err(corrupt(format!(
            "the file name says index {index}, its metadata says {meta_index:?}"
        )));
    }
    Ok(Header {
        meta,
        state_len,
        state_crc,
    })
}

/// Reads and checks one snapshot file, expected to cover `index` (its name).
/// Allocates no more than the file's length.
fn read_file(path: &Path, index: u64) -> io::Result<StoredSnapshot> {
    let mut file = DirectReader::open(path)?;
    let Header {
        meta,
        state_len,
        state_crc,
    } = read_header(&mut file, index)?;
    let state_len = usize::try_from(state_len)
        .map_err(|_| corrupt("state part too large for this platform".into()))?;
    let mut state = vec![0u8; state_len];
    file.read_exact(&mut state)?;
    let computed = crc32c::crc32c(&state);
    if computed != state_crc {
        return Err(corrupt(format!(
            "state CRC32C {computed:#010x} does not match the stored {state_crc:#010x}"
        )));
    }
    Ok(StoredSnapshot {
        meta,
        bytes: state.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_indexes_and_only_final_names_count() {
        assert_eq!(index_of_name("snapshot.00000000000000000042"), Some(42));
        assert_eq!(
            index_of_name(&format!("snapshot.{}", u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(index_of_name("snapshot.42"), None);
        assert_eq!(index_of_name("tmp.snapshot.00000000000000000042.1.0"), None);
        assert_eq!(index_of_name("snapshot.0000000000000000004x"), None);
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;
    use openraft::testing::log_id;
    use openraft::{Membership, SnapshotMeta, StoredMembership};

    fn meta(index: u64) -> SnapshotMetaOf<TypeConfig> {
        SnapshotMeta {
            last_log_id: Some(log_id::<TypeConfig>(1, 1, index)),
            last_membership: StoredMembership::new(
                Some(log_id::<TypeConfig>(1, 1, 0)),
                Membership::new_with_defaults(vec![[1].into()], []),
            ),
        }
    }

    /// A state streamed in small pieces makes the same file as one written
    /// whole (header length and CRC patched in afterwards), and reads back
    /// both whole and as a stream.
    #[test]
    fn a_streamed_save_is_the_same_file_as_a_whole_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapshotStore::open(dir.path()).expect("open");
        let state: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        store.save(&meta(7), &state).expect("save");
        let whole = fs::read(store.path_of(7)).expect("read");
        store
            .save_with(&meta(8), |out| {
                for piece in state.chunks(777) {
                    out.write_all(piece)?;
                }
                Ok(())
            })
            .expect("save_with");
        let loaded = store.load(8).expect("load");
        assert_eq!(loaded.meta, meta(8));
        assert!(loaded.bytes[..] == state[..]);
        let streamed = fs::read(store.path_of(8)).expect("read");
        assert_eq!(streamed.len(), whole.len());
        let (m, mut reader) = store.open_state(8).expect("open_state");
        assert_eq!(m, meta(8));
        let mut read_back = Vec::new();
        reader.read_to_end(&mut read_back).expect("read state");
        assert!(read_back == state);
    }

    /// `read_newest` streams the newest file into a tree; a newest file
    /// damaged inside its state part (which only the state's own CRC, checked
    /// while streaming, can tell) is skipped for the older intact one.
    #[test]
    fn read_newest_skips_a_snapshot_damaged_inside_its_state() {
        use rzk_state::{DataTree, StateConfig};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapshotStore::open(dir.path()).expect("open");
        let tree = DataTree::new(StateConfig::default());
        let mut state = Vec::new();
        tree.write_snapshot(&mut state).expect("encode");
        store.save(&meta(5), &state).expect("save 5");
        store.save(&meta(9), &state).expect("save 9");
        let read = |_: &SnapshotMetaOf<TypeConfig>, r: &mut dyn Read| {
            DataTree::read_snapshot(&mut &mut *r, StateConfig::default())
                .map(|(t, _)| t.node_count())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        };
        let newest = store.read_newest(read).expect("list").expect("a snapshot");
        assert_eq!(newest.0, meta(9));
        assert_eq!(newest.1, tree.node_count());
        // Flip one byte in the middle of snapshot 9's state part.
        let path = store.path_of(9);
        let mut bytes = fs::read(&path).expect("read");
        let at = bytes.len() - state.len() / 2;
        bytes[at] ^= 0x40;
        fs::write(&path, &bytes).expect("write");
        let fallback = store.read_newest(read).expect("list").expect("a snapshot");
        assert_eq!(fallback.0, meta(5), "the damaged newest file is skipped");
        // With every file damaged there is nothing to start from.
        fs::write(store.path_of(5), &bytes).expect("write");
        assert!(store.read_newest(read).expect("list").is_none());
    }

    /// A state writer that fails leaves no file behind, final or temporary.
    #[test]
    fn a_failed_streamed_save_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapshotStore::open(dir.path()).expect("open");
        let err = store
            .save_with(&meta(9), |out| {
                out.write_all(b"partial")?;
                Err(io::Error::other("disk full"))
            })
            .expect_err("fails");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
