//! Sessions, ephemerals and the read API.
mod common;
use common::*;
use rzk_proto::{Acl, CreateMode, ErrorCode, EventType, Id, Perms, Response};
use rzk_state::{SessionInfo, Txn};

#[test]
fn session_table() {
    let mut zk = Zk::new();
    assert_eq!(
        zk.tree
            .sessions()
            .iter()
            .map(|s| s.session_id)
            .collect::<Vec<_>>(),
        vec![S1, S2]
    );
    assert_eq!(
        zk.tree.session(S1),
        Some(&SessionInfo {
            session_id: S1,
            timeout_ms: 30_000,
            password: vec![1; 16]
        })
    );
    let a = zk.entry(Txn::ExpireSession { session_id: S2 });
    assert_eq!(a.ended_session, Some(S2));
    assert!(zk.tree.session(S2).is_none());
    // Closing an unknown session is fine.
    let a = zk.entry(Txn::CloseSession { session_id: 0x999 });
    assert_eq!(a.reply.err, ErrorCode::Ok);
    assert_eq!(a.ended_session, Some(0x999));
}

#[test]
fn ending_a_session_deletes_its_ephemerals_in_order() {
    let mut zk = Zk::new();
    zk.create("/a").unwrap();
    zk.create_mode("/a/z", CreateMode::Ephemeral).unwrap();
    zk.create_mode("/a/m", CreateMode::Ephemeral).unwrap();
    zk.create_mode("/e", CreateMode::Ephemeral).unwrap();
    let other = zk.write_as(
        S2,
        rzk_state::WriteOp::Create {
            op: rzk_proto::OpCode::Create,
            create: rzk_proto::request::CreateOp {
                path: "/a/other".into(),
                data: vec![],
                acl: Acl::open_unsafe(),
                flags: 1,
                ttl: 0,
            },
        },
    );
    assert_eq!(other.reply.err, ErrorCode::Ok);
    assert_eq!(zk.tree.ephemeral_count(), 4);
    assert_eq!(
        zk.tree.ephemerals_by_session(),
        vec![
            (S1, vec!["/a/m".to_string(), "/a/z".into(), "/e".into()]),
            (S2, vec!["/a/other".to_string()])
        ]
    );
    let before = zk.stat("/a");
    let closed = zk.entry(Txn::CloseSession { session_id: S1 });
    let t: Vec<_> = closed
        .triggers
        .iter()
        .map(|t| (t.path.as_str(), t.event))
        .collect();
    assert_eq!(
        t,
        [
            ("/a/m", EventType::NodeDeleted),
            ("/a", EventType::NodeChildrenChanged),
            ("/a/z", EventType::NodeDeleted),
            ("/a", EventType::NodeChildrenChanged),
            ("/e", EventType::NodeDeleted),
            ("/", EventType::NodeChildrenChanged),
        ]
    );
    let after = zk.stat("/a");
    assert_eq!(after.pzxid, zk.zxid);
    assert_eq!(after.cversion, before.cversion + 2);
    assert_eq!(zk.tree.ephemeral_count(), 1);
    assert!(zk.tree.get_ephemerals(S1, "/").is_empty());
    assert_eq!(
        zk.tree.get_ephemerals(S2, "/"),
        vec!["/a/other".to_string()]
    );
}

#[test]
fn get_ephemerals_is_a_string_prefix_match() {
    let mut zk = Zk::new();
    zk.create("/p").unwrap();
    zk.create_mode("/p/e1", CreateMode::Ephemeral).unwrap();
    zk.create_mode("/pe", CreateMode::Ephemeral).unwrap();
    zk.create_mode("/q", CreateMode::Ephemeral).unwrap();
    assert_eq!(
        zk.tree.get_ephemerals(S1, "/p"),
        vec!["/p/e1".to_string(), "/pe".into()]
    );
    assert_eq!(zk.tree.get_ephemerals(S1, "/p/"), vec!["/p/e1".to_string()]);
    assert_eq!(zk.tree.get_ephemerals(S1, " / ").len(), 3);
    assert_eq!(zk.tree.get_ephemerals(S1, "").len(), 3);
    assert_eq!(zk.tree.get_ephemerals(S1, "   ").len(), 3);
    assert!(zk.tree.get_ephemerals(S2, "/").is_empty());
}

#[test]
fn reads_and_acls() {
    let mut zk = Zk::new();
    zk.create_data("/a", b"data").unwrap();
    zk.create("/a/c2").unwrap();
    zk.create("/a/c1").unwrap();
    let (children, stat) = zk.tree.get_children("/a", &[]).unwrap();
    assert_eq!(children, vec!["c1".to_string(), "c2".into()]);
    assert_eq!(stat, zk.stat("/a"));
    assert_eq!(zk.tree.get_data("/a", &[]).unwrap().0, b"data");
    assert_eq!(zk.tree.get_data("/nope", &[]), Err(ErrorCode::NoNode));
    assert_eq!(zk.tree.get_children("/nope", &[]), Err(ErrorCode::NoNode));
    // "" is an alias of the root for reads, as in ZooKeeper.
    assert_eq!(zk.tree.exists(""), zk.tree.exists("/"));
    assert!(zk
        .tree
        .get_children("", &[])
        .unwrap()
        .0
        .contains(&"zookeeper".to_string()));
    assert_eq!(zk.tree.stat_node("/a\0"), Err(ErrorCode::BadArguments));
    assert_eq!(zk.tree.stat_node("/nope"), Err(ErrorCode::NoNode));

    // Write-only node: no READ.
    zk.create_full(
        rzk_proto::OpCode::Create,
        "/w",
        b"",
        vec![Acl::new(Perms::WRITE, Id::anyone())],
        0,
        0,
    );
    assert_eq!(zk.tree.get_data("/w", &[]), Err(ErrorCode::NoAuth));
    assert_eq!(zk.tree.get_children("/w", &[]), Err(ErrorCode::NoAuth));
    assert_eq!(zk.tree.get_acl("/w", &[]), Err(ErrorCode::NoAuth));
    assert_eq!(
        zk.tree.get_all_children_number("/w", &[]),
        Err(ErrorCode::NoAuth)
    );
    assert!(zk.tree.exists("/w").is_some(), "exists needs no permission");
    assert_eq!(zk.tree.check_acl("/w", Perms::WRITE, &[]), Ok(()));
    assert_eq!(
        zk.tree.check_acl("/w", Perms::READ, &[]),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        zk.tree.check_acl("/nope", Perms::READ, &[]),
        Err(ErrorCode::NoNode)
    );
    let super_ = [Id::new("super", "")];
    assert!(zk.tree.get_data("/w", &super_).is_ok());
}

#[test]
fn get_acl_redacts_digests_without_admin() {
    let mut zk = Zk::new();
    let owner = Id::new("digest", rzk_state::digest("u:p"));
    let acl = vec![
        Acl::new(Perms::READ, Id::anyone()),
        Acl::new(Perms::ALL, owner.clone()),
    ];
    zk.create_full(rzk_proto::OpCode::Create, "/a", b"", acl.clone(), 0, 0);
    let (seen, _) = zk.tree.get_acl("/a", &[]).unwrap();
    assert_eq!(
        seen,
        vec![
            Acl::new(Perms::READ, Id::anyone()),
            Acl::new(Perms::ALL, Id::new("digest", "u:x"))
        ]
    );
    let (seen, _) = zk.tree.get_acl("/a", std::slice::from_ref(&owner)).unwrap();
    assert_eq!(seen, acl);
    // ADMIN alone is enough to read the ACL.
    zk.create_full(
        rzk_proto::OpCode::Create,
        "/b",
        b"",
        vec![Acl::new(Perms::ADMIN, Id::anyone())],
        0,
        0,
    );
    assert!(zk.tree.get_acl("/b", &[]).is_ok());
    assert_eq!(zk.tree.get_acl("/nope", &[]), Err(ErrorCode::NoNode));
}

#[test]
fn all_children_number() {
    let mut zk = Zk::new();
    // "/" counts /zookeeper, /zookeeper/quota and /zookeeper/config.
    assert_eq!(zk.tree.get_all_children_number("/", &[]), Ok(3));
    assert_eq!(zk.tree.get_all_children_number("", &[]), Ok(4));
    assert_eq!(zk.tree.get_all_children_number("/zookeeper", &[]), Ok(2));
    zk.create("/a").unwrap();
    zk.create("/a/b").unwrap();
    zk.create("/a/b/c").unwrap();
    zk.create("/ab").unwrap();
    assert_eq!(zk.tree.get_all_children_number("/a", &[]), Ok(2));
    assert_eq!(zk.tree.get_all_children_number("/a/b/c", &[]), Ok(0));
    assert_eq!(zk.tree.get_all_children_number("/", &[]), Ok(7));
    assert_eq!(
        zk.tree.get_all_children_number("/nope", &[]),
        Err(ErrorCode::NoNode)
    );
}

#[test]
fn acl_enforcement_on_writes() {
    let mut zk = Zk::new();
    let user = Id::new("digest", rzk_state::digest("u:p"));
    // `auth` needs an authenticated id; ip is not one.
    zk.auth = vec![Id::new("ip", "127.0.0.1")];
    let a = zk.create_full(
        rzk_proto::OpCode::Create,
        "/x",
        b"",
        vec![Acl::new(Perms::ALL, Id::new("auth", ""))],
        0,
        0,
    );
    assert_eq!(a.reply.err, ErrorCode::InvalidAcl);
    zk.auth = vec![Id::new("ip", "127.0.0.1"), user.clone()];
    let a = zk.create_full(
        rzk_proto::OpCode::Create,
        "/x",
        b"",
        vec![Acl::new(Perms::READ | Perms::CREATE, Id::new("auth", ""))],
        0,
        0,
    );
    assert_eq!(a.reply.err, ErrorCode::Ok);
    assert_eq!(
        zk.tree.acl_of("/x").unwrap(),
        vec![Acl::new(Perms::READ | Perms::CREATE, user.clone())]
    );
    zk.create("/x/child").unwrap();
    // Another identity may not create under /x, write it, or delete under it.
    zk.auth = vec![Id::new("digest", rzk_state::digest("v:q"))];
    assert_eq!(zk.create("/x/other"), Err(ErrorCode::NoAuth));
    assert_eq!(zk.set("/x", b"", -1), Err(ErrorCode::NoAuth));
    assert_eq!(zk.delete("/x/child", -1), Err(ErrorCode::NoAuth));
    assert_eq!(zk.check("/x", -1), Err(ErrorCode::NoAuth));
    // NoAuth on the parent comes before NoNode of the node.
    assert_eq!(zk.delete("/x/none", -1), Err(ErrorCode::NoAuth));
    // The owner lacks WRITE and DELETE too (only READ|CREATE were granted).
    zk.auth = vec![user];
    assert_eq!(zk.set("/x", b"", -1), Err(ErrorCode::NoAuth));
    assert_eq!(zk.check("/x", -1), Ok(()));
    // super passes everything.
    zk.auth = vec![Id::new("super", "")];
    zk.set("/x", b"ok", -1).unwrap();
    zk.delete("/x/child", -1).unwrap();
    // ip ACLs.
    zk.auth = vec![Id::new("ip", "10.1.2.3")];
    zk.create_full(
        rzk_proto::OpCode::Create,
        "/ip",
        b"",
        vec![Acl::new(Perms::ALL, Id::new("ip", "10.0.0.0/8"))],
        0,
        0,
    );
    zk.set("/ip", b"1", -1).unwrap();
    zk.auth = vec![Id::new("ip", "11.1.2.3")];
    assert_eq!(zk.set("/ip", b"1", -1), Err(ErrorCode::NoAuth));
}

#[test]
fn skip_acl() {
    let mut zk = Zk::with_config(rzk_state::StateConfig {
        skip_acl: true,
        ..Default::default()
    });
    zk.set("/zookeeper/config", b"x", -1).unwrap();
    assert!(zk.tree.get_data("/zookeeper/config", &[]).is_ok());
}

/// ZooKeeper's `aclCacheSize` counts the ACL lists in use. Lists must leave
/// the cache when their last node goes, also when several of their nodes go
/// in one entry (a session's ephemerals, a multi) and when a multi that
/// changed them rolls back.
#[test]
fn acl_lists_leave_the_cache_with_their_last_node() {
    let mut zk = Zk::new();
    let base = zk.tree.acl_list_count();
    let acl = vec![Acl::new(Perms::ALL, Id::new("ip", "10.0.0.1"))];
    for path in ["/e1", "/e2", "/e3"] {
        zk.create_full(
            rzk_proto::OpCode::Create,
            path,
            b"",
            acl.clone(),
            CreateMode::Ephemeral.code(),
            0,
        );
    }
    assert_eq!(zk.tree.acl_list_count(), base + 1);
    zk.entry(Txn::CloseSession { session_id: S1 });
    assert_eq!(zk.tree.acl_list_count(), base, "closing deleted all three");

    zk.session(S1);
    zk.create("/p").unwrap();
    zk.create("/q").unwrap();
    zk.set_acl("/p", acl.clone(), -1).unwrap();
    zk.set_acl("/q", acl.clone(), -1).unwrap();
    assert_eq!(zk.tree.acl_list_count(), base + 1);
    // Both deleted, then the multi fails and rolls back: the list stays.
    zk.multi(vec![mdelete("/p", -1), mdelete("/q", -1), mcheck("/p", 0)]);
    assert!(zk.tree.exists("/p").is_some(), "the multi failed");
    assert_eq!(zk.tree.acl_list_count(), base + 1);
    zk.multi(vec![mdelete("/p", -1), mdelete("/q", -1)]);
    assert!(zk.tree.exists("/p").is_none());
    assert_eq!(zk.tree.acl_list_count(), base);
}

/// `/zookeeper/config` in an ensemble: a membership change sets the server
/// lines plus `version=<zxid hex>`, stat version -1 and mzxid the zxid, and
/// fires data watches; reconfig then answers with that data. A standalone
/// tree ignores SetConfig and answers reconfig Unimplemented.
#[test]
fn set_config_in_an_ensemble_and_standalone() {
    use rzk_proto::records::ReconfigRequest;
    use rzk_state::{Entry, WriteOp};
    let servers = "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n".to_string();
    for dynamic_config in [true, false] {
        let mut tree = rzk_state::DataTree::new(rzk_state::StateConfig {
            reconfig_enabled: true,
            dynamic_config,
            ..Default::default()
        });
        tree.apply(&Entry {
            zxid: 1,
            time_ms: 5,
            txn: Txn::CreateSession {
                session_id: 7,
                timeout_ms: 10_000,
                password: vec![0; 16],
            },
        });
        let applied = tree.apply(&Entry {
            zxid: 0x1f,
            time_ms: 0,
            txn: Txn::SetConfig {
                servers: servers.clone(),
            },
        });
        let (data, stat) = tree
            .get_data("/zookeeper/config", &[])
            .expect("config node");
        let reply = tree.apply(&Entry {
            zxid: 0x20,
            time_ms: 9,
            txn: Txn::Write {
                session_id: 7,
                auth: vec![].into(),
                op: WriteOp::Reconfig(ReconfigRequest {
                    joining_servers: None,
                    leaving_servers: Some("3".into()),
                    new_members: None,
                    cur_config_id: -1,
                }),
            },
        });
        if dynamic_config {
            let expected = format!("{servers}version=1f");
            assert_eq!(String::from_utf8(data.clone()).unwrap(), expected);
            assert_eq!((stat.version, stat.mzxid, stat.czxid), (-1, 0x1f, 0));
            assert_eq!(applied.triggers.len(), 1, "a data watch on the node fires");
            assert_eq!(reply.reply.err, ErrorCode::Ok);
            assert_eq!(
                reply.reply.response,
                Response::Data { data, stat },
                "reconfig answers the new config"
            );
        } else {
            assert!(data.is_empty(), "standalone keeps the node empty");
            assert!(applied.triggers.is_empty());
            assert_eq!(reply.reply.err, ErrorCode::Unimplemented);
        }
    }
}
