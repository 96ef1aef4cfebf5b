//! multi (transactions) and multiRead: success with every op type, failure at
//! each position (per-op error layout and header error), interactions inside
//! one transaction, and quota enforcement.

use crate::dsl::*;
use crate::{sc, Scenario};
use rzk_proto::OpCode;

fn raw_multi_with_op(s: &mut Cx, c: C, op: i32, body: &[u8]) {
    // multi header: {type, done, err}, then op body, then the end header.
    let mut req = Vec::new();
    let xid = s.conn(c).map(|k| k.next_xid()).unwrap_or(1);
    req.extend_from_slice(&(xid + 1000).to_be_bytes());
    req.extend_from_slice(&OpCode::Multi.code().to_be_bytes());
    req.extend_from_slice(&op.to_be_bytes());
    req.push(0);
    req.extend_from_slice(&(-1i32).to_be_bytes());
    req.extend_from_slice(body);
    req.extend_from_slice(&(-1i32).to_be_bytes());
    req.push(1);
    req.extend_from_slice(&(-1i32).to_be_bytes());
    if let Some(k) = s.conn(c) {
        k.expect_reply(xid + 1000, OpCode::Multi);
    }
    s.raw_write(c, &rzk_proto::frame::frame(&req));
    s.read_frames(c, std::time::Duration::from_millis(300));
}

fn string_bytes(p: &str) -> Vec<u8> {
    let mut v = (p.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(p.as_bytes());
    v
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        sc("multi/empty", |s| {
            let a = s.client("a");
            s.multi(a, vec![]);
            s.multi_read(a, vec![]);
        }),
        sc("multi/every_op_type_success", |s| {
            let a = s.client("a");
            s.mk(a, "/del", b"");
            s.mk(a, "/set", b"");
            s.multi(
                a,
                vec![
                    m_create("/c1", b"1", P),
                    m_create2("/c2", b"2", P),
                    m_create_op(OpCode::CreateContainer, "/c3", b"3", open(), CONTAINER, 0),
                    m_create_op(OpCode::CreateTtl, "/c4", b"4", open(), TTL, 5000),
                    m_create("/c5-", b"5", PS),
                    m_create2("/c6", b"6", E),
                    m_delete("/del", 0),
                    m_set("/set", b"new", 0),
                    m_check("/set", 1),
                ],
            );
            s.children2(a, "/", false);
            s.get(a, "/set", false);
            s.exists(a, "/c6", false);
        }),
        sc("multi/fail_first_op", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.multi(
                a,
                vec![
                    m_delete("/nope", -1),
                    m_create("/y", b"", P),
                    m_set("/x", b"1", -1),
                ],
            );
            s.children(a, "/", false);
            s.get(a, "/x", false);
        }),
        sc("multi/fail_middle_op", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.multi(
                a,
                vec![
                    m_create("/y", b"", P),
                    m_create("/x", b"", P),
                    m_set("/x", b"1", -1),
                ],
            );
            s.children(a, "/", false);
        }),
        sc("multi/fail_last_op", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.multi(
                a,
                vec![
                    m_create("/y", b"", P),
                    m_set("/x", b"1", -1),
                    m_check("/x", 0),
                ],
            );
            s.children(a, "/", false);
            s.get(a, "/x", false);
        }),
        sc("multi/two_failures_first_reported", |s| {
            let a = s.client("a");
            s.multi(
                a,
                vec![
                    m_create("/ok", b"", P),
                    m_delete("/nope1", -1),
                    m_delete("/nope2", -1),
                    m_create("/ok2", b"", P),
                ],
            );
        }),
        sc("multi/each_error_kind", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.mk(a, "/p", b"");
            s.mk(a, "/p/c", b"");
            s.create(a, "/e", b"", open(), E);
            s.multi(a, vec![m_create("/x", b"", P)]);
            s.multi(a, vec![m_create("/nope/x", b"", P)]);
            s.multi(a, vec![m_set("/x", b"", 5)]);
            s.multi(a, vec![m_delete("/x", 5)]);
            s.multi(a, vec![m_check("/x", 5)]);
            s.multi(a, vec![m_check("/nope", 0)]);
            s.multi(a, vec![m_delete("/p", -1)]);
            s.multi(a, vec![m_create("/e/c", b"", P)]);
            s.multi(a, vec![m_create("bad", b"", P)]);
            s.multi(
                a,
                vec![m_create_op(OpCode::Create, "/badacl", b"", vec![], P, 0)],
            );
            s.multi(
                a,
                vec![m_create_op(
                    OpCode::CreateTtl,
                    "/badttl",
                    b"",
                    open(),
                    TTL,
                    0,
                )],
            );
            s.multi(a, vec![m_create("/badflags", b"", 9)]);
        }),
        sc("multi/create_then_delete_same_node", |s| {
            let a = s.client("a");
            s.multi(a, vec![m_create("/t", b"", P), m_delete("/t", 0)]);
            s.exists(a, "/t", false);
            s.exists(a, "/", false);
        }),
        sc("multi/delete_then_create_same_node", |s| {
            let a = s.client("a");
            s.mk(a, "/t", b"old");
            s.multi(a, vec![m_delete("/t", -1), m_create("/t", b"new", P)]);
            s.get(a, "/t", false);
        }),
        sc("multi/setdata_then_check_new_version", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.multi(
                a,
                vec![m_set("/x", b"1", 0), m_check("/x", 1), m_set("/x", b"2", 1)],
            );
            s.multi(a, vec![m_set("/x", b"3", 2), m_check("/x", 2)]);
            s.get(a, "/x", false);
        }),
        sc("multi/create_parent_then_child", |s| {
            let a = s.client("a");
            s.multi(
                a,
                vec![
                    m_create("/p", b"", P),
                    m_create("/p/c", b"", P),
                    m_create("/p/c/d-", b"", PS),
                ],
            );
            s.children2(a, "/p", false);
            s.multi(a, vec![m_create("/q", b"", E), m_create("/q/c", b"", P)]);
            s.exists(a, "/q", false);
        }),
        sc("multi/delete_children_then_parent", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.mk(a, "/p/c", b"");
            s.multi(a, vec![m_delete("/p", -1), m_delete("/p/c", -1)]);
            s.multi(a, vec![m_delete("/p/c", -1), m_delete("/p", -1)]);
            s.exists(a, "/p", false);
        }),
        sc("multi/sequential_inside", |s| {
            let a = s.client("a");
            s.multi(
                a,
                vec![
                    m_create("/s-", b"", PS),
                    m_create2("/s-", b"", PS),
                    m_create("/s-", b"", ES),
                ],
            );
            s.children2(a, "/", false);
            s.multi(a, vec![m_create("/s-", b"", PS), m_check("/nope", 0)]);
            s.create(a, "/s-", b"", open(), PS);
        }),
        sc("multi/shared_zxid_and_parent_stats", |s| {
            let a = s.client("a");
            s.multi(
                a,
                vec![
                    m_create2("/a", b"", P),
                    m_create2("/b", b"", P),
                    m_set("/a", b"x", 0),
                ],
            );
            s.exists(a, "/", false);
            s.exists(a, "/a", false);
        }),
        sc("multi/check_only", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.multi(a, vec![m_check("/x", 0)]);
            s.multi(a, vec![m_check("/x", -1), m_check("/", -1)]);
            s.multi(a, vec![m_check("/x", 1)]);
        }),
        sc("multi/no_auth_inside", |s| {
            let a = s.client("a");
            s.create(a, "/ro", b"", world(1), P);
            s.multi(a, vec![m_create("/ok", b"", P), m_create("/ro/c", b"", P)]);
            s.multi(a, vec![m_set("/ro", b"", -1)]);
            s.multi(a, vec![m_check("/ro", 0)]);
            s.children(a, "/", false);
        }),
        sc("multi/ephemerals_owned_by_session", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.multi(a, vec![m_create("/e1", b"", E), m_create2("/e2-", b"", ES)]);
            s.ephemerals(a, "/");
            s.children(b, "/", true);
            s.close(a);
            s.children(b, "/", false);
        }),
        sc("multi/unsupported_op_inside", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            let mut body = string_bytes(&format!("{}/x", s.root));
            body.push(0);
            raw_multi_with_op(s, a, OpCode::GetData.code(), &body);
            s.probe(a);
        }),
        sc("multi/big_transaction", |s| {
            let a = s.client("a");
            let ops: Vec<_> = (0..200)
                .map(|i| m_create(&format!("/n{i:03}"), b"x", P))
                .collect();
            s.multi(a, ops);
            s.all_children_number(a, "/");
            let dels: Vec<_> = (0..200)
                .map(|i| m_delete(&format!("/n{i:03}"), 0))
                .collect();
            s.multi(a, dels);
            s.exists(a, "/", false);
        }),
        // ---- multiRead ----
        sc("multiread/mixed_success", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"data");
            s.mk(a, "/x/c1", b"");
            s.mk(a, "/x/c2", b"");
            s.multi_read(
                a,
                vec![
                    r_get("/x"),
                    r_children("/x"),
                    r_get("/x/c1"),
                    r_children("/x/c1"),
                ],
            );
        }),
        sc("multiread/errors_in_place", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"data");
            s.create(a, "/locked", b"", world(0), P);
            s.multi_read(
                a,
                vec![
                    r_get("/x"),
                    r_get("/nope"),
                    r_children("/x"),
                    r_children("/nope"),
                    r_get("/locked"),
                    r_children("/locked"),
                ],
            );
            s.multi_read(a, vec![r_get("bad"), r_children("/x/")]);
        }),
        sc("multiread/watch_flag_ignored_or_not", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            let path = s.p("/x");
            s.op(
                b,
                OpCode::MultiRead,
                rzk_proto::Request::MultiRead(vec![
                    rzk_proto::request::ReadOp::GetData(rzk_proto::records::GetDataRequest {
                        path: path.clone(),
                        watch: true,
                    }),
                    rzk_proto::request::ReadOp::GetChildren(
                        rzk_proto::records::GetChildrenRequest { path, watch: true },
                    ),
                ]),
            );
            s.set(a, "/x", b"1", -1);
            s.mk(a, "/x/c", b"");
        }),
        sc("multiread/write_op_inside", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            // A setData header inside multiRead.
            let mut req = Vec::new();
            let xid: i32 = 7777;
            req.extend_from_slice(&xid.to_be_bytes());
            req.extend_from_slice(&OpCode::MultiRead.code().to_be_bytes());
            req.extend_from_slice(&OpCode::SetData.code().to_be_bytes());
            req.push(0);
            req.extend_from_slice(&(-1i32).to_be_bytes());
            req.extend_from_slice(&string_bytes(&format!("{}/x", s.root)));
            req.extend_from_slice(&1i32.to_be_bytes());
            req.push(b'z');
            req.extend_from_slice(&(-1i32).to_be_bytes());
            req.extend_from_slice(&(-1i32).to_be_bytes());
            req.push(1);
            req.extend_from_slice(&(-1i32).to_be_bytes());
            if let Some(k) = s.conn(a) {
                k.expect_reply(xid, OpCode::MultiRead);
            }
            s.raw_write(a, &rzk_proto::frame::frame(&req));
            s.read_frames(a, std::time::Duration::from_millis(300));
            s.probe(a);
            let b = s.client("b");
            s.get(b, "/x", false);
        }),
        // ---- quotas ----
        sc("quota/count_limit_enforced", |s| {
            let a = s.client("a");
            s.mk(a, "/q", b"");
            let qp = s.quota_path("");
            s.create(a, &qp, b"", open(), P);
            let qq = s.quota_path("/q");
            s.create(a, &qq, b"", open(), P);
            s.create(
                a,
                &format!("{qq}/zookeeper_limits"),
                b"count=3,bytes=-1",
                open(),
                P,
            );
            s.create(
                a,
                &format!("{qq}/zookeeper_stats"),
                b"count=0,bytes=0",
                open(),
                P,
            );
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.mk(a, "/q/a", b"");
            s.mk(a, "/q/b", b"");
            s.mk(a, "/q/c", b"");
            s.multi(a, vec![m_create("/q/m", b"", P)]);
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.delete(a, "/q/a", -1);
            s.mk(a, "/q/c", b"");
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
        }),
        sc("quota/bytes_limit_enforced", |s| {
            let a = s.client("a");
            s.mk(a, "/q", b"12345");
            let qp = s.quota_path("");
            s.create(a, &qp, b"", open(), P);
            let qq = s.quota_path("/q");
            s.create(a, &qq, b"", open(), P);
            s.create(
                a,
                &format!("{qq}/zookeeper_stats"),
                b"count=0,bytes=0",
                open(),
                P,
            );
            s.create(
                a,
                &format!("{qq}/zookeeper_limits"),
                b"count=-1,bytes=10",
                open(),
                P,
            );
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.set(a, "/q", b"1234567890", -1);
            s.set(a, "/q", b"12345678901", -1);
            s.create(a, "/q/c", b"x", open(), P);
            s.create(a, "/q/d", b"", open(), P);
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
        }),
        sc("quota/hard_limits", |s| {
            let a = s.client("a");
            s.mk(a, "/q", b"");
            let qp = s.quota_path("");
            s.create(a, &qp, b"", open(), P);
            let qq = s.quota_path("/q");
            s.create(a, &qq, b"", open(), P);
            s.create(
                a,
                &format!("{qq}/zookeeper_stats"),
                b"count=0,bytes=0",
                open(),
                P,
            );
            s.create(
                a,
                &format!("{qq}/zookeeper_limits"),
                b"count=-1,bytes=-1,countHardLimit=2,byteHardLimit=-1",
                open(),
                P,
            );
            s.mk(a, "/q/a", b"");
            s.mk(a, "/q/b", b"");
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
        }),
        sc("quota/byte_hard_limit", |s| {
            let a = s.client("a");
            s.mk(a, "/q", b"12345");
            let qp = s.quota_path("");
            s.create(a, &qp, b"", open(), P);
            let qq = s.quota_path("/q");
            s.create(a, &qq, b"", open(), P);
            s.create(
                a,
                &format!("{qq}/zookeeper_stats"),
                b"count=0,bytes=0",
                open(),
                P,
            );
            s.create(
                a,
                &format!("{qq}/zookeeper_limits"),
                b"count=-1,bytes=-1,countHardLimit=-1,byteHardLimit=8",
                open(),
                P,
            );
            s.set(a, "/q", b"12345678", -1);
            s.set(a, "/q", b"123456789", -1);
            s.create(a, "/q/c", b"x", open(), P);
            s.create(a, "/q/d", b"", open(), P);
            s.multi(
                a,
                vec![m_set("/q", b"1", -1), m_create("/q/e", b"1234567", P)],
            );
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.get(a, "/q", false);
        }),
        sc("quota/nested_quota_paths", |s| {
            let a = s.client("a");
            s.mk(a, "/q", b"");
            s.mk(a, "/q/inner", b"");
            let qp = s.quota_path("");
            s.create(a, &qp, b"", open(), P);
            let qq = s.quota_path("/q");
            s.create(a, &qq, b"", open(), P);
            s.create(
                a,
                &format!("{qq}/zookeeper_stats"),
                b"count=0,bytes=0",
                open(),
                P,
            );
            s.create(
                a,
                &format!("{qq}/zookeeper_limits"),
                b"count=-1,bytes=-1,countHardLimit=10,byteHardLimit=-1",
                open(),
                P,
            );
            let qi = s.quota_path("/q/inner");
            s.create(a, &qi, b"", open(), P);
            s.create(
                a,
                &format!("{qi}/zookeeper_stats"),
                b"count=0,bytes=0",
                open(),
                P,
            );
            s.create(
                a,
                &format!("{qi}/zookeeper_limits"),
                b"count=-1,bytes=-1,countHardLimit=2,byteHardLimit=-1",
                open(),
                P,
            );
            s.mk(a, "/q/inner/a", b"");
            s.mk(a, "/q/inner/b", b"");
            s.mk(a, "/q/c", b"");
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.get(a, &format!("{qi}/zookeeper_stats"), false);
        }),
        sc("quota/stats_track_subtree", |s| {
            let a = s.client("a");
            s.mk(a, "/q", b"ab");
            s.mk(a, "/q/x", b"cde");
            let qp = s.quota_path("");
            s.create(a, &qp, b"", open(), P);
            let qq = s.quota_path("/q");
            s.create(a, &qq, b"", open(), P);
            s.create(
                a,
                &format!("{qq}/zookeeper_stats"),
                b"count=0,bytes=0",
                open(),
                P,
            );
            s.create(
                a,
                &format!("{qq}/zookeeper_limits"),
                b"count=100,bytes=1000",
                open(),
                P,
            );
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.mk(a, "/q/x/y", b"fghi");
            s.set(a, "/q", b"", -1);
            s.create(a, "/q/e", b"eph", open(), E);
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.delete(a, "/q/x/y", -1);
            s.get(a, &format!("{qq}/zookeeper_stats"), false);
            s.children(a, &qq, false);
        }),
        sc("quota/limits_node_without_stats_node", |s| {
            let a = s.client("a");
            s.mk(a, "/q", b"abc");
            let qp = s.quota_path("");
            s.create(a, &qp, b"", open(), P);
            let qq = s.quota_path("/q");
            s.create(a, &qq, b"", open(), P);
            s.create(
                a,
                &format!("{qq}/zookeeper_limits"),
                b"count=1,bytes=-1",
                open(),
                P,
            );
            s.children(a, &qq, false);
            s.mk(a, "/q/c", b"");
        }),
        sc("quota/system_nodes", |s| {
            let a = s.client("a");
            s.get(a, "=/zookeeper/quota", false);
            s.children(a, "=/zookeeper", false);
            s.exists(a, "=/zookeeper", false);
            s.exists(a, "=/zookeeper/quota", false);
        }),
    ]
}
