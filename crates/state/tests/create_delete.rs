//! create (all four opcodes) and delete: error codes and their order, node
//! kinds, sequential names. Expected values come from a real ZooKeeper 3.8.0.
mod common;
use common::*;
use rzk_proto::{Acl, CreateMode, ErrorCode, OpCode, Response};
use rzk_state::{StateConfig, Txn};

fn ttl_config() -> StateConfig {
    StateConfig {
        extended_types_enabled: true,
        ..StateConfig::default()
    }
}

fn create_err(zk: &mut Zk, op: OpCode, path: &str, flags: i32, ttl: i64) -> ErrorCode {
    zk.create_full(op, path, b"", Acl::open_unsafe(), flags, ttl)
        .reply
        .err
}

#[test]
fn create_path_errors_in_zookeeper_order() {
    let mut zk = Zk::new();
    zk.create("/p").unwrap();
    // No slash, NUL, empty: BadArguments before anything else.
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "abc", 0, 0),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "", 0, 0),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/p/a\0", 0, 0),
        ErrorCode::BadArguments
    );
    // The parent is looked up before the full path is validated.
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/p/", 0, 0),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/nope/", 0, 0),
        ErrorCode::NoNode
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/p/./x", 0, 0),
        ErrorCode::NoNode
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/p/.", 0, 0),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/", 0, 0),
        ErrorCode::NodeExists
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/zookeeper", 0, 0),
        ErrorCode::NodeExists
    );
    // Sequential: "/p/" is fine (the suffix follows).
    assert_eq!(
        zk.create_mode("/p/", CreateMode::PersistentSequential),
        Ok("/p/0000000000".into())
    );
    // Bad flags.
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/f", 7, 0),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/f", -1, 0),
        ErrorCode::BadArguments
    );
    // Invalid ACL is found before NoNode of the parent.
    let a = zk.create_full(OpCode::Create, "/nope/x", b"", vec![], 0, 0);
    assert_eq!(a.reply.err, ErrorCode::InvalidAcl);
}

#[test]
fn create_responses_by_opcode() {
    let mut zk = Zk::new();
    let a = zk.create_full(OpCode::Create, "/a", b"", Acl::open_unsafe(), 0, 0);
    assert_eq!(a.reply.response, Response::Create { path: "/a".into() });
    let b = zk.create_full(OpCode::Create2, "/b", b"xy", Acl::open_unsafe(), 0, 0);
    match b.reply.response {
        Response::Create2 { path, stat } => {
            assert_eq!(path, "/b");
            assert_eq!(stat, zk.stat("/b"));
            assert_eq!(stat.data_length, 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sequential_suffix_is_parent_creation_count() {
    let mut zk = Zk::new();
    zk.create("/q").unwrap();
    assert_eq!(
        zk.create_mode("/q/n-", CreateMode::PersistentSequential),
        Ok("/q/n-0000000000".into())
    );
    assert_eq!(
        zk.create_mode("/q/n-", CreateMode::EphemeralSequential),
        Ok("/q/n-0000000001".into())
    );
    zk.create("/q/plain").unwrap();
    zk.delete("/q/plain", -1).unwrap();
    zk.delete("/q/n-0000000000", -1).unwrap();
    // 3 creations so far; deletions do not count.
    assert_eq!(
        zk.create_mode("/q/n-", CreateMode::PersistentSequential),
        Ok("/q/n-0000000003".into())
    );
    // A failed create does not count either.
    assert_eq!(zk.create("/q/plain/x"), Err(ErrorCode::NoNode));
    assert_eq!(
        zk.create_mode("/q/", CreateMode::PersistentSequential),
        Ok("/q/0000000004".into())
    );
    // Sequential under the root: the root's stored cversion starts at 0.
    assert_eq!(
        zk.create_mode("/s", CreateMode::PersistentSequential),
        Ok("/s0000000001".into())
    );
}

#[test]
fn sequential_name_collision_is_node_exists() {
    let mut zk = Zk::new();
    zk.create("/q").unwrap();
    zk.create("/q/x0000000001").unwrap();
    assert_eq!(
        zk.create_mode("/q/x", CreateMode::PersistentSequential),
        Err(ErrorCode::NodeExists)
    );
    // The failed create did not count: the next try collides again.
    assert_eq!(
        zk.create_mode("/q/x", CreateMode::PersistentSequential),
        Err(ErrorCode::NodeExists)
    );
    zk.create("/q/y").unwrap();
    assert_eq!(
        zk.create_mode("/q/x", CreateMode::PersistentSequential),
        Ok("/q/x0000000002".into())
    );
}

#[test]
fn ephemerals() {
    let mut zk = Zk::new();
    zk.create_mode("/e", CreateMode::Ephemeral).unwrap();
    assert_eq!(zk.stat("/e").ephemeral_owner, S1);
    assert_eq!(
        zk.create("/e/child"),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(
        zk.create_mode("/e/c", CreateMode::EphemeralSequential),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    // NodeExists is decided before NoChildrenForEphemerals.
    assert_eq!(zk.create("/e"), Err(ErrorCode::NodeExists));
    assert_eq!(zk.tree.ephemeral_count(), 1);
    zk.delete("/e", -1).unwrap();
    assert_eq!(zk.tree.ephemeral_count(), 0);
    assert!(zk.tree.get_ephemerals(S1, "/").is_empty());
    // Unknown session.
    let a = zk.write_as(
        0x999,
        rzk_state::WriteOp::Create {
            op: OpCode::Create,
            create: rzk_proto::request::CreateOp {
                path: "/x".into(),
                data: vec![],
                acl: Acl::open_unsafe(),
                flags: 1,
                ttl: 0,
            },
        },
    );
    assert_eq!(a.reply.err, ErrorCode::SessionExpired);
}

#[test]
fn containers() {
    let mut zk = Zk::new();
    let a = zk.create_full(
        OpCode::CreateContainer,
        "/c",
        b"data",
        Acl::open_unsafe(),
        CreateMode::Container.code(),
        0,
    );
    assert_eq!(a.reply.err, ErrorCode::Ok);
    assert!(matches!(a.reply.response, Response::Create2 { .. }));
    let s = zk.stat("/c");
    assert_eq!(s.ephemeral_owner, 0, "clients see 0 for containers");
    assert_eq!(s.data_length, 4);
    // Never had a child: not a candidate.
    assert!(zk.tree.deletion_candidates(i64::MAX, 10).is_empty());
    zk.create("/c/x").unwrap();
    assert!(
        zk.tree.deletion_candidates(i64::MAX, 10).is_empty(),
        "has a child"
    );
    zk.delete("/c/x", -1).unwrap();
    assert_eq!(zk.tree.deletion_candidates(0, 10), vec!["/c".to_string()]);
    // Re-checked at apply: a new child makes the entry a no-op.
    zk.create("/c/y").unwrap();
    let d = zk.entry(Txn::DeleteContainer { path: "/c".into() });
    assert!(d.triggers.is_empty());
    assert!(zk.tree.exists("/c").is_some());
    zk.delete("/c/y", -1).unwrap();
    let d = zk.entry(Txn::DeleteContainer { path: "/c".into() });
    assert_eq!(d.triggers.len(), 2);
    assert!(zk.tree.exists("/c").is_none());
    // A plain node is never deleted by deleteContainer.
    zk.create("/plain").unwrap();
    zk.entry(Txn::DeleteContainer {
        path: "/plain".into(),
    });
    assert!(zk.tree.exists("/plain").is_some());
    zk.entry(Txn::DeleteContainer { path: "/".into() });
    zk.entry(Txn::DeleteContainer {
        path: "bogus".into(),
    });
}

#[test]
fn container_kind_follows_opcode_not_flags() {
    let mut zk = Zk::new();
    // create (opcode 1) with the container flag makes a plain persistent node.
    let a = zk.create_full(OpCode::Create, "/c1", b"", Acl::open_unsafe(), 4, 0);
    assert_eq!(a.reply.err, ErrorCode::Ok);
    zk.create("/c1/x").unwrap();
    zk.delete("/c1/x", -1).unwrap();
    assert!(zk.tree.deletion_candidates(i64::MAX, 10).is_empty());
    // createContainer with persistent flags makes a container.
    zk.create_full(
        OpCode::CreateContainer,
        "/c2",
        b"",
        Acl::open_unsafe(),
        0,
        0,
    );
    zk.create("/c2/x").unwrap();
    zk.delete("/c2/x", -1).unwrap();
    assert_eq!(
        zk.tree.deletion_candidates(i64::MAX, 10),
        vec!["/c2".to_string()]
    );
}

#[test]
fn ttl_nodes() {
    let mut zk = Zk::new();
    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t", 5, 100),
        ErrorCode::Unimplemented
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/t", 5, 100),
        ErrorCode::Unimplemented
    );
    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t", 0, 100),
        ErrorCode::BadArguments
    );

    let mut zk = Zk::with_config(ttl_config());
    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t", 5, 0),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t", 5, -5),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(
            &mut zk,
            OpCode::CreateTtl,
            "/t",
            5,
            rzk_state::MAX_TTL_MS + 1
        ),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t", 0, 100),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t", 0, -1),
        ErrorCode::BadArguments
    );
    assert_eq!(
        create_err(&mut zk, OpCode::Create, "/t", 5, 100),
        ErrorCode::BadArguments,
        "no ttl outside createTTL"
    );
    // TTL checks come before the session check.
    let a = zk.write_as(
        0x999,
        rzk_state::WriteOp::Create {
            op: OpCode::CreateTtl,
            create: rzk_proto::request::CreateOp {
                path: "/t".into(),
                data: vec![],
                acl: Acl::open_unsafe(),
                flags: 5,
                ttl: 0,
            },
        },
    );
    assert_eq!(a.reply.err, ErrorCode::BadArguments);

    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t", 5, 1000),
        ErrorCode::Ok
    );
    assert_eq!(
        zk.stat("/t").ephemeral_owner,
        0,
        "clients see 0 for TTL nodes"
    );
    let mtime = zk.stat("/t").mtime;
    assert_eq!(
        create_err(&mut zk, OpCode::CreateTtl, "/t/s-", 6, 1000),
        ErrorCode::Ok
    );
    assert!(zk.tree.exists("/t/s-0000000000").is_some());
    zk.delete("/t/s-0000000000", -1).unwrap();
    // Expired only strictly after mtime + ttl.
    assert!(zk.tree.deletion_candidates(mtime + 1000, 10).is_empty());
    assert_eq!(
        zk.tree.deletion_candidates(mtime + 1001, 10),
        vec!["/t".to_string()]
    );
    // setData moves mtime, so the TTL restarts.
    zk.set("/t", b"x", -1).unwrap();
    let mtime2 = zk.stat("/t").mtime;
    assert!(zk.tree.deletion_candidates(mtime + 1001, 10).is_empty());
    zk.time_ms = mtime2 + 5000;
    let d = zk.entry(Txn::DeleteContainer { path: "/t".into() });
    assert_eq!(d.triggers.len(), 2);
    assert!(zk.tree.exists("/t").is_none());
}

#[test]
fn delete_rules() {
    let mut zk = Zk::new();
    zk.create("/p").unwrap();
    zk.create("/p/c").unwrap();
    for special in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(
            zk.delete(special, -1),
            Err(ErrorCode::BadArguments),
            "{special}"
        );
    }
    assert_eq!(zk.delete("abc", -1), Err(ErrorCode::BadArguments));
    assert_eq!(zk.delete("", -1), Err(ErrorCode::BadArguments));
    assert_eq!(zk.delete("/p/c\0", -1), Err(ErrorCode::BadArguments));
    assert_eq!(zk.delete("/p/", -1), Err(ErrorCode::NoNode));
    assert_eq!(zk.delete("/nope/x", -1), Err(ErrorCode::NoNode));
    assert_eq!(zk.delete("/p", -1), Err(ErrorCode::NotEmpty));
    assert_eq!(zk.delete("/p/c", 3), Err(ErrorCode::BadVersion));
    // BadVersion is decided before NotEmpty.
    assert_eq!(zk.delete("/p", 3), Err(ErrorCode::BadVersion));
    zk.delete("/p/c", 0).unwrap();
    zk.delete("/p", -1).unwrap();
    assert!(zk.tree.exists("/p").is_none());
}

#[test]
fn check_op() {
    let mut zk = Zk::new();
    zk.create("/a").unwrap();
    assert_eq!(zk.check("/a", 0), Ok(()));
    assert_eq!(zk.check("/a", -1), Ok(()));
    assert_eq!(zk.check("/a", 1), Err(ErrorCode::BadVersion));
    assert_eq!(zk.check("/nope", -1), Err(ErrorCode::NoNode));
    assert_eq!(zk.check("/a/", -1), Err(ErrorCode::BadArguments));
    let before = zk.stat("/a");
    assert_eq!(zk.check("/a", 0), Ok(()));
    assert_eq!(zk.stat("/a"), before, "check changes nothing");
}

#[test]
fn set_data_rules() {
    let mut zk = Zk::new();
    assert_eq!(zk.set("/nope", b"", -1), Err(ErrorCode::NoNode));
    assert_eq!(zk.set("bad", b"", -1), Err(ErrorCode::BadArguments));
    assert_eq!(
        zk.set("/zookeeper/config", b"x", -1),
        Err(ErrorCode::NoAuth)
    );
    // NoAuth comes before BadVersion.
    assert_eq!(
        zk.set("/zookeeper/config", b"x", 42),
        Err(ErrorCode::NoAuth)
    );
    zk.set("/", b"root data", -1).unwrap();
    assert_eq!(zk.data("/"), b"root data");
}

#[test]
fn reconfig() {
    let mut zk = Zk::new();
    let op = rzk_state::WriteOp::Reconfig(rzk_proto::records::ReconfigRequest::default());
    assert_eq!(zk.write(op.clone()).reply.err, ErrorCode::ReconfigDisabled);
    let mut zk = Zk::with_config(StateConfig {
        reconfig_enabled: true,
        ..StateConfig::default()
    });
    assert_eq!(zk.write(op.clone()).reply.err, ErrorCode::Unimplemented);
    assert_eq!(zk.write_as(0x999, op).reply.err, ErrorCode::SessionExpired);
}
