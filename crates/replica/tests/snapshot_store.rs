//! The snapshot directory on real files: round trip, choosing the newest
//! intact file when newer ones are damaged, cleanup of unfinished saves, and
//! purging.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use openraft::testing::log_id;
use openraft::{Membership, SnapshotMeta, StoredMembership};
use rzk_replica::Member;
use rzk_replica::{SnapshotStore, TypeConfig};

type Meta = openraft::alias::SnapshotMetaOf<TypeConfig>;

fn meta(index: u64) -> Meta {
    let members = BTreeMap::from([
        (1, Member::at("127.0.0.1:2888")),
        (2, Member::at("127.0.0.1:2889")),
        (3, Member::at("127.0.0.1:2890")),
    ]);
    let membership =
        Membership::new(vec![BTreeSet::from([1, 2, 3])], members).expect("valid membership");
    SnapshotMeta {
        last_log_id: Some(log_id::<TypeConfig>(3, 2, index)),
        last_membership: StoredMembership::new(Some(log_id::<TypeConfig>(1, 1, 2)), membership),
    }
}

/// Distinct bytes per index, big enough to span several pages.
fn state(index: u64) -> Vec<u8> {
    (0..20_000u64)
        .map(|i| (i.wrapping_mul(31) ^ index) as u8)
        .collect()
}

fn file_names(store: &SnapshotStore) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(store.dir())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn save_then_load_gives_back_meta_and_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path().join("snaps")).expect("open creates the dir");
    assert!(store.load_newest().expect("load").is_none(), "empty dir");

    let path = store.save(&meta(1234), &state(1234)).expect("save");
    assert_eq!(
        path.file_name().unwrap().to_string_lossy(),
        "snapshot.00000000000000001234"
    );
    assert_eq!(file_names(&store), vec!["snapshot.00000000000000001234"]);

    // A fresh handle reads what is on disk, not a cache.
    let store = SnapshotStore::open(dir.path().join("snaps")).expect("reopen");
    let loaded = store.load_newest().expect("load").expect("a snapshot");
    assert_eq!(loaded.meta, meta(1234));
    assert_eq!(&loaded.bytes[..], &state(1234)[..]);
    assert_eq!(loaded.index(), Some(1234));

    // Saving the same index again replaces it.
    store.save(&meta(1234), &state(99)).expect("save again");
    let loaded = store.load_newest().expect("load").expect("a snapshot");
    assert_eq!(&loaded.bytes[..], &state(99)[..]);
    assert_eq!(file_names(&store).len(), 1);

    // The empty state (no last log id) is not stored.
    let empty = SnapshotMeta {
        last_log_id: None,
        last_membership: StoredMembership::default(),
    };
    assert!(store.save(&empty, b"x").is_err());
}

#[test]
fn newest_intact_snapshot_wins_over_damaged_newer_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    for index in [100, 200, 300, 400] {
        store.save(&meta(index), &state(index)).expect("save");
    }
    assert_eq!(store.indexes().expect("indexes"), vec![100, 200, 300, 400]);

    // 400: one byte of the state part flipped.
    let p400 = store.path_of(400);
    let mut bytes = fs::read(&p400).expect("read");
    let at = bytes.len() - 5000;
    bytes[at] ^= 0x40;
    fs::write(&p400, &bytes).expect("write");
    // 300: cut short (a torn write that somehow got its final name).
    let p300 = store.path_of(300);
    let bytes = fs::read(&p300).expect("read");
    fs::write(&p300, &bytes[..bytes.len() / 2]).expect("write");

    let loaded = store.load_newest().expect("load").expect("a snapshot");
    assert_eq!(loaded.index(), Some(200), "400 corrupt, 300 truncated");
    assert_eq!(&loaded.bytes[..], &state(200)[..]);
    assert_eq!(
        store
            .load_newest_at_most(150)
            .expect("load")
            .map(|s| s.index()),
        Some(Some(100))
    );
    // Direct loads name the damage.
    let e = store.load(400).expect_err("corrupt");
    assert!(e.to_string().contains("CRC32C"), "{e}");
    let e = store.load(300).expect_err("truncated");
    assert!(e.to_string().contains("truncated"), "{e}");

    // A flipped byte in the header (the metadata) is caught too.
    let p200 = store.path_of(200);
    let mut bytes = fs::read(&p200).expect("read");
    bytes[40] ^= 0x01;
    fs::write(&p200, &bytes).expect("write");
    let loaded = store.load_newest().expect("load").expect("a snapshot");
    assert_eq!(loaded.index(), Some(100));

    // A file renamed to another index is not trusted.
    fs::copy(store.path_of(100), store.path_of(500)).expect("copy");
    assert_eq!(
        store.load_newest().expect("load").and_then(|s| s.index()),
        Some(100)
    );

    // Nothing intact at all: None, not an error.
    fs::write(store.path_of(100), b"RZKRSNAP").expect("write");
    fs::remove_file(store.path_of(500)).expect("remove");
    assert!(store.load_newest().expect("load").is_none());
}

#[test]
fn unfinished_saves_are_removed_at_open_and_other_files_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    store.save(&meta(7), &state(7)).expect("save");
    fs::write(
        dir.path().join("tmp.snapshot.00000000000000000008.123.0"),
        b"half a snapshot",
    )
    .expect("write temp");
    fs::write(dir.path().join("README"), b"not ours").expect("write other");

    let store = SnapshotStore::open(dir.path()).expect("reopen");
    assert_eq!(
        file_names(&store),
        vec!["README", "snapshot.00000000000000000007"]
    );
    assert_eq!(store.indexes().expect("indexes"), vec![7]);
    assert_eq!(
        store.load_newest().expect("load").and_then(|s| s.index()),
        Some(7)
    );
}

#[test]
fn purge_keeps_the_newest_n() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    for index in [5, 50, 500, 5000, 50_000] {
        store.save(&meta(index), &state(index)).expect("save");
    }
    assert_eq!(store.purge(3).expect("purge"), 2);
    assert_eq!(store.indexes().expect("indexes"), vec![500, 5000, 50_000]);
    assert_eq!(store.purge(3).expect("purge again"), 0);
    assert_eq!(store.purge(10).expect("purge fewer than n"), 0);
    assert_eq!(store.purge(1).expect("purge to one"), 2);
    assert_eq!(file_names(&store), vec!["snapshot.00000000000000050000"]);
    assert_eq!(
        store.load_newest().expect("load").and_then(|s| s.index()),
        Some(50_000)
    );
}
