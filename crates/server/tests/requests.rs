//! The locally served requests and the container checker, end to end.

mod common;

use common::{req, Client};
use rzk_proto::records::{
    AuthPacket, GetAllChildrenNumberRequest, GetEphemeralsRequest, SyncRequest,
};
use rzk_proto::request::{CreateOp, ReadOp};
use rzk_proto::{Acl, CreateMode, ErrorCode, MultiReadResult, OpCode, Request, Response};
use std::time::Duration;

#[tokio::test]
async fn sync_multi_read_who_am_i_ephemerals_and_counts() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    c.call(
        OpCode::Create,
        req::create("/m", b"d", CreateMode::Persistent),
    )
    .await;
    c.call(
        OpCode::Create,
        req::create("/m/e1", b"", CreateMode::Ephemeral),
    )
    .await;
    c.call(
        OpCode::Create,
        req::create("/m/p", b"", CreateMode::Persistent),
    )
    .await;

    let (h, resp) = c
        .call(
            OpCode::Sync,
            Request::Sync(SyncRequest { path: "/m".into() }),
        )
        .await;
    assert_eq!((h.err, resp), (0, Response::Sync { path: "/m".into() }));

    let ops = vec![
        ReadOp::GetData(rzk_proto::records::GetDataRequest {
            path: "/m".into(),
            watch: false,
        }),
        ReadOp::GetChildren(rzk_proto::records::GetChildrenRequest {
            path: "/nope".into(),
            watch: false,
        }),
    ];
    let (h, resp) = c.call(OpCode::MultiRead, Request::MultiRead(ops)).await;
    assert_eq!(h.err, 0);
    let Response::MultiRead(results) = resp else {
        panic!("multiRead response expected");
    };
    assert!(matches!(&results[0], MultiReadResult::Data { data, .. } if data == b"d"));
    assert_eq!(results[1], MultiReadResult::Error(ErrorCode::NoNode));

    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"alice:pw".to_vec(),
    });
    c.call(OpCode::Auth, auth).await;
    let (_, resp) = c.call(OpCode::WhoAmI, Request::WhoAmI).await;
    let Response::WhoAmI(infos) = resp else {
        panic!("whoAmI response expected");
    };
    let names: Vec<(String, String)> = infos.into_iter().map(|i| (i.auth_scheme, i.user)).collect();
    assert_eq!(
        names,
        vec![
            ("ip".to_string(), "127.0.0.1".to_string()),
            ("digest".to_string(), "alice".to_string())
        ]
    );

    let (_, resp) = c
        .call(
            OpCode::GetEphemerals,
            Request::GetEphemerals(GetEphemeralsRequest {
                prefix_path: "/m".into(),
            }),
        )
        .await;
    assert_eq!(resp, Response::Ephemerals(vec!["/m/e1".into()]));
    let (_, resp) = c
        .call(
            OpCode::GetAllChildrenNumber,
            Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: "/m".into() }),
        )
        .await;
    assert_eq!(resp, Response::AllChildrenNumber(2));
    server.stop().await;
}

#[tokio::test]
async fn create2_answers_with_a_stat() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    let (h, resp) = c
        .call(
            OpCode::Create2,
            req::create("/c2", b"abc", CreateMode::Persistent),
        )
        .await;
    assert_eq!(h.err, 0);
    let Response::Create2 { path, stat } = resp else {
        panic!("create2 response expected");
    };
    assert_eq!(
        (path.as_str(), stat.data_length, stat.czxid),
        ("/c2", 3, h.zxid)
    );
    server.stop().await;
}

#[tokio::test]
async fn empty_containers_are_deleted_by_the_checker() {
    let server = common::start(|c| c.container_check_interval_ms = 50).await;
    let mut c = Client::connect(server.addr).await;
    let container = Request::Create(CreateOp {
        path: "/box".into(),
        data: vec![],
        acl: Acl::open_unsafe(),
        flags: CreateMode::Container.code(),
        ttl: 0,
    });
    let (h, _) = c.call(OpCode::CreateContainer, container).await;
    assert_eq!(h.err, 0);
    c.call(
        OpCode::Create,
        req::create("/box/x", b"", CreateMode::Persistent),
    )
    .await;
    c.call(OpCode::Delete, req::delete("/box/x")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (h, _) = c.call(OpCode::Exists, req::exists("/box", false)).await;
        if h.err == ErrorCode::NoNode.code() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "container not deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}
