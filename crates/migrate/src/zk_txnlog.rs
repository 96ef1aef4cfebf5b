//! Reading a ZooKeeper transaction log file (`log.<hex first zxid>`,
//! written by `FileTxnLog`).
//!
//! ```text
//! FileHeader  magic:int ("ZKLG")  version:int  dbid:long
//! records     checksum:long (Adler-32 of the bytes)  length:int  bytes  'B' (0x42)
//! tail        zeros: ZooKeeper preallocates the file in 64 MiB steps
//! ```
//!
//! A record's bytes are a `TxnHeader`, the body and (3.6+) an optional
//! digest (`zk_txn`).
//!
//! Where the log ends, as ZooKeeper's `FileTxnIterator` decides it: a
//! record length of 0 (the preallocated zeros) or the end of the file is a
//! clean end. A record cut short (the length runs past the file, the final
//! 'B' is missing) is what a crash in the middle of a write leaves: if
//! nothing but zeros follows it, it is a *torn tail* and reading stops
//! there ([`LogEnd::Torn`]); the caller accepts that only for the newest
//! log. A checksum mismatch, an undecodable record, or a cut-short record
//! with data after it is damage, reported with the file and byte offset.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::adler32::Adler32;
use crate::error::{MigrateError, Result};
use crate::input::FileInput;
use crate::progress::Progress;
use crate::zk_txn::{decode_record, Txn, TxnHeader};

/// "ZKLG" as a big-endian int (`FileTxnLog.TXNLOG_MAGIC`).
pub const LOG_MAGIC: i32 = 0x5A4B_4C47;
/// ZooKeeper's end-of-record marker.
const END_OF_RECORD: u8 = b'B';
/// Bytes scanned at a time when checking that only zeros follow.
const SCAN_CHUNK_BYTES: usize = 64 * 1024;

/// One record and where it starts.
#[derive(Debug)]
pub struct LogRecord {
    pub offset: u64,
    pub header: TxnHeader,
    pub txn: Txn,
}

/// How a log file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// The end of the file or the preallocated zeros.
    Clean,
    /// A record cut short at `offset`, with only zeros after it.
    Torn { offset: u64, why: String },
}

/// Reads every record of the log at `path`, handing each to `apply` in
/// order, and says how the file ended.
pub fn read_log(
    path: &Path,
    progress: &mut Progress,
    mut apply: impl FnMut(LogRecord) -> Result<()>,
) -> Result<LogEnd> {
    let mut f = FileInput::open(path)?;
    if f.len() == 0 {
        // ZooKeeper deletes such a file: created, then a crash before the
        // header was written.
        return Ok(LogEnd::Clean);
    }
    let magic = f.i32("file header magic")?;
    if magic != LOG_MAGIC {
        return Err(f.error_at(
            0,
            format!("not a ZooKeeper transaction log: magic {magic:#010x}, expected {LOG_MAGIC:#010x} (\"ZKLG\")"),
        ));
    }
    f.i32("file header version")?;
    f.i64("file header dbid")?;
    let mut count = 0u64;
    loop {
        let at = f.offset();
        let bytes = match next_record(&mut f)? {
            Next::Record(bytes) => bytes,
            Next::End => return Ok(LogEnd::Clean),
            Next::Cut { why, data_after } => return torn(path, at, data_after, why),
        };
        let (header, txn) = decode_record(&bytes)
            .map_err(|why| f.error_at(at, format!("undecodable transaction: {why}")))?;
        apply(LogRecord {
            offset: at,
            header,
            txn,
        })?;
        count += 1;
        progress.update(f.offset(), count);
    }
}

enum Next {
    Record(Vec<u8>),
    End,
    /// Cut short, for this reason; anything but zeros from `data_after`
    /// on means the damage is not a torn tail.
    Cut {
        why: String,
        data_after: u64,
    },
}

/// One record's checked bytes (`FileTxnIterator.next`).
fn next_record(f: &mut FileInput) -> Result<Next> {
    let at = f.offset();
    if f.remaining() == 0 {
        return Ok(Next::End);
    }
    if f.remaining() < 12 {
        return Ok(Next::Cut {
            why: "the record header is cut short".into(),
            data_after: f.len(),
        });
    }
    let stored = f.i64("record checksum")?;
    let len = f.i32("record length")?;
    if len == 0 || len == -1 {
        // Preallocated zeros (and jute's null): ZooKeeper's end of log.
        return Ok(Next::End);
    }
    let Ok(len) = u64::try_from(len) else {
        return Err(f.error_at(at, format!("bad record length {len}")));
    };
    if len.saturating_add(1) > f.remaining() {
        return Ok(Next::Cut {
            why: format!("the record's length {len} runs past the end of the file"),
            // ZooKeeper preallocates its logs with zeros, so a real torn
            // write leaves room for its length; a length past the end with
            // data after the record header is a damaged length.
            data_after: f.offset(),
        });
    }
    let mut bytes = vec![0u8; len as usize];
    f.exact(&mut bytes, "record")?;
    let end = f.u8("end-of-record marker")?;
    if end != END_OF_RECORD {
        return Ok(Next::Cut {
            why: format!("the end-of-record marker is {end:#04x}, not 'B'"),
            data_after: f.offset(),
        });
    }
    let computed = Adler32::of(&bytes);
    if computed != stored {
        return Err(f.error_at(
            at,
            format!(
                "record checksum mismatch: stored {stored:#x}, computed {computed:#x} (Adler-32)"
            ),
        ));
    }
    Ok(Next::Record(bytes))
}

/// A record cut short at `offset`: a torn tail if only zeros follow where
/// its bytes end (`data_after`), damage otherwise.
fn torn(path: &Path, offset: u64, data_after: u64, why: String) -> Result<LogEnd> {
    if let Some(at) = first_nonzero_after(path, data_after)? {
        return Err(MigrateError::at(
            path,
            offset,
            format!("damaged record ({why}), with more data at byte {at} after it"),
        ));
    }
    Ok(LogEnd::Torn { offset, why })
}

/// The offset of the first non-zero byte at or after `from`, if any.
fn first_nonzero_after(path: &Path, from: u64) -> Result<Option<u64>> {
    let mut file = File::open(path).map_err(|e| MigrateError::io(path, e))?;
    file.seek(SeekFrom::Start(from))
        .map_err(|e| MigrateError::io(path, e))?;
    let mut buf = vec![0u8; SCAN_CHUNK_BYTES];
    let mut pos = from;
    loop {
        let n = file.read(&mut buf).map_err(|e| MigrateError::io(path, e))?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
            return Ok(Some(pos + i as u64));
        }
        pos += n as u64;
    }
}
