//! Big files written and read around the page cache (`O_DIRECT`).
//!
//! Why: every page the kernel takes into its cache for new file data cost
//! about 6.5 ms of system CPU per MiB on the virtual machines rzk is
//! measured on (the hypervisor hands back memory the guest freed, and each
//! page is faulted in again on first touch): writing a new 480 MiB file
//! through the cache took 3.8 s of system time, the same file written with
//! `O_DIRECT` 0.04 s; reading it back uncached took 0.62 s against 0.02 s
//! (`docs/PERFORMANCE.md`). A snapshot of 2.4 million znodes is 480 MB,
//! written again (by merge) every snapCount entries, and through the cache
//! that was most of the server's CPU under a write load on a big tree.
//! Direct I/O moves the bytes between the disk and one buffer of ours that
//! stays in memory, so the cost is the disk's, not the CPU's.
//!
//! Direct writes are synchronous, which also paces a snapshot to the disk
//! one chunk at a time, as [`crate::writeback`] does for buffered writes:
//! the WAL's fdatasyncs never queue behind a burst of snapshot bytes.
//!
//! Durability is unchanged: bytes written with `O_DIRECT` may still sit in
//! the device's volatile cache, so the caller's fsync stays.
//!
//! Both types fall back to ordinary buffered I/O when the filesystem refuses
//! `O_DIRECT` (at open, or with `EINVAL` at a read or write), and on other
//! systems than Linux.

use std::alloc::{self, Layout};
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;

use crate::writeback::Writeback;

/// Buffer addresses, file offsets and lengths of direct I/O are multiples
/// of this: the largest logical block size of common disks.
pub const DIRECT_ALIGN_BYTES: usize = 4096;

/// Bytes moved per system call. A direct read or write holds the disk
/// until it completes, and the WAL's fdatasyncs wait behind it: at 2 MiB
/// (about a millisecond of this VM's disk) a snapshot build took a fifth of
/// create's throughput and doubled the fdatasync tail; at 256 KiB it costs
/// a few percent (`docs/PERFORMANCE.md`, fifteenth session). Keeping reads
/// at 2 MiB gave back about half the gain: the merge reads the previous
/// snapshot while the WAL syncs too. Still large enough that the per-call
/// cost is small.
pub const DIRECT_CHUNK_BYTES: usize = 256 << 10;

/// A zero-filled heap buffer whose address is a multiple of
/// [`DIRECT_ALIGN_BYTES`].
struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer is plain bytes owned by this value alone.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    fn layout(len: usize) -> Layout {
        match Layout::from_size_align(len, DIRECT_ALIGN_BYTES) {
            Ok(layout) => layout,
            // Only reachable for lengths near isize::MAX; callers pass
            // DIRECT_CHUNK_BYTES.
            Err(_) => panic!("buffer of {len} bytes is not allocatable"),
        }
    }

    fn new(len: usize) -> AlignedBuf {
        assert!(len > 0 && len.is_multiple_of(DIRECT_ALIGN_BYTES));
        let layout = Self::layout(len);
        // SAFETY: the layout's size is not zero (asserted above).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            alloc::handle_alloc_error(layout)
        };
        AlignedBuf { ptr, len }
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` initialised (zeroed at allocation)
        // bytes owned by `self`, borrowed immutably here.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, borrowed mutably through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this same layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

/// Opens `path` a second time with `O_DIRECT` (for reading, or writing),
/// or `None` where the filesystem or the system does not allow it.
#[cfg(target_os = "linux")]
fn open_direct(path: &Path, write: bool) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    if write {
        options.write(true);
    } else {
        options.read(true);
    }
    match options.custom_flags(libc::O_DIRECT).open(path) {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::debug!(file = %path.display(), "no direct I/O, using the page cache: {e}");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path, _write: bool) -> Option<File> {
    None
}

/// Whether a direct read or write failed because the filesystem (or the
/// alignment it wants) does not take it, rather than for a real I/O error.
fn refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

fn round_up(len: usize) -> usize {
    len.div_ceil(DIRECT_ALIGN_BYTES) * DIRECT_ALIGN_BYTES
}

/// Writes a new file from its first byte on, in [`DIRECT_CHUNK_BYTES`]
/// pieces. Bytes reach the file as chunks fill and at [`Self::finish`];
/// `flush` does nothing.
pub struct DirectWriter<'f> {
    /// The file, opened normally: the fallback, and for its length.
    file: &'f File,
    /// The same file opened with `O_DIRECT`, while that works.
    direct: Option<File>,
    /// Paces buffered writes (the fallback) as `crate::writeback` says.
    pace: Writeback<'f>,
    buf: AlignedBuf,
    filled: usize,
    /// The file offset of `buf`'s first byte (a multiple of the chunk).
    at: u64,
}

impl<'f> DirectWriter<'f> {
    /// For `file`, just created empty at `path`.
    pub fn new(file: &'f File, path: &Path) -> Self {
        Self::with_direct(file, open_direct(path, true))
    }

    /// For `file` through the page cache only (for tests of the fallback).
    pub fn buffered(file: &'f File) -> Self {
        Self::with_direct(file, None)
    }

    fn with_direct(file: &'f File, direct: Option<File>) -> Self {
        DirectWriter {
            file,
            direct,
            pace: Writeback::new(file, 0),
            buf: AlignedBuf::new(DIRECT_CHUNK_BYTES),
            filled: 0,
            at: 0,
        }
    }

    /// Writes what is buffered at `self.at`; `padded` is `filled` rounded up
    /// to the alignment (the zeros after `filled` go out with a direct write
    /// and are cut by `finish`).
    fn write_out(&mut self, padded: usize) -> io::Result<()> {
        if let Some(direct) = &self.direct {
            match direct.write_all_at(&self.buf.as_slice()[..padded], self.at) {
                Ok(()) => return Ok(()),
                Err(e) if refused(&e) => {
                    tracing::debug!("direct write refused, using the page cache: {e}");
                    self.direct = None;
                }
                Err(e) => return Err(e),
            }
        }
        self.file
            .write_all_at(&self.buf.as_slice()[..self.filled], self.at)?;
        self.pace.written_to(self.at + self.filled as u64);
        Ok(())
    }

    /// Writes out the rest and cuts the file to exactly the bytes written;
    /// returns that length. Not durable until the caller syncs the file.
    pub fn finish(mut self) -> io::Result<u64> {
        let end = self.at + self.filled as u64;
        if self.filled > 0 {
            let padded = round_up(self.filled);
            self.buf.as_mut_slice()[self.filled..padded].fill(0);
            self.write_out(padded)?;
        }
        self.file.set_len(end)?;
        Ok(end)
    }
}

impl Write for DirectWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.buf.len - self.filled);
        self.buf.as_mut_slice()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        if self.filled == self.buf.len {
            self.write_out(self.filled)?;
            self.at += self.filled as u64;
            self.filled = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a file from its first byte on, [`DIRECT_CHUNK_BYTES`] at a time.
pub struct DirectReader {
    /// The file, opened normally: the fallback, and for its length.
    file: File,
    /// The same file opened with `O_DIRECT`, while that works.
    direct: Option<File>,
    buf: AlignedBuf,
    pos: usize,
    filled: usize,
    /// The file offset of the next chunk to read.
    at: u64,
}

impl DirectReader {
    pub fn open(path: &Path) -> io::Result<DirectReader> {
        let file = File::open(path)?;
        Ok(Self::with_direct(file, open_direct(path, false)))
    }

    /// `file` through the page cache only (for tests of the fallback).
    pub fn buffered(file: File) -> DirectReader {
        Self::with_direct(file, None)
    }

    fn with_direct(file: File, direct: Option<File>) -> DirectReader {
        DirectReader {
            file,
            direct,
            buf: AlignedBuf::new(DIRECT_CHUNK_BYTES),
            pos: 0,
            filled: 0,
            at: 0,
        }
    }

    /// The file's length now.
    pub fn file_len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Reads the next chunk into the buffer; 0 at the end of the file.
    fn read_chunk(&mut self) -> io::Result<usize> {
        loop {
            // Only a short read (the file's end) leaves `at` unaligned, and
            // a direct read there would only be refused: the rest, if the
            // file has grown since, comes through the page cache.
            let direct = match &self.direct {
                Some(direct) if self.at.is_multiple_of(DIRECT_ALIGN_BYTES as u64) => Some(direct),
                _ => None,
            };
            let result = match direct {
                Some(direct) => direct.read_at(self.buf.as_mut_slice(), self.at),
                None => self.file.read_at(self.buf.as_mut_slice(), self.at),
            };
            match result {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The filesystem does not take direct reads: go on through
                // the page cache.
                Err(e) if direct.is_some() && refused(&e) => {
                    tracing::debug!("direct read refused, using the page cache: {e}");
                    self.direct = None;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl BufRead for DirectReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            self.filled = self.read_chunk()?;
            self.pos = 0;
            self.at += self.filled as u64;
        }
        Ok(&self.buf.as_slice()[self.pos..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

impl Read for DirectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ at every offset, in writes of uneven sizes.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
    }

    fn write_in_pieces(w: &mut DirectWriter<'_>, bytes: &[u8]) {
        let mut seed = 11u32;
        let mut at = 0;
        while at < bytes.len() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = ((seed >> 8) as usize % 700_000 + 1).min(bytes.len() - at);
            w.write_all(&bytes[at..at + len]).expect("write");
            at += len;
        }
    }

    /// Directories on the disk the tests run from (the target directory),
    /// not /tmp, which may be a tmpfs that takes no direct I/O.
    fn disk_dir() -> tempfile::TempDir {
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe.parent().expect("its directory");
        tempfile::tempdir_in(dir).expect("tempdir")
    }

    /// Whatever the length (empty, under one block, whole chunks, a ragged
    /// tail), direct or through the cache, the file holds exactly the bytes
    /// written and reads back the same both ways.
    #[test]
    fn files_hold_exactly_what_was_written_and_read_back_the_same() {
        let dir = disk_dir();
        let lens = [
            0,
            1,
            DIRECT_ALIGN_BYTES - 1,
            DIRECT_ALIGN_BYTES,
            DIRECT_CHUNK_BYTES,
            2 * DIRECT_CHUNK_BYTES + 12_345,
        ];
        for (i, &len) in lens.iter().enumerate() {
            let bytes = pattern(len);
            for direct in [true, false] {
                let path = dir.path().join(format!("file-{i}-{direct}"));
                let file = File::create_new(&path).expect("create");
                let mut w = if direct {
                    DirectWriter::new(&file, &path)
                } else {
                    DirectWriter::buffered(&file)
                };
                write_in_pieces(&mut w, &bytes);
                assert_eq!(w.finish().expect("finish"), len as u64);
                file.sync_all().expect("sync");
                drop(file);
                assert!(std::fs::read(&path).expect("read") == bytes, "len {len}");

                let mut r = DirectReader::open(&path).expect("open");
                assert_eq!(r.file_len().expect("len"), len as u64);
                let mut back = Vec::new();
                r.read_to_end(&mut back).expect("read direct");
                assert!(back == bytes, "len {len} read back directly");
                let mut r = DirectReader::buffered(File::open(&path).expect("open"));
                let mut back = Vec::new();
                r.read_to_end(&mut back).expect("read buffered");
                assert!(back == bytes, "len {len} read back through the cache");
            }
        }
    }

    /// Reads that stop part-way (as a header is read before the rest) pick
    /// up where they stopped.
    #[test]
    fn a_reader_continues_after_partial_reads() {
        let dir = disk_dir();
        let path = dir.path().join("file");
        let bytes = pattern(DIRECT_CHUNK_BYTES + 5_000);
        std::fs::write(&path, &bytes).expect("write");
        let mut r = DirectReader::open(&path).expect("open");
        let mut head = [0u8; 29];
        r.read_exact(&mut head).expect("head");
        assert_eq!(head[..], bytes[..29]);
        let mut middle = vec![0u8; DIRECT_CHUNK_BYTES];
        r.read_exact(&mut middle).expect("middle");
        assert!(middle[..] == bytes[29..29 + DIRECT_CHUNK_BYTES]);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("rest");
        assert!(rest[..] == bytes[29 + DIRECT_CHUNK_BYTES..]);
    }
}
