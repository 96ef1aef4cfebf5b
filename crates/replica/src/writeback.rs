//! Writing a big file out to disk while it is written, not all at its
//! fsync.
//!
//! Why: a snapshot of a million znodes is a couple of hundred megabytes,
//! written in a second or two. Left to the page cache, it sat dirty until
//! the final fsync (or the kernel's background writeback) pushed it all to
//! the disk at once, and every WAL fdatasync issued meanwhile queued behind
//! that burst: under a create load the writes' p99.9 was 45-50 ms with
//! snapshots and 7 ms without (docs/PERFORMANCE.md). Handing each few
//! megabytes to the disk as soon as they are written, and waiting for the
//! previous few before going on, keeps at most two chunks queued ahead of
//! the WAL, paces the snapshot writer to the disk, and leaves the final
//! fsync little to do.
//!
//! Snapshots are now written around the cache (`crate::direct_io`), whose
//! synchronous writes pace themselves; this stays for the filesystems that
//! refuse direct I/O.
//!
//! This is only pacing: durability still comes from the caller's fsync, so
//! a failure here is logged and ignored. Linux only (`sync_file_range`);
//! elsewhere it does nothing.

use std::fs::File;
use std::io;

/// Bytes handed to the disk at a time.
pub const WRITEBACK_CHUNK_BYTES: u64 = 2 << 20;

/// Paces the writing of one file (see the module doc).
pub struct Writeback<'f> {
    file: &'f File,
    /// Everything before this offset has been handed to the disk.
    started_to: u64,
    /// Set after a failure: stop trying.
    failed: bool,
}

impl<'f> Writeback<'f> {
    /// For `file`, whose bytes before `from` were written already (and
    /// are left to the final fsync).
    pub fn new(file: &'f File, from: u64) -> Self {
        Writeback {
            file,
            started_to: from,
            failed: false,
        }
    }

    /// The file now holds `end` bytes: hands each whole chunk not handed
    /// yet to the disk, after waiting for the chunk before it.
    pub fn written_to(&mut self, end: u64) {
        while !self.failed && end - self.started_to.min(end) >= WRITEBACK_CHUNK_BYTES {
            let chunk = self.started_to;
            if let Err(e) = start_and_wait_previous(self.file, chunk) {
                tracing::debug!("pacing a snapshot's writeback: {e}");
                self.failed = true;
            }
            self.started_to = chunk + WRITEBACK_CHUNK_BYTES;
        }
    }
}

/// Starts writing out the chunk at `chunk`, then waits until the chunk
/// before it is on the disk.
#[cfg(target_os = "linux")]
fn start_and_wait_previous(file: &File, chunk: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let range = |flags, offset: u64| {
        let (Ok(offset), Ok(len)) = (
            libc::off64_t::try_from(offset),
            libc::off64_t::try_from(WRITEBACK_CHUNK_BYTES),
        ) else {
            return Err(io::Error::other("offset out of range"));
        };
        // SAFETY: `fd` is an open file descriptor borrowed from `file` for
        // the duration of the call; the call reads no memory of ours.
        match unsafe { libc::sync_file_range(fd, offset, len, flags) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    };
    range(libc::SYNC_FILE_RANGE_WRITE, chunk)?;
    if let Some(previous) = chunk.checked_sub(WRITEBACK_CHUNK_BYTES) {
        range(
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            previous,
        )?;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn start_and_wait_previous(_file: &File, _chunk: u64) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes land as written, whatever the write sizes, and every whole
    /// chunk after the starting offset is handed to the disk.
    #[test]
    fn paced_writes_keep_the_bytes_and_hand_over_whole_chunks() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paced");
        let file = File::create(&path).unwrap();
        let header = b"header";
        file.write_all_at(header, 0).unwrap();
        let mut expected = header.to_vec();
        let mut pace = Writeback::new(&file, header.len() as u64);
        let mut seed = 7u32;
        while expected.len() < 5 * WRITEBACK_CHUNK_BYTES as usize + 12_345 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = (seed >> 8) as usize % 300_000 + 1;
            let piece: Vec<u8> = (0..len).map(|i| (i as u32 ^ seed) as u8).collect();
            file.write_all_at(&piece, expected.len() as u64).unwrap();
            expected.extend_from_slice(&piece);
            pace.written_to(expected.len() as u64);
        }
        assert!(!pace.failed, "sync_file_range failed on a plain file");
        assert_eq!(
            pace.started_to,
            header.len() as u64 + 5 * WRITEBACK_CHUNK_BYTES
        );
        file.sync_all().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }
}
