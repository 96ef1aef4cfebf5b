//! Per-session FIFO and "a client sees the event before any reply that
//! reflects the change", over real TCP with pipelined requests.

mod common;

use common::{req, Client, Incoming};
use rzk_proto::{CreateMode, EventType, OpCode, Response};

#[tokio::test]
async fn pipelined_reads_see_exactly_the_writes_before_them() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    c.call(
        OpCode::Create,
        req::create("/f", b"", CreateMode::Persistent),
    )
    .await;
    // Goal: interleave writes and reads without waiting; each read must see
    // the writes sent before it and none sent after it.
    const ROUNDS: usize = 50;
    let mut xids = Vec::new();
    for i in 0..ROUNDS {
        let path = format!("/f/n{i:03}");
        xids.push(
            c.send(
                OpCode::Create,
                req::create(&path, b"", CreateMode::Persistent),
            )
            .await,
        );
        xids.push(
            c.send(OpCode::GetChildren, req::children("/f", false))
                .await,
        );
    }
    for (i, xid) in xids.iter().enumerate() {
        let (header, body) = c.next().await.expect("reply").reply();
        assert_eq!(header.xid, *xid, "replies in request order");
        assert_eq!(header.err, 0);
        if i % 2 == 1 {
            let Response::Children(children) =
                Response::decode(OpCode::GetChildren, &body).expect("children")
            else {
                panic!("children expected");
            };
            assert_eq!(
                children.len(),
                i / 2 + 1,
                "read {i} sees its earlier writes only"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn write_zxids_increase_and_reads_report_the_last_zxid() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    let (h1, _) = c
        .call(
            OpCode::Create,
            req::create("/z", b"", CreateMode::Persistent),
        )
        .await;
    let (h2, _) = c.call(OpCode::SetData, req::set_data("/z", b"1")).await;
    assert!(h2.zxid > h1.zxid);
    let (h3, _) = c.call(OpCode::GetData, req::get_data("/z", false)).await;
    assert_eq!(h3.zxid, h2.zxid);
    let (h4, _) = c.call(OpCode::SetData, req::set_data("/nope", b"1")).await;
    assert_eq!(h4.err, rzk_proto::ErrorCode::NoNode.code());
    server.stop().await;
}

#[tokio::test]
async fn own_watch_then_own_write_arrive_as_reply_event_reply() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    c.call(
        OpCode::Create,
        req::create("/y", b"old", CreateMode::Persistent),
    )
    .await;
    // Sent back to back: the write must not be applied before the read runs.
    let read = c.send(OpCode::GetData, req::get_data("/y", true)).await;
    let write = c.send(OpCode::SetData, req::set_data("/y", b"new")).await;
    let (h, body) = c.next().await.expect("read reply").reply();
    assert_eq!(h.xid, read);
    let Response::Data { data, .. } = Response::decode(OpCode::GetData, &body).expect("data")
    else {
        panic!("data expected");
    };
    assert_eq!(data, b"old");
    match c.next().await {
        Some(Incoming::Event(e)) => {
            assert_eq!(e.event_type, EventType::NodeDataChanged.code());
            assert_eq!(e.path, "/y");
        }
        other => panic!("event expected before the write's reply, got {other:?}"),
    }
    let (h, _) = c.next().await.expect("write reply").reply();
    assert_eq!(h.xid, write);
    server.stop().await;
}

#[tokio::test]
async fn other_sessions_event_precedes_a_reply_showing_the_change() {
    let server = common::start(|_| {}).await;
    let mut a = Client::connect(server.addr).await;
    let mut b = Client::connect(server.addr).await;
    let (h, _) = a.call(OpCode::Exists, req::exists("/x", true)).await;
    assert_eq!(h.err, rzk_proto::ErrorCode::NoNode.code());
    for round in 0..20 {
        let path = format!("/x{round}");
        a.call(OpCode::Exists, req::exists(&path, true)).await;
        let (h, _) = b
            .call(
                OpCode::Create,
                req::create(&path, b"", CreateMode::Persistent),
            )
            .await;
        assert_eq!(h.err, 0);
        // b's create is applied; a's next read reflects it, so the event must
        // already be ahead of that read's reply on a's connection.
        let xid = a.send(OpCode::GetData, req::get_data(&path, false)).await;
        match a.next().await {
            Some(Incoming::Event(e)) => {
                assert_eq!(e.event_type, EventType::NodeCreated.code());
                assert_eq!(e.path, path);
            }
            other => panic!("round {round}: event expected first, got {other:?}"),
        }
        let (h, _) = a.next().await.expect("reply").reply();
        assert_eq!((h.xid, h.err), (xid, 0));
    }
    server.stop().await;
}

#[tokio::test]
async fn outstanding_limit_pauses_reading_without_losing_requests() {
    let server = common::start(|c| c.outstanding_requests_max = 4).await;
    let mut c = Client::connect(server.addr).await;
    c.call(
        OpCode::Create,
        req::create("/o", b"v", CreateMode::Persistent),
    )
    .await;
    const REQUESTS: usize = 300;
    let mut xids = Vec::new();
    for i in 0..REQUESTS {
        xids.push(if i % 3 == 0 {
            c.send(OpCode::SetData, req::set_data("/o", b"w")).await
        } else {
            c.send(OpCode::GetData, req::get_data("/o", false)).await
        });
    }
    for xid in xids {
        let (h, _) = c.next().await.expect("reply").reply();
        assert_eq!((h.xid, h.err), (xid, 0));
    }
    server.stop().await;
}
