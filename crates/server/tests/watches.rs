//! Watch behaviour seen from a client: one-shot, persistent, recursive,
//! setWatches after a reconnect, removal, and the READ filter.

mod common;

use common::{req, Client, Incoming};
use rzk_proto::codes::AddWatchMode;
use rzk_proto::records::{AddWatchRequest, AuthPacket, SetWatches2, WatchesRequest};
use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, CreateMode, ErrorCode, EventType, Id, OpCode, Perms, Request, WatcherType};

async fn event(c: &mut Client) -> (i32, String) {
    match c.next().await {
        Some(Incoming::Event(e)) => (e.event_type, e.path),
        other => panic!("event expected, got {other:?}"),
    }
}

/// A ping round trip: everything queued before it has arrived once it returns.
async fn no_more_events(c: &mut Client) {
    let xid = c.send(OpCode::Ping, Request::Ping).await;
    match c.next().await {
        Some(Incoming::Reply { header, .. }) => assert_eq!(header.xid, xid),
        other => panic!("no event expected, got {other:?}"),
    }
}

#[tokio::test]
async fn data_and_exist_watch_on_one_path_give_one_event() {
    let server = common::start(|_| {}).await;
    let mut a = Client::connect(server.addr).await;
    let mut b = Client::connect(server.addr).await;
    b.call(
        OpCode::Create,
        req::create("/d", b"", CreateMode::Persistent),
    )
    .await;
    a.call(OpCode::GetData, req::get_data("/d", true)).await;
    a.call(OpCode::Exists, req::exists("/d", true)).await;
    a.call(OpCode::GetChildren, req::children("/d", true)).await;
    b.call(OpCode::Delete, req::delete("/d")).await;
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeDeleted.code(), "/d".into())
    );
    no_more_events(&mut a).await;
    server.stop().await;
}

#[tokio::test]
async fn persistent_recursive_watch_sees_descendants_but_not_child_lists() {
    let server = common::start(|_| {}).await;
    let mut a = Client::connect(server.addr).await;
    let mut b = Client::connect(server.addr).await;
    let add = |path: &str, mode: AddWatchMode| {
        Request::AddWatch(AddWatchRequest {
            path: path.to_string(),
            mode: mode.code(),
        })
    };
    let (h, _) = a
        .call(
            OpCode::AddWatch,
            add("/r", AddWatchMode::PersistentRecursive),
        )
        .await;
    assert_eq!(h.err, 0);
    b.call(
        OpCode::Create,
        req::create("/r", b"", CreateMode::Persistent),
    )
    .await;
    b.call(
        OpCode::Create,
        req::create("/r/s", b"", CreateMode::Persistent),
    )
    .await;
    b.call(OpCode::SetData, req::set_data("/r/s", b"1")).await;
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeCreated.code(), "/r".into())
    );
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeCreated.code(), "/r/s".into())
    );
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeDataChanged.code(), "/r/s".into())
    );
    no_more_events(&mut a).await;

    a.call(OpCode::AddWatch, add("/p", AddWatchMode::Persistent))
        .await;
    b.call(
        OpCode::Create,
        req::create("/p", b"", CreateMode::Persistent),
    )
    .await;
    b.call(
        OpCode::Create,
        req::create("/p/c", b"", CreateMode::Persistent),
    )
    .await;
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeCreated.code(), "/p".into())
    );
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeChildrenChanged.code(), "/p".into())
    );
    b.call(OpCode::SetData, req::set_data("/p", b"x")).await;
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeDataChanged.code(), "/p".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn set_watches_fires_what_changed_while_away_and_rearms_the_rest() {
    let server = common::start(|_| {}).await;
    let mut b = Client::connect(server.addr).await;
    let (h, _) = b
        .call(
            OpCode::Create,
            req::create("/same", b"", CreateMode::Persistent),
        )
        .await;
    let seen = h.zxid;
    b.call(
        OpCode::Create,
        req::create("/changed", b"", CreateMode::Persistent),
    )
    .await;
    b.call(
        OpCode::Create,
        req::create("/born", b"", CreateMode::Persistent),
    )
    .await;
    let mut a = Client::connect(server.addr).await;
    let set = SetWatches2 {
        relative_zxid: seen,
        data_watches: vec!["/same".into(), "/changed".into(), "/missing".into()],
        exist_watches: vec!["/born".into(), "/unborn".into()],
        child_watches: vec!["/same".into()],
        persistent_watches: vec![],
        persistent_recursive_watches: vec![],
    };
    let xid = a.send(OpCode::SetWatches2, Request::SetWatches(set)).await;
    let mut events = Vec::new();
    loop {
        match a.next().await.expect("frame") {
            Incoming::Event(e) => events.push((e.event_type, e.path)),
            Incoming::Reply { header, .. } => {
                assert_eq!((header.xid, header.err), (xid, 0));
                break;
            }
        }
    }
    events.sort();
    assert_eq!(
        events,
        vec![
            (EventType::NodeCreated.code(), "/born".to_string()),
            (EventType::NodeDeleted.code(), "/missing".to_string()),
            (EventType::NodeDataChanged.code(), "/changed".to_string()),
        ]
    );
    b.call(OpCode::SetData, req::set_data("/same", b"1")).await;
    assert_eq!(
        event(&mut a).await,
        (EventType::NodeDataChanged.code(), "/same".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn check_and_remove_watches() {
    let server = common::start(|_| {}).await;
    let mut a = Client::connect(server.addr).await;
    a.call(
        OpCode::Create,
        req::create("/w", b"", CreateMode::Persistent),
    )
    .await;
    let w = |kind: WatcherType| WatchesRequest {
        path: "/w".into(),
        watcher_type: kind.code(),
    };
    let (h, _) = a
        .call(
            OpCode::CheckWatches,
            Request::CheckWatches(w(WatcherType::Data)),
        )
        .await;
    assert_eq!(h.err, ErrorCode::NoWatcher.code());
    a.call(OpCode::GetData, req::get_data("/w", true)).await;
    let (h, _) = a
        .call(
            OpCode::CheckWatches,
            Request::CheckWatches(w(WatcherType::Data)),
        )
        .await;
    assert_eq!(h.err, 0);
    let (h, _) = a
        .call(
            OpCode::RemoveWatches,
            Request::RemoveWatches(w(WatcherType::Children)),
        )
        .await;
    assert_eq!(h.err, ErrorCode::NoWatcher.code());
    let (h, _) = a
        .call(
            OpCode::RemoveWatches,
            Request::RemoveWatches(w(WatcherType::Any)),
        )
        .await;
    assert_eq!(h.err, 0);
    a.call(OpCode::SetData, req::set_data("/w", b"1")).await;
    no_more_events(&mut a).await;
    let bad = WatchesRequest {
        path: "/w".into(),
        watcher_type: 9,
    };
    let (h, _) = a
        .call(OpCode::CheckWatches, Request::CheckWatches(bad))
        .await;
    assert_eq!(h.err, ErrorCode::MarshallingError.code());
    server.stop().await;
}

#[tokio::test]
async fn no_event_for_a_node_the_watcher_may_not_read() {
    let server = common::start(|_| {}).await;
    let mut owner = Client::connect(server.addr).await;
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"bob:secret".to_vec(),
    });
    let (h, _) = owner.call(OpCode::Auth, auth).await;
    assert_eq!((h.xid, h.zxid, h.err), (-4, 0, 0));
    let mut other = Client::connect(server.addr).await;
    other
        .call(
            OpCode::AddWatch,
            Request::AddWatch(AddWatchRequest {
                path: "/".into(),
                mode: AddWatchMode::PersistentRecursive.code(),
            }),
        )
        .await;
    let secret = Request::Create(CreateOp {
        path: "/secret".into(),
        data: b"s".to_vec(),
        acl: vec![Acl::new(Perms::ALL, Id::new("auth", ""))],
        flags: 0,
        ttl: 0,
    });
    let (h, _) = owner.call(OpCode::Create, secret).await;
    assert_eq!(h.err, 0);
    owner
        .call(
            OpCode::Create,
            req::create("/public", b"", CreateMode::Persistent),
        )
        .await;
    assert_eq!(
        event(&mut other).await,
        (EventType::NodeCreated.code(), "/public".into()),
        "the unreadable /secret was filtered out"
    );
    let (h, _) = other
        .call(OpCode::GetData, req::get_data("/secret", true))
        .await;
    assert_eq!(h.err, ErrorCode::NoAuth.code());
    server.stop().await;
}
