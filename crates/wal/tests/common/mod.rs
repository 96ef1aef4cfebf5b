//! Helpers shared by the integration tests: deterministic payloads, so any
//! record read back can be checked against what was written, and byte
//! offsets of records computed independently of the crate's own index.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};

use rzk_wal::layout::{segment_file_name, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use rzk_wal::{Record, Wal, WalOptions};

/// The payload of record `index`: 1 to 90 bytes that depend on the index,
/// so a record read at the wrong place or half-written never matches.
pub fn payload(index: u64) -> Vec<u8> {
    let len = 1 + (index.wrapping_mul(37) % 90) as usize;
    (0..len)
        .map(|i| (index as u8).wrapping_mul(31).wrapping_add(i as u8) | 1)
        .collect()
}

/// Term of record `index` in the fixtures: rises every 7 records.
pub fn term(index: u64) -> u64 {
    1 + index / 7
}

pub fn record(index: u64) -> Record {
    Record {
        index,
        term: term(index),
        payload: payload(index),
    }
}

pub fn small_options() -> WalOptions {
    WalOptions {
        segment_size_bytes: 1024,
        ..WalOptions::default()
    }
}

/// Opens `dir` and appends records `first..=last` in batches of `batch`,
/// flushing after each batch.
pub fn write_log(dir: &Path, options: &WalOptions, first: u64, last: u64, batch: u64) {
    let (wal, _) = Wal::open(dir, options.clone()).expect("open");
    let mut index = first;
    while index <= last {
        let end = (index + batch).min(last + 1);
        let records: Vec<Record> = (index..end).map(record).collect();
        wal.append(&records).expect("append");
        wal.flush_blocking().expect("flush");
        index = end;
    }
}

/// Segment files in `dir` in index order, with their first index.
pub fn segments(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|entry| {
            let entry = entry.expect("entry");
            let name = entry.file_name().into_string().expect("utf-8 name");
            let digits = name.strip_prefix("wal-")?.strip_suffix(".seg")?;
            Some((digits.parse().ok()?, entry.path()))
        })
        .collect();
    found.sort();
    for (first, path) in &found {
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some(segment_file_name(*first).as_str())
        );
    }
    found
}

/// Byte offset of record `index` in the segment that starts at `first`.
pub fn record_offset(first: u64, index: u64) -> u64 {
    let mut offset = SEGMENT_HEADER_BYTES as u64;
    for i in first..index {
        offset += (RECORD_HEADER_BYTES + payload(i).len()) as u64;
    }
    offset
}

/// Checks that `wal` holds exactly the fixture records `first..=last`.
pub fn assert_holds(wal: &Wal, first: u64, last: u64) {
    assert_eq!(wal.first_index(), Some(first), "first index");
    assert_eq!(wal.last_index(), Some(last), "last index");
    assert_eq!(wal.last_term(), Some(term(last)), "last term");
    let records = wal.read(first..last + 1).expect("read");
    let expected: Vec<Record> = (first..=last).map(record).collect();
    assert_eq!(records, expected);
}

/// A snapshot of every file in a directory, to restore between cases.
pub struct DirImage {
    files: Vec<(String, Vec<u8>)>,
}

impl DirImage {
    pub fn capture(dir: &Path) -> DirImage {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let name = entry.file_name().into_string().expect("utf-8 name");
            files.push((name, std::fs::read(entry.path()).expect("read")));
        }
        DirImage { files }
    }

    /// Writes the image into a new temp dir.
    pub fn restore(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, bytes) in &self.files {
            std::fs::write(dir.path().join(name), bytes).expect("write");
        }
        dir
    }
}
