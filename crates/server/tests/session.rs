//! Sessions over real TCP: the handshake, resuming a session on a new
//! connection, wrong passwords, expiry, closeSession, zxid checks.

mod common;

use common::{connect_request, req, Client};
use rzk_proto::{CreateMode, ErrorCode, OpCode, Request, Response};
use std::time::Duration;

#[tokio::test]
async fn new_session_negotiates_timeout_and_echoes_read_only() {
    let server = common::start(|_| {}).await;
    let (_c, resp) = Client::handshake(server.addr, connect_request(0, vec![0; 16], 1)).await;
    assert_eq!(resp.timeout_ms, 4000, "clamped up to minSessionTimeout");
    assert_eq!(resp.password.len(), 16);
    assert_eq!(resp.read_only, Some(false));
    let (_c, resp) =
        Client::handshake(server.addr, connect_request(0, vec![0; 16], 1_000_000)).await;
    assert_eq!(resp.timeout_ms, 40_000, "clamped down to maxSessionTimeout");
    let mut old = connect_request(0, vec![0; 16], 10_000);
    old.read_only = None;
    let (_c, resp) = Client::handshake(server.addr, old).await;
    assert_eq!(resp.read_only, None, "old clients get no readOnly byte");
    server.stop().await;
}

#[tokio::test]
async fn resume_keeps_ephemerals_and_closes_the_old_connection() {
    let server = common::start(|_| {}).await;
    let mut a = Client::connect(server.addr).await;
    let (h, _) = a
        .call(
            OpCode::Create,
            req::create("/eph", b"x", CreateMode::Ephemeral),
        )
        .await;
    assert_eq!(h.err, 0);
    let (mut b, resp) = Client::handshake(
        server.addr,
        connect_request(a.session_id, a.password.clone(), 30_000),
    )
    .await;
    assert_eq!(resp.session_id, a.session_id, "the same session, resumed");
    assert_eq!(resp.password, a.password);
    a.expect_closed().await;
    let (h, resp) = b.call(OpCode::Exists, req::exists("/eph", false)).await;
    assert_eq!(h.err, 0, "the ephemeral survived the move");
    assert!(matches!(resp, Response::Stat(s) if s.ephemeral_owner == b.session_id));
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_or_unknown_session_is_refused_without_harming_the_owner() {
    let server = common::start(|_| {}).await;
    let mut a = Client::connect(server.addr).await;
    let (mut bad, resp) = Client::handshake(
        server.addr,
        connect_request(a.session_id, vec![7; 16], 30_000),
    )
    .await;
    assert_eq!((resp.timeout_ms, resp.session_id), (0, 0));
    assert_eq!(resp.password, vec![0; 16]);
    bad.expect_closed().await;
    let (h, _) = a.call(OpCode::Ping, Request::Ping).await;
    assert_eq!(h.err, 0, "the rightful connection is still open");
    let (mut unknown, resp) =
        Client::handshake(server.addr, connect_request(12345, vec![0; 16], 30_000)).await;
    assert_eq!(resp.timeout_ms, 0);
    unknown.expect_closed().await;
    server.stop().await;
}

#[tokio::test]
async fn client_ahead_of_server_is_refused() {
    let server = common::start(|_| {}).await;
    let mut c = Client::raw(server.addr).await;
    let mut r = connect_request(0, vec![0; 16], 30_000);
    r.last_zxid_seen = 1 << 40;
    let mut body = Vec::new();
    rzk_proto::Encode::encode(&r, &mut body);
    c.send_bytes(&rzk_proto::frame::frame(&body)).await;
    assert_eq!(c.read_frame().await, None, "closed without an answer");
    server.stop().await;
}

#[tokio::test]
async fn silent_session_expires_and_its_ephemerals_go() {
    let server = common::start(|c| {
        c.tick_time_ms = 50;
        c.min_session_timeout_ms = 100;
    })
    .await;
    let (mut a, resp) = Client::handshake(server.addr, connect_request(0, vec![0; 16], 200)).await;
    assert_eq!(resp.timeout_ms, 200);
    let (h, _) = a
        .call(
            OpCode::Create,
            req::create("/gone", b"", CreateMode::Ephemeral),
        )
        .await;
    assert_eq!(h.err, 0);
    let mut watcher = Client::connect(server.addr).await;
    let (h, _) = watcher
        .call(OpCode::Exists, req::exists("/gone", true))
        .await;
    assert_eq!(h.err, 0);
    // a stays silent: no pings. Its connection is cut at expiry.
    a.expect_closed().await;
    match watcher.next().await {
        Some(common::Incoming::Event(e)) => {
            assert_eq!(e.event_type, rzk_proto::EventType::NodeDeleted.code());
            assert_eq!(e.path, "/gone");
        }
        other => panic!("expected NodeDeleted, got {other:?}"),
    }
    let (mut again, resp) = Client::handshake(
        server.addr,
        connect_request(a.session_id, a.password.clone(), 200),
    )
    .await;
    assert_eq!(resp.timeout_ms, 0, "expired: resume refused");
    again.expect_closed().await;
    server.stop().await;
}

#[tokio::test]
async fn pings_keep_a_session_alive() {
    let server = common::start(|c| {
        c.tick_time_ms = 50;
        c.min_session_timeout_ms = 100;
    })
    .await;
    let (mut a, _) = Client::handshake(server.addr, connect_request(0, vec![0; 16], 200)).await;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (h, _) = a.call(OpCode::Ping, Request::Ping).await;
        assert_eq!((h.xid, h.err), (-2, 0));
    }
    server.stop().await;
}

#[tokio::test]
async fn close_session_replies_then_closes_and_removes_ephemerals() {
    let server = common::start(|_| {}).await;
    let mut a = Client::connect(server.addr).await;
    a.call(
        OpCode::Create,
        req::create("/e", b"", CreateMode::Ephemeral),
    )
    .await;
    let (h, _) = a.call(OpCode::CloseSession, Request::CloseSession).await;
    assert_eq!(h.err, 0);
    assert!(h.zxid > 0, "a closeSession reply carries its entry's zxid");
    a.expect_closed().await;
    let mut b = Client::connect(server.addr).await;
    let (h, _) = b.call(OpCode::Exists, req::exists("/e", false)).await;
    assert_eq!(h.err, ErrorCode::NoNode.code());
    server.stop().await;
}
