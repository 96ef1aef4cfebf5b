//! The one error type of the WAL.
//!
//! Errors are values a caller can match on, never strings: the replica layer
//! decides whether to retry, stop the server or report misuse. Every variant
//! that concerns a file names the file, and corruption also names the byte
//! offset, so that an operator reading the log line knows exactly where to look.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in the WAL.
///
/// `Clone` because one failed fdatasync fails every flush waiting on it: the
/// flusher hands the same error to each of them (hence `Arc<io::Error>`).
#[derive(Debug, Clone)]
pub enum WalError {
    /// A system call failed. `op` says which ("fdatasync", "write", ...).
    Io {
        op: &'static str,
        path: PathBuf,
        source: Arc<io::Error>,
    },
    /// The data on disk is damaged somewhere other than an unacknowledged
    /// tail, or is inconsistent (a gap between segments, an index out of
    /// order). The WAL refuses to open rather than drop records that may have
    /// been acknowledged.
    Corrupt {
        path: PathBuf,
        offset_bytes: u64,
        detail: String,
    },
    /// Another process (or another `Wal` in this one) holds the directory.
    Locked { path: PathBuf },
    /// `append` was given a record whose index does not follow the log's last.
    NotConsecutive { expected_index: u64, index: u64 },
    /// `append` was given a record whose term is below the log's last term;
    /// a Raft log's terms never decrease.
    TermDecreased {
        index: u64,
        term: u64,
        last_term: u64,
    },
    /// A record's payload is larger than `WalOptions::max_record_payload_bytes`.
    RecordTooLarge {
        index: u64,
        payload_bytes: usize,
        max_payload_bytes: u32,
    },
    /// An earlier write or fdatasync failed. After a failed fdatasync the
    /// kernel may have dropped dirty pages, so nothing later can be trusted to
    /// be durable: the WAL stays failed until it is reopened (which runs
    /// recovery again).
    Failed { cause: Box<WalError> },
    /// The flusher thread is gone (the WAL was dropped while a flush waited).
    Closed,
    /// `WalOptions` failed validation.
    InvalidOptions { detail: String },
    /// A meta key is empty, too long, or has characters other than
    /// `[a-z0-9_-]` (the key becomes a file name).
    InvalidMetaKey { key: String },
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        WalError::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset_bytes: u64,
        detail: impl Into<String>,
    ) -> Self {
        WalError::Corrupt {
            path: path.into(),
            offset_bytes,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for WalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalError::Io { op, path, source } => {
                write!(f, "{op} failed on {}: {source}", path.display())
            }
            WalError::Corrupt {
                path,
                offset_bytes,
                detail,
            } => write!(
                f,
                "corrupt log data in {} at byte offset {offset_bytes}: {detail}; \
                 refusing to start rather than drop records that may have been \
                 acknowledged (restore the file, or if this server's data can be \
                 rebuilt from the ensemble, move the data log directory away)",
                path.display()
            ),
            WalError::Locked { path } => write!(
                f,
                "the data log directory {} is in use by another process (lock file held)",
                path.display()
            ),
            WalError::NotConsecutive {
                expected_index,
                index,
            } => write!(
                f,
                "append of index {index} does not follow the log: expected index {expected_index}"
            ),
            WalError::TermDecreased {
                index,
                term,
                last_term,
            } => write!(
                f,
                "append of index {index} has term {term}, below the log's last term {last_term}"
            ),
            WalError::RecordTooLarge {
                index,
                payload_bytes,
                max_payload_bytes,
            } => write!(
                f,
                "record {index} has a {payload_bytes}-byte payload, over the limit of \
                 {max_payload_bytes} bytes"
            ),
            WalError::Failed { cause } => write!(
                f,
                "the log failed earlier and accepts no more writes until reopened: {cause}"
            ),
            WalError::Closed => write!(f, "the log was closed"),
            WalError::InvalidOptions { detail } => write!(f, "invalid WAL options: {detail}"),
            WalError::InvalidMetaKey { key } => write!(
                f,
                "invalid meta key {key:?}: use 1 to 64 characters from [a-z0-9_-]"
            ),
        }
    }
}

impl std::error::Error for WalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WalError::Io { source, .. } => Some(source.as_ref()),
            WalError::Failed { cause } => Some(cause.as_ref()),
            _ => None,
        }
    }
}
