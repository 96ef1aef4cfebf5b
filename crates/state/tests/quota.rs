//! Quotas: usage kept in `zookeeper_stats`, limits enforced only with
//! `enforce_quota`. Behaviour checked against ZooKeeper 3.8.0 with
//! `-Dzookeeper.enforceQuota=true`.
mod common;
use common::*;
use rzk_proto::{CreateMode, ErrorCode, MultiResult, Response};
use rzk_state::StateConfig;

fn enforcing() -> Zk {
    Zk::with_config(StateConfig {
        enforce_quota: true,
        ..StateConfig::default()
    })
}

/// What `setquota` does: create the limits node, then the stats node.
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

fn usage(zk: &Zk, path: &str) -> String {
    String::from_utf8(zk.data(&format!("/zookeeper/quota{path}/zookeeper_stats"))).unwrap()
}

#[test]
fn usage_is_tracked_without_touching_the_stats_node_stat() {
    let mut zk = Zk::new();
    zk.create("/q").unwrap();
    zk.create_data("/q/a", b"abc").unwrap();
    set_quota(&mut zk, "/q", "count=5,bytes=-1");
    // Recomputed on creation of the stats node: /q itself and /q/a.
    assert_eq!(usage(&zk, "/q"), "count=2,bytes=3");
    let stat_before = zk.stat("/zookeeper/quota/q/zookeeper_stats");
    for i in 0..5 {
        zk.create_data(&format!("/q/n{i}"), b"12345").unwrap();
    }
    assert_eq!(usage(&zk, "/q"), "count=7,bytes=28");
    zk.set("/q/a", b"", -1).unwrap();
    zk.delete("/q/n0", -1).unwrap();
    assert_eq!(usage(&zk, "/q"), "count=6,bytes=20");
    let stat_after = zk.stat("/zookeeper/quota/q/zookeeper_stats");
    assert_eq!(stat_after.mzxid, stat_before.mzxid);
    assert_eq!(stat_after.version, stat_before.version);
    assert_eq!(stat_after.data_length, 16, "dataLength follows the data");
    // Not enforcing: beyond the limit is fine and nothing is logged.
    let a = zk.create_full(
        rzk_proto::OpCode::Create,
        "/q/more",
        b"",
        rzk_proto::Acl::open_unsafe(),
        0,
        0,
    );
    assert_eq!(a.reply.err, ErrorCode::Ok);
    assert!(a.warnings.is_empty());
    // Usage updates fire no watches.
    assert_eq!(a.triggers.len(), 2);
}

#[test]
fn soft_limits_warn_hard_limits_reject() {
    let mut zk = enforcing();
    zk.create("/s").unwrap();
    zk.create("/h").unwrap();
    zk.create("/b").unwrap();
    set_quota(&mut zk, "/s", "count=2,bytes=-1");
    set_quota(
        &mut zk,
        "/h",
        "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2",
    );
    set_quota(
        &mut zk,
        "/b",
        "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1",
    );

    let a = zk.create_full(
        rzk_proto::OpCode::Create,
        "/s/n0",
        b"",
        rzk_proto::Acl::open_unsafe(),
        0,
        0,
    );
    assert_eq!(a.reply.err, ErrorCode::Ok);
    assert!(a.warnings.is_empty());
    let a = zk.create_full(
        rzk_proto::OpCode::Create,
        "/s/n1",
        b"",
        rzk_proto::Acl::open_unsafe(),
        0,
        0,
    );
    assert_eq!(a.reply.err, ErrorCode::Ok);
    assert_eq!(
        a.warnings,
        vec!["Quota exceeded: /s [current count=3, softCountLimit=2]".to_string()]
    );

    zk.create("/h/n0").unwrap();
    let a = zk.create_full(
        rzk_proto::OpCode::Create,
        "/h/n1",
        b"",
        rzk_proto::Acl::open_unsafe(),
        0,
        0,
    );
    assert_eq!(a.reply.err, ErrorCode::QuotaExceeded);
    assert_eq!(
        a.warnings,
        vec!["Quota exceeded: /h [current count=3, hardCountLimit=2]".to_string()]
    );
    assert_eq!(usage(&zk, "/h"), "count=2,bytes=0");

    zk.create_data("/b/x", b"12345678").unwrap();
    zk.set("/b/x", b"123456789", -1).unwrap();
    assert_eq!(
        zk.set("/b/x", b"12345678901", -1),
        Err(ErrorCode::QuotaExceeded)
    );
    // The quota is checked before the version.
    assert_eq!(
        zk.set("/b/x", b"12345678901", 77),
        Err(ErrorCode::QuotaExceeded)
    );
    // Shrinking is always fine.
    zk.set("/b/x", b"1", -1).unwrap();
    assert_eq!(usage(&zk, "/b"), "count=2,bytes=1");

    // Deleting the limits node lifts the quota.
    zk.delete("/zookeeper/quota/h/zookeeper_limits", -1)
        .unwrap();
    zk.create("/h/n9").unwrap();
}

#[test]
fn multi_checks_quota_against_committed_usage() {
    // ZooKeeper checks every op of a multi against the usage before the multi,
    // so three creates under a hard count limit of 2 with usage 1 all pass.
    let mut zk = enforcing();
    zk.create("/h2").unwrap();
    set_quota(
        &mut zk,
        "/h2",
        "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2",
    );
    assert_eq!(usage(&zk, "/h2"), "count=1,bytes=0");
    let a = zk.multi(vec![
        mcreate("/h2/a", CreateMode::Persistent),
        mcreate("/h2/b", CreateMode::Persistent),
        mcreate("/h2/c", CreateMode::Persistent),
    ]);
    match a.reply.response {
        Response::Multi(r) => assert!(r.iter().all(|r| matches!(r, MultiResult::Create { .. }))),
        other => panic!("{other:?}"),
    }
    assert_eq!(usage(&zk, "/h2"), "count=4,bytes=0");
    // Now over the limit: a multi whose 2nd op would exceed rolls back fully,
    // including the usage the 1st op added.
    let before = zk.tree.dump();
    let a = zk.multi(vec![
        mset("/h2/a", b"x", -1),
        mcreate("/h2/d", CreateMode::Persistent),
    ]);
    match a.reply.response {
        Response::Multi(r) => assert_eq!(r[1], MultiResult::Error(ErrorCode::QuotaExceeded)),
        other => panic!("{other:?}"),
    }
    assert_eq!(zk.tree.dump(), before);
}

#[test]
fn nested_quota_roots_and_root_quota() {
    let mut zk = Zk::new();
    zk.create("/a").unwrap();
    zk.create("/a/b").unwrap();
    set_quota(&mut zk, "/a", "count=100,bytes=-1");
    set_quota(&mut zk, "/a/b", "count=100,bytes=-1");
    zk.create("/a/b/c").unwrap();
    zk.create("/a/x").unwrap();
    // The deepest root takes the change.
    assert_eq!(usage(&zk, "/a/b"), "count=2,bytes=0");
    assert_eq!(usage(&zk, "/a"), "count=3,bytes=0");
    // Removing /a's limits drops /a/b from the trie as well (ZooKeeper's PathTrie).
    zk.delete("/zookeeper/quota/a/zookeeper_limits", -1)
        .unwrap();
    zk.create("/a/b/d").unwrap();
    assert_eq!(usage(&zk, "/a/b"), "count=2,bytes=0");
    // A quota on / is never tracked.
    zk.create_data("/zookeeper/quota/zookeeper_limits", b"count=0,bytes=0")
        .unwrap();
    zk.create("/free").unwrap();
}
