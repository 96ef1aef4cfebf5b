//! Basic operations: create (every mode and opcode), delete, exists, getData,
//! setData, getChildren(2), sync, ping, check, getAllChildrenNumber,
//! getEphemerals, and the Stats each mutation leaves behind.

use crate::dsl::*;
use crate::{sc, sc_noext, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        // ---- create ----
        sc("create/persistent_then_read", |s| {
            let a = s.client("a");
            s.create(a, "/x", b"hello", open(), P);
            s.get(a, "/x", false);
            s.exists(a, "/x", false);
            s.children(a, "/", false);
            s.children2(a, "/", false);
        }),
        sc("create/create2_returns_stat", |s| {
            let a = s.client("a");
            s.create2(a, "/x", b"abc", open(), P);
            s.create2(a, "/x/y", b"", open(), P);
            s.exists(a, "/x", false);
        }),
        sc("create/empty_data", |s| {
            let a = s.client("a");
            s.create2(a, "/x", b"", open(), P);
            s.get(a, "/x", false);
        }),
        sc("create/node_exists", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"1");
            s.create(a, "/x", b"2", open(), P);
            s.create2(a, "/x", b"2", open(), E);
            s.get(a, "/x", false);
        }),
        sc("create/no_parent", |s| {
            let a = s.client("a");
            s.create(a, "/missing/x", b"", open(), P);
            s.create2(a, "/missing/x", b"", open(), PS);
            s.create(a, "/missing/x", b"", open(), E);
        }),
        sc("create/under_ephemeral", |s| {
            let a = s.client("a");
            s.create(a, "/e", b"", open(), E);
            s.create(a, "/e/child", b"", open(), P);
            s.create(a, "/e/child", b"", open(), E);
            s.create(a, "/e/seq-", b"", open(), PS);
            s.create(a, "/es-", b"", open(), ES);
            s.create(a, "/es-0000000001/x", b"", open(), P);
        }),
        sc("create/root_and_system_paths", |s| {
            let a = s.client("a");
            s.create(a, "=/", b"", open(), P);
            s.create(a, "=/zookeeper", b"", open(), P);
            s.create(a, "=/zookeeper/quota", b"", open(), P);
        }),
        sc("create/invalid_flags", |s| {
            let a = s.client("a");
            s.create(a, "/f7", b"", open(), 7);
            s.create(a, "/fneg", b"", open(), -1);
            s.create(a, "/f100", b"", open(), 100);
            s.create2(a, "/f7", b"", open(), 7);
            s.children(a, "/", false);
        }),
        sc("create/ephemeral_stat_owner", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.create2(a, "/e", b"x", open(), E);
            s.exists(b, "/e", false);
            s.get(b, "/e", false);
            s.exists(a, "/", false);
        }),
        sc("create/parent_stat_after_create_and_delete", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.exists(a, "/p", false);
            s.mk(a, "/p/c1", b"");
            s.exists(a, "/p", false);
            s.create(a, "/p/c2", b"", open(), E);
            s.exists(a, "/p", false);
            s.delete(a, "/p/c1", -1);
            s.exists(a, "/p", false);
            s.delete(a, "/p/c2", -1);
            s.children2(a, "/p", false);
        }),
        sc("create/acl_is_copied_per_node", |s| {
            let a = s.client("a");
            s.create(a, "/x", b"", world(31), P);
            s.create(
                a,
                "/y",
                b"",
                vec![acl(1, "world", "anyone"), acl(30, "world", "anyone")],
                P,
            );
            s.get_acl(a, "/x");
            s.get_acl(a, "/y");
        }),
        // ---- sequential ----
        sc("seq/numbering", |s| {
            let a = s.client("a");
            s.create(a, "/s-", b"", open(), PS);
            s.create(a, "/s-", b"", open(), PS);
            s.create2(a, "/s-", b"", open(), PS);
            s.create(a, "/t", b"", open(), PS);
            s.children(a, "/", false);
        }),
        sc("seq/after_deletes", |s| {
            let a = s.client("a");
            s.mk(a, "/a", b"");
            s.mk(a, "/b", b"");
            s.delete(a, "/a", -1);
            s.create(a, "/s-", b"", open(), PS);
            s.delete(a, "/b", -1);
            s.create(a, "/s-", b"", open(), PS);
            s.children2(a, "/", false);
        }),
        sc("seq/after_deletes_stats", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.mk(a, "/p/a", b"");
            s.mk(a, "/p/b", b"");
            s.exists(a, "/p", false);
            s.delete(a, "/p/a", -1);
            s.exists(a, "/p", false);
            s.create2(a, "/p/s-", b"", open(), PS);
            s.exists(a, "/p", false);
            s.delete(a, "/p/b", -1);
            s.exists(a, "/p", false);
            s.create2(a, "/p/s-", b"", open(), PS);
            s.exists(a, "/p", false);
            s.multi(
                a,
                vec![m_delete("/p/s-0000000002", -1), m_create("/p/t-", b"", PS)],
            );
            s.exists(a, "/p", false);
            s.create(a, "/p/e-", b"", open(), ES);
            s.close(a);
            let b = s.client("b");
            s.children2(b, "/p", false);
            s.create(b, "/p/u-", b"", open(), PS);
            s.children2(b, "/p", false);
        }),
        sc("seq/mixed_children_and_modes", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.mk(a, "/p/plain", b"");
            s.create(a, "/p/q-", b"", open(), ES);
            s.create(a, "/p/plain2", b"", open(), E);
            s.create(a, "/p/q-", b"", open(), PS);
            s.create_container(a, "/p/c-", b"", CONTAINER);
            s.create2(a, "/p/r-", b"", open(), PS);
            s.children2(a, "/p", false);
        }),
        sc("seq/path_ending_in_slash", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.create(a, "/p/", b"", open(), PS);
            s.create(a, "/p/", b"", open(), ES);
            s.create(a, "/p/", b"", open(), P);
            s.children(a, "/p", false);
        }),
        sc("seq/setdata_does_not_advance_counter", |s| {
            let a = s.client("a");
            s.create(a, "/s-", b"", open(), PS);
            s.set(a, "/", b"parent data", -1);
            s.create(a, "/s-", b"", open(), PS);
            s.exists(a, "/", false);
        }),
        sc("seq/failed_create_does_not_advance_counter", |s| {
            let a = s.client("a");
            s.create(a, "/s-", b"", open(), PS);
            s.create(a, "/s-0000000001/x", b"", open(), PS);
            s.create(a, "/s-", b"", open(), PS);
            s.exists(a, "/", false);
        }),
        sc("seq/ephemeral_sequential", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.create2(a, "/lock-", b"", open(), ES);
            s.create2(b, "/lock-", b"", open(), ES);
            s.children(a, "/", false);
            s.close(a);
            s.children2(b, "/", false);
        }),
        // ---- container & TTL ----
        sc("container/create_and_stat", |s| {
            let a = s.client("a");
            s.create_container(a, "/c", b"data", CONTAINER);
            s.exists(a, "/c", false);
            s.mk(a, "/c/child", b"");
            s.delete(a, "/c/child", -1);
            s.exists(a, "/c", false);
            s.delete(a, "/c", -1);
        }),
        sc("container/wrong_flags", |s| {
            let a = s.client("a");
            s.create_container(a, "/c0", b"", P);
            s.create_container(a, "/c1", b"", E);
            s.create_container(a, "/c2", b"", PS);
            s.create_container(a, "/c5", b"", TTL);
            s.create(a, "/c4", b"", open(), CONTAINER);
            s.create2(a, "/c4b", b"", open(), CONTAINER);
            s.children(a, "/", false);
        }),
        sc("ttl/create_and_stat", |s| {
            let a = s.client("a");
            s.create_ttl(a, "/t", b"x", TTL, 10_000);
            s.create_ttl(a, "/ts-", b"x", TTLS, 1);
            s.exists(a, "/t", false);
            s.children2(a, "/", false);
        }),
        sc("ttl/bad_ttl_values", |s| {
            let a = s.client("a");
            s.create_ttl(a, "/t0", b"", TTL, 0);
            s.create_ttl(a, "/tneg", b"", TTL, -5);
            s.create_ttl(a, "/tmax", b"", TTL, 0x00FF_FFFF_FFFF);
            s.create_ttl(a, "/tover", b"", TTL, 0x0100_0000_0000);
            s.create_ttl(a, "/thuge", b"", TTL, i64::MAX);
            s.children(a, "/", false);
        }),
        sc("ttl/wrong_modes", |s| {
            let a = s.client("a");
            s.create_ttl(a, "/tp", b"", P, 1000);
            s.create_ttl(a, "/te", b"", E, 1000);
            s.create_ttl(a, "/tps", b"", PS, 1000);
            s.create_ttl(a, "/tc", b"", CONTAINER, 1000);
            s.create(a, "/plain-ttl-flag", b"", open(), TTL);
            s.create2(a, "/plain-ttl-flag2", b"", open(), TTLS);
            s.children(a, "/", false);
        }),
        sc_noext("ttl/disabled_without_extended_types", |s| {
            let a = s.client("a");
            s.create_ttl(a, "/t", b"", TTL, 1000);
            s.create_ttl(a, "/ts-", b"", TTLS, 1000);
            s.create_ttl(a, "/t0", b"", TTL, 0);
            s.multi(
                a,
                vec![m_create_op(
                    rzk_proto::OpCode::CreateTtl,
                    "/tm",
                    b"",
                    open(),
                    TTL,
                    1000,
                )],
            );
            s.create_container(a, "/c", b"", CONTAINER);
            s.create(a, "/p", b"", open(), TTL);
            s.children(a, "/", false);
        }),
        // ---- delete ----
        sc("delete/basic_and_versions", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.set(a, "/x", b"1", -1);
            s.delete(a, "/x", 0);
            s.delete(a, "/x", 5);
            s.delete(a, "/x", 1);
            s.exists(a, "/x", false);
            s.mk(a, "/y", b"");
            s.delete(a, "/y", -1);
            s.exists(a, "/", false);
        }),
        sc("delete/no_node", |s| {
            let a = s.client("a");
            s.delete(a, "/nope", -1);
            s.delete(a, "/nope", 0);
            s.delete(a, "/nope/deeper", -1);
        }),
        sc("delete/not_empty", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.mk(a, "/p/c", b"");
            s.delete(a, "/p", -1);
            s.delete(a, "/p", 7);
            s.delete(a, "/p/c", -1);
            s.delete(a, "/p", -1);
        }),
        sc("delete/root_and_system_nodes", |s| {
            let a = s.client("a");
            s.delete(a, "=/", -1);
            s.delete(a, "=/zookeeper", -1);
            s.delete(a, "=/zookeeper/config", -1);
            s.delete(a, "=/zookeeper/quota", 99);
        }),
        sc("delete/other_sessions_ephemeral", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.create(a, "/e", b"", open(), E);
            s.delete(b, "/e", -1);
            s.ephemerals(a, "/");
            s.exists(a, "/e", false);
        }),
        // ---- setData / getData / exists ----
        sc("setdata/versions", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"v0");
            s.set(a, "/x", b"v1", 0);
            s.set(a, "/x", b"v2", 0);
            s.set(a, "/x", b"v2", 1);
            s.set(a, "/x", b"v3", -1);
            s.set(a, "/x", b"v3", -1);
            s.set(a, "/x", b"v4", -2);
            s.get(a, "/x", false);
        }),
        sc("setdata/no_node", |s| {
            let a = s.client("a");
            s.set(a, "/nope", b"", -1);
            s.set(a, "/nope", b"", 3);
        }),
        sc("setdata/parent_stat_unchanged", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.mk(a, "/p/c", b"");
            s.exists(a, "/p", false);
            s.set(a, "/p/c", b"changed", -1);
            s.exists(a, "/p", false);
            s.exists(a, "/p/c", false);
        }),
        sc("setdata/empty_and_size_changes", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"0123456789");
            s.set(a, "/x", b"", -1);
            s.get(a, "/x", false);
            s.set(a, "/x", &[0u8, 1, 2, 255], -1);
            s.get(a, "/x", false);
        }),
        sc("getdata/exists_missing", |s| {
            let a = s.client("a");
            s.get(a, "/nope", false);
            s.exists(a, "/nope", false);
            s.get(a, "/nope/deeper", true);
            s.exists(a, "=/", false);
        }),
        sc("data/large_512k", |s| {
            let a = s.client("a");
            let big: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
            s.create2(a, "/big", &big, open(), P);
            s.get(a, "/big", false);
            let bigger: Vec<u8> = (0..1_000_000).map(|i| (i % 13) as u8).collect();
            s.set(a, "/big", &bigger, -1);
            s.exists(a, "/big", false);
        }),
        sc("data/frame_just_over_limit", |s| {
            let a = s.client("a");
            let huge = vec![7u8; 1024 * 1024];
            s.create(a, "/huge", &huge, open(), P);
            s.probe(a);
            let b = s.client("b");
            s.exists(b, "/huge", false);
        }),
        // ---- children ----
        sc("children/sorted_and_stat", |s| {
            let a = s.client("a");
            for n in ["/zeta", "/alpha", "/mid", "/Beta", "/0num"] {
                s.mk(a, n, b"");
            }
            s.children(a, "/", false);
            s.children2(a, "/", false);
            s.children(a, "/alpha", false);
            s.children2(a, "/alpha", false);
        }),
        sc("children/no_node", |s| {
            let a = s.client("a");
            s.children(a, "/nope", false);
            s.children2(a, "/nope", true);
        }),
        sc("children/of_ephemeral", |s| {
            let a = s.client("a");
            s.create(a, "/e", b"", open(), E);
            s.children2(a, "/e", false);
        }),
        // ---- sync / ping / check ----
        sc("sync/paths", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.sync(a, "/x");
            s.sync(a, "/nope");
            s.sync(a, "=/");
            s.sync(a, "=/zookeeper");
        }),
        sc("ping/reply", |s| {
            let a = s.client("a");
            s.ping(a);
            s.mk(a, "/x", b"");
            s.ping(a);
        }),
        sc("check/standalone_opcode", |s| {
            let a = s.client("a");
            // ZooKeeper 3.8 never answers a successful standalone check: wait briefly.
            s.set_timeout(a, std::time::Duration::from_millis(500));
            s.mk(a, "/x", b"");
            s.check(a, "/x", 0);
            s.check(a, "/x", 3);
            s.check(a, "/x", -1);
            s.check(a, "/nope", 0);
            s.probe(a);
        }),
        // ---- getAllChildrenNumber / getEphemerals ----
        sc("allchildren/counts", |s| {
            let a = s.client("a");
            s.all_children_number(a, "/");
            s.mk(a, "/a", b"");
            s.mk(a, "/a/b", b"");
            s.mk(a, "/a/b/c", b"");
            s.mk(a, "/a/b2", b"");
            s.create(a, "/e", b"", open(), E);
            s.all_children_number(a, "/");
            s.all_children_number(a, "/a");
            s.all_children_number(a, "/a/b/c");
            s.all_children_number(a, "/nope");
        }),
        sc("ephemerals/prefixes", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/p", b"");
            s.create(a, "/p/e1", b"", open(), E);
            s.create(a, "/p/e2", b"", open(), ES);
            s.create(a, "/eph", b"", open(), E);
            s.create(b, "/p/b1", b"", open(), E);
            s.ephemerals(a, "/");
            s.ephemerals(a, "/p");
            s.ephemerals(a, "/p/");
            s.ephemerals(a, "/e");
            s.ephemerals(a, "/nomatch");
            s.ephemerals(b, "/");
            s.ephemerals(b, "/p/e");
        }),
        sc("ephemerals/none_and_root_prefix", |s| {
            let a = s.client("a");
            s.ephemerals(a, "=/");
            s.ephemerals(a, "/");
            s.create(a, "/x", b"", open(), E);
            s.ephemerals(a, "=/");
            s.delete(a, "/x", -1);
            s.ephemerals(a, "=/");
        }),
    ]
}
