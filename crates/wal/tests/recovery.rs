//! What `Wal::open` does with damaged files.
//!
//! Method: write a fixture log of 40 records over several 1 KiB segments,
//! capture its files, then for each case restore the image into a fresh temp
//! dir, damage it one way, and reopen. A torn tail of the last segment must be
//! cut, reported with file and offset, and leave every earlier record intact;
//! any other damage must be refused with an error naming file and offset.

mod common;

use std::path::Path;

use common::{
    assert_holds, payload, record, record_offset, segments, small_options, write_log, DirImage,
};
use rzk_wal::layout::SEGMENT_HEADER_BYTES;
use rzk_wal::{Wal, WalError};

const LAST_INDEX: u64 = 40;

struct Fixture {
    image: DirImage,
    /// First index of each segment, in order.
    firsts: Vec<u64>,
    last_segment_name: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, LAST_INDEX, 3);
    let found = segments(dir.path());
    assert!(found.len() >= 3, "fixture needs several segments");
    let last = &found[found.len() - 1];
    assert!(
        LAST_INDEX - last.0 >= 3,
        "last segment needs several records"
    );
    Fixture {
        image: DirImage::capture(dir.path()),
        firsts: found.iter().map(|(first, _)| *first).collect(),
        last_segment_name: file_name(&last.1),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_owned()
}

fn damage(dir: &Path, name: &str, change: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(name);
    let mut bytes = std::fs::read(&path).expect("read");
    change(&mut bytes);
    std::fs::write(&path, bytes).expect("write");
}

/// Reopens and expects success with records 1..=`last` and a torn tail cut
/// at `offset` in the last segment.
fn expect_torn_tail(fixture: &Fixture, dir: &Path, last: u64, offset: u64) {
    let (wal, report) =
        Wal::open(dir, small_options()).unwrap_or_else(|e| panic!("open refused: {e}"));
    let torn = report.torn_tail.clone().expect("torn tail reported");
    assert_eq!(file_name(&torn.path), fixture.last_segment_name);
    assert_eq!(torn.offset_bytes, offset, "{report}");
    assert_holds(&wal, 1, last);
    // The cut is durable and the log continues from it.
    continues_after(wal, dir, last);
}

/// Appends the record after `last`, reopens, and expects nothing left to
/// repair and records 1..=`last + 1`.
fn continues_after(wal: Wal, dir: &Path, last: u64) {
    wal.append(&[record(last + 1)])
        .expect("append after recovery");
    wal.flush_blocking().expect("flush");
    drop(wal);
    let (wal, report) = Wal::open(dir, small_options()).expect("second reopen");
    assert_eq!(report.torn_tail, None, "nothing left to repair");
    assert_holds(&wal, 1, last + 1);
}

/// Reopens and expects a refusal naming `name` and `offset`.
fn expect_refusal(dir: &Path, name: &str, offset: u64) -> String {
    let error = match Wal::open(dir, small_options()) {
        Ok((_, report)) => panic!("damage in {name} accepted: {report}"),
        Err(error) => error,
    };
    let WalError::Corrupt {
        path, offset_bytes, ..
    } = &error
    else {
        panic!("expected Corrupt, got {error}");
    };
    assert_eq!(file_name(path), name, "{error}");
    assert_eq!(*offset_bytes, offset, "{error}");
    let message = error.to_string();
    assert!(
        message.contains(name) && message.contains(&format!("byte offset {offset}")),
        "{message}"
    );
    message
}

#[test]
fn every_cut_inside_the_last_record_is_a_torn_tail() {
    let fixture = fixture();
    let last_first = *fixture.firsts.last().expect("segments");
    let start = record_offset(last_first, LAST_INDEX);
    let end = record_offset(last_first, LAST_INDEX + 1);
    for cut in start + 1..end {
        let dir = fixture.image.restore();
        damage(dir.path(), &fixture.last_segment_name, |b| {
            b.truncate(cut as usize)
        });
        expect_torn_tail(&fixture, dir.path(), LAST_INDEX - 1, start);
    }
    // A cut exactly at a record boundary is a clean, shorter log.
    let dir = fixture.image.restore();
    damage(dir.path(), &fixture.last_segment_name, |b| {
        b.truncate(start as usize)
    });
    let (wal, report) = Wal::open(dir.path(), small_options()).expect("open");
    assert_eq!(report.torn_tail, None);
    assert_holds(&wal, 1, LAST_INDEX - 1);
}

#[test]
fn every_flipped_byte_of_the_last_record_is_a_torn_tail() {
    let fixture = fixture();
    let last_first = *fixture.firsts.last().expect("segments");
    let start = record_offset(last_first, LAST_INDEX);
    let end = record_offset(last_first, LAST_INDEX + 1);
    for at in start..end {
        let dir = fixture.image.restore();
        damage(dir.path(), &fixture.last_segment_name, |b| {
            b[at as usize] ^= 0x40
        });
        expect_torn_tail(&fixture, dir.path(), LAST_INDEX - 1, start);
    }
}

/// Reopens and expects records 1..=`last`, nothing reported as torn, and
/// appends continuing over the zeros after them.
fn expect_zero_tail_ends_the_log(dir: &Path, last: u64) {
    let (wal, report) =
        Wal::open(dir, small_options()).unwrap_or_else(|e| panic!("open refused: {e}"));
    assert_eq!(
        report.torn_tail, None,
        "zeros are not a torn record: {report}"
    );
    assert_holds(&wal, 1, last);
    continues_after(wal, dir, last);
}

#[test]
fn a_zero_filled_tail_ends_the_log() {
    let fixture = fixture();
    let last_first = *fixture.firsts.last().expect("segments");
    let start = record_offset(last_first, LAST_INDEX);
    let end = record_offset(last_first, LAST_INDEX + 1);
    // The last record's data never reached the disk, at any point within it:
    // from its first byte that is only zeros (blocks allocated, or written
    // ahead by preallocation), the end of the log; from inside it, a torn
    // record cut at its start.
    for from in start..end {
        let dir = fixture.image.restore();
        damage(dir.path(), &fixture.last_segment_name, |b| {
            b[from as usize..].fill(0)
        });
        if from == start {
            expect_zero_tail_ends_the_log(dir.path(), LAST_INDEX - 1);
        } else {
            expect_torn_tail(&fixture, dir.path(), LAST_INDEX - 1, start);
        }
    }
    // Zeros past the last record (the file grew, or was preallocated).
    let dir = fixture.image.restore();
    damage(dir.path(), &fixture.last_segment_name, |b| {
        b.extend_from_slice(&[0u8; 4096])
    });
    expect_zero_tail_ends_the_log(dir.path(), LAST_INDEX);
    // Garbage that is not a record after the last one.
    let dir = fixture.image.restore();
    damage(dir.path(), &fixture.last_segment_name, |b| {
        b.extend_from_slice(&[0xA5; 100])
    });
    expect_torn_tail(&fixture, dir.path(), LAST_INDEX, end);
    // Zeros and then garbage: torn from the end of the last record.
    let dir = fixture.image.restore();
    damage(dir.path(), &fixture.last_segment_name, |b| {
        b.extend_from_slice(&[0u8; 512]);
        b.extend_from_slice(&[0xA5; 100]);
    });
    expect_torn_tail(&fixture, dir.path(), LAST_INDEX, end);
}

#[test]
fn a_torn_header_of_a_new_last_segment_is_rewritten() {
    let fixture = fixture();
    let next_first = LAST_INDEX + 1;
    let name = rzk_wal::layout::segment_file_name(next_first);
    for len in 0..SEGMENT_HEADER_BYTES {
        // A rollover created the file, then the crash came before its header was whole.
        let dir = fixture.image.restore();
        let mut header = Vec::new();
        {
            let probe = tempfile::tempdir().expect("tempdir");
            let (wal, _) = Wal::open(probe.path(), small_options()).expect("open");
            wal.purge_upto(next_first - 1)
                .expect("creates an empty segment");
            drop(wal);
            header.extend(std::fs::read(probe.path().join(&name)).expect("read"));
        }
        header.truncate(len);
        std::fs::write(dir.path().join(&name), &header).expect("write");
        let (wal, report) =
            Wal::open(dir.path(), small_options()).unwrap_or_else(|e| panic!("refused: {e}"));
        let torn = report.torn_tail.expect("torn header reported");
        assert_eq!(
            (file_name(&torn.path), torn.offset_bytes),
            (name.clone(), 0)
        );
        assert_holds(&wal, 1, LAST_INDEX);
        wal.append(&[record(next_first)]).expect("append");
        wal.flush_blocking().expect("flush");
        drop(wal);
        let (wal, _) = Wal::open(dir.path(), small_options()).expect("reopen");
        assert_holds(&wal, 1, next_first);
    }
}

#[test]
fn damage_before_the_last_record_of_the_last_segment_is_refused() {
    let fixture = fixture();
    let last_first = *fixture.firsts.last().expect("segments");
    let last_start = record_offset(last_first, LAST_INDEX);
    let mut messages = 0;
    for index in last_first..LAST_INDEX {
        let start = record_offset(last_first, index);
        let end = record_offset(last_first, index + 1);
        for at in start..end {
            let dir = fixture.image.restore();
            damage(dir.path(), &fixture.last_segment_name, |b| {
                b[at as usize] ^= 0x40
            });
            expect_refusal(dir.path(), &fixture.last_segment_name, start);
            messages += 1;
        }
    }
    assert!(messages > 0 && last_start > 0);
    // A zeroed region followed by an intact record is damage too.
    let dir = fixture.image.restore();
    let start = record_offset(last_first, last_first);
    let end = record_offset(last_first, last_first + 1);
    damage(dir.path(), &fixture.last_segment_name, |b| {
        b[start as usize..end as usize].fill(0)
    });
    let message = expect_refusal(dir.path(), &fixture.last_segment_name, start);
    assert!(message.contains("intact record"), "{message}");
}

#[test]
fn any_damage_in_an_earlier_segment_is_refused() {
    let fixture = fixture();
    let dir = fixture.image.restore();
    let found = segments(dir.path());
    let (first_index, first_path) = &found[0];
    let name = file_name(first_path);
    let len = std::fs::metadata(first_path).expect("stat").len();
    for at in 0..len {
        let dir = fixture.image.restore();
        damage(dir.path(), &name, |b| b[at as usize] ^= 0x08);
        // The refusal points at the header, or at the start of the damaged record.
        let expected = if at < SEGMENT_HEADER_BYTES as u64 {
            0
        } else {
            let mut index = *first_index;
            while record_offset(*first_index, index + 1) <= at {
                index += 1;
            }
            record_offset(*first_index, index)
        };
        expect_refusal(dir.path(), &name, expected);
    }
    // Cut short, or with zeros where its end should be.
    let dir = fixture.image.restore();
    damage(dir.path(), &name, |b| b.truncate(b.len() - 1));
    let last_in_first = found[1].0 - 1;
    expect_refusal(
        dir.path(),
        &name,
        record_offset(*first_index, last_in_first),
    );
    let dir = fixture.image.restore();
    damage(dir.path(), &name, |b| {
        let n = b.len();
        b[n - 5..].fill(0)
    });
    expect_refusal(
        dir.path(),
        &name,
        record_offset(*first_index, last_in_first),
    );
}

#[test]
fn gaps_and_misnamed_segments_are_refused() {
    let fixture = fixture();
    // A missing middle segment.
    let dir = fixture.image.restore();
    let found = segments(dir.path());
    std::fs::remove_file(&found[1].1).expect("remove");
    let message = expect_refusal(dir.path(), &file_name(&found[2].1), 0);
    assert!(message.contains("gap"), "{message}");
    // A segment renamed to a different first index.
    let dir = fixture.image.restore();
    let found = segments(dir.path());
    let (first, path) = &found[found.len() - 1];
    let renamed = rzk_wal::layout::segment_file_name(first + 100);
    std::fs::rename(path, dir.path().join(&renamed)).expect("rename");
    expect_refusal(dir.path(), &renamed, 0);
    // The first segment's header naming another index.
    let dir = fixture.image.restore();
    let (first, path) = &segments(dir.path())[0];
    let name = file_name(path);
    let other = rzk_wal::layout::segment_file_name(first + 1);
    std::fs::rename(path, dir.path().join(&other)).expect("rename");
    let message = expect_refusal(dir.path(), &other, 0);
    assert!(message.contains("file name"), "{message}");
    assert_ne!(name, other);
}

#[test]
fn a_damaged_meta_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    wal.save_meta("vote", b"term=7").expect("save");
    drop(wal);
    damage(dir.path(), "vote.meta", |b| {
        let n = b.len();
        b[n - 1] ^= 1
    });
    let error = Wal::open(dir.path(), small_options()).expect_err("damaged vote accepted");
    assert!(
        matches!(&error, WalError::Corrupt { path, .. } if path.ends_with("vote.meta")),
        "{error}"
    );
}

#[test]
fn the_report_describes_what_was_found() {
    let fixture = fixture();
    let dir = fixture.image.restore();
    damage(dir.path(), &fixture.last_segment_name, |b| {
        b.truncate(b.len() - 3)
    });
    let (_, report) = Wal::open(dir.path(), small_options()).expect("open");
    assert_eq!(report.segment_count, fixture.firsts.len());
    assert_eq!(report.record_count, LAST_INDEX - 1);
    assert_eq!(
        (report.first_index, report.last_index),
        (Some(1), Some(LAST_INDEX - 1))
    );
    let torn = report.torn_tail.clone().expect("torn");
    assert_eq!(
        torn.dropped_bytes,
        (24 + payload(LAST_INDEX).len() - 3) as u64
    );
    let line = report.to_string();
    assert!(
        line.contains("truncated a torn tail") && line.contains(&fixture.last_segment_name),
        "{line}"
    );
}
