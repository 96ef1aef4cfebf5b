//! kill -9 never loses an acknowledged record.
//!
//! Method: this test binary re-executes itself as a child (`crash_child`)
//! that appends records from 8 threads, each waiting for its own flush, and
//! prints `ack <index>` after each flush completes; every so often it prints
//! `purge <index>` and then purges. The parent kills the child with SIGKILL at
//! a random moment (sometimes during recovery), reopens the log, and checks:
//! every acknowledged index above the last announced purge is present with
//! its exact payload, every record present is intact and consecutive, and the
//! file ends exactly after the last record. Repeated on one directory, so each
//! child also recovers what the previous one left.
//!
//! SIGKILL leaves the page cache intact: this checks the ordering of writes,
//! flushes and acknowledgements, and recovery from writes cut mid-way; the
//! torn states a power cut can add are covered by `recovery.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{payload, record, record_offset, segments, term};
use rzk_wal::{Wal, WalOptions};

const CHILD_DIR_ENV: &str = "RZK_WAL_CRASH_CHILD_DIR";
const ITERATIONS: usize = 40;
const CHILD_THREADS: usize = 8;
const CHILD_MAX_RUN: Duration = Duration::from_secs(30);
const KILL_AFTER_MS_MAX: u64 = 400;
const PURGE_EVERY_ACKS: u64 = 400;
const PURGE_KEEP_RECORDS: u64 = 300;
const TOTAL_TIME_MAX: Duration = Duration::from_secs(60);

fn options() -> WalOptions {
    WalOptions {
        segment_size_bytes: 16 * 1024,
        ..WalOptions::default()
    }
}

#[test]
fn kill9_crash_loses_no_acknowledged_record() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current_exe");
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
    let mut purged_upto = 0u64;
    let mut acked_max = 0u64;
    let mut acked_total = 0u64;
    let mut torn_tails = 0usize;
    for iteration in 0..ITERATIONS {
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(Duration::from_millis(5 + random.next() % KILL_AFTER_MS_MAX));
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        let lines = reader.join().expect("reader");
        let mut acked_this_run = 0u64;
        for line in &lines {
            if let Some(index) = line.strip_prefix("ack ") {
                acked_max = acked_max.max(index.parse().expect("ack index"));
                acked_this_run += 1;
            } else if let Some(index) = line.strip_prefix("purge ") {
                purged_upto = purged_upto.max(index.parse().expect("purge index"));
            }
        }
        acked_total += acked_this_run;

        let (wal, report) = Wal::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("iteration {iteration}: {e}"));
        torn_tails += usize::from(report.torn_tail.is_some());
        if acked_max > 0 {
            let last = wal.last_index().expect("acknowledged records are present");
            let first = wal.first_index().expect("first");
            assert!(
                last >= acked_max,
                "iteration {iteration}: last index {last} < acknowledged {acked_max}"
            );
            assert!(
                first <= purged_upto.max(1) + 1,
                "iteration {iteration}: first {first}, purged up to {purged_upto}"
            );
            let records = wal.read(first..last + 1).expect("read");
            assert_eq!(records.len() as u64, last - first + 1);
            for record in &records {
                assert_eq!(
                    record.payload,
                    payload(record.index),
                    "record {} damaged",
                    record.index
                );
            }
            for record in &records {
                assert_eq!(
                    record.term,
                    term(record.index),
                    "record {} term",
                    record.index
                );
            }
            // Nothing half-present: after the last record the last segment
            // holds only zeros written ahead (preallocation), if anything.
            let (segment_first, segment_path) = segments(dir.path()).pop().expect("a segment");
            let bytes = std::fs::read(&segment_path).expect("read segment");
            let end = record_offset(segment_first, last + 1) as usize;
            assert!(bytes.len() >= end, "iteration {iteration}: {report}");
            assert!(
                bytes[end..].iter().all(|b| *b == 0),
                "iteration {iteration}: bytes after the last record are not padding: {report}"
            );
        }
        println!(
            "iteration {iteration:2}: killed after {:3} acks; reopened {report}",
            acked_this_run
        );
        drop(wal);
    }
    let elapsed = started.elapsed();
    println!(
        "crash test: {ITERATIONS} kills, {acked_total} acknowledged records, highest {acked_max}, \
         {torn_tails} torn tails truncated, all acknowledged records present, {:.1}s",
        elapsed.as_secs_f64()
    );
    assert!(
        acked_total > 0,
        "children acknowledged nothing: too short a run"
    );
    assert!(elapsed < TOTAL_TIME_MAX, "crash test took {elapsed:?}");
}

/// The child process: runs only when re-executed by the test above.
#[test]
#[ignore = "child process of kill9_crash_loses_no_acknowledged_record"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let (wal, _) = Wal::open(&dir, options()).expect("child open");
    let next = Arc::new(Mutex::new(wal.next_index().unwrap_or(1)));
    let deadline = Instant::now() + CHILD_MAX_RUN;
    let threads: Vec<_> = (0..CHILD_THREADS)
        .map(|thread| {
            let wal = wal.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                let mut acks = 0u64;
                while Instant::now() < deadline {
                    let index = {
                        let mut next = next.lock().expect("lock");
                        let index = *next;
                        wal.append(&[record(index)]).expect("append");
                        *next += 1;
                        index
                    };
                    wal.flush_blocking().expect("flush");
                    println!("ack {index}");
                    acks += 1;
                    if thread == 0
                        && acks.is_multiple_of(PURGE_EVERY_ACKS)
                        && index > PURGE_KEEP_RECORDS
                    {
                        let upto = index - PURGE_KEEP_RECORDS;
                        println!("purge {upto}");
                        wal.purge_upto(upto).expect("purge");
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("join");
    }
}

/// A small deterministic generator for kill times; no dependency needed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
