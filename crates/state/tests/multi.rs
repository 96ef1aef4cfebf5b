//! multi: atomicity, the pending-changes view, result shapes. The shapes and
//! the OK reply header were checked byte for byte against ZooKeeper 3.8.0.
mod common;
use common::*;
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Acl, CreateMode, ErrorCode, EventType, MultiResult, OpCode, Response};
use rzk_state::StateConfig;

fn results(a: &rzk_state::Applied) -> Vec<MultiResult> {
    assert_eq!(
        a.reply.err,
        ErrorCode::Ok,
        "a multi's header is OK even when an op fails"
    );
    match &a.reply.response {
        Response::Multi(r) => r.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_multi() {
    let mut zk = Zk::new();
    let a = zk.multi(vec![]);
    assert_eq!(results(&a), vec![]);
    assert!(a.triggers.is_empty());
}

#[test]
fn successful_multi_sees_its_own_changes() {
    let mut zk = Zk::new();
    let a = zk.multi(vec![
        mcreate("/a", CreateMode::Persistent),
        mcreate("/a/b", CreateMode::Persistent),
        mset("/a/b", b"x", 0),
        mcheck("/a/b", 1),
        mcreate("/a/s-", CreateMode::PersistentSequential),
        mdelete("/a/b", 1),
    ]);
    let r = results(&a);
    let zxid = zk.zxid;
    assert_eq!(r[0], MultiResult::Create { path: "/a".into() });
    assert_eq!(
        r[1],
        MultiResult::Create {
            path: "/a/b".into()
        }
    );
    match &r[2] {
        MultiResult::SetData { stat } => {
            assert_eq!(stat.version, 1);
            assert_eq!(stat.mzxid, zxid);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r[3], MultiResult::Check);
    assert_eq!(
        r[4],
        MultiResult::Create {
            path: "/a/s-0000000001".into()
        }
    );
    assert_eq!(r[5], MultiResult::Delete);
    assert!(zk.tree.exists("/a/b").is_none());
    let s = zk.stat("/a");
    assert_eq!((s.czxid, s.pzxid, s.num_children), (zxid, zxid, 1));
    // Triggers in op order.
    let t: Vec<_> = a
        .triggers
        .iter()
        .map(|t| (t.path.as_str(), t.event))
        .collect();
    assert_eq!(
        t,
        [
            ("/a", EventType::NodeCreated),
            ("/", EventType::NodeChildrenChanged),
            ("/a/b", EventType::NodeCreated),
            ("/a", EventType::NodeChildrenChanged),
            ("/a/b", EventType::NodeDataChanged),
            ("/a/s-0000000001", EventType::NodeCreated),
            ("/a", EventType::NodeChildrenChanged),
            ("/a/b", EventType::NodeDeleted),
            ("/a", EventType::NodeChildrenChanged),
        ]
    );
}

#[test]
fn failed_multi_rolls_back_everything() {
    let mut zk = Zk::new();
    zk.create("/p").unwrap();
    zk.create_data("/p/x", b"old").unwrap();
    zk.create_mode("/p/e", CreateMode::Ephemeral).unwrap();
    let before = zk.tree.dump();
    let size = zk.tree.approximate_data_size();
    let eph = zk.tree.ephemerals_by_session();
    let a = zk.multi(vec![
        mcreate("/p/a", CreateMode::Persistent),
        mset("/p/x", b"new", -1),
        mdelete("/p/e", -1),
        mcreate("/p/s", CreateMode::EphemeralSequential),
        mcreate("/p", CreateMode::Persistent), // fails: NodeExists
        mset("/nope", b"", -1),
    ]);
    assert_eq!(
        results(&a),
        vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NodeExists),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]
    );
    assert!(a.triggers.is_empty());
    assert_eq!(zk.tree.last_zxid(), zk.zxid);
    assert_eq!(zk.tree.dump(), before);
    assert_eq!(zk.tree.approximate_data_size(), size);
    assert_eq!(zk.tree.ephemerals_by_session(), eph);
    // Sequential numbering did not advance.
    assert_eq!(
        zk.create_mode("/p/s", CreateMode::PersistentSequential),
        Ok("/p/s0000000002".into())
    );
}

#[test]
fn first_op_failure_and_delete_then_recreate() {
    let mut zk = Zk::new();
    let a = zk.multi(vec![
        mdelete("/nope", -1),
        mcreate("/x", CreateMode::Persistent),
    ]);
    assert_eq!(
        results(&a),
        vec![
            MultiResult::Error(ErrorCode::NoNode),
            MultiResult::Error(ErrorCode::RuntimeInconsistency)
        ]
    );
    zk.create("/m").unwrap();
    zk.create("/m/a").unwrap();
    let a = zk.multi(vec![
        mdelete("/m/a", -1),
        mcreate("/m/a", CreateMode::Persistent),
        mcheck("/m/a", 0),
    ]);
    assert_eq!(
        results(&a)[1],
        MultiResult::Create {
            path: "/m/a".into()
        }
    );
    assert_eq!(zk.stat("/m/a").czxid, zk.zxid);
}

fn mcreate_op(op: OpCode, path: &str, flags: i32, ttl: i64) -> MultiOp {
    MultiOp::Create {
        op,
        create: CreateOp {
            path: path.into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            flags,
            ttl,
        },
    }
}

#[test]
fn create_kind_in_multi_comes_from_flags() {
    let mut zk = Zk::with_config(StateConfig {
        extended_types_enabled: true,
        ..StateConfig::default()
    });
    // create2 in a multi answers like create (no Stat), as ZooKeeper 3.8 does.
    let r = results(&zk.multi(vec![mcreate_op(OpCode::Create2, "/a", 0, 0)]));
    assert_eq!(r, vec![MultiResult::Create { path: "/a".into() }]);
    // createContainer header with persistent flags: a plain create.
    let r = results(&zk.multi(vec![mcreate_op(OpCode::CreateContainer, "/b", 0, 0)]));
    assert_eq!(r, vec![MultiResult::Create { path: "/b".into() }]);
    // create header with the container flag: a container, answered with a Stat.
    let r = results(&zk.multi(vec![mcreate_op(OpCode::Create, "/c", 4, 0)]));
    assert!(matches!(&r[0], MultiResult::Create2 { path, .. } if path == "/c"));
    zk.create("/c/x").unwrap();
    zk.delete("/c/x", -1).unwrap();
    assert_eq!(zk.tree.deletion_candidates(0, 10), vec!["/c".to_string()]);
    // createTTL header with TTL flags: a TTL node with Stat.
    let r = results(&zk.multi(vec![mcreate_op(OpCode::CreateTtl, "/t", 5, 100)]));
    assert!(matches!(&r[0], MultiResult::Create2 { path, .. } if path == "/t"));
    // createTTL header with persistent flags: a plain create, ttl ignored.
    let r = results(&zk.multi(vec![mcreate_op(OpCode::CreateTtl, "/u", 0, 100)]));
    assert_eq!(r, vec![MultiResult::Create { path: "/u".into() }]);
    // Unknown flags: that op fails with BadArguments.
    let r = results(&zk.multi(vec![mcreate_op(OpCode::Create, "/v", 9, 0)]));
    assert_eq!(r, vec![MultiResult::Error(ErrorCode::BadArguments)]);
    // TTL flags without a ttl (create header): the whole request fails.
    let before = zk.tree.dump();
    let a = zk.multi(vec![
        mcreate_op(OpCode::Create, "/w", 0, 0),
        mcreate_op(OpCode::Create, "/w2", 5, 0),
    ]);
    assert_eq!(a.reply.err, ErrorCode::MarshallingError);
    assert_eq!(a.reply.response, Response::Empty);
    assert_eq!(zk.tree.dump(), before);
    // ...unless an earlier op already failed.
    let r = results(&zk.multi(vec![
        mdelete("/nope", -1),
        mcreate_op(OpCode::Create, "/w2", 5, 0),
    ]));
    assert_eq!(r[1], MultiResult::Error(ErrorCode::RuntimeInconsistency));
}

#[test]
fn multi_from_unknown_session() {
    let mut zk = Zk::new();
    let a = zk.write_as(
        0x999,
        rzk_state::WriteOp::Multi(vec![mcreate("/a", CreateMode::Persistent)]),
    );
    assert_eq!(
        results(&a),
        vec![MultiResult::Error(ErrorCode::SessionExpired)]
    );
}
