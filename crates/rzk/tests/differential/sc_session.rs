//! Sessions: handshake variants, resuming, wrong passwords, expiry,
//! closeSession and ephemerals, two connections on one session, per-session FIFO.

use std::time::Duration;

use crate::dsl::*;
use crate::{sc, Scenario};
use rzk_client::ConnectOptions;
use rzk_proto::records::*;
use rzk_proto::{Encode, OpCode, Request};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        sc("session/resume_after_tcp_drop", |s| {
            let a = s.client("a");
            s.create(a, "/e", b"", open(), E);
            s.drop_connection(a);
            let a2 = s.reconnect("a2", a);
            s.exists(a2, "/e", false);
            s.ephemerals(a2, "/");
            s.create(a2, "/e2", b"", open(), E);
            s.close(a2);
            let b = s.client("b");
            s.children(b, "/", false);
        }),
        sc("session/resume_wrong_password", |s| {
            let a = s.client("a");
            s.create(a, "/e", b"", open(), E);
            let mut opts = s.resume_options(a);
            opts.password = vec![1; 16];
            let bad = s.connect("bad", opts);
            s.probe(bad);
            s.exists(a, "/e", false);
        }),
        sc("session/resume_closed_session", |s| {
            let a = s.client("a");
            s.create(a, "/e", b"", open(), E);
            let opts = s.resume_options(a);
            s.close(a);
            let again = s.connect("again", opts);
            s.probe(again);
        }),
        sc("session/resume_unknown_session", |s| {
            let opts = ConnectOptions {
                session_id: 0x1234_5678_9abc,
                password: vec![9; 16],
                ..Default::default()
            };
            let x = s.connect("x", opts);
            s.probe(x);
        }),
        sc("session/two_connections_same_session", |s| {
            let a = s.client("a");
            s.create(a, "/e", b"", open(), E);
            let a2 = s.reconnect("a2", a);
            s.expect_closed(a);
            s.exists(a2, "/e", false);
            s.ephemerals(a2, "/");
        }),
        sc("session/timeout_negotiation", |s| {
            for (name, t) in [
                ("t10", 10),
                ("t1000", 1000),
                ("t5000", 5000),
                ("t100000", 100_000),
                ("t0", 0),
                ("tneg", -5),
            ] {
                let c = s.connect(
                    name,
                    ConnectOptions {
                        timeout_ms: t,
                        ..Default::default()
                    },
                );
                s.close(c);
            }
        }),
        sc("session/read_only_flag", |s| {
            let r = s.connect(
                "r",
                ConnectOptions {
                    read_only: true,
                    ..Default::default()
                },
            );
            s.mk(r, "/x", b"");
            s.exists(r, "/x", false);
        }),
        sc("session/last_zxid_ahead_of_server", |s| {
            let x = s.connect(
                "x",
                ConnectOptions {
                    last_zxid_seen: 0x7fff_0000_0000_0000,
                    ..Default::default()
                },
            );
            s.probe(x);
        }),
        sc("session/old_client_handshake_without_readonly", |s| {
            let x = s.raw_client("x");
            let req = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout_ms: 30_000,
                session_id: 0,
                password: vec![0; 16],
                read_only: None,
            };
            s.raw_write(x, &rzk_proto::frame::frame(&req.to_bytes()));
            s.read_connect_response(x, "x", Duration::from_secs(5));
            s.settle();
            s.mk(x, "/made-by-old-client", b"");
            s.exists(x, "/made-by-old-client", false);
        }),
        sc("session/garbage_handshake", |s| {
            let x = s.raw_client("x");
            s.raw_write(x, &rzk_proto::frame::frame(b"\x00\x00"));
            s.read_raw(x, Duration::from_millis(1500));
            let y = s.raw_client("y");
            s.raw_write(y, &rzk_proto::frame::frame(&[0xff; 60]));
            s.read_raw(y, Duration::from_millis(1500));
        }),
        sc("session/request_frame_as_handshake", |s| {
            let x = s.raw_client("x");
            let mut body = Vec::new();
            rzk_proto::RequestFrame {
                xid: 1,
                op: OpCode::GetData,
                request: Request::GetData(GetDataRequest {
                    path: "/".into(),
                    watch: false,
                }),
            }
            .encode(&mut body);
            s.raw_write(x, &rzk_proto::frame::frame(&body));
            s.read_raw(x, Duration::from_millis(1500));
        }),
        sc("session/close_removes_ephemerals_with_events", |s| {
            s.sort_events = true;
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/p", b"");
            s.create(a, "/e1", b"", open(), E);
            s.create(a, "/p/e2", b"", open(), E);
            s.create(a, "/s-", b"", open(), ES);
            s.mk(a, "/keep", b"");
            s.exists(b, "/e1", true);
            s.get(b, "/p/e2", true);
            s.exists(b, "/s-0000000003", true);
            s.children(b, "/p", true);
            s.children(b, "/", true);
            s.close(a);
            s.children2(b, "/", false);
            s.exists(b, "/p", false);
        }),
        sc("session/close_with_no_ephemerals", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.children(b, "/", true);
            s.close(a);
            s.exists(b, "/", false);
        }),
        sc("session/ephemeral_survives_other_session_close", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.create(a, "/ea", b"", open(), E);
            s.create(b, "/eb", b"", open(), E);
            s.close(b);
            s.children(a, "/", false);
            s.ephemerals(a, "/");
        }),
        sc("session/expiry_removes_ephemerals", |s| {
            let a = s.connect(
                "a",
                ConnectOptions {
                    timeout_ms: 1000,
                    ..Default::default()
                },
            );
            let b = s.client("b");
            s.create(a, "/e", b"", open(), E);
            s.exists(b, "/e", true);
            let opts = s.resume_options(a);
            s.wait_event(b, Duration::from_secs(8));
            s.expect_closed(a);
            s.exists(b, "/e", false);
            let again = s.connect("again", opts);
            s.probe(again);
        }),
        sc("session/pings_keep_session_alive", |s| {
            let a = s.connect(
                "a",
                ConnectOptions {
                    timeout_ms: 1000,
                    ..Default::default()
                },
            );
            s.create(a, "/e", b"", open(), E);
            for _ in 0..8 {
                s.sleep_ms(300);
                if let Some(conn) = s.conn(a) {
                    let _ = conn.ping();
                }
            }
            s.exists(a, "/e", false);
        }),
        sc("session/pipelined_fifo", |s| {
            let a = s.client("a");
            let p = s.p("/x");
            let reqs = vec![
                (
                    OpCode::Create,
                    Request::Create(rzk_proto::request::CreateOp {
                        path: p.clone(),
                        data: b"1".to_vec(),
                        acl: open(),
                        flags: 0,
                        ttl: 0,
                    }),
                ),
                (
                    OpCode::GetData,
                    Request::GetData(GetDataRequest {
                        path: p.clone(),
                        watch: true,
                    }),
                ),
                (
                    OpCode::SetData,
                    Request::SetData(SetDataRequest {
                        path: p.clone(),
                        data: b"2".to_vec(),
                        version: 0,
                    }),
                ),
                (
                    OpCode::Exists,
                    Request::Exists(ExistsRequest {
                        path: p.clone(),
                        watch: true,
                    }),
                ),
                (OpCode::Ping, Request::Ping),
                (
                    OpCode::Delete,
                    Request::Delete(DeleteRequest {
                        path: p.clone(),
                        version: 1,
                    }),
                ),
                (
                    OpCode::Exists,
                    Request::Exists(ExistsRequest {
                        path: p.clone(),
                        watch: false,
                    }),
                ),
                (OpCode::Sync, Request::Sync(SyncRequest { path: p })),
            ];
            s.pipeline(a, reqs);
        }),
        sc("session/xid_is_echoed", |s| {
            let a = s.client("a");
            if let Some(conn) = s.conn(a) {
                let req = Request::Exists(ExistsRequest {
                    path: "/".into(),
                    watch: false,
                });
                let mut out = Vec::new();
                for xid in [0, 12345, -7, i32::MAX] {
                    let _ = conn.send_with_xid(xid, OpCode::Exists, req.clone());
                    let r = conn.recv(xid);
                    out.push(format!(
                        "{xid}->{}",
                        r.map(|r| r.xid.to_string())
                            .unwrap_or_else(|e| e.to_string())
                    ));
                }
                s.note(format!("a: xids {}", out.join(" ")));
            }
            s.probe(a);
        }),
        sc("session/close_session_reply", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.close(a);
            let b = s.client("b");
            s.exists(b, "/x", false);
        }),
    ]
}
