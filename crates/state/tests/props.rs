//! Property tests over random entry sequences.
use std::collections::BTreeMap;

use proptest::prelude::*;
use rzk_proto::records::{CheckVersionRequest, DeleteRequest, SetAclRequest, SetDataRequest};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Acl, ErrorCode, EventType, Id, MultiResult, OpCode, Perms, Response};
use rzk_state::{Applied, DataTree, Entry, StateConfig, Txn, WriteOp};

const PATHS: &[&str] = &[
    "/a",
    "/b",
    "/a/x",
    "/a/y",
    "/b/x",
    "/a/x/z",
    "/zookeeper/quota/a",
    "/",
    "bad",
    "/a/",
];
const SESSIONS: &[i64] = &[0x100, 0x200, 0x300];

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(&PATHS[..6]).prop_map(str::to_owned),
        1 => prop::sample::select(PATHS).prop_map(str::to_owned),
    ]
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..8)
}

fn acl() -> impl Strategy<Value = Vec<Acl>> {
    prop_oneof![
        4 => Just(Acl::open_unsafe()),
        1 => Just(Acl::read_unsafe()),
        1 => Just(vec![Acl::new(Perms::ALL, Id::new("auth", ""))]),
        1 => Just(vec![Acl::new(Perms::CREATE | Perms::READ, Id::anyone())]),
        1 => Just(vec![]),
    ]
}

fn create_op() -> impl Strategy<Value = (OpCode, CreateOp)> {
    (
        prop::sample::select(
            &[
                OpCode::Create,
                OpCode::Create2,
                OpCode::CreateContainer,
                OpCode::CreateTtl,
            ][..],
        ),
        path(),
        data(),
        acl(),
        prop_oneof![8 => 0..4i32, 1 => 4..8i32, 1 => any::<i32>()],
        prop_oneof![Just(-1i64), Just(0), 1..100i64],
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

fn version() -> impl Strategy<Value = i32> {
    prop_oneof![3 => Just(-1), 2 => 0..3i32]
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create_op().prop_map(|(op, create)| MultiOp::Create { op, create }),
        (path(), version())
            .prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        (path(), data(), version()).prop_map(|(path, data, version)| MultiOp::SetData(
            SetDataRequest {
                path,
                data,
                version
            }
        )),
        (path(), version())
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
    ]
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        4 => create_op().prop_map(|(op, create)| WriteOp::Create { op, create }),
        2 => (path(), version()).prop_map(|(path, version)| WriteOp::Delete(DeleteRequest { path, version })),
        2 => (path(), data(), version()).prop_map(|(path, data, version)| WriteOp::SetData(SetDataRequest { path, data, version })),
        1 => (path(), acl(), version()).prop_map(|(path, acl, version)| WriteOp::SetAcl(SetAclRequest { path, acl, version })),
        1 => (path(), version()).prop_map(|(path, version)| WriteOp::Check(CheckVersionRequest { path, version })),
        2 => prop::collection::vec(multi_op(), 0..5).prop_map(WriteOp::Multi),
    ]
}

fn auth() -> impl Strategy<Value = Vec<Id>> {
    prop_oneof![
        Just(vec![Id::new("ip", "127.0.0.1")]),
        Just(vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", rzk_state::digest("u:p"))
        ]),
    ]
}

fn txn() -> impl Strategy<Value = Txn> {
    let session = prop::sample::select(SESSIONS);
    prop_oneof![
        24 => (session.clone(), auth(), write_op()).prop_map(|(session_id, auth, op)| Txn::Write { session_id, auth: auth.into(), op }),
        2 => session.clone().prop_map(|session_id| Txn::CreateSession { session_id, timeout_ms: 10_000, password: vec![0; 16] }),
        1 => session.clone().prop_map(|session_id| Txn::CloseSession { session_id }),
        1 => session.prop_map(|session_id| Txn::ExpireSession { session_id }),
        1 => path().prop_map(|path| Txn::DeleteContainer { path }),
    ]
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec((txn(), 0..5_000i64), 0..120).prop_map(|txns| {
        let mut time_ms = 1_000_000;
        let mut out = vec![
            Entry {
                zxid: 1,
                time_ms,
                txn: Txn::CreateSession {
                    session_id: 0x100,
                    timeout_ms: 10_000,
                    password: vec![0; 16],
                },
            },
            Entry {
                zxid: 2,
                time_ms,
                txn: Txn::CreateSession {
                    session_id: 0x200,
                    timeout_ms: 10_000,
                    password: vec![0; 16],
                },
            },
            Entry {
                zxid: 3,
                time_ms,
                txn: Txn::CreateSession {
                    session_id: 0x300,
                    timeout_ms: 10_000,
                    password: vec![0; 16],
                },
            },
        ];
        for (txn, dt) in txns {
            time_ms += dt;
            out.push(Entry {
                zxid: out.len() as i64 + 1,
                time_ms,
                txn,
            });
        }
        out
    })
}

fn config() -> StateConfig {
    StateConfig {
        extended_types_enabled: true,
        enforce_quota: true,
        ..StateConfig::default()
    }
}

fn parent_of(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => "",
    }
}

/// Checks every Stat invariant against the dump and the trigger history
/// (`child_changes[p]`: NodeChildrenChanged triggers seen for `p` since it was
/// created, i.e. creations + deletions of its children).
fn check_invariants(
    tree: &DataTree,
    child_changes: &BTreeMap<String, i32>,
    base: &BTreeMap<String, i32>,
) {
    let dump = tree.dump();
    let mut children: BTreeMap<&str, i32> = BTreeMap::new();
    for (p, ..) in &dump {
        if p != "/" {
            *children.entry(parent_of(p)).or_default() += 1;
        }
    }
    for (p, stat, data, acl) in &dump {
        assert_eq!(
            stat.num_children,
            children.get(p.as_str()).copied().unwrap_or(0),
            "{p} numChildren"
        );
        assert_eq!(stat.data_length as usize, data.len(), "{p} dataLength");
        assert!(stat.mzxid >= stat.czxid, "{p} mzxid");
        assert!(stat.pzxid >= stat.czxid, "{p} pzxid");
        assert!(!acl.is_empty(), "{p} has an ACL");
        assert!(
            acl.iter().all(|a| a.id.scheme != "auth"),
            "{p}: auth never stored"
        );
        let expected =
            base.get(p).copied().unwrap_or(0) + child_changes.get(p).copied().unwrap_or(0);
        assert_eq!(stat.cversion, expected, "{p} cversion");
        if p != "/" {
            assert!(tree.exists(parent_of(p)).is_some(), "{p} has a parent");
        }
        if stat.ephemeral_owner != 0 {
            assert_eq!(stat.num_children, 0, "{p}: ephemerals have no children");
            assert!(tree.get_ephemerals(stat.ephemeral_owner, "/").contains(p));
            assert!(
                tree.session(stat.ephemeral_owner).is_some(),
                "{p}: owner is live"
            );
        }
    }
    assert_eq!(tree.node_count(), dump.len());
    let size: u64 = dump
        .iter()
        .map(|(p, _, d, _)| p.encode_utf16().count() as u64 + d.len() as u64)
        .sum();
    assert_eq!(tree.approximate_data_size(), size);
    let eph: usize = tree
        .ephemerals_by_session()
        .iter()
        .map(|(_, v)| v.len())
        .sum();
    assert_eq!(tree.ephemeral_count(), eph);
}

fn track(applied: &Applied, child_changes: &mut BTreeMap<String, i32>) {
    for t in &applied.triggers {
        match t.event {
            EventType::NodeCreated => {
                child_changes.insert(t.path.clone(), 0);
            }
            EventType::NodeChildrenChanged => {
                *child_changes.entry(t.path.clone()).or_default() += 1
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// (1) Stat invariants hold after every entry of a random sequence.
    #[test]
    fn stat_invariants(entries in entries()) {
        let mut tree = DataTree::new(config());
        let base: BTreeMap<String, i32> = tree.dump().into_iter().map(|(p, s, ..)| (p, s.cversion)).collect();
        let mut child_changes = BTreeMap::new();
        for e in &entries {
            let applied = tree.apply(e);
            prop_assert_eq!(applied.zxid, e.zxid);
            prop_assert_eq!(tree.last_zxid(), e.zxid);
            if applied.reply.err != ErrorCode::Ok {
                prop_assert!(applied.triggers.is_empty());
            }
            track(&applied, &mut child_changes);
            check_invariants(&tree, &child_changes, &base);
        }
    }

    /// (4) Determinism: same entries, same replies, triggers and dumps.
    #[test]
    fn determinism(entries in entries()) {
        let mut a = DataTree::new(config());
        let mut b = DataTree::new(config());
        for e in &entries {
            prop_assert_eq!(a.apply(e), b.apply(e));
        }
        prop_assert_eq!(a.dump(), b.dump());
        prop_assert_eq!(a.sessions(), b.sessions());
        prop_assert_eq!(a.ephemerals_by_session(), b.ephemerals_by_session());
        prop_assert_eq!(a.deletion_candidates(i64::MAX, 100), b.deletion_candidates(i64::MAX, 100));
    }

    /// (3) A multi that fails leaves the tree byte-for-byte as it was, yet
    /// consumes its zxid.
    #[test]
    fn failed_multi_is_atomic(entries in entries(), ops in prop::collection::vec(multi_op(), 0..6), at in 0usize..6) {
        let mut tree = DataTree::new(config());
        for e in &entries {
            tree.apply(e);
        }
        let mut ops = ops;
        let at = at.min(ops.len());
        // An op that always fails: check of a node that cannot exist.
        ops.insert(at, MultiOp::Check(CheckVersionRequest { path: "/no/such/node".into(), version: -1 }));
        let before = (tree.dump(), tree.sessions(), tree.ephemerals_by_session(), tree.approximate_data_size(), tree.deletion_candidates(i64::MAX, 100), tree.acl_list_count());
        let zxid = tree.last_zxid() + 1;
        let applied = tree.apply(&Entry {
            zxid,
            time_ms: 9_999_999,
            txn: Txn::Write { session_id: 0x100, auth: vec![Id::new("digest", rzk_state::digest("u:p"))].into(), op: WriteOp::Multi(ops.clone()) },
        });
        prop_assert_eq!(tree.last_zxid(), zxid);
        prop_assert!(applied.triggers.is_empty());
        let after = (tree.dump(), tree.sessions(), tree.ephemerals_by_session(), tree.approximate_data_size(), tree.deletion_candidates(i64::MAX, 100), tree.acl_list_count());
        prop_assert_eq!(before, after);
        match applied.reply.response {
            Response::Multi(results) => {
                prop_assert_eq!(applied.reply.err, ErrorCode::Ok);
                prop_assert_eq!(results.len(), ops.len());
                let first = results.iter().position(|r| !matches!(r, MultiResult::Error(ErrorCode::Ok))).unwrap();
                prop_assert!(first <= at);
                prop_assert!(!matches!(results[first], MultiResult::Error(ErrorCode::RuntimeInconsistency)));
                for r in &results[first + 1..] {
                    prop_assert_eq!(r, &MultiResult::Error(ErrorCode::RuntimeInconsistency));
                }
            }
            Response::Empty => prop_assert_eq!(applied.reply.err, ErrorCode::MarshallingError),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    /// (2) Sequential creates under one parent get strictly increasing, unique
    /// 10-digit suffixes, whatever else happens under that parent.
    #[test]
    fn sequential_numbering(steps in prop::collection::vec(0u8..4, 1..80)) {
        let mut tree = DataTree::new(StateConfig::default());
        let mut zxid = 0;
        let mut apply = |tree: &mut DataTree, txn: Txn| {
            zxid += 1;
            tree.apply(&Entry { zxid, time_ms: zxid, txn })
        };
        apply(&mut tree, Txn::CreateSession { session_id: 1, timeout_ms: 1, password: vec![] });
        let create = |path: &str, flags: i32| Txn::Write {
            session_id: 1,
            auth: vec![].into(),
            op: WriteOp::Create { op: OpCode::Create, create: CreateOp { path: path.into(), data: vec![], acl: Acl::open_unsafe(), flags, ttl: 0 } },
        };
        apply(&mut tree, create("/p", 0));
        let mut suffixes: Vec<u32> = Vec::new();
        let mut others = 0;
        for step in steps {
            match step {
                0 | 1 => {
                    let a = apply(&mut tree, create("/p/s-", if step == 0 { 2 } else { 3 }));
                    if let Response::Create { path } = a.reply.response {
                        let suffix = path.strip_prefix("/p/s-").unwrap();
                        prop_assert_eq!(suffix.len(), 10);
                        prop_assert!(suffix.bytes().all(|b| b.is_ascii_digit()));
                        suffixes.push(suffix.parse().unwrap());
                    } else {
                        prop_assert!(false, "sequential create failed: {:?}", a.reply);
                    }
                }
                2 => {
                    others += 1;
                    apply(&mut tree, create(&format!("/p/o{others}"), 0));
                }
                _ => {
                    // Delete the oldest child, if any.
                    if let Ok((children, _)) = tree.get_children("/p", &[]) {
                        if let Some(c) = children.first() {
                            apply(&mut tree, Txn::Write { session_id: 1, auth: vec![].into(), op: WriteOp::Delete(DeleteRequest { path: format!("/p/{c}"), version: -1 }) });
                        }
                    }
                }
            }
        }
        prop_assert!(suffixes.windows(2).all(|w| w[0] < w[1]));
    }
}

fn wild_path() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(/[a-c.\u{0}\u{1f}\u{e000}\u{1f600} ]{0,3}){0,4}/?",
    ]
}

fn wild_acl() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(
        (
            any::<i32>(),
            prop::sample::select(&["world", "auth", "digest", "ip", "super", "x"][..]),
            any::<String>(),
        )
            .prop_map(|(perms, scheme, id)| Acl::new(perms, Id::new(scheme, id))),
        0..3,
    )
}

fn wild_create() -> impl Strategy<Value = (OpCode, CreateOp)> {
    (
        wild_path(),
        wild_acl(),
        any::<i32>(),
        any::<i64>(),
        prop::sample::select(
            &[
                OpCode::Create,
                OpCode::Create2,
                OpCode::CreateContainer,
                OpCode::CreateTtl,
            ][..],
        ),
    )
        .prop_map(|(path, acl, flags, ttl, op)| {
            (
                op,
                CreateOp {
                    path,
                    data: vec![1],
                    acl,
                    flags,
                    ttl,
                },
            )
        })
}

fn wild_write() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        wild_create().prop_map(|(op, create)| WriteOp::Create { op, create }),
        (wild_path(), any::<i32>())
            .prop_map(|(path, version)| WriteOp::Delete(DeleteRequest { path, version })),
        (wild_path(), any::<i32>()).prop_map(|(path, version)| WriteOp::SetData(SetDataRequest {
            path,
            data: vec![2],
            version
        })),
        (wild_path(), wild_acl(), any::<i32>())
            .prop_map(|(path, acl, version)| WriteOp::SetAcl(SetAclRequest { path, acl, version })),
        prop::collection::vec(
            wild_create().prop_map(|(op, create)| MultiOp::Create { op, create }),
            0..3
        )
        .prop_map(WriteOp::Multi),
    ]
}

proptest! {
    /// Never panics, whatever the entry holds.
    #[test]
    fn arbitrary_entries_never_panic(ops in prop::collection::vec((wild_write(), prop::collection::vec((prop::sample::select(&["ip", "digest", "super", "x"][..]), any::<String>()), 0..3), wild_path()), 1..30)) {
        let mut tree = DataTree::new(config());
        tree.apply(&Entry { zxid: 1, time_ms: 0, txn: Txn::CreateSession { session_id: 7, timeout_ms: 1, password: vec![] } });
        for (i, (op, auth, read_path)) in ops.into_iter().enumerate() {
            let auth: Vec<Id> = auth.into_iter().map(|(s, id)| Id::new(s, id)).collect();
            tree.apply(&Entry { zxid: i as i64 + 2, time_ms: i as i64, txn: Txn::Write { session_id: 7, auth: auth.clone().into(), op } });
            tree.apply(&Entry { zxid: i as i64 + 2, time_ms: i64::MAX, txn: Txn::DeleteContainer { path: read_path.clone() } });
            let _ = tree.get_data(&read_path, &auth);
            let _ = tree.get_children(&read_path, &auth);
            let _ = tree.get_acl(&read_path, &auth);
            let _ = tree.get_all_children_number(&read_path, &auth);
            let _ = tree.get_ephemerals(7, &read_path);
            let _ = tree.stat_node(&read_path);
            let _ = rzk_state::validate_path(&read_path, true);
        }
        let _ = tree.deletion_candidates(i64::MIN, 10);
        let _ = tree.deletion_candidates(i64::MAX, 10);
    }
}
