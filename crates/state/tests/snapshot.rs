//! Snapshots: a loaded snapshot is the same state machine (same dump,
//! sessions, last zxid, and the same reply to every future entry), and any
//! damage to the bytes is an error, never a panic or a different tree.
mod common;

use std::io::Cursor;

use common::*;
use proptest::prelude::*;
use rzk_proto::records::{DeleteRequest, SetAclRequest, SetDataRequest};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Acl, CreateMode, Id, OpCode, Perms};
use rzk_state::snapshot::{SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC};
use rzk_state::snapshot_merge::{merge_snapshot, TakeStep};
use rzk_state::{DataTree, Entry, SnapshotError, StateConfig, Txn, WriteOp};

fn snapshot(tree: &DataTree) -> Vec<u8> {
    let mut out = Vec::new();
    let meta = tree.write_snapshot(&mut out).unwrap();
    assert_eq!(meta.size_bytes, out.len() as u64);
    assert_eq!(meta.node_count, tree.node_count() as u64);
    assert_eq!(meta.last_zxid, tree.last_zxid());
    assert_eq!(
        meta.crc32c,
        crc32c::crc32c(&out[..out.len() - 4]),
        "the trailer's CRC covers everything before it"
    );
    out
}

fn load(bytes: &[u8], config: StateConfig) -> Result<DataTree, SnapshotError> {
    let mut cursor = Cursor::new(bytes);
    let (tree, meta) = DataTree::read_snapshot(&mut cursor, config)?;
    assert_eq!(
        meta.size_bytes,
        cursor.position(),
        "reads exactly the snapshot"
    );
    assert_eq!(meta.node_count, tree.node_count() as u64);
    Ok(tree)
}

/// Everything observable about a tree, compared field by field, plus its
/// snapshot bytes (which also cover the quota trie).
fn assert_same(a: &DataTree, b: &DataTree) {
    assert_eq!(a.dump(), b.dump());
    assert_eq!(a.sessions(), b.sessions());
    assert_eq!(a.last_zxid(), b.last_zxid());
    assert_eq!(a.ephemerals_by_session(), b.ephemerals_by_session());
    assert_eq!(a.ephemeral_count(), b.ephemeral_count());
    assert_eq!(a.node_count(), b.node_count());
    assert_eq!(a.approximate_data_size(), b.approximate_data_size());
    assert_eq!(a.acl_list_count(), b.acl_list_count());
    for now in [0, 1_000_000, 1_010_000, 2_000_000, i64::MAX] {
        assert_eq!(
            a.deletion_candidates(now, usize::MAX),
            b.deletion_candidates(now, usize::MAX)
        );
    }
    assert_eq!(snapshot(a), snapshot(b));
}

fn extended() -> StateConfig {
    StateConfig {
        extended_types_enabled: true,
        enforce_quota: true,
        ..StateConfig::default()
    }
}

/// What `setquota` does: the limits node, then the stats node.
fn set_quota(zk: &mut Zk, path: &str, limits: &str) {
    let base = format!("/zookeeper/quota{path}");
    let mut p = String::new();
    for part in base.split('/').skip(1) {
        p.push('/');
        p.push_str(part);
        let _ = zk.create(&p);
    }
    zk.create_data(&format!("{base}/zookeeper_limits"), limits.as_bytes())
        .unwrap();
    zk.create_data(&format!("{base}/zookeeper_stats"), b"count=0,bytes=0")
        .unwrap();
}

/// A tree with every kind of state: sessions with and without ephemerals,
/// containers, TTL nodes, sequential nodes, several ACLs, quotas (including
/// a nested quota root dropped from the trie by deleting its parent's
/// limits, which is not derivable from the nodes), binary and empty data.
fn rich() -> Zk {
    let mut zk = Zk::with_config(extended());
    zk.session(0x300);
    zk.create("/app").unwrap();
    zk.create_data("/app/bin", &[0, 1, 2, 255]).unwrap();
    zk.create_mode("/app/seq-", CreateMode::PersistentSequential)
        .unwrap();
    zk.create_mode("/app/seq-", CreateMode::PersistentSequential)
        .unwrap();
    zk.create_mode("/app/eph", CreateMode::Ephemeral).unwrap();
    zk.create_mode("/app/eseq-", CreateMode::EphemeralSequential)
        .unwrap();
    zk.create_full(
        OpCode::CreateContainer,
        "/box",
        b"",
        Acl::open_unsafe(),
        CreateMode::Container.code(),
        0,
    );
    zk.create("/box/child").unwrap();
    zk.delete("/box/child", -1).unwrap(); // an empty container that had a child
    zk.create_full(
        OpCode::CreateTtl,
        "/ttl",
        b"t",
        Acl::open_unsafe(),
        CreateMode::PersistentWithTtl.code(),
        500,
    );
    zk.create_full(
        OpCode::Create,
        "/locked",
        b"secret",
        vec![Acl::new(Perms::READ, Id::new("ip", "10.0.0.0/8"))],
        0,
        0,
    );
    zk.set_acl(
        "/app/bin",
        vec![Acl::new(
            Perms::ALL,
            Id::new("digest", rzk_state::digest("u:p")),
        )],
        -1,
    )
    .unwrap();
    zk.set("/app", b"v2", -1).unwrap();
    zk.write_as(
        S2,
        WriteOp::Create {
            op: OpCode::Create,
            create: CreateOp {
                path: "/s2eph".into(),
                data: Vec::new(),
                acl: Acl::open_unsafe(),
                flags: CreateMode::Ephemeral.code(),
                ttl: 0,
            },
        },
    );
    set_quota(&mut zk, "/app", "count=100,bytes=-1");
    set_quota(
        &mut zk,
        "/q",
        "count=-1,bytes=-1=;byteHardLimit=1000;countHardLimit=50",
    );
    zk.create("/q").unwrap();
    zk.create("/q/inner").unwrap();
    set_quota(&mut zk, "/q/inner", "count=10,bytes=-1");
    // Deleting /q's limits drops /q and /q/inner from the trie, although
    // /q/inner's limits node stays.
    zk.delete("/zookeeper/quota/q/zookeeper_limits", -1)
        .unwrap();
    zk.create_data("/q/inner/x", b"12345").unwrap();
    zk.entry(Txn::Error {
        session_id: S1,
        err: rzk_proto::ErrorCode::MarshallingError,
    });
    zk
}

#[test]
fn a_fresh_tree_round_trips() {
    let tree = DataTree::new(StateConfig::default());
    let bytes = snapshot(&tree);
    assert_eq!(&bytes[..8], &SNAPSHOT_MAGIC);
    assert_eq!(&bytes[8..12], &SNAPSHOT_FORMAT_VERSION.to_be_bytes());
    let loaded = load(&bytes, StateConfig::default()).unwrap();
    assert_same(&tree, &loaded);
}

#[test]
fn a_rich_tree_round_trips_and_behaves_the_same_afterwards() {
    let mut a = rich();
    let bytes = snapshot(&a.tree);
    let mut b = Zk {
        tree: load(&bytes, extended()).unwrap(),
        zxid: a.zxid,
        time_ms: a.time_ms,
        auth: Vec::new(),
    };
    assert_same(&a.tree, &b.tree);
    assert_eq!(b.tree.ephemeral_owner("/app/eph"), Some(S1));
    assert_eq!(b.tree.deletion_candidates(i64::MAX, 10), ["/box", "/ttl"]);

    // The same further writes give the same replies, triggers and warnings.
    let more: Vec<Txn> = vec![
        // /q/inner is no quota root any more: no usage update, no limit.
        write(OpCode::Create, "/q/inner/y", b"abc"),
        write(OpCode::Create, "/app/more", b"abc"),
        write(OpCode::Create2, "/app/seq-", b""),
        Txn::Write {
            session_id: S1,
            auth: vec![].into(),
            op: WriteOp::SetData(SetDataRequest {
                path: "/app/bin".into(),
                data: b"no auth".to_vec(),
                version: -1,
            }),
        },
        Txn::Write {
            session_id: S1,
            auth: vec![Id::new("digest", rzk_state::digest("u:p"))].into(),
            op: WriteOp::SetAcl(SetAclRequest {
                path: "/app/bin".into(),
                acl: Acl::read_unsafe(),
                version: -1,
            }),
        },
        Txn::Write {
            session_id: S1,
            auth: vec![].into(),
            op: WriteOp::Multi(vec![
                mcreate("/box/again", CreateMode::Persistent),
                mset("/app", b"v3", 1),
                mdelete("/app/missing", -1),
            ]),
        },
        Txn::DeleteContainer {
            path: "/box".into(),
        },
        Txn::DeleteContainer {
            path: "/ttl".into(),
        },
        Txn::Write {
            session_id: S1,
            auth: vec![].into(),
            op: WriteOp::Delete(DeleteRequest {
                path: "/zookeeper/quota/app/zookeeper_limits".into(),
                version: -1,
            }),
        },
        write(OpCode::Create, "/app/after", b"abcdef"),
        Txn::CloseSession { session_id: S1 },
        Txn::ExpireSession { session_id: S2 },
        Txn::CreateSession {
            session_id: S1,
            timeout_ms: 5000,
            password: vec![9; 16],
        },
    ];
    for txn in more {
        let ra = a.entry(txn.clone());
        let rb = b.entry(txn);
        assert_eq!(ra, rb);
    }
    assert_same(&a.tree, &b.tree);
}

fn write(op: OpCode, path: &str, data: &[u8]) -> Txn {
    Txn::Write {
        session_id: S1,
        auth: vec![].into(),
        op: WriteOp::Create {
            op,
            create: CreateOp {
                path: path.into(),
                data: data.to_vec(),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: 0,
            },
        },
    }
}

#[test]
fn snapshots_are_deterministic() {
    let a = rich();
    let b = rich();
    assert_eq!(snapshot(&a.tree), snapshot(&b.tree));
    // And independent of the hash map's insertion history: the loaded tree
    // was built in preorder, the original in creation order.
    let loaded = load(&snapshot(&a.tree), extended()).unwrap();
    assert_eq!(snapshot(&loaded), snapshot(&a.tree));
}

#[test]
fn every_single_byte_flip_is_an_error() {
    let zk = rich();
    let bytes = snapshot(&zk.tree);
    assert!(bytes.len() > 1000, "{}", bytes.len());
    for i in 0..bytes.len() {
        for xor in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= xor;
            assert!(
                load(&bad, extended()).is_err(),
                "byte {i} ^ {xor:#x} was not detected"
            );
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let zk = rich();
    let bytes = snapshot(&zk.tree);
    for len in 0..bytes.len() {
        match load(&bytes[..len], extended()) {
            Err(SnapshotError::Truncated) => {}
            other => panic!("truncated to {len}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn bytes_after_the_snapshot_are_left_unread() {
    let zk = rich();
    let mut bytes = snapshot(&zk.tree);
    let len = bytes.len() as u64;
    bytes.extend_from_slice(b"next record");
    let mut cursor = Cursor::new(&bytes[..]);
    let (tree, meta) = DataTree::read_snapshot(&mut cursor, extended()).unwrap();
    assert_eq!(cursor.position(), len);
    assert_eq!(meta.size_bytes, len);
    assert_same(&tree, &zk.tree);
}

#[test]
fn header_errors_are_named() {
    let bytes = snapshot(&DataTree::new(StateConfig::default()));
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(
        load(&bad, StateConfig::default()),
        Err(SnapshotError::BadMagic)
    ));
    let mut bad = bytes.clone();
    bad[11] = 9;
    assert!(matches!(
        load(&bad, StateConfig::default()),
        Err(SnapshotError::UnsupportedVersion(9))
    ));
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(matches!(
        load(&bad, StateConfig::default()),
        Err(SnapshotError::Checksum { .. })
    ));
    assert!(matches!(
        load(&[], StateConfig::default()),
        Err(SnapshotError::Truncated)
    ));
}

/// The whole record of the node at `path` (length-prefixed path, empty
/// data, fixed tail) in a snapshot whose nodes all hold empty data.
fn empty_node_record(bytes: &[u8], path: &str) -> std::ops::Range<usize> {
    let mut prefixed = (path.len() as i32).to_be_bytes().to_vec();
    prefixed.extend_from_slice(path.as_bytes());
    let start = bytes
        .windows(prefixed.len())
        .position(|w| w == prefixed.as_slice())
        .unwrap();
    // path, data length 0, ACL index and the 60 bytes of Stat.
    start..start + prefixed.len() + 4 + 4 + 60
}

/// The loader finds a node's parent on the chain of nodes it loaded last
/// (the writer's preorder); a file whose parent came earlier but elsewhere
/// still loads the same tree, and a duplicate placed out of that order is
/// still refused.
#[test]
fn nodes_out_of_preorder_load_when_their_parent_came_first() {
    let mut zk = Zk::new();
    for path in ["/a", "/a/x", "/b"] {
        zk.create(path).unwrap();
    }
    let bytes = snapshot(&zk.tree);
    let (ax, b) = (
        empty_node_record(&bytes, "/a/x"),
        empty_node_record(&bytes, "/b"),
    );
    assert_eq!(ax.end, b.start, "preorder: /a/x then /b");

    // /, /a, /b, /a/x: when /a/x comes, /a is no longer on the chain.
    let mut swapped = bytes[..ax.start].to_vec();
    swapped.extend_from_slice(&bytes[b.clone()]);
    swapped.extend_from_slice(&bytes[ax.clone()]);
    swapped.extend_from_slice(&bytes[b.end..]);
    recrc(&mut swapped);
    let loaded = load(&swapped, StateConfig::default()).unwrap();
    assert_same(&loaded, &zk.tree);

    // /, /a, /a/x, /b, /a/x: the second /a/x is found in the map.
    let mut twice = bytes[..b.end].to_vec();
    twice.extend_from_slice(&bytes[ax]);
    twice.extend_from_slice(&bytes[b.end..]);
    let count_at = 8 + 4 + 8;
    let count = u64::from_be_bytes(twice[count_at..count_at + 8].try_into().unwrap());
    twice[count_at..count_at + 8].copy_from_slice(&(count + 1).to_be_bytes());
    rehead(&mut twice);
    let n = twice.len();
    twice[n - 12..n - 4].copy_from_slice(&(count + 1).to_be_bytes());
    recrc(&mut twice);
    match load(&twice, StateConfig::default()) {
        Err(SnapshotError::Corrupt(why)) => assert!(why.contains("twice"), "{why}"),
        other => panic!("a node twice: {:?}", other.map(|_| ())),
    }
}

/// A merge reads its base to the end and checks it like a load: a damaged
/// base is an error, not a snapshot. Changes not kept give no delta.
#[test]
fn a_merge_checks_its_base_and_needs_kept_changes() {
    let mut zk = Zk::new();
    zk.create_data("/app", b"old").unwrap();
    zk.create("/app/bin").unwrap();
    assert!(zk.tree.take_all_changes().is_none(), "nothing was kept");
    let base = snapshot(&zk.tree);
    zk.set("/app/bin", b"new", -1).unwrap();
    let delta = zk
        .tree
        .take_all_changes()
        .expect("kept since the last take");
    assert_eq!(delta.changed_paths(), 1);
    let mut bad = base.clone();
    let n = bad.len();
    bad[n - 20] ^= 1;
    let mut out = Vec::new();
    match merge_snapshot(&mut &bad[..], delta, &mut out) {
        Err(SnapshotError::Checksum { .. }) => {}
        other => panic!("damaged base: {:?}", other.map(|_| ())),
    }
    // A truncated base.
    zk.set("/app/bin", b"newer", -1).unwrap();
    let delta = zk.tree.take_all_changes().unwrap();
    match merge_snapshot(&mut &base[..base.len() - 1], delta, &mut Vec::new()) {
        Err(SnapshotError::Truncated) | Err(SnapshotError::Io(_)) => {}
        other => panic!("truncated base: {:?}", other.map(|_| ())),
    }
}

/// Changes are finished only under the ticket they were taken with: a
/// later take gives up an unfinished one, and a ticket means nothing to
/// another tree (a builder must never merge changes onto the wrong base).
#[test]
fn taken_changes_are_finished_only_under_their_own_ticket() {
    let mut zk = Zk::new();
    zk.tree.track_changes();
    zk.create_data("/app", b"v1").unwrap();
    zk.create("/app/bin").unwrap();
    let first = zk.tree.take_changes().expect("kept");
    let mut other = Zk::new();
    other.tree.track_changes();
    other.create("/app").unwrap();
    let theirs = other.tree.take_changes().expect("kept");
    assert!(matches!(zk.tree.encode_taken(theirs, 10), TakeStep::Lost));
    zk.set("/app", b"v2", -1).unwrap();
    let second = zk.tree.take_changes().expect("kept");
    assert!(matches!(zk.tree.encode_taken(first, 10), TakeStep::Lost));
    match zk.tree.encode_taken(second, 10) {
        TakeStep::Done(delta) => assert_eq!(delta.changed_paths(), 1),
        other => panic!("{other:?}"),
    }
    // Given up: nothing left to finish.
    zk.set("/app", b"v3", -1).unwrap();
    let third = zk.tree.take_changes().expect("kept");
    zk.tree.drop_taken(third);
    assert!(matches!(zk.tree.encode_taken(third, 10), TakeStep::Lost));
    // Not kept: no delta, and the take starts keeping them again.
    zk.tree.stop_tracking_changes();
    zk.set("/app", b"v4", -1).unwrap();
    assert!(zk.tree.take_all_changes().is_none());
    zk.set("/app/bin", b"v1", -1).unwrap();
    let kept = zk
        .tree
        .take_all_changes()
        .expect("kept since the last take");
    assert_eq!(kept.changed_paths(), 1);
}

/// Recomputes the trailer's CRC, so a test can present damaged structure
/// that the checksum does not catch (what a buggy writer could produce).
fn recrc(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = crc32c::crc32c(&bytes[..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_be_bytes());
}

/// Recomputes the header's CRC (over its first 28 bytes).
fn rehead(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn damaged_structure_is_an_error_even_with_a_good_checksum() {
    let tree = DataTree::new(StateConfig::default());
    let bytes = snapshot(&tree);
    // Layout of a fresh tree: header (32), ACL lists (4 + 2 lists), nodes.
    let first_path = bytes
        .windows(5)
        .position(|w| w == [0, 0, 0, 1, b'/'])
        .unwrap();
    let expect_corrupt = |bad: Vec<u8>, what: &str| {
        let mut bad = bad;
        recrc(&mut bad);
        match load(&bad, StateConfig::default()) {
            Err(SnapshotError::Corrupt(_)) => {}
            other => panic!("{what}: {:?}", other.map(|_| ())),
        }
    };

    // The root is not first.
    let mut bad = bytes.clone();
    bad[first_path + 4] = b'x';
    expect_corrupt(bad, "root renamed");

    // Nodes before their parent: renaming /zookeeper orphans its children.
    let zk = bytes.windows(10).position(|w| w == b"/zookeeper").unwrap();
    let mut bad = bytes.clone();
    bad[zk + 1] = b'y';
    expect_corrupt(bad, "node without parent");

    // A node twice: /zookeeper/config's record renamed /zookeeper/quota
    // (which follows it in preorder).
    let config = bytes
        .windows(17)
        .position(|w| w == b"/zookeeper/config")
        .unwrap();
    let mut dup = bytes[..config - 4].to_vec();
    dup.extend_from_slice(&16i32.to_be_bytes());
    dup.extend_from_slice(b"/zookeeper/quota");
    dup.extend_from_slice(&bytes[config + 17..]);
    expect_corrupt(dup, "duplicate node");

    // An ACL index out of range: the root's (just after its empty data).
    let mut bad = bytes.clone();
    let acl_index_at = first_path + 5 + 4;
    bad[acl_index_at + 3] = 7;
    expect_corrupt(bad, "acl index");

    // A negative data length.
    let mut bad = bytes.clone();
    bad[first_path + 5] = 0x80;
    expect_corrupt(bad, "negative length");

    // ACL lists out of order: swap the two lists of a fresh tree.
    let lists_at = 32;
    assert_eq!(&bytes[lists_at..lists_at + 4], &2u32.to_be_bytes());
    let list_len = 4 + 4 + 4 + 5 + 4 + 6; // one ACL: perms, "world", "anyone"
    let (l1, l2) = (
        lists_at + 4..lists_at + 4 + list_len,
        lists_at + 4 + list_len..lists_at + 4 + 2 * list_len,
    );
    let mut bad = bytes.clone();
    let (a, b) = (bytes[l1.clone()].to_vec(), bytes[l2.clone()].to_vec());
    bad[l1].copy_from_slice(&b);
    bad[l2].copy_from_slice(&a);
    expect_corrupt(bad, "acl order");

    // The trailer's node count disagrees with the header's.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 5] ^= 1;
    expect_corrupt(bad, "trailer count");

    // A flag that is neither 0 nor 1 (the quota trie's root flag, right
    // after the sessions count, which is 0 here).
    let mut bad = bytes.clone();
    let trie_at = n - 12 - 4 - 1;
    assert_eq!(bad[trie_at], 0);
    bad[trie_at] = 2;
    expect_corrupt(bad, "flag");
}

#[test]
fn huge_lengths_fail_without_allocating_them() {
    let bytes = snapshot(&DataTree::new(StateConfig::default()));
    let first_path = bytes
        .windows(5)
        .position(|w| w == [0, 0, 0, 1, b'/'])
        .unwrap();
    // The root's data claims 2 GiB: read as far as the input goes, then
    // Truncated (the buffer only ever grows with the bytes actually read).
    let mut bad = bytes.clone();
    bad[first_path + 5..first_path + 9].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        load(&bad, StateConfig::default()),
        Err(SnapshotError::Truncated)
    ));
    // A header claiming u64::MAX or 2^24 + 1 nodes: the header checksum
    // catches the damage; with a recomputed one, the map is sized to a
    // bounded count (fallibly) and the load fails as truncated.
    for count in [u64::MAX, (1 << 24) + 1] {
        let mut bad = bytes.clone();
        bad[20..28].copy_from_slice(&count.to_be_bytes());
        assert!(matches!(
            load(&bad, StateConfig::default()),
            Err(SnapshotError::Checksum { .. })
        ));
        rehead(&mut bad);
        assert!(matches!(
            load(&bad, StateConfig::default()),
            Err(SnapshotError::Truncated)
        ));
    }
    // No nodes at all (not even /).
    let mut bad = bytes.clone();
    bad[20..28].copy_from_slice(&0u64.to_be_bytes());
    rehead(&mut bad);
    assert!(matches!(
        load(&bad, StateConfig::default()),
        Err(SnapshotError::Corrupt(_))
    ));
    // ACL list count u32::MAX.
    let mut bad = bytes;
    bad[32..36].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(load(&bad, StateConfig::default()).is_err());
}

// ---- property test: snapshot at a random point of a random history ----

/// Paths by how often they are picked: parents more often than children, so
/// that deep nodes and quota roots (limits and stats nodes under
/// `/zookeeper/quota/a` and `/zookeeper/quota/a/x`) get created.
const PATHS: &[(u32, &str)] = &[
    (6, "/a"),
    (4, "/b"),
    (4, "/a/x"),
    (2, "/a/y"),
    (2, "/b/x"),
    (2, "/a/x/z"),
    // Sort before "/a/..." byte-wise, after its subtree in a snapshot.
    (2, "/a!"),
    (1, "/a!/x"),
    (3, "/zookeeper/quota/a"),
    (3, "/zookeeper/quota/a/zookeeper_limits"),
    (3, "/zookeeper/quota/a/zookeeper_stats"),
    (2, "/zookeeper/quota/a/x"),
    (2, "/zookeeper/quota/a/x/zookeeper_limits"),
    (2, "/zookeeper/quota/a/x/zookeeper_stats"),
    (1, "/"),
    (1, "bad"),
];
/// 0x100 never ends; the others are closed, expire and come back.
const SESSIONS: &[i64] = &[0x100, 0x200, 0x300];

fn path() -> impl Strategy<Value = String> {
    let weighted: Vec<_> = PATHS
        .iter()
        .map(|&(w, p)| (w, Just(p.to_owned()).boxed()))
        .collect();
    prop::strategy::Union::new_weighted(weighted)
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..8),
        1 => Just(b"count=3,bytes=-1".to_vec()),
        1 => Just(b"count=-1,bytes=-1=;byteHardLimit=20;countHardLimit=4".to_vec()),
    ]
}

fn acl() -> impl Strategy<Value = Vec<Acl>> {
    prop_oneof![
        4 => Just(Acl::open_unsafe()),
        1 => Just(Acl::read_unsafe()),
        1 => Just(vec![Acl::new(Perms::ALL, Id::new("auth", ""))]),
        1 => Just(vec![Acl::new(Perms::CREATE | Perms::READ, Id::anyone())]),
    ]
}

fn version() -> impl Strategy<Value = i32> {
    prop_oneof![3 => Just(-1), 2 => 0..3i32]
}

fn create() -> impl Strategy<Value = (OpCode, CreateOp)> {
    (
        prop_oneof![
            3 => Just(OpCode::Create),
            3 => Just(OpCode::Create2),
            1 => Just(OpCode::CreateContainer),
            1 => Just(OpCode::CreateTtl),
        ],
        path(),
        data(),
        acl(),
        prop_oneof![8 => 0..4i32, 1 => 4..7i32],
        prop_oneof![Just(-1i64), 1..100i64],
    )
        .prop_map(|(op, path, data, acl, flags, ttl)| {
            (
                op,
                CreateOp {
                    path,
                    data,
                    acl,
                    flags,
                    ttl,
                },
            )
        })
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create().prop_map(|(op, create)| MultiOp::Create { op, create }),
        (path(), version()).prop_map(|(path, version)| mdelete(&path, version)),
        (path(), data(), version()).prop_map(|(path, data, version)| mset(&path, &data, version)),
        (path(), version()).prop_map(|(path, version)| mcheck(&path, version)),
    ]
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        8 => create().prop_map(|(op, create)| WriteOp::Create { op, create }),
        2 => (path(), version()).prop_map(|(path, version)| WriteOp::Delete(DeleteRequest { path, version })),
        2 => (path(), data(), version()).prop_map(|(path, data, version)| WriteOp::SetData(SetDataRequest { path, data, version })),
        1 => (path(), acl(), version()).prop_map(|(path, acl, version)| WriteOp::SetAcl(SetAclRequest { path, acl, version })),
        2 => prop::collection::vec(multi_op(), 1..4).prop_map(WriteOp::Multi),
    ]
}

fn txn() -> impl Strategy<Value = Txn> {
    let session = prop::sample::select(SESSIONS);
    let ending = prop::sample::select(&SESSIONS[1..]);
    prop_oneof![
        40 => (session.clone(), write_op()).prop_map(|(session_id, op)| Txn::Write { session_id, auth: vec![Id::new("ip", "127.0.0.1")].into(), op }),
        3 => ending.clone().prop_map(|session_id| Txn::CreateSession { session_id, timeout_ms: 10_000, password: vec![session_id as u8; 16] }),
        1 => ending.clone().prop_map(|session_id| Txn::CloseSession { session_id }),
        1 => ending.prop_map(|session_id| Txn::ExpireSession { session_id }),
        1 => path().prop_map(|path| Txn::DeleteContainer { path }),
    ]
}

/// Creates that give a history's random writes something to work on: two
/// nested quota roots and nodes under both.
const BASE: &[(&str, &[u8])] = &[
    ("/a", b""),
    ("/a/x", b"12"),
    ("/zookeeper/quota/a", b""),
    (
        "/zookeeper/quota/a/zookeeper_limits",
        b"count=-1,bytes=-1=;byteHardLimit=40;countHardLimit=6",
    ),
    ("/zookeeper/quota/a/zookeeper_stats", b""),
    ("/zookeeper/quota/a/x", b""),
    ("/zookeeper/quota/a/x/zookeeper_limits", b"count=2,bytes=-1"),
    ("/zookeeper/quota/a/x/zookeeper_stats", b""),
];

fn history() -> impl Strategy<Value = (Vec<Entry>, usize, bool)> {
    (
        any::<bool>(),
        prop::collection::vec((txn(), 0..5_000i64), 0..150),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(base, txns, at, extended)| {
            let mut time_ms = 1_000_000;
            let mut txns_in_order: Vec<(Txn, i64)> = SESSIONS
                .iter()
                .map(|&session_id| {
                    let txn = Txn::CreateSession {
                        session_id,
                        timeout_ms: 10_000,
                        password: vec![0; 16],
                    };
                    (txn, 0)
                })
                .collect();
            if base {
                txns_in_order.extend(BASE.iter().map(|(path, data)| {
                    let txn = Txn::Write {
                        session_id: SESSIONS[0],
                        auth: vec![].into(),
                        op: WriteOp::Create {
                            op: OpCode::Create,
                            create: CreateOp {
                                path: (*path).into(),
                                data: data.to_vec(),
                                acl: Acl::open_unsafe(),
                                flags: 0,
                                ttl: 0,
                            },
                        },
                    };
                    (txn, 1)
                }));
            }
            txns_in_order.extend(txns);
            let mut out = Vec::new();
            for (txn, dt) in txns_in_order {
                time_ms += dt;
                out.push(Entry {
                    zxid: out.len() as i64 + 1,
                    time_ms,
                    txn,
                });
            }
            let split = at.index(out.len() + 1);
            (out, split, extended)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_loaded_snapshot_is_the_same_state_machine((entries, split, ext) in history()) {
        let config = StateConfig {
            extended_types_enabled: ext,
            enforce_quota: true,
            ..StateConfig::default()
        };
        let mut a = DataTree::new(config.clone());
        for e in &entries[..split] {
            a.apply(e);
        }
        let bytes = snapshot(&a);
        let mut b = load(&bytes, config).unwrap();
        assert_same(&a, &b);
        for e in &entries[split..] {
            let ra = a.apply(e);
            let rb = b.apply(e);
            prop_assert_eq!(ra, rb);
        }
        assert_same(&a, &b);
    }

    /// The previous snapshot merged with the changes kept since is the
    /// tree's own snapshot at the point they were taken, byte for byte,
    /// over two snapshot points in a row; the first delta's records are
    /// encoded a few at a time while later entries change the tree.
    #[test]
    fn a_merged_snapshot_is_the_trees_snapshot(
        (entries, split, ext) in history(),
        at in any::<prop::sample::Index>(),
        encode_every in 0usize..4,
        encode_paths in 1usize..4,
    ) {
        let config = StateConfig {
            extended_types_enabled: ext,
            enforce_quota: true,
            ..StateConfig::default()
        };
        let mut tree = DataTree::new(config);
        for e in &entries[..split] {
            tree.apply(e);
        }
        let base = snapshot(&tree);
        tree.track_changes();
        let mid = split + at.index(entries.len() - split + 1);
        for e in &entries[split..mid] {
            tree.apply(e);
        }
        let ticket = tree.take_changes().expect("changes were kept");
        let at_mid = snapshot(&tree);
        let mut first = None;
        for (i, e) in entries[mid..].iter().enumerate() {
            tree.apply(e);
            if first.is_none() && encode_every > 0 && i % encode_every == 0 {
                match tree.encode_taken(ticket, encode_paths) {
                    TakeStep::More => {}
                    TakeStep::Done(delta) => first = Some(delta),
                    TakeStep::Lost => panic!("the only take was lost"),
                }
            }
        }
        let first = match first {
            Some(delta) => delta,
            None => match tree.encode_taken(ticket, usize::MAX) {
                TakeStep::Done(delta) => delta,
                other => panic!("finishing the take: {other:?}"),
            },
        };
        let mut merged = Vec::new();
        let meta = merge_snapshot(&mut &base[..], first, &mut merged).unwrap();
        prop_assert_eq!(&merged, &at_mid);
        prop_assert_eq!(meta.size_bytes, merged.len() as u64);
        let second = tree.take_all_changes().expect("changes were kept");
        let mut again = Vec::new();
        merge_snapshot(&mut &merged[..], second, &mut again).unwrap();
        prop_assert_eq!(&again, &snapshot(&tree));
    }

    #[test]
    fn damage_with_a_recomputed_checksum_never_panics(
        (entries, split, ext) in history(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let config = StateConfig { extended_types_enabled: ext, ..StateConfig::default() };
        let mut a = DataTree::new(config.clone());
        for e in &entries[..split] {
            a.apply(e);
        }
        let mut bytes = snapshot(&a);
        let i = at.index(bytes.len() - 4);
        bytes[i] ^= xor;
        rehead(&mut bytes);
        recrc(&mut bytes);
        // Structure damage is an error; damage to a value (data, a stat
        // field) loads as a different but whole tree, which must then
        // snapshot and apply without panicking.
        if let Ok(mut tree) = load(&bytes, config) {
            let again = snapshot(&tree);
            prop_assert_eq!(snapshot(&load(&again, tree.config().clone()).unwrap()), again);
            for e in &entries[split..] {
                tree.apply(e);
            }
        }
    }
}
