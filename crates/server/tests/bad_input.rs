//! Bad input closes only the connection that sent it, with ZooKeeper's answer
//! where it gives one; the server and other sessions carry on.

mod common;

use common::{req, Client};
use rzk_proto::records::AuthPacket;
use rzk_proto::{CreateMode, ErrorCode, OpCode, Request};

async fn healthy(addr: std::net::SocketAddr) {
    let mut c = Client::connect(addr).await;
    let (h, _) = c.call(OpCode::Exists, req::exists("/", false)).await;
    assert_eq!(h.err, 0, "the server still serves new sessions");
}

#[tokio::test]
async fn unknown_opcode_gets_unimplemented_then_close() {
    let server = common::start(|_| {}).await;
    let mut bystander = Client::connect(server.addr).await;
    let mut c = Client::connect(server.addr).await;
    let mut body = Vec::new();
    body.extend_from_slice(&7i32.to_be_bytes());
    body.extend_from_slice(&99i32.to_be_bytes());
    c.send_bytes(&rzk_proto::frame::frame(&body)).await;
    let (h, _) = c.next().await.expect("reply").reply();
    assert_eq!(
        (h.xid, h.zxid, h.err),
        (7, -1, ErrorCode::Unimplemented.code())
    );
    c.expect_closed().await;
    let (h, _) = bystander.call(OpCode::Ping, Request::Ping).await;
    assert_eq!(h.err, 0, "other sessions are unaffected");
    server.stop().await;
}

#[tokio::test]
async fn truncated_body_gets_marshalling_error_and_the_connection_stays() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    // An earlier request is still answered first (FIFO).
    let first = c
        .send(
            OpCode::Create,
            req::create("/t", b"", CreateMode::Persistent),
        )
        .await;
    let mut body = Vec::new();
    body.extend_from_slice(&9i32.to_be_bytes());
    body.extend_from_slice(&OpCode::GetData.code().to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    c.send_bytes(&rzk_proto::frame::frame(&body)).await;
    let (h, _) = c.next().await.expect("reply").reply();
    assert_eq!((h.xid, h.err), (first, 0));
    let (h, _) = c.next().await.expect("reply").reply();
    assert_eq!((h.xid, h.err), (9, ErrorCode::MarshallingError.code()));
    // As ZooKeeper: the framing is intact, so the session carries on.
    let (h, _) = c.call(OpCode::Exists, req::exists("/t", false)).await;
    assert_eq!(h.err, 0);
    server.stop().await;
}

#[tokio::test]
async fn client_delete_container_and_sasl_get_zookeepers_answers() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    let mut body = Vec::new();
    body.extend_from_slice(&3i32.to_be_bytes());
    body.extend_from_slice(&OpCode::DeleteContainer.code().to_be_bytes());
    rzk_proto::jute::write_string(&mut body, "/zookeeper");
    c.send_bytes(&rzk_proto::frame::frame(&body)).await;
    let (h, _) = c.next().await.expect("reply").reply();
    assert_eq!((h.xid, h.err), (3, ErrorCode::BadArguments.code()));
    let sasl = Request::Sasl(rzk_proto::records::SetSaslRequest {
        token: b"tok".to_vec(),
    });
    let xid = c.send(OpCode::Sasl, sasl).await;
    let (h, body) = c.next().await.expect("reply").reply();
    assert_eq!((h.xid, h.zxid, h.err), (xid, 0, 0));
    assert_eq!(body, (-1i32).to_be_bytes(), "a null token");
    let (h, _) = c.call(OpCode::Ping, Request::Ping).await;
    assert_eq!(h.err, 0, "the connection stays open");
    server.stop().await;
}

#[tokio::test]
async fn frames_beyond_jute_maxbuffer_or_negative_close_the_connection() {
    let server = common::start(|c| c.max_frame_bytes = 1024).await;
    let mut c = Client::connect(server.addr).await;
    c.send_bytes(&1025i32.to_be_bytes()).await;
    c.expect_closed().await;
    let mut c = Client::connect(server.addr).await;
    c.send_bytes(&(-5i32).to_be_bytes()).await;
    c.expect_closed().await;
    // Before the handshake too.
    let mut c = Client::raw(server.addr).await;
    c.send_bytes(&(1i32 << 20).to_be_bytes()).await;
    c.expect_closed().await;
    // A frame of exactly the limit is fine.
    let mut c = Client::connect(server.addr).await;
    let data = vec![b'x'; 900];
    let (h, _) = c
        .call(
            OpCode::Create,
            req::create("/big", &data, CreateMode::Persistent),
        )
        .await;
    assert_eq!(h.err, 0);
    healthy(server.addr).await;
    server.stop().await;
}

#[tokio::test]
async fn garbage_connect_request_and_torn_frames_close_quietly() {
    let server = common::start(|_| {}).await;
    let mut c = Client::raw(server.addr).await;
    c.send_bytes(&rzk_proto::frame::frame(&[1, 2, 3])).await;
    c.expect_closed().await;
    let mut c = Client::connect(server.addr).await;
    c.send_bytes(&[0, 0, 0, 20, 1, 2]).await;
    c.stream.shutdown().await.expect("half close");
    c.expect_closed().await;
    healthy(server.addr).await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_auth_scheme_fails_and_closes() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "kerberos".into(),
        auth: b"x".to_vec(),
    });
    let (h, _) = c.call(OpCode::Auth, auth).await;
    assert_eq!(
        (h.xid, h.zxid, h.err),
        (-4, 0, ErrorCode::AuthFailed.code())
    );
    c.expect_closed().await;
    server.stop().await;
}

#[tokio::test]
async fn connections_per_address_are_limited() {
    let server = common::start(|c| c.max_client_cnxns_per_ip = 2).await;
    let _a = Client::connect(server.addr).await;
    let _b = Client::connect(server.addr).await;
    let mut c = Client::raw(server.addr).await;
    assert_eq!(c.read_frame().await, None, "the third is closed at once");
    drop(_a);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _d = Client::connect(server.addr).await;
    server.stop().await;
}

use tokio::io::AsyncWriteExt as _;
