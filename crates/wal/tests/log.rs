//! The WAL's API on real files with real fdatasync: append, read, flush,
//! truncate, purge, reopen, meta, locking and misuse. Each test opens a log in
//! a temp dir, does one thing, and checks the result both on the open handle
//! and after reopening, because what matters is what survives.

mod common;

use std::sync::Arc;

use common::{assert_holds, payload, record, segments, small_options, term, write_log};
use rzk_wal::layout::RECORD_HEADER_BYTES;
use rzk_wal::{Record, Wal, WalError, WalOptions};

#[test]
fn a_new_directory_opens_empty_and_accepts_any_first_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/log");
    let (wal, report) = Wal::open(&path, small_options()).expect("open");
    assert_eq!(report.record_count, 0);
    assert_eq!(report.torn_tail, None);
    assert_eq!(
        (wal.first_index(), wal.last_index(), wal.last_term()),
        (None, None, None)
    );
    assert_eq!(wal.next_index(), None);
    wal.append(&[record(0)])
        .expect("openraft starts at index 0");
    wal.flush_blocking().expect("flush");
    assert_holds(&wal, 0, 0);
}

#[test]
fn appended_records_read_back_before_and_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, 100, 3);
    assert!(segments(dir.path()).len() > 5, "1 KiB segments roll over");
    let (wal, report) = Wal::open(dir.path(), small_options()).expect("reopen");
    assert_eq!(report.record_count, 100);
    assert_eq!(
        (report.first_index, report.last_index),
        (Some(1), Some(100))
    );
    assert_eq!(report.torn_tail, None);
    assert_holds(&wal, 1, 100);
    // Ranges that cross segment boundaries and reach past either end.
    let middle = wal.read(10..60).expect("read");
    assert_eq!(middle, (10..60).map(record).collect::<Vec<_>>());
    assert_eq!(wal.read(0..3).expect("read").len(), 2);
    assert_eq!(wal.read(99..1000).expect("read").len(), 2);
    assert!(wal.read(200..300).expect("read").is_empty());
    // Appending continues the log.
    wal.append(&[record(101)]).expect("append");
    wal.flush_blocking().expect("flush");
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("reopen");
    assert_holds(&wal, 1, 101);
}

/// A bounded read returns the longest prefix of the range whose records fit
/// in the byte budget (sizes computed here from the fixture, not by the
/// crate), across segment boundaries, and never less than one record.
#[test]
fn bounded_reads_stop_at_the_byte_budget_but_return_at_least_one_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, 100, 3);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    let size = |index: u64| (RECORD_HEADER_BYTES + payload(index).len()) as u64;
    for start in [1, 7, 40, 99] {
        for budget in [0, 1, 50, 200, 1000, 3000, u64::MAX] {
            let mut expected_end = start;
            let mut used = 0u64;
            while expected_end <= 100 {
                let next = used.saturating_add(size(expected_end));
                if expected_end > start && next > budget {
                    break;
                }
                used = next;
                expected_end += 1;
            }
            let records = wal.read_bounded(start..200, budget).expect("read");
            assert_eq!(
                records,
                (start..expected_end).map(record).collect::<Vec<_>>(),
                "start {start}, budget {budget}"
            );
        }
    }
    // The range's end still bounds the read, and an empty range reads nothing.
    assert_eq!(wal.read_bounded(10..12, u64::MAX).expect("read").len(), 2);
    assert!(wal.read_bounded(10..10, u64::MAX).expect("read").is_empty());
    assert!(wal
        .read_bounded(200..300, u64::MAX)
        .expect("read")
        .is_empty());
}

#[test]
fn appends_must_be_consecutive_with_non_decreasing_terms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    wal.append(&[record(5), record(6)]).expect("append");
    assert!(matches!(
        wal.append(&[record(8)]),
        Err(WalError::NotConsecutive {
            expected_index: 7,
            index: 8
        })
    ));
    assert!(matches!(
        wal.append(&[record(7), record(9)]),
        Err(WalError::NotConsecutive {
            expected_index: 8,
            index: 9
        })
    ));
    let lower_term = Record {
        index: 7,
        term: term(6) - 1,
        payload: vec![1],
    };
    assert!(matches!(
        wal.append(&[lower_term]),
        Err(WalError::TermDecreased { .. })
    ));
    // A rejected batch writes nothing, and the log still accepts 7.
    assert_eq!(wal.last_index(), Some(6));
    wal.append(&[record(7)]).expect("append");
    wal.flush_blocking().expect("flush");
    assert_holds(&wal, 5, 7);
}

#[test]
fn oversized_records_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = WalOptions {
        max_record_payload_bytes: 100,
        ..small_options()
    };
    let (wal, _) = Wal::open(dir.path(), options).expect("open");
    let big = Record {
        index: 1,
        term: 1,
        payload: vec![7; 101],
    };
    assert!(matches!(
        wal.append(&[big]),
        Err(WalError::RecordTooLarge {
            payload_bytes: 101,
            max_payload_bytes: 100,
            ..
        })
    ));
    // A record larger than a segment (but within the payload limit) gets its own segment.
    let options = WalOptions {
        segment_size_bytes: 1024,
        max_record_payload_bytes: 4096,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
    let records: Vec<Record> = (1..=3)
        .map(|i| Record {
            index: i,
            term: 1,
            payload: vec![i as u8; 3000],
        })
        .collect();
    wal.append(&records).expect("append");
    wal.flush_blocking().expect("flush");
    drop(wal);
    assert_eq!(segments(dir.path()).len(), 3);
    let (wal, _) = Wal::open(dir.path(), options).expect("reopen");
    assert_eq!(wal.read(1..4).expect("read"), records);
}

#[test]
fn invalid_options_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for options in [
        WalOptions {
            segment_size_bytes: 10,
            ..WalOptions::default()
        },
        WalOptions {
            max_record_payload_bytes: 0,
            ..WalOptions::default()
        },
    ] {
        assert!(matches!(
            Wal::open(dir.path(), options),
            Err(WalError::InvalidOptions { .. })
        ));
    }
}

#[test]
fn truncate_after_drops_later_records_durably() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, 100, 10);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    let segments_before = segments(dir.path()).len();
    wal.truncate_after(40).expect("truncate");
    assert_holds(&wal, 1, 40);
    assert!(
        segments(dir.path()).len() < segments_before,
        "later segments deleted"
    );
    assert!(matches!(
        wal.append(&[record(42)]),
        Err(WalError::NotConsecutive {
            expected_index: 41,
            ..
        })
    ));
    // New records at the truncated indexes, with a different payload.
    let replacement: Vec<Record> = (41..=60)
        .map(|i| Record {
            index: i,
            term: term(i),
            payload: b"new".to_vec(),
        })
        .collect();
    wal.append(&replacement).expect("append");
    wal.flush_blocking().expect("flush");
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("reopen");
    assert_eq!(wal.last_index(), Some(60));
    assert_eq!(
        wal.read(1..41).expect("read"),
        (1..=40).map(record).collect::<Vec<_>>()
    );
    assert_eq!(wal.read(41..61).expect("read"), replacement);
    // No-ops: at or past the end.
    wal.truncate_after(60).expect("truncate");
    wal.truncate_after(u64::MAX).expect("truncate");
    assert_eq!(wal.last_index(), Some(60));
}

#[test]
fn truncate_at_a_segment_boundary_and_of_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, 60, 1);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    let second_segment_first = segments(dir.path())[1].0;
    wal.truncate_after(second_segment_first - 1)
        .expect("truncate");
    assert_holds(&wal, 1, second_segment_first - 1);
    assert_eq!(wal.next_index(), Some(second_segment_first));
    wal.truncate_from(1).expect("truncate all");
    assert_eq!(
        (wal.first_index(), wal.last_index(), wal.last_term()),
        (None, None, None)
    );
    assert_eq!(wal.next_index(), Some(1));
    drop(wal);
    let (wal, report) = Wal::open(dir.path(), small_options()).expect("reopen");
    assert_eq!(report.record_count, 0);
    assert_eq!(
        wal.next_index(),
        Some(1),
        "the next index survives a restart"
    );
    wal.append(&[record(1)]).expect("append");
    wal.flush_blocking().expect("flush");
    assert_holds(&wal, 1, 1);
    // Truncating below the first index empties the log and moves its start.
    wal.truncate_from(0).expect("truncate");
    assert_eq!(wal.next_index(), Some(0));
}

#[test]
fn purge_deletes_only_whole_segments_at_or_below_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, 100, 5);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    let before = segments(dir.path());
    let third_first = before[2].0;
    // Purging up to just before the third segment's first record deletes two segments.
    wal.purge_upto(third_first - 1).expect("purge");
    assert_eq!(segments(dir.path()), before[2..].to_vec());
    assert_holds(&wal, third_first, 100);
    // Purging into the middle of a segment keeps that segment.
    wal.purge_upto(third_first + 1).expect("purge");
    assert_eq!(wal.first_index(), Some(third_first));
    // Purging below the first index does nothing.
    wal.purge_upto(0).expect("purge");
    assert_eq!(wal.first_index(), Some(third_first));
    wal.flush_blocking().expect("flush");
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("reopen");
    assert_holds(&wal, third_first, 100);
}

/// The files this process holds open, as `/proc/self/fd` names them (an
/// unlinked file's name ends in " (deleted)").
fn open_files() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .collect()
}

/// Purged and truncated-away segments are closed once removed (on a
/// thread of their own, so the caller does not wait while the filesystem
/// frees their blocks): no descriptor of them stays open.
#[test]
fn removed_segments_are_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, 100, 5);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    let before = segments(dir.path());
    let third_first = before[2].0;
    let last_first = before[before.len() - 1].0;
    let name = |i: usize| before[i].1.display().to_string();
    let held = |name: &String| open_files().iter().any(|f| f.starts_with(name.as_str()));
    let wait_closed = |names: &[String]| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while names.iter().any(held) {
            assert!(
                std::time::Instant::now() < deadline,
                "removed segments still open: {:?}",
                open_files()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    let purged = [name(0), name(1)];
    let truncated = [name(before.len() - 1)];
    assert!(
        purged.iter().chain(&truncated).all(held),
        "the open log holds its segments"
    );
    wal.purge_upto(third_first - 1).expect("purge");
    wait_closed(&purged);
    // Removes the last segment and cuts the one before it.
    wal.truncate_from(last_first - 1).expect("truncate");
    wait_closed(&truncated);
    assert_holds(&wal, third_first, last_first - 2);
}

#[test]
fn purge_of_everything_keeps_the_next_index_even_past_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_log(dir.path(), &small_options(), 1, 50, 5);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    // As after installing a snapshot that ends beyond the local log.
    wal.purge_upto(500).expect("purge");
    assert_eq!((wal.first_index(), wal.last_index()), (None, None));
    assert_eq!(wal.next_index(), Some(501));
    assert_eq!(segments(dir.path()).len(), 1);
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("reopen");
    assert_eq!(wal.next_index(), Some(501));
    assert!(matches!(
        wal.append(&[record(51)]),
        Err(WalError::NotConsecutive {
            expected_index: 501,
            ..
        })
    ));
    wal.append(&[record(501), record(502)]).expect("append");
    wal.flush_blocking().expect("flush");
    assert_holds(&wal, 501, 502);
    // Purging exactly up to the last record also empties the log.
    wal.purge_upto(502).expect("purge");
    assert_eq!(wal.next_index(), Some(503));
    // And on a directory that never held a record.
    let fresh = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(fresh.path(), small_options()).expect("open");
    wal.purge_upto(9).expect("purge");
    assert_eq!(wal.next_index(), Some(10));
}

#[test]
fn meta_values_are_replaced_atomically_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    assert_eq!(wal.load_meta("vote"), None);
    wal.save_meta("vote", b"term=3 node=2").expect("save");
    wal.save_meta("vote", b"term=4 node=1").expect("save");
    wal.save_meta("committed", b"").expect("save");
    assert!(matches!(
        wal.save_meta("../vote", b"x"),
        Err(WalError::InvalidMetaKey { .. })
    ));
    drop(wal);
    // A temp file left by a crash during a save is removed at open.
    std::fs::write(dir.path().join("vote.meta.tmp"), b"half").expect("write");
    let (wal, report) = Wal::open(dir.path(), small_options()).expect("reopen");
    assert_eq!(report.removed_temp_files.len(), 1);
    assert_eq!(
        wal.load_meta("vote").as_deref(),
        Some(&b"term=4 node=1"[..])
    );
    assert_eq!(wal.load_meta("committed").as_deref(), Some(&b""[..]));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    assert!(matches!(
        Wal::open(dir.path(), small_options()),
        Err(WalError::Locked { .. })
    ));
    drop(wal);
    Wal::open(dir.path(), small_options()).expect("open after the first closed");
}

#[test]
fn flush_with_nothing_new_completes_at_once_and_clones_share_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    wal.flush_blocking().expect("flush of nothing");
    let reader = wal.clone();
    wal.append(&[record(1)]).expect("append");
    wal.flush_blocking().expect("flush");
    let before = wal.stats();
    wal.flush_blocking().expect("flush again");
    let after = wal.stats();
    assert_eq!(
        after.sync_rounds, before.sync_rounds,
        "no fdatasync for nothing new"
    );
    assert_eq!(
        after.flushes_completed,
        before.flushes_completed + 1,
        "a flush that found everything durable still counts as completed"
    );
    assert_eq!(reader.read(1..2).expect("read"), vec![record(1)]);
}

#[test]
fn concurrent_flushes_share_fdatasyncs() {
    // Goal: group commit. 16 threads each append and wait for their own flush;
    // the number of fdatasync rounds must be well below the number of flushes.
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).expect("open");
    let next = Arc::new(std::sync::Mutex::new(1u64));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let wal = wal.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    {
                        let mut next = next.lock().expect("lock");
                        wal.append(&[record(*next)]).expect("append");
                        *next += 1;
                    }
                    wal.flush_blocking().expect("flush");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("join");
    }
    let stats = wal.stats();
    assert_eq!(stats.records_appended, 800);
    assert_eq!(stats.flushes_completed, 800);
    assert!(
        stats.sync_rounds * 2 < stats.flushes_completed,
        "expected grouped fdatasyncs, got {stats:?}"
    );
    assert_holds(&wal, 1, 800);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_is_awaitable_from_tokio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    let mut tasks = Vec::new();
    let next = Arc::new(std::sync::Mutex::new(1u64));
    for _ in 0..8 {
        let wal = wal.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                {
                    let mut next = next.lock().expect("lock");
                    wal.append(&[record(*next)]).expect("append");
                    *next += 1;
                }
                wal.flush().await.expect("flush");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_holds(&wal, 1, 160);
    assert_eq!(payload(3), wal.read(3..4).expect("read")[0].payload);
}

#[test]
fn dropping_the_log_completes_queued_flushes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    wal.append(&[record(1)]).expect("append");
    let (sender, receiver) = std::sync::mpsc::channel();
    wal.flush_with(Box::new(move |result| sender.send(result).expect("send")));
    drop(wal);
    receiver.recv().expect("callback ran").expect("flushed");
}

#[test]
fn flush_here_runs_an_idle_round_on_the_caller_and_queues_behind_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), small_options()).expect("open");
    let me = std::thread::current().id();
    type Ran = (std::thread::ThreadId, Result<(), WalError>);
    let (ran, ran_receiver) = std::sync::mpsc::channel::<Ran>();

    // Idle: the round runs here, and is done when the call returns.
    wal.append(&[record(1)]).expect("append");
    let sender = ran.clone();
    wal.flush_here_with(Box::new(move |result| {
        sender
            .send((std::thread::current().id(), result))
            .expect("send")
    }));
    let (thread, result) = ran_receiver.try_recv().expect("completed before returning");
    assert_eq!(thread, me, "ran on the calling thread");
    result.expect("flushed");
    let stats = wal.stats();
    assert_eq!((stats.sync_rounds, stats.appender_rounds), (1, 1));
    assert_eq!(stats.fdatasync_calls, 1);
    wal.flush_blocking().expect("flush");
    assert_eq!(wal.stats().sync_rounds, 1, "record 1 was durable already");

    // The flusher is busy completing a round (its callback blocks) and a
    // flush is queued for it: a flush here queues too, and the flusher's
    // next round covers both.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (entered, holding) = std::sync::mpsc::channel::<()>();
    wal.append(&[record(2)]).expect("append");
    wal.flush_with(Box::new(move |result| {
        result.expect("flushed");
        entered.send(()).expect("send");
        released.recv().expect("released");
    }));
    holding
        .recv()
        .expect("the flusher holds its round's callback");
    let queued_behind = |index: u64| {
        wal.append(&[record(index)]).expect("append");
        let sender = ran.clone();
        Box::new(move |result| {
            sender
                .send((std::thread::current().id(), result))
                .expect("send")
        })
    };
    wal.flush_with(queued_behind(3));
    wal.flush_here_with(queued_behind(4));
    assert!(
        ran_receiver.try_recv().is_err(),
        "nothing completes while the flusher is held"
    );
    release.send(()).expect("release");
    for _ in 0..2 {
        let (thread, result) = ran_receiver.recv().expect("completed");
        assert_ne!(thread, me, "completed by the flusher");
        result.expect("flushed");
    }
    let stats = wal.stats();
    assert_eq!(stats.appender_rounds, 1, "no second round on the caller");
    assert_eq!(stats.sync_rounds, 3);
    assert_holds(&wal, 1, 4);
}

/// 32 KiB segments: several records fit, and preallocation (64 KiB chunks)
/// stops at the segment's size.
fn segments_smaller_than_a_preallocation_chunk() -> WalOptions {
    WalOptions {
        segment_size_bytes: 32 * 1024,
        ..WalOptions::default()
    }
}

/// The active segment is zero-filled ahead of its records (so an fdatasync
/// after an append need not commit a new file size), a sealed segment ends at
/// its last record, and closing the log cuts the zeros.
#[test]
fn the_active_segment_is_preallocated_and_cut_when_sealed_or_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = segments_smaller_than_a_preallocation_chunk();
    let (wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
    wal.append(&[record(1), record(2)]).expect("append");
    wal.flush_blocking().expect("flush");
    let found = segments(dir.path());
    let active_len = std::fs::metadata(&found[0].1).expect("stat").len();
    assert_eq!(
        active_len, options.segment_size_bytes,
        "zero-filled up to the segment size (the chunk is larger)"
    );
    let bytes = std::fs::read(&found[0].1).expect("read");
    let end = common::record_offset(1, 3) as usize;
    assert!(bytes[end..].iter().all(|b| *b == 0));

    // Roll over: the sealed segment is exact, the new one is preallocated.
    let mut index = 3;
    while segments(dir.path()).len() < 2 {
        wal.append(&[record(index)]).expect("append");
        index += 1;
    }
    wal.flush_blocking().expect("flush");
    let found = segments(dir.path());
    let sealed_len = std::fs::metadata(&found[0].1).expect("stat").len();
    let sealed_last = found[1].0 - 1;
    assert_eq!(sealed_len, common::record_offset(1, sealed_last + 1));
    assert_eq!(
        std::fs::metadata(&found[1].1).expect("stat").len(),
        options.segment_size_bytes
    );

    // Closed: every file ends at its last record, and reopening finds all.
    drop(wal);
    let last = index - 1;
    let active_len = std::fs::metadata(&found[1].1).expect("stat").len();
    assert_eq!(active_len, common::record_offset(found[1].0, last + 1));
    let (wal, report) = Wal::open(dir.path(), options).expect("reopen");
    assert_eq!(report.torn_tail, None);
    assert_holds(&wal, 1, last);
}

/// A log that was not closed (a crash, here a copy of the open directory)
/// keeps its zero-filled tail: reopening finds every record, a truncate in
/// the middle drops the later ones and the zeros with them, and appends
/// continue over the rest.
#[test]
fn a_log_left_preallocated_reopens_truncates_and_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = segments_smaller_than_a_preallocation_chunk();
    let (wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
    wal.append(&(1..=20).map(record).collect::<Vec<_>>())
        .expect("append");
    wal.flush_blocking().expect("flush");
    let image = common::DirImage::capture(dir.path());
    drop(wal);

    let copy = image.restore();
    let (first, path) = segments(copy.path()).pop().expect("a segment");
    let padded = std::fs::metadata(&path).expect("stat").len();
    assert!(
        padded > common::record_offset(first, 21),
        "the copy is padded"
    );
    let (wal, report) = Wal::open(copy.path(), options.clone()).expect("reopen");
    assert_eq!(report.torn_tail, None, "zeros are not a torn record");
    assert_holds(&wal, 1, 20);
    wal.truncate_after(12).expect("truncate");
    assert_eq!(
        std::fs::metadata(&path).expect("stat").len(),
        common::record_offset(first, 13),
        "the cut takes the zeros too"
    );
    wal.append(&(13..=30).map(record).collect::<Vec<_>>())
        .expect("append");
    wal.flush_blocking().expect("flush");
    drop(wal);
    let (wal, report) = Wal::open(copy.path(), options).expect("reopen");
    assert_eq!(report.torn_tail, None);
    assert_holds(&wal, 1, 30);
}
