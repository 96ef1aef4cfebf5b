//! Recovery: what `Wal::open` finds on disk and what it does about it.
//!
//! Every segment is read and every record's checksum verified. The rule that
//! separates a crash from damage:
//!
//! * A write that was never fdatasynced was never acknowledged, and a crash can
//!   leave it in any state: missing, cut short, zero-filled (blocks allocated
//!   but data never written) or half old, half new. Such a *torn tail* can only
//!   be at the end of the last segment, because a segment is fdatasynced before
//!   the next one is created. Recovery truncates it and says so in the
//!   [`RecoveryReport`].
//! * A bad record that has an intact record after it in the same segment, or a
//!   bad record in any segment but the last, or a gap, overlap or index out of
//!   order, cannot come from a crash of this code. The records around it may
//!   have been acknowledged, so recovery refuses with [`WalError::Corrupt`],
//!   naming the file and byte offset, and drops nothing.
//!
//! "An intact record after it" means: some later offset holds a record with a
//! matching checksum and an index at or above the one expected where the damage
//! starts. Each candidate offset is first checked cheaply (length within the
//! limit and within the file, index in the plausible range) so that scanning a
//! zero-filled tail costs one pass.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::format::{
    decode_record, decode_segment_header, encode_segment_header, parse_segment_file_name,
    RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};

/// What `Wal::open` found. Meant to be logged once at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    pub dir: PathBuf,
    pub segment_count: usize,
    pub record_count: u64,
    pub first_index: Option<u64>,
    pub last_index: Option<u64>,
    pub last_term: Option<u64>,
    /// Set when the last segment ended in a torn (never acknowledged) write
    /// that was cut off.
    pub torn_tail: Option<TornTail>,
    /// Leftovers of interrupted meta writes (`*.tmp`), deleted.
    pub removed_temp_files: Vec<PathBuf>,
}

/// Where a torn tail was cut, and why the bytes there were not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// The file now ends here (or, if the header itself was torn, it was
    /// rewritten and the file ends after it).
    pub offset_bytes: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WAL {}: {} segments, {} records",
            self.dir.display(),
            self.segment_count,
            self.record_count
        )?;
        if let (Some(first), Some(last)) = (self.first_index, self.last_index) {
            write!(f, ", indexes {first}..={last}")?;
        }
        if let Some(term) = self.last_term {
            write!(f, ", last term {term}")?;
        }
        if let Some(torn) = &self.torn_tail {
            write!(
                f,
                "; truncated a torn tail of {} bytes in {} at byte offset {} ({})",
                torn.dropped_bytes,
                torn.path.display(),
                torn.offset_bytes,
                torn.reason
            )?;
        }
        if !self.removed_temp_files.is_empty() {
            write!(f, "; removed {} temp files", self.removed_temp_files.len())?;
        }
        Ok(())
    }
}

/// One segment as recovery left it: every record verified, any torn tail cut.
#[derive(Debug)]
pub(crate) struct RecoveredSegment {
    pub first_index: u64,
    pub path: PathBuf,
    pub offsets: Vec<u64>,
    pub end_offset_bytes: u64,
    /// The file's length after repair: beyond `end_offset_bytes` only zeros
    /// written ahead of the records.
    pub file_len_bytes: u64,
}

/// Scans and repairs the segments in `dir`. Meta files are not read here.
pub(crate) fn recover_segments(
    dir: &Path,
    max_payload_bytes: u32,
) -> Result<(Vec<RecoveredSegment>, RecoveryReport), WalError> {
    let (names, removed_temp_files) = list_dir(dir)?;
    let mut segments = Vec::with_capacity(names.len());
    let mut torn_tail = None;
    let mut expected_index: Option<u64> = None;
    let mut last_term: Option<u64> = None;
    for (position, (first_index, path)) in names.iter().enumerate() {
        let is_last = position + 1 == names.len();
        if let Some(expected) = expected_index {
            if *first_index != expected {
                return Err(WalError::corrupt(
                    path,
                    0,
                    format!(
                        "segment starts at index {first_index} but the previous segment \
                         ends before index {expected}: a gap or overlap between segments"
                    ),
                ));
            }
        }
        let bytes = fs::read(path).map_err(|e| WalError::io("read", path, e))?;
        let scan = scan_segment(
            path,
            *first_index,
            &bytes,
            is_last,
            last_term,
            max_payload_bytes,
        )?;
        let mut file_len_bytes = bytes.len() as u64;
        if let Some(torn) = scan.torn {
            file_len_bytes = repair_torn_tail(path, *first_index, &torn)?;
            torn_tail = Some(torn);
        }
        last_term = scan.last_term;
        let record_count = scan.offsets.len() as u64;
        expected_index = Some(
            first_index
                .checked_add(record_count)
                .ok_or_else(|| WalError::corrupt(path, 0, "record indexes overflow u64"))?,
        );
        segments.push(RecoveredSegment {
            first_index: *first_index,
            path: path.clone(),
            offsets: scan.offsets,
            end_offset_bytes: scan.end_offset_bytes,
            file_len_bytes,
        });
    }
    let record_count: u64 = segments.iter().map(|s| s.offsets.len() as u64).sum();
    let first_index = segments
        .first()
        .map(|s| s.first_index)
        .filter(|_| record_count > 0);
    let last_index = expected_index
        .filter(|_| record_count > 0)
        .map(|next| next - 1);
    let report = RecoveryReport {
        dir: dir.to_path_buf(),
        segment_count: segments.len(),
        record_count,
        first_index,
        last_index,
        last_term,
        torn_tail,
        removed_temp_files,
    };
    Ok((segments, report))
}

type SegmentNames = Vec<(u64, PathBuf)>;

/// Lists segment files in index order and deletes `*.tmp` leftovers.
/// Other files (meta, the lock file, anything an operator put there) are left alone.
fn list_dir(dir: &Path) -> Result<(SegmentNames, Vec<PathBuf>), WalError> {
    let mut segments = Vec::new();
    let mut removed = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| WalError::io("read_dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io("read_dir", dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some(first_index) = parse_segment_file_name(&name) {
            segments.push((first_index, path));
        } else if name.ends_with(".tmp") {
            fs::remove_file(&path).map_err(|e| WalError::io("remove", &path, e))?;
            removed.push(path);
        }
    }
    segments.sort();
    Ok((segments, removed))
}

#[derive(Debug)]
struct SegmentScan {
    offsets: Vec<u64>,
    end_offset_bytes: u64,
    last_term: Option<u64>,
    torn: Option<TornTail>,
}

/// Verifies one segment's header and records.
fn scan_segment(
    path: &Path,
    name_index: u64,
    bytes: &[u8],
    is_last: bool,
    mut last_term: Option<u64>,
    max_payload_bytes: u32,
) -> Result<SegmentScan, WalError> {
    let file_len = bytes.len() as u64;
    match decode_segment_header(bytes) {
        Ok(header_index) if header_index != name_index => {
            return Err(WalError::corrupt(
                path,
                0,
                format!(
                    "the header says the first index is {header_index} but the file name says {name_index}"
                ),
            ));
        }
        Ok(_) => {}
        Err(reason) => {
            let torn = torn_or_refuse(
                path,
                bytes,
                0,
                name_index,
                reason,
                is_last,
                max_payload_bytes,
            )?;
            return Ok(SegmentScan {
                offsets: Vec::new(),
                end_offset_bytes: SEGMENT_HEADER_BYTES as u64,
                last_term,
                torn: Some(torn),
            });
        }
    }
    let mut offsets = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    let mut expected_index = name_index;
    while at < bytes.len() {
        let record = match decode_record(bytes, at, max_payload_bytes) {
            Ok(record) => record,
            // Zeros to the end of the file: the preallocated tail (see
            // `Segment::preallocate`), or blocks a crash left allocated but
            // never written. Neither held a record; the log ends here.
            Err(_) if bytes[at..].iter().all(|b| *b == 0) => {
                return Ok(SegmentScan {
                    offsets,
                    end_offset_bytes: at as u64,
                    last_term,
                    torn: None,
                });
            }
            Err(bad) => {
                let torn = torn_or_refuse(
                    path,
                    bytes,
                    at,
                    expected_index,
                    bad.to_string(),
                    is_last,
                    max_payload_bytes,
                )?;
                return Ok(SegmentScan {
                    offsets,
                    end_offset_bytes: at as u64,
                    last_term,
                    torn: Some(torn),
                });
            }
        };
        if record.index != expected_index {
            return Err(WalError::corrupt(
                path,
                at as u64,
                format!(
                    "intact record has index {} where index {expected_index} belongs",
                    record.index
                ),
            ));
        }
        if let Some(previous) = last_term.filter(|previous| record.term < *previous) {
            return Err(WalError::corrupt(
                path,
                at as u64,
                format!(
                    "record {} has term {} after a record with term {previous}: terms never decrease",
                    record.index, record.term
                ),
            ));
        }
        offsets.push(at as u64);
        last_term = Some(record.term);
        expected_index += 1;
        at = record.end;
    }
    debug_assert_eq!(at as u64, file_len);
    Ok(SegmentScan {
        offsets,
        end_offset_bytes: file_len,
        last_term,
        torn: None,
    })
}

/// Decides what bad bytes at `at` are: a torn tail (returned) or damage (error).
fn torn_or_refuse(
    path: &Path,
    bytes: &[u8],
    at: usize,
    expected_index: u64,
    reason: String,
    is_last: bool,
    max_payload_bytes: u32,
) -> Result<TornTail, WalError> {
    if !is_last {
        return Err(WalError::corrupt(
            path,
            at as u64,
            format!("{reason}, in a segment that is not the last one"),
        ));
    }
    if let Some((offset, index)) =
        find_intact_record(bytes, at + 1, expected_index, max_payload_bytes)
    {
        return Err(WalError::corrupt(
            path,
            at as u64,
            format!(
                "{reason}, yet an intact record (index {index}) follows at byte offset {offset}: \
                 this is damage inside the log, not a torn tail"
            ),
        ));
    }
    Ok(TornTail {
        path: path.to_path_buf(),
        offset_bytes: at as u64,
        dropped_bytes: (bytes.len() - at) as u64,
        reason,
    })
}

/// The first offset at or after `from` that holds an intact record with an
/// index at or above `min_index`, if any.
fn find_intact_record(
    bytes: &[u8],
    from: usize,
    min_index: u64,
    max_payload_bytes: u32,
) -> Option<(usize, u64)> {
    let last_start = bytes.len().checked_sub(RECORD_HEADER_BYTES)?;
    // No more records fit after `from` than one per header's worth of bytes.
    let max_index = min_index.saturating_add((bytes.len() / RECORD_HEADER_BYTES) as u64);
    for at in from..=last_start {
        let header = &bytes[at..at + RECORD_HEADER_BYTES];
        let mut word = [0u8; 8];
        word.copy_from_slice(&header[8..16]);
        let index = u64::from_le_bytes(word);
        if index < min_index || index > max_index {
            continue;
        }
        if let Ok(record) = decode_record(bytes, at, max_payload_bytes) {
            return Some((at, record.index));
        }
    }
    None
}

/// Cuts the file at the torn offset and makes the cut durable before anything
/// new is appended after it. A torn header is rewritten whole. Returns the
/// file's new length.
fn repair_torn_tail(path: &Path, first_index: u64, torn: &TornTail) -> Result<u64, WalError> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| WalError::io("open", path, e))?;
    let len = if torn.offset_bytes < SEGMENT_HEADER_BYTES as u64 {
        file.set_len(0)
            .map_err(|e| WalError::io("truncate", path, e))?;
        file.write_all(&encode_segment_header(first_index))
            .map_err(|e| WalError::io("write", path, e))?;
        SEGMENT_HEADER_BYTES as u64
    } else {
        file.set_len(torn.offset_bytes)
            .map_err(|e| WalError::io("truncate", path, e))?;
        torn.offset_bytes
    };
    file.sync_all()
        .map_err(|e| WalError::io("fsync", path, e))?;
    Ok(len)
}
