//! Damaged ZooKeeper files: every kind of damage is an error naming the
//! file and the byte offset (or, for a torn tail of the newest log, a note
//! and a stop), never a panic.
//!
//! Method: write a valid snapshot (`zk_export`) and valid logs (records
//! built here byte by byte, as `FileTxnLog` lays them out), check that they
//! load, then damage one thing at a time and check the message.

use std::fs;
use std::path::{Path, PathBuf};

use rzk_migrate::adler32::Adler32;
use rzk_migrate::zk_dir::load;
use rzk_migrate::zk_export::write_zookeeper_snapshot;
use rzk_proto::jute::{write_buffer, write_i32, write_i64, write_string};
use rzk_proto::Acl;
use rzk_state::import::{PersistedStat, TreeBuilder};
use rzk_state::StateConfig;

const SNAP_ZXID: i64 = 0x10;

/// `<dir>/version-2/snapshot.10` holding `/`, `/zookeeper`, `/a`.
fn write_snapshot(dir: &Path) -> PathBuf {
    let mut b = TreeBuilder::new(StateConfig::default());
    let open = Acl::open_unsafe();
    for (path, zxid) in [("/", 0), ("/zookeeper", 0), ("/a", 5)] {
        let stat = PersistedStat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ..PersistedStat::default()
        };
        b.add_node(path, b"data".to_vec(), &open, stat).unwrap();
    }
    let tree = b.finish(SNAP_ZXID).unwrap();
    write_zookeeper_snapshot(&tree, dir).unwrap()
}

/// One log record: checksum, length, TxnHeader + CreateTxn of `path`, 'B'.
fn create_record(zxid: i64, path: &str) -> Vec<u8> {
    let mut txn = Vec::new();
    write_i64(&mut txn, 0x42); // client id
    write_i32(&mut txn, 1); // cxid
    write_i64(&mut txn, zxid);
    write_i64(&mut txn, 1_000); // time
    write_i32(&mut txn, 1); // create
    write_string(&mut txn, path);
    write_buffer(&mut txn, b"v");
    write_i32(&mut txn, 1); // one ACL
    write_i32(&mut txn, 31);
    write_string(&mut txn, "world");
    write_string(&mut txn, "anyone");
    txn.push(0); // not ephemeral
    write_i32(&mut txn, -1); // parent cversion
    let mut rec = Vec::new();
    write_i64(&mut rec, Adler32::of(&txn));
    write_i32(&mut rec, txn.len() as i32);
    rec.extend_from_slice(&txn);
    rec.push(b'B');
    rec
}

fn log_header() -> Vec<u8> {
    let mut h = Vec::new();
    write_i32(&mut h, 0x5A4B_4C47); // "ZKLG"
    write_i32(&mut h, 2);
    write_i64(&mut h, 0);
    h
}

/// `log.<first>` with one create per zxid, then `padding` zero bytes.
fn write_log(dir: &Path, zxids: &[i64], padding: usize) -> (PathBuf, Vec<u64>) {
    let mut bytes = log_header();
    let mut offsets = Vec::new();
    for &z in zxids {
        offsets.push(bytes.len() as u64);
        bytes.extend(create_record(z, &format!("/n{z:x}")));
    }
    bytes.resize(bytes.len() + padding, 0);
    let path = dir.join("version-2").join(format!("log.{:x}", zxids[0]));
    fs::write(&path, bytes).unwrap();
    (path, offsets)
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn load_err(dir: &Path) -> String {
    load(dir, dir, false, false).unwrap_err().to_string()
}

#[test]
fn valid_files_load() {
    let dir = scratch();
    write_snapshot(dir.path());
    write_log(dir.path(), &[0x11, 0x12], 100);
    let loaded = load(dir.path(), dir.path(), false, false).unwrap();
    assert_eq!(loaded.last_zxid, 0x12);
    assert!(loaded.tree.nodes.contains_key("/n12"));
    assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
}

#[test]
fn truncated_snapshot_header() {
    let dir = scratch();
    let snap = write_snapshot(dir.path());
    let bytes = fs::read(&snap).unwrap();
    fs::write(&snap, &bytes[..6]).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains(&snap.display().to_string()), "{e}");
    assert!(e.contains("at byte 4: ") && e.contains("truncated"), "{e}");
}

#[test]
fn bad_snapshot_magic() {
    let dir = scratch();
    let snap = write_snapshot(dir.path());
    let mut bytes = fs::read(&snap).unwrap();
    bytes[0] = b'X';
    fs::write(&snap, bytes).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("at byte 0: ") && e.contains("not a ZooKeeper snapshot"),
        "{e}"
    );
}

#[test]
fn huge_length_in_snapshot() {
    let dir = scratch();
    let snap = write_snapshot(dir.path());
    let mut bytes = fs::read(&snap).unwrap();
    // header 16, sessions count 4, ACL cache: count 4, key 8, list len 4,
    // one ACL (4 + 4+5 + 4+6): the first node's path length is at 59.
    let at = 16 + 4 + 4 + 8 + 4 + (4 + 9 + 10);
    assert_eq!(
        &bytes[at..at + 4],
        &[0, 0, 0, 0],
        "the root's path is empty"
    );
    bytes[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
    fs::write(&snap, bytes).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains(&format!("at byte {at}: bad node path length")),
        "{e}"
    );
}

#[test]
fn bad_snapshot_checksum() {
    let dir = scratch();
    let snap = write_snapshot(dir.path());
    let mut bytes = fs::read(&snap).unwrap();
    let data = bytes.windows(4).rposition(|w| w == b"data").unwrap();
    bytes[data] = b'D';
    let seal_at = bytes.len() - 8 - 5;
    fs::write(&snap, bytes).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains(&format!("at byte {seal_at}: checksum mismatch")),
        "{e}"
    );
}

#[test]
fn an_older_snapshot_is_used_when_the_newest_is_damaged() {
    let dir = scratch();
    let snap = write_snapshot(dir.path());
    let newer = snap.with_file_name("snapshot.20");
    fs::write(&newer, b"ZKSN").unwrap();
    let loaded = load(dir.path(), dir.path(), false, false).unwrap();
    assert_eq!(loaded.snapshot.as_deref(), Some(snap.as_path()));
    assert!(
        loaded.notes[0].contains("snapshot.20"),
        "{:?}",
        loaded.notes
    );
}

#[test]
fn compressed_snapshots_are_refused() {
    let dir = scratch();
    let snap = write_snapshot(dir.path());
    fs::rename(&snap, snap.with_file_name("snapshot.10.gz")).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("compressed") && e.contains("snapshot.10.gz"),
        "{e}"
    );
}

#[test]
fn bad_record_checksum_in_a_log() {
    let dir = scratch();
    write_snapshot(dir.path());
    let (log, offsets) = write_log(dir.path(), &[0x11, 0x12, 0x13], 100);
    let mut bytes = fs::read(&log).unwrap();
    let second = offsets[1] as usize;
    bytes[second + 12 + 30] ^= 0xff;
    fs::write(&log, bytes).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains(&format!(
            "{}: at byte {second}: record checksum mismatch",
            log.display()
        )),
        "{e}"
    );
}

#[test]
fn torn_tail_of_the_newest_log_stops_there() {
    let dir = scratch();
    write_snapshot(dir.path());
    let (log, offsets) = write_log(dir.path(), &[0x11, 0x12, 0x13], 0);
    let bytes = fs::read(&log).unwrap();
    // The last record half written, then the preallocated zeros.
    let cut = offsets[2] as usize + 20;
    let mut torn = bytes[..cut].to_vec();
    torn.resize(bytes.len() + 64, 0);
    fs::write(&log, torn).unwrap();
    let loaded = load(dir.path(), dir.path(), false, false).unwrap();
    assert_eq!(loaded.last_zxid, 0x12);
    let note = loaded.notes.join("\n");
    assert!(
        note.contains(&format!("at byte {}: torn record", offsets[2])),
        "{note}"
    );
}

#[test]
fn torn_record_before_a_newer_log_is_damage() {
    let dir = scratch();
    write_snapshot(dir.path());
    let (log, offsets) = write_log(dir.path(), &[0x11, 0x12], 0);
    let bytes = fs::read(&log).unwrap();
    let cut = offsets[1] as usize + 20;
    let mut torn = bytes[..cut].to_vec();
    torn.resize(bytes.len() + 64, 0);
    fs::write(&log, torn).unwrap();
    write_log(dir.path(), &[0x13], 10);
    let e = load_err(dir.path());
    assert!(
        e.contains(&format!("{}: at byte {}", log.display(), offsets[1])),
        "{e}"
    );
    assert!(e.contains("newer logs follow"), "{e}");
}

#[test]
fn huge_record_length_with_data_after_it() {
    let dir = scratch();
    write_snapshot(dir.path());
    let (log, offsets) = write_log(dir.path(), &[0x11, 0x12, 0x13], 100);
    let mut bytes = fs::read(&log).unwrap();
    let second = offsets[1] as usize;
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_0000_i32.to_be_bytes());
    fs::write(&log, bytes).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains(&format!("at byte {second}: damaged record")),
        "{e}"
    );
    assert!(e.contains("runs past the end"), "{e}");
}

#[test]
fn truncated_and_foreign_log_headers() {
    let dir = scratch();
    write_snapshot(dir.path());
    let log = dir.path().join("version-2").join("log.11");
    fs::write(&log, [0x5A, 0x4B, 0x4C, 0x47, 0, 0]).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("log.11: at byte 4: truncated"), "{e}");
    fs::write(&log, [0u8; 16]).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("log.11: at byte 0: not a ZooKeeper transaction log"),
        "{e}"
    );
}
