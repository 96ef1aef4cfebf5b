//! System nodes, reconfig, four-letter words on the client port, and malformed
//! input: unknown opcodes, oversized / negative / truncated frames.

use std::time::Duration;

use crate::dsl::*;
use crate::{sc, Scenario};
use rzk_proto::records::GetDataRequest;
use rzk_proto::{Encode, OpCode};

/// A request frame with an arbitrary opcode and body.
fn raw_request(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&xid.to_be_bytes());
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(body);
    rzk_proto::frame::frame(&v)
}

fn get_data_body(path: &str) -> Vec<u8> {
    GetDataRequest {
        path: path.into(),
        watch: false,
    }
    .to_bytes()
}

/// Sends a frame with `op` and records replies until the connection closes or
/// goes quiet, then probes it.
fn unknown_op(s: &mut Cx, op: i32, body: &[u8]) {
    let a = s.client("a");
    if let Some(k) = s.conn(a) {
        if let Some(code) = OpCode::from_code(op) {
            k.expect_reply(4242, code);
        }
    }
    s.raw_write(a, &raw_request(4242, op, body));
    s.read_frames(a, Duration::from_millis(300));
    s.probe(a);
    let b = s.client("b");
    s.ping(b);
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        // ---- system nodes ----
        sc("system/root_and_zookeeper_nodes", |s| {
            let a = s.client("a");
            s.exists(a, "=/", false);
            s.get(a, "=/zookeeper", false);
            s.children2(a, "=/zookeeper", false);
            s.get(a, "=/zookeeper/config", false);
            s.children2(a, "=/zookeeper/config", false);
            s.exists(a, "=/zookeeper/quota", false);
            s.all_children_number(a, "=/zookeeper");
        }),
        sc("system/ls_root", |s| {
            let a = s.client("a");
            s.children(a, "=/", false);
        }),
        sc("system/write_system_nodes", |s| {
            let a = s.client("a");
            s.set(a, "=/zookeeper/config", b"x", -1);
            s.set(a, "=/zookeeper", b"x", -1);
            s.get(a, "=/zookeeper", false);
            s.set(a, "=/zookeeper", b"", -1);
            s.create(a, "=/zookeeper/mine", b"", open(), P);
            s.delete(a, "=/zookeeper/mine", -1);
            s.set_acl(a, "=/zookeeper/config", open(), -1);
            s.create(a, "=/zookeeper/config/child", b"", open(), P);
            s.children(a, "=/zookeeper", false);
        }),
        sc("system/watch_on_config_node", |s| {
            let a = s.client("a");
            s.get(a, "=/zookeeper/config", true);
            s.check_watches(a, "=/zookeeper/config", W_DATA);
            s.remove_watches(a, "=/zookeeper/config", W_DATA);
        }),
        sc("reconfig/disabled", |s| {
            let a = s.client("a");
            s.reconfig(a, "", "", "", -1);
            s.reconfig(a, "server.5=127.0.0.1:1234:1235;1236", "", "", -1);
            s.reconfig(a, "", "1", "", 0);
            s.probe(a);
        }),
        // ---- four-letter words on the client port ----
        sc("4lw/ruok", |s| {
            let x = s.raw_client("x");
            s.raw_write(x, b"ruok");
            s.read_raw(x, Duration::from_secs(2));
        }),
        sc("4lw/isro", |s| {
            let x = s.raw_client("x");
            s.raw_write(x, b"isro");
            s.read_raw(x, Duration::from_secs(2));
        }),
        sc("4lw/unknown_word", |s| {
            let x = s.raw_client("x");
            s.raw_write(x, b"zzzz");
            s.read_raw(x, Duration::from_secs(2));
        }),
        // ---- malformed input ----
        sc("raw/unknown_opcode_999", |s| {
            unknown_op(s, 999, &get_data_body("/"))
        }),
        sc("raw/unknown_opcode_10", |s| {
            unknown_op(s, 10, &get_data_body("/"))
        }),
        sc("raw/opcode_notification_0", |s| {
            unknown_op(s, 0, &get_data_body("/"))
        }),
        sc("raw/opcode_delete_container_20", |s| {
            unknown_op(s, 20, &get_data_body("/"))
        }),
        sc("raw/opcode_create_session_-10", |s| {
            // ZooKeeper answers a createSession opcode after the handshake with a
            // ConnectResponse for a brand-new session.
            let a = s.client("a");
            let mut body = Vec::new();
            body.extend_from_slice(&0i32.to_be_bytes()); // protocolVersion
            body.extend_from_slice(&0i64.to_be_bytes()); // lastZxidSeen
            body.extend_from_slice(&30_000i32.to_be_bytes()); // timeout
            body.extend_from_slice(&0i64.to_be_bytes()); // sessionId
            body.extend_from_slice(&16i32.to_be_bytes());
            body.extend_from_slice(&[0u8; 16]);
            s.raw_write(a, &raw_request(4242, -10, &body));
            s.read_connect_response(a, "second", Duration::from_millis(500));
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
            let b = s.client("b");
            s.ping(b);
        }),
        sc("raw/opcode_error_-1", |s| unknown_op(s, -1, &[])),
        sc("raw/opcode_sasl_102", |s| unknown_op(s, 102, &[0, 0, 0, 0])),
        sc("raw/delete_container_opcode", |s| {
            // deleteContainer (20) is an internal opcode, but ZooKeeper accepts it
            // from clients.
            let a = s.client("a");
            s.create_container(a, "/c", b"", CONTAINER);
            s.create_container(a, "/full", b"", CONTAINER);
            s.mk(a, "/full/kid", b"");
            s.mk(a, "/plain", b"");
            let root = s.root.clone();
            for (xid, name) in [(71, "c"), (72, "full"), (73, "plain"), (74, "nope")] {
                let path = format!("{root}/{name}");
                let mut body = (path.len() as i32).to_be_bytes().to_vec();
                body.extend_from_slice(path.as_bytes());
                if let Some(k) = s.conn(a) {
                    k.expect_reply(xid, OpCode::DeleteContainer);
                }
                s.raw_write(a, &raw_request(xid, 20, &body));
                s.read_frames(a, Duration::from_millis(300));
            }
            s.children(a, "/", false);
        }),
        sc("raw/truncated_body", |s| {
            let a = s.client("a");
            s.raw_write(
                a,
                &raw_request(5, OpCode::GetData.code(), &[0, 0, 0, 9, b'/']),
            );
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/header_only_getdata", |s| {
            let a = s.client("a");
            s.raw_write(a, &raw_request(5, OpCode::GetData.code(), &[]));
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/trailing_bytes_after_body", |s| {
            let a = s.client("a");
            let mut body = get_data_body("/");
            body.extend_from_slice(b"trailing garbage");
            if let Some(k) = s.conn(a) {
                k.expect_reply(6, OpCode::GetData);
            }
            s.raw_write(a, &raw_request(6, OpCode::GetData.code(), &body));
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/bad_string_length", |s| {
            let a = s.client("a");
            s.raw_write(
                a,
                &raw_request(
                    5,
                    OpCode::GetData.code(),
                    &[0x7f, 0xff, 0xff, 0xff, b'/', 0],
                ),
            );
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/negative_string_length", |s| {
            let a = s.client("a");
            s.raw_write(
                a,
                &raw_request(5, OpCode::Exists.code(), &[0xff, 0xff, 0xff, 0xfe, 0]),
            );
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/null_path", |s| {
            let a = s.client("a");
            if let Some(k) = s.conn(a) {
                k.expect_reply(5, OpCode::Exists);
            }
            s.raw_write(
                a,
                &raw_request(5, OpCode::Exists.code(), &[0xff, 0xff, 0xff, 0xff, 0]),
            );
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/zero_length_frame", |s| {
            let a = s.client("a");
            s.raw_write(a, &[0, 0, 0, 0]);
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/frame_length_max_int", |s| {
            let a = s.client("a");
            s.raw_write(a, &i32::MAX.to_be_bytes());
            s.expect_closed(a);
            let b = s.client("b");
            s.ping(b);
        }),
        sc("raw/frame_length_2mib", |s| {
            let a = s.client("a");
            s.raw_write(a, &(2 * 1024 * 1024i32).to_be_bytes());
            s.expect_closed(a);
        }),
        sc("raw/frame_length_negative", |s| {
            let a = s.client("a");
            s.raw_write(a, &(-1i32).to_be_bytes());
            s.expect_closed(a);
        }),
        sc("raw/auth_packet_unknown_auth_type", |s| {
            let a = s.client("a");
            let mut body = Vec::new();
            body.extend_from_slice(&7i32.to_be_bytes());
            body.extend_from_slice(
                &rzk_proto::records::AuthPacket {
                    auth_type: 0,
                    scheme: "digest".into(),
                    auth: b"u:p".to_vec(),
                }
                .to_bytes()[4..],
            );
            if let Some(k) = s.conn(a) {
                k.expect_reply(-4, OpCode::Auth);
            }
            s.raw_write(a, &raw_request(-4, OpCode::Auth.code(), &body));
            s.read_frames(a, Duration::from_millis(300));
            s.probe(a);
        }),
        sc("raw/request_after_garbage_keeps_other_sessions", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(b, "/x", b"");
            s.raw_write(a, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
            s.expect_closed(a);
            s.get(b, "/x", false);
        }),
    ]
}
