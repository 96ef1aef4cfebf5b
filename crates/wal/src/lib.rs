//! rzk's durable log: a segmented, append-only write-ahead log of
//! `(index, term, payload)` records with group-committed fdatasync.
//!
//! The replica layer stores openraft's log entries here (one record per
//! entry) and its vote and committed log id in the meta store. This crate
//! knows nothing of openraft, of ZooKeeper or of async runtimes beyond a
//! oneshot channel; the adapter on top maps one onto the other.
//!
//! Modules, one job each:
//! - `format`: segment names, the segment header and record framing. Pure.
//! - `recovery`: reads every segment at open; truncates a torn tail, refuses
//!   any other damage with the file and byte offset.
//! - `segment`: one open segment file and the offset of each record in it.
//! - `wal`: the [`Wal`] handle: append, flush, read, truncate, purge.
//! - `flusher`: the group-commit thread: one fdatasync for every flush that
//!   queued while the previous one ran.
//! - `meta`: small values replaced atomically (temp file, fsync, rename,
//!   directory fsync).
//! - `error`: [`WalError`].
//!
//! The promise: a flush completes only after every record appended before it
//! is fdatasynced (and the directory entry of any new segment fsynced), so an
//! acknowledged record survives kill -9 and power loss. What a crash can
//! leave unfinished is only ever the unacknowledged tail of the last segment,
//! and recovery removes exactly that.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rzk_wal::WalError> {
//! use rzk_wal::{Record, Wal, WalOptions};
//! let (wal, report) = Wal::open("/var/lib/rzk/log", WalOptions::default())?;
//! println!("{report}");
//! let index = wal.next_index().unwrap_or(1);
//! wal.append(&[Record { index, term: 1, payload: b"create /a".to_vec() }])?;
//! wal.flush().await?; // durable now
//! # Ok(())
//! # }
//! ```

mod error;
mod flusher;
mod format;
mod meta;
mod recovery;
mod segment;
mod wal;

pub use error::WalError;
pub use meta::{MAX_META_KEY_BYTES, MAX_META_PAYLOAD_BYTES};
pub use recovery::{RecoveryReport, TornTail};
pub use wal::{FlushCallback, FlushFuture, Record, Wal, WalOptions, WalStats};

/// Segment file layout facts that tests and tools need to locate records.
pub mod layout {
    pub use crate::format::{RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES};

    /// The file name of the segment whose first record has `first_index`.
    pub fn segment_file_name(first_index: u64) -> String {
        crate::format::segment_file_name(first_index)
    }
}

// The replica layer shares one `Wal` between openraft's log store and its
// log readers, across tasks and threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Wal>();
    assert_send_sync::<WalError>();
};
