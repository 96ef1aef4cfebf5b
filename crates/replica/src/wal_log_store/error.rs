//! [`WalLogStoreError`]: what can go wrong in the durable raft log, always
//! naming the log directory.
//!
//! openraft's storage traits speak `io::Error`; every failure is built as a
//! `WalLogStoreError` first and converted at the trait boundary, so the
//! message an operator reads (raft logs it when it stops) says which
//! directory, which operation and, for damage, which file and byte offset
//! (rzk-wal's own [`WalError::Corrupt`] carries those and is passed through
//! whole).

use std::fmt;
use std::io;
use std::path::PathBuf;

use rzk_wal::WalError;

/// A failure of [`super::WalLogStore`].
#[derive(Debug)]
pub enum WalLogStoreError {
    /// rzk-wal failed or refused: I/O errors name the file, corruption also
    /// the byte offset, a held lock the directory.
    Wal {
        dir: PathBuf,
        op: &'static str,
        source: WalError,
    },
    /// Bytes read back (a record or a meta value) are not what this store
    /// writes, or a record is not the entry its place in the log says.
    Corrupt {
        dir: PathBuf,
        what: String,
        detail: String,
    },
    /// Entries that a caller needs are not in the log (purged, or not yet
    /// written).
    Missing {
        dir: PathBuf,
        start: u64,
        end: u64,
        detail: String,
    },
    /// A value could not be encoded (not expected for rzk's types).
    Encode {
        dir: PathBuf,
        what: String,
        detail: String,
    },
    /// An earlier write, flush, truncate, purge or vote save failed. After a
    /// failed fdatasync nothing later can be trusted to be durable, so the
    /// store refuses every write until the log is reopened (which runs
    /// recovery again).
    Failed { dir: PathBuf, cause: String },
    /// The blocking task that ran a disk operation did not complete.
    Task { dir: PathBuf, detail: String },
}

impl WalLogStoreError {
    pub fn dir(&self) -> &PathBuf {
        match self {
            WalLogStoreError::Wal { dir, .. }
            | WalLogStoreError::Corrupt { dir, .. }
            | WalLogStoreError::Missing { dir, .. }
            | WalLogStoreError::Encode { dir, .. }
            | WalLogStoreError::Failed { dir, .. }
            | WalLogStoreError::Task { dir, .. } => dir,
        }
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            WalLogStoreError::Wal {
                source: WalError::Corrupt { .. },
                ..
            }
            | WalLogStoreError::Corrupt { .. } => io::ErrorKind::InvalidData,
            WalLogStoreError::Missing { .. } => io::ErrorKind::NotFound,
            WalLogStoreError::Wal {
                source: WalError::Locked { .. },
                ..
            } => io::ErrorKind::WouldBlock,
            _ => io::ErrorKind::Other,
        }
    }
}

impl fmt::Display for WalLogStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalLogStoreError::Wal { dir, op, source } => {
                write!(f, "raft log in {}: {op} failed: {source}", dir.display())
            }
            WalLogStoreError::Corrupt { dir, what, detail } => write!(
                f,
                "raft log in {}: {what} cannot be read back: {detail}",
                dir.display()
            ),
            WalLogStoreError::Missing {
                dir,
                start,
                end,
                detail,
            } => write!(
                f,
                "raft log in {}: entries {start}..{end} are not all in the log: {detail}",
                dir.display()
            ),
            WalLogStoreError::Encode { dir, what, detail } => write!(
                f,
                "raft log in {}: cannot encode {what}: {detail}",
                dir.display()
            ),
            WalLogStoreError::Failed { dir, cause } => write!(
                f,
                "raft log in {} failed earlier and accepts no more writes until reopened: {cause}",
                dir.display()
            ),
            WalLogStoreError::Task { dir, detail } => write!(
                f,
                "raft log in {}: disk task did not complete: {detail}",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for WalLogStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WalLogStoreError::Wal { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<WalLogStoreError> for io::Error {
    fn from(e: WalLogStoreError) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}
