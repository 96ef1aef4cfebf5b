//! Stat bookkeeping, checked against what a real ZooKeeper 3.8.0 reports.
mod common;
use common::*;
use rzk_proto::{Acl, CreateMode, ErrorCode, EventType, Perms, Stat};

#[test]
fn initial_tree_matches_a_fresh_zookeeper() {
    let zk = Zk::new();
    let root = zk.stat("/");
    assert_eq!(
        root,
        Stat {
            cversion: -1,
            num_children: 1,
            ..Stat::default()
        }
    );
    let proc_ = zk.stat("/zookeeper");
    assert_eq!(
        proc_,
        Stat {
            cversion: -2,
            num_children: 2,
            ..Stat::default()
        }
    );
    assert_eq!(zk.stat("/zookeeper/quota"), Stat::default());
    assert_eq!(
        zk.stat("/zookeeper/config"),
        Stat {
            aversion: -1,
            ..Stat::default()
        }
    );
    assert_eq!(zk.tree.acl_of("/").unwrap(), Acl::open_unsafe());
    assert_eq!(zk.tree.acl_of("/zookeeper").unwrap(), Acl::open_unsafe());
    assert_eq!(
        zk.tree.acl_of("/zookeeper/config").unwrap(),
        Acl::read_unsafe()
    );
    assert_eq!(zk.tree.node_count(), 4);
    assert_eq!(zk.tree.approximate_data_size(), 1 + 10 + 16 + 17);
    let fresh = rzk_state::DataTree::new(Default::default());
    assert_eq!(fresh.last_zxid(), 0);
}

#[test]
fn create_sets_stat_and_parent_cversion_pzxid() {
    let mut zk = Zk::new();
    zk.create("/t").unwrap();
    let t = zk.stat("/t");
    assert_eq!((t.czxid, t.mzxid, t.pzxid), (zk.zxid, zk.zxid, zk.zxid));
    assert_eq!((t.ctime, t.mtime), (zk.time_ms, zk.time_ms));
    assert_eq!(
        (t.version, t.cversion, t.aversion, t.num_children),
        (0, 0, 0, 0)
    );
    zk.create("/t/a").unwrap();
    zk.create("/t/b").unwrap();
    let t = zk.stat("/t");
    assert_eq!((t.cversion, t.num_children, t.pzxid), (2, 2, zk.zxid));
    assert_eq!(
        t.mzxid, t.czxid,
        "children do not change the parent's mzxid"
    );
}

#[test]
fn delete_bumps_reported_cversion_and_pzxid() {
    // ZooKeeper 3.8.0: 2 creates -> cversion 2; a delete -> 3 (stored cversion
    // counts creations, the reported one is 2 * creations - children).
    let mut zk = Zk::new();
    zk.create("/t").unwrap();
    zk.create("/t/a").unwrap();
    zk.create("/t/b").unwrap();
    zk.delete("/t/a", -1).unwrap();
    let t = zk.stat("/t");
    assert_eq!((t.cversion, t.num_children, t.pzxid), (3, 1, zk.zxid));
    zk.set("/t/b", b"x", -1).unwrap();
    let after_set = zk.stat("/t");
    assert_eq!(after_set, t, "setData on a child leaves the parent alone");
    // The next sequential name is the stored cversion (2), not the reported one.
    assert_eq!(
        zk.create_mode("/t/s", CreateMode::PersistentSequential),
        Ok("/t/s0000000002".into())
    );
    assert_eq!(zk.stat("/t").cversion, 4);
}

#[test]
fn set_data_updates_version_mtime_mzxid_only() {
    let mut zk = Zk::new();
    zk.create("/a").unwrap();
    let before = zk.stat("/a");
    let s = zk.set("/a", b"hello", 0).unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(s.mzxid, zk.zxid);
    assert_eq!(s.mtime, zk.time_ms);
    assert_eq!(s.data_length, 5);
    assert_eq!(
        (s.czxid, s.ctime, s.pzxid, s.cversion),
        (before.czxid, before.ctime, before.pzxid, before.cversion)
    );
    assert_eq!(zk.stat("/a"), s);
    assert_eq!(zk.set("/a", b"x", 0), Err(ErrorCode::BadVersion));
    assert_eq!(zk.set("/a", b"x", 1).unwrap().version, 2);
    assert_eq!(zk.set("/a", b"x", -1).unwrap().version, 3);
}

#[test]
fn set_acl_bumps_aversion() {
    let mut zk = Zk::new();
    zk.create("/a").unwrap();
    assert_eq!(
        zk.set_acl("/a", Acl::read_unsafe(), 1),
        Err(ErrorCode::BadVersion)
    );
    let s = zk.set_acl("/a", Acl::read_unsafe(), 0).unwrap();
    assert_eq!(s.aversion, 1);
    assert_eq!(s.version, 0);
    assert_eq!(s.mzxid, s.czxid, "setACL does not touch mzxid");
    assert_eq!(zk.tree.acl_of("/a").unwrap(), Acl::read_unsafe());
    // Now only READ: setACL needs ADMIN.
    assert_eq!(
        zk.set_acl("/a", Acl::open_unsafe(), -1),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        zk.set_acl("/a", Acl::open_unsafe(), 7),
        Err(ErrorCode::NoAuth),
        "ADMIN is checked before the version"
    );
    assert_eq!(
        zk.set_acl("/nope", Acl::open_unsafe(), -1),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(zk.set_acl("/a", vec![], -1), Err(ErrorCode::InvalidAcl));
    assert_eq!(
        zk.set_acl("/a/", Acl::open_unsafe(), -1),
        Err(ErrorCode::BadArguments)
    );
}

#[test]
fn triggers_follow_zookeeper_order() {
    let mut zk = Zk::new();
    zk.create("/a").unwrap();
    let applied = zk.create_full(
        rzk_proto::OpCode::Create,
        "/a/b",
        b"",
        vec![Acl::new(
            Perms::READ | Perms::DELETE,
            rzk_proto::Id::anyone(),
        )],
        0,
        0,
    );
    let t: Vec<_> = applied
        .triggers
        .iter()
        .map(|t| (t.path.as_str(), t.event))
        .collect();
    assert_eq!(
        t,
        [
            ("/a/b", EventType::NodeCreated),
            ("/a", EventType::NodeChildrenChanged)
        ]
    );
    assert_eq!(
        *applied.triggers[0].acl,
        vec![Acl::new(
            Perms::READ | Perms::DELETE,
            rzk_proto::Id::anyone()
        )]
    );
    assert_eq!(*applied.triggers[1].acl, Acl::open_unsafe());
    let top = zk.create_full(
        rzk_proto::OpCode::Create,
        "/top",
        b"",
        Acl::open_unsafe(),
        0,
        0,
    );
    assert_eq!(top.triggers[1].path, "/");
    assert_eq!(top.triggers[1].event, EventType::NodeChildrenChanged);

    let set = zk.write(rzk_state::WriteOp::SetData(
        rzk_proto::records::SetDataRequest {
            path: "/a".into(),
            data: b"x".to_vec(),
            version: -1,
        },
    ));
    let t: Vec<_> = set
        .triggers
        .iter()
        .map(|t| (t.path.as_str(), t.event))
        .collect();
    assert_eq!(t, [("/a", EventType::NodeDataChanged)]);

    let del = zk.write(rzk_state::WriteOp::Delete(
        rzk_proto::records::DeleteRequest {
            path: "/a/b".into(),
            version: -1,
        },
    ));
    let t: Vec<_> = del
        .triggers
        .iter()
        .map(|t| (t.path.as_str(), t.event))
        .collect();
    assert_eq!(
        t,
        [
            ("/a/b", EventType::NodeDeleted),
            ("/a", EventType::NodeChildrenChanged)
        ]
    );
    assert_eq!(
        *del.triggers[0].acl,
        vec![Acl::new(
            Perms::READ | Perms::DELETE,
            rzk_proto::Id::anyone()
        )]
    );

    let failed = zk.write(rzk_state::WriteOp::Delete(
        rzk_proto::records::DeleteRequest {
            path: "/a/b".into(),
            version: -1,
        },
    ));
    assert_eq!(failed.reply.err, ErrorCode::NoNode);
    assert!(failed.triggers.is_empty());

    let acl = zk.write(rzk_state::WriteOp::SetAcl(
        rzk_proto::records::SetAclRequest {
            path: "/a".into(),
            acl: Acl::open_unsafe(),
            version: -1,
        },
    ));
    assert!(acl.triggers.is_empty(), "setACL fires no watch");
}

#[test]
fn failed_writes_consume_zxid_and_change_nothing() {
    let mut zk = Zk::new();
    zk.create("/a").unwrap();
    let before = zk.tree.dump();
    let z = zk.zxid;
    assert_eq!(zk.create("/a"), Err(ErrorCode::NodeExists));
    assert_eq!(zk.tree.last_zxid(), z + 1);
    assert_eq!(zk.tree.dump(), before);
}

#[test]
fn data_size_tracks_paths_and_data() {
    let mut zk = Zk::new();
    let base = zk.tree.approximate_data_size();
    zk.create_data("/abc", b"12345").unwrap();
    assert_eq!(zk.tree.approximate_data_size(), base + 4 + 5);
    zk.set("/abc", b"1", -1).unwrap();
    assert_eq!(zk.tree.approximate_data_size(), base + 4 + 1);
    zk.delete("/abc", -1).unwrap();
    assert_eq!(zk.tree.approximate_data_size(), base);
    zk.create_data("/é", b"").unwrap();
    assert_eq!(
        zk.tree.approximate_data_size(),
        base + 2,
        "UTF-16 length, as Java's String.length()"
    );
}
