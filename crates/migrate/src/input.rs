//! Reading jute fields from a file, streaming, with the byte offset of every
//! field known for error messages and the Adler-32 of everything read kept
//! for ZooKeeper's snapshot seal.
//!
//! Why not `rzk_proto::jute::Reader` for whole files: that reader works over
//! a slice, and a ZooKeeper snapshot can be larger than memory should hold
//! twice. Records small enough to buffer (a transaction log record) are
//! read here as one buffer and decoded with `rzk_proto::jute::Reader`.
//!
//! Every length is checked against the bytes left in the file before
//! anything is allocated, so a damaged length costs an error, not memory.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::adler32::Adler32;
use crate::error::{MigrateError, Result};

/// Read buffer size: large sequential reads.
const READ_BUFFER_BYTES: usize = 256 * 1024;

pub struct FileInput {
    path: PathBuf,
    inner: BufReader<File>,
    len: u64,
    offset: u64,
    adler: Adler32,
}

impl FileInput {
    pub fn open(path: &Path) -> Result<FileInput> {
        let file = File::open(path).map_err(|e| MigrateError::io(path, e))?;
        let len = file
            .metadata()
            .map_err(|e| MigrateError::io(path, e))?
            .len();
        Ok(FileInput {
            path: path.to_path_buf(),
            inner: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            len,
            offset: 0,
            adler: Adler32::default(),
        })
    }

    /// The offset of the next byte to be read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.offset)
    }

    /// The Adler-32 of every byte read so far.
    pub fn checksum(&self) -> i64 {
        self.adler.value()
    }

    /// An error about the contents at `offset`.
    pub fn error_at(&self, offset: u64, what: impl Into<String>) -> MigrateError {
        MigrateError::at(&self.path, offset, what)
    }

    /// Fills `buf` or fails with "truncated" at the field's offset.
    pub fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let start = self.offset;
        if (buf.len() as u64) > self.remaining() {
            return Err(self.error_at(
                start,
                format!(
                    "truncated: {what} needs {} bytes, the file ends after {}",
                    buf.len(),
                    self.remaining()
                ),
            ));
        }
        self.inner
            .read_exact(buf)
            .map_err(|e| self.error_at(start, format!("reading {what}: {e}")))?;
        self.adler.update(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        let mut b = [0u8; 1];
        self.exact(&mut b, what)?;
        Ok(b[0])
    }

    pub fn i32(&mut self, what: &str) -> Result<i32> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(i32::from_be_bytes(b))
    }

    pub fn i64(&mut self, what: &str) -> Result<i64> {
        let mut b = [0u8; 8];
        self.exact(&mut b, what)?;
        Ok(i64::from_be_bytes(b))
    }

    /// A length prefix for `count` items of at least `item_min_bytes` each:
    /// `None` for jute's null (-1); an error for other negatives and for
    /// counts the rest of the file cannot hold.
    pub fn count(&mut self, item_min_bytes: u64, what: &str) -> Result<Option<usize>> {
        let at = self.offset;
        let n = self.i32(what)?;
        if n == -1 {
            return Ok(None);
        }
        let fits = u64::try_from(n)
            .ok()
            .filter(|&n| n.saturating_mul(item_min_bytes.max(1)) <= self.remaining());
        match fits {
            Some(n) => Ok(Some(n as usize)),
            None => Err(self.error_at(
                at,
                format!(
                    "bad {what} length {n} ({} bytes left in the file)",
                    self.remaining()
                ),
            )),
        }
    }

    /// A jute buffer (null reads as empty, as ZooKeeper treats null data).
    pub fn buffer(&mut self, what: &str) -> Result<Vec<u8>> {
        let Some(n) = self.count(1, what)? else {
            return Ok(Vec::new());
        };
        let mut v = vec![0u8; n];
        self.exact(&mut v, what)?;
        Ok(v)
    }

    /// A jute string; null is an error (paths, schemes and ids are never null).
    pub fn string(&mut self, what: &str) -> Result<String> {
        let at = self.offset;
        let Some(n) = self.count(1, what)? else {
            return Err(self.error_at(at, format!("{what} is null")));
        };
        let mut v = vec![0u8; n];
        self.exact(&mut v, what)?;
        String::from_utf8(v).map_err(|_| self.error_at(at, format!("{what} is not UTF-8")))
    }
}
