//! Interop with an independently written client: the `zookeeper-client` crate
//! (async, tokio), driving a real server over real TCP.
//!
//! Every scenario runs twice, against Apache ZooKeeper 3.8 (the oracle) and
//! against rzk: `interop_test!(name)` makes `name::apache` and `name::rzk`. A
//! scenario is an `async fn(addr)` that only talks to the server through the
//! client, so whatever passes on Apache and fails on rzk is an rzk bug.
//!
//! Run one side: `cargo test -p rzk --test interop_zookeeper_client apache`.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rzk_testkit::{ApacheZk, Rzk, Server};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use zk::{
    Acl, Acls, AddWatchMode, AuthId, AuthUser, Client, CreateMode, CreateOptions, EventType,
    MultiReadResult, MultiWriteError, MultiWriteResult, Permission, SessionState, WatchedEvent,
};
use zookeeper_client as zk;

/// Upper bound for a whole scenario.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);
/// How long to wait for an event that must come.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait to be confident that an event does not come.
const QUIET_PERIOD: Duration = Duration::from_millis(300);
/// Asked-for session timeout in the expiry scenario: Apache's minimum with
/// its default tickTime of 2000 ms (2 ticks).
const SHORT_SESSION_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Clone, Copy, Debug)]
enum Target {
    Apache,
    Rzk,
}

fn start_server(target: Target) -> Box<dyn Server> {
    match target {
        Target::Apache => Box::new(ApacheZk::start().expect("start Apache ZooKeeper")),
        Target::Rzk => {
            Box::new(Rzk::start(Path::new(env!("CARGO_BIN_EXE_rzk"))).expect("start rzk server"))
        }
    }
}

/// Starts a fresh server, runs `scenario` against it on its own runtime, then
/// stops the server.
fn run<F, Fut>(target: Target, scenario: F)
where
    F: FnOnce(String, Target) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = start_server(target);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        timeout(SCENARIO_TIMEOUT, scenario(server.addr(), target))
            .await
            .unwrap_or_else(|_| panic!("{target:?}: scenario took over {SCENARIO_TIMEOUT:?}"))
    });
    drop(runtime);
    drop(server);
}

/// `name::apache` and `name::rzk` for the scenario `async fn name(addr: String)`.
macro_rules! interop_test {
    ($name:ident) => {
        mod $name {
            #[test]
            fn apache() {
                super::run(super::Target::Apache, super::$name);
            }

            #[test]
            fn rzk() {
                super::run(super::Target::Rzk, super::$name);
            }
        }
    };
}

interop_test!(crud);
interop_test!(sequential_and_ephemeral_nodes);
interop_test!(multi_transactions);
interop_test!(multi_read);
interop_test!(oneshot_watches);
interop_test!(watch_event_precedes_reply);
interop_test!(persistent_watch);
interop_test!(persistent_recursive_watch);
interop_test!(digest_auth_and_acl);
interop_test!(session_resumed_with_id_and_password);
interop_test!(connection_cut_resumes_session_and_watches);
interop_test!(session_expiry_removes_ephemerals);

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

async fn connect(addr: &str) -> Client {
    Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn ephemeral() -> CreateOptions<'static> {
    CreateMode::Ephemeral.with_acls(Acls::anyone_all())
}

async fn event(what: &str, fut: impl Future<Output = WatchedEvent>) -> WatchedEvent {
    timeout(EVENT_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("no event within {EVENT_TIMEOUT:?}: {what}"))
}

fn node_event(event_type: EventType, path: &str) -> (EventType, String) {
    (event_type, path.to_string())
}

fn kind(e: &WatchedEvent) -> (EventType, String) {
    (e.event_type, e.path.clone())
}

/// Next event of a persistent watcher, or None if nothing comes for a while.
async fn maybe_next(w: &mut zk::PersistentWatcher) -> Option<(EventType, String)> {
    timeout(QUIET_PERIOD, w.changed())
        .await
        .ok()
        .map(|e| kind(&e))
}

async fn next(w: &mut zk::PersistentWatcher, what: &str) -> (EventType, String) {
    kind(&event(what, w.changed()).await)
}

/// removeWatches through the client, with the server's answer. (Dropping a
/// watcher does the same in the background; `remove` is deprecated for that.)
#[allow(deprecated)]
async fn remove_oneshot(w: zk::OneshotWatcher) -> Result<(), zk::Error> {
    w.remove().await
}

#[allow(deprecated)]
async fn remove_persistent(w: zk::PersistentWatcher) -> Result<(), zk::Error> {
    w.remove().await
}

/// Waits until the session state is `want`.
async fn wait_state(watcher: &mut zk::StateWatcher, want: SessionState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        if watcher.peek_state() == want {
            return;
        }
        match tokio::time::timeout_at(deadline, watcher.changed()).await {
            Ok(state) => {
                seen.push(state);
                if state == want {
                    return;
                }
            }
            Err(_) => panic!("session never reached {want:?}; saw {seen:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// scenarios
// ---------------------------------------------------------------------------

/// create / get / set / delete, with versions, stats and the usual errors.
async fn crud(addr: String, _target: Target) {
    let c = connect(&addr).await;

    let (stat, seq) = c.create("/crud", b"hello", &persistent()).await.unwrap();
    assert_eq!(seq.into_i64(), -1, "not sequential");
    assert!(!stat.is_invalid(), "create2 returns a real stat: {stat:?}");
    assert_eq!(stat.version, 0);
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(stat.czxid, stat.mzxid);
    assert_eq!(stat.czxid, stat.pzxid);
    assert_eq!(stat.num_children, 0);

    let (data, got) = c.get_data("/crud").await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(got, stat);
    assert_eq!(c.check_stat("/crud").await.unwrap(), Some(stat));
    assert_eq!(c.check_stat("/missing").await.unwrap(), None);
    assert_eq!(c.get_data("/missing").await.unwrap_err(), zk::Error::NoNode);

    assert_eq!(
        c.create("/crud", b"", &persistent()).await.unwrap_err(),
        zk::Error::NodeExists
    );
    assert_eq!(
        c.create("/missing/child", b"", &persistent())
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );

    // setData: version check, version bump, mzxid moves, czxid does not.
    assert_eq!(
        c.set_data("/crud", b"x", Some(7)).await.unwrap_err(),
        zk::Error::BadVersion
    );
    let set = c.set_data("/crud", b"world!", Some(0)).await.unwrap();
    assert_eq!(set.version, 1);
    assert_eq!(set.data_length, 6);
    assert_eq!(set.czxid, stat.czxid);
    assert!(set.mzxid > stat.mzxid);
    assert!(set.mtime >= stat.mtime);
    let set = c.set_data("/crud", b"", None).await.unwrap();
    assert_eq!(set.version, 2);
    assert_eq!(set.data_length, 0);
    assert_eq!(c.get_data("/crud").await.unwrap().0, b"");

    // Children: cversion and pzxid move with creates and deletes, not with
    // setData on a child (a trap other re-implementations fell into).
    for name in ["b", "a", "c"] {
        c.create(&format!("/crud/{name}"), b"", &persistent())
            .await
            .unwrap();
    }
    let mut children = c.list_children("/crud").await.unwrap();
    children.sort();
    assert_eq!(children, ["a", "b", "c"]);
    let (_, parent) = c.get_children("/crud").await.unwrap();
    assert_eq!(parent.num_children, 3);
    assert_eq!(parent.cversion, 3);
    c.set_data("/crud/a", b"changed", None).await.unwrap();
    let (_, after_set) = c.get_children("/crud").await.unwrap();
    assert_eq!(
        after_set.cversion, 3,
        "setData must not move the parent's cversion"
    );
    assert_eq!(after_set.pzxid, parent.pzxid);
    assert_eq!(c.count_descendants_number("/crud").await.unwrap(), 3);

    // delete: version check, NotEmpty, NoNode.
    assert_eq!(
        c.delete("/crud", None).await.unwrap_err(),
        zk::Error::NotEmpty
    );
    assert_eq!(
        c.delete("/crud/a", Some(0)).await.unwrap_err(),
        zk::Error::BadVersion
    );
    c.delete("/crud/a", Some(1)).await.unwrap();
    c.delete("/crud/b", None).await.unwrap();
    c.delete("/crud/c", None).await.unwrap();
    let (_, emptied) = c.get_children("/crud").await.unwrap();
    assert_eq!(emptied.num_children, 0);
    assert_eq!(emptied.cversion, 6);
    assert!(emptied.pzxid > parent.pzxid);
    c.delete("/crud", None).await.unwrap();
    assert_eq!(
        c.delete("/crud", None).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(c.check_stat("/crud").await.unwrap(), None);

    // Default ACL and sync.
    c.create("/open", b"", &persistent()).await.unwrap();
    let (acl, acl_stat) = c.get_acl("/open").await.unwrap();
    assert_eq!(acl, *Acls::anyone_all());
    assert_eq!(acl_stat.aversion, 0);
    c.sync("/open").await.unwrap();

    // A container node answers createContainer with a Create2Response.
    let container = CreateMode::Container.with_acls(Acls::anyone_all());
    let (stat, _) = c.create("/container", b"c", &container).await.unwrap();
    assert_eq!(stat.data_length, 1);
    assert!(!stat.is_invalid());

    // The root is there and cannot be deleted.
    assert!(c.check_stat("/").await.unwrap().is_some());
    assert!(c
        .list_children("/")
        .await
        .unwrap()
        .contains(&"zookeeper".to_string()));
}

/// Sequence numbers come from the parent's cversion; ephemerals belong to the
/// session, cannot have children, and go away when the session closes.
async fn sequential_and_ephemeral_nodes(addr: String, _target: Target) {
    let c = connect(&addr).await;
    c.create("/seq", b"", &persistent()).await.unwrap();

    let seq_opts = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    let (_, s0) = c.create("/seq/n-", b"", &seq_opts).await.unwrap();
    let (_, s1) = c.create("/seq/n-", b"", &seq_opts).await.unwrap();
    assert_eq!((s0.into_i64(), s1.into_i64()), (0, 1));
    assert_eq!(s0.to_string(), "0000000000");
    // A plain child also bumps cversion, and so the next sequence number.
    c.create("/seq/plain", b"", &persistent()).await.unwrap();
    let (_, s3) = c.create("/seq/n-", b"", &seq_opts).await.unwrap();
    assert_eq!(s3.into_i64(), 3);
    let mut children = c.list_children("/seq").await.unwrap();
    children.sort();
    assert_eq!(
        children,
        ["n-0000000000", "n-0000000001", "n-0000000003", "plain"]
    );

    let owner = connect(&addr).await;
    let (stat, _) = owner.create("/eph", b"e", &ephemeral()).await.unwrap();
    assert_eq!(stat.ephemeral_owner, owner.session_id().0);
    let eseq = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    let (stat, s) = owner.create("/seq/e-", b"", &eseq).await.unwrap();
    assert_eq!(s.into_i64(), 4);
    assert_eq!(stat.ephemeral_owner, owner.session_id().0);
    assert_eq!(
        owner
            .create("/eph/child", b"", &persistent())
            .await
            .unwrap_err(),
        zk::Error::NoChildrenForEphemerals
    );

    let mut ephemerals = owner.list_ephemerals("/").await.unwrap();
    ephemerals.sort();
    assert_eq!(ephemerals, ["/eph", "/seq/e-0000000004"]);
    assert_eq!(
        owner.list_ephemerals("/seq").await.unwrap(),
        ["/seq/e-0000000004"]
    );
    assert!(c.list_ephemerals("/").await.unwrap().is_empty());

    // Another client sees the ephemerals, and sees them go when the owner's
    // session is closed (dropping the last handle sends closeSession).
    let (_, watcher) = c.check_and_watch_stat("/eph").await.unwrap();
    assert_eq!(c.get_data("/eph").await.unwrap().0, b"e");
    drop(owner);
    let e = event("ephemeral deleted on close", watcher.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeDeleted, "/eph"));
    assert_eq!(c.check_stat("/seq/e-0000000004").await.unwrap(), None);
}

/// multi: all-or-nothing, with results per op; a failing multi reports which
/// op failed and changes nothing.
async fn multi_transactions(addr: String, _target: Target) {
    let c = connect(&addr).await;
    c.create("/m", b"", &persistent()).await.unwrap();
    c.create("/m/old", b"", &persistent()).await.unwrap();

    let mut w = c.new_multi_writer();
    w.add_create("/m/a", b"a", &persistent()).unwrap();
    w.add_set_data("/m/a", b"a2", Some(0)).unwrap();
    w.add_check_version("/m/a", 1).unwrap();
    w.add_delete("/m/old", Some(0)).unwrap();
    let results = w.commit().await.unwrap();
    assert_eq!(results.len(), 4);
    match &results[0] {
        // Apache 3.8 answers a create2 inside a multi with a plain create result
        // (path, no stat: ZOOKEEPER-4026), which this client reports as an
        // invalid stat.
        MultiWriteResult::Create { path, stat } => {
            assert_eq!(path, "/m/a");
            assert!(stat.is_invalid(), "{stat:?}");
        }
        other => panic!("expected create result, got {other:?}"),
    }
    match &results[1] {
        MultiWriteResult::SetData { stat } => assert_eq!(stat.version, 1),
        other => panic!("expected setData result, got {other:?}"),
    }
    assert_eq!(results[2], MultiWriteResult::Check);
    assert_eq!(results[3], MultiWriteResult::Delete);
    assert_eq!(c.get_data("/m/a").await.unwrap().0, b"a2");
    assert_eq!(c.check_stat("/m/old").await.unwrap(), None);
    let (_, parent) = c.get_children("/m").await.unwrap();

    // The second op fails: the first must be rolled back.
    let mut w = c.new_multi_writer();
    w.add_create("/m/b", b"", &persistent()).unwrap();
    w.add_check_version("/m/missing", 0).unwrap();
    w.add_set_data("/m/a", b"never", None).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::NoNode
        }
    );
    assert_eq!(c.check_stat("/m/b").await.unwrap(), None);
    assert_eq!(c.get_data("/m/a").await.unwrap().0, b"a2");

    // A version mismatch in the last op.
    let mut w = c.new_multi_writer();
    w.add_set_data("/m/a", b"never", None).unwrap();
    w.add_delete("/m/a", Some(0)).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::BadVersion
        }
    );
    let (data, stat) = c.get_data("/m/a").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"a2"[..], 1));

    // NodeExists in the first op.
    let mut w = c.new_multi_writer();
    w.add_create("/m/a", b"", &persistent()).unwrap();
    w.add_create("/m/c", b"", &persistent()).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 0,
            source: zk::Error::NodeExists
        }
    );
    let (_, unchanged) = c.get_children("/m").await.unwrap();
    assert_eq!(unchanged, parent, "failed multis leave the parent alone");

    // An empty multi is answered without a round trip by this client; a
    // check-only multi goes to the server.
    assert!(c.new_multi_writer().commit().await.unwrap().is_empty());
    let mut w = c.new_multi_writer();
    w.add_check_version("/m/a", 1).unwrap();
    assert_eq!(w.commit().await.unwrap(), [MultiWriteResult::Check]);
}

/// multiRead: a result per op, errors in place, no failure of the whole.
async fn multi_read(addr: String, _target: Target) {
    let c = connect(&addr).await;
    c.create("/r", b"root", &persistent()).await.unwrap();
    c.create("/r/x", b"", &persistent()).await.unwrap();

    let mut r = c.new_multi_reader();
    r.add_get_data("/r").unwrap();
    r.add_get_children("/r").unwrap();
    r.add_get_data("/r/missing").unwrap();
    r.add_get_children("/r/missing").unwrap();
    let results = r.commit().await.unwrap();
    assert_eq!(results.len(), 4, "{results:?}");
    match &results[0] {
        MultiReadResult::Data { data, stat } => {
            assert_eq!(data, b"root");
            assert_eq!(stat.num_children, 1);
        }
        other => panic!("expected data, got {other:?}"),
    }
    match &results[1] {
        MultiReadResult::Children { children } => assert_eq!(children, &["x"]),
        other => panic!("expected children, got {other:?}"),
    }
    for res in &results[2..] {
        match res {
            MultiReadResult::Error { err } => assert_eq!(*err, zk::Error::NoNode),
            other => panic!("expected NoNode, got {other:?}"),
        }
    }
}

/// Data, exist and child watches fire once, with the right type and path.
async fn oneshot_watches(addr: String, _target: Target) {
    let c = connect(&addr).await;
    let writer = connect(&addr).await;

    // exists watch on a missing node: NodeCreated.
    let (stat, w) = c.check_and_watch_stat("/w").await.unwrap();
    assert_eq!(stat, None);
    writer.create("/w", b"0", &persistent()).await.unwrap();
    let e = event("exists watch", w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeCreated, "/w"));
    assert_eq!(e.session_state, SessionState::SyncConnected);

    // data watch: NodeDataChanged, once.
    let (_, _, w) = c.get_and_watch_data("/w").await.unwrap();
    writer.set_data("/w", b"1", None).await.unwrap();
    let e = event("data watch", w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeDataChanged, "/w"));

    // child watch: NodeChildrenChanged on create and on delete of a child,
    // not on setData of the node or of the child.
    let (children, w) = c.list_and_watch_children("/w").await.unwrap();
    assert!(children.is_empty());
    writer.set_data("/w", b"2", None).await.unwrap();
    writer.create("/w/kid", b"", &persistent()).await.unwrap();
    let e = event("child watch on create", w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeChildrenChanged, "/w"));
    let (_, _, w) = c.get_and_watch_children("/w").await.unwrap();
    writer.set_data("/w/kid", b"x", None).await.unwrap();
    writer.delete("/w/kid", None).await.unwrap();
    let e = event("child watch on delete", w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeChildrenChanged, "/w"));

    // One delete fires both the data watch and the exists watch of a node.
    let (_, _, data_w) = c.get_and_watch_data("/w").await.unwrap();
    let (_, exist_w) = c.check_and_watch_stat("/w").await.unwrap();
    let (_, child_w) = c.list_and_watch_children("/w").await.unwrap();
    writer.delete("/w", None).await.unwrap();
    for (what, w) in [("data", data_w), ("exists", exist_w), ("child", child_w)] {
        let e = event(what, w.changed()).await;
        assert_eq!(kind(&e), node_event(EventType::NodeDeleted, "/w"), "{what}");
    }

    // A watch that fired is gone: a second change is not reported to a new
    // exists watch set on a missing node... until the node is created.
    let (_, w) = c.check_and_watch_stat("/w").await.unwrap();
    writer.create("/other", b"", &persistent()).await.unwrap();
    writer.create("/w", b"", &persistent()).await.unwrap();
    let e = event("exists watch again", w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeCreated, "/w"));

    // Removing a one-shot watch (removeWatches) succeeds once.
    let (_, _, w) = c.get_and_watch_data("/w").await.unwrap();
    remove_oneshot(w).await.unwrap();
}

/// "A client sees a watch event before any reply that reflects the change":
/// when the same session both watches and writes, the event is already
/// delivered when the write's reply arrives.
async fn watch_event_precedes_reply(addr: String, _target: Target) {
    let c = connect(&addr).await;
    c.create("/order", b"", &persistent()).await.unwrap();
    for i in 0..20 {
        let (_, _, w) = c.get_and_watch_data("/order").await.unwrap();
        c.set_data("/order", format!("{i}").as_bytes(), None)
            .await
            .unwrap();
        let ready = timeout(Duration::ZERO, w.changed()).await;
        let e = ready.unwrap_or_else(|_| panic!("round {i}: reply arrived before the event"));
        assert_eq!(kind(&e), node_event(EventType::NodeDataChanged, "/order"));
    }
}

/// addWatch PERSISTENT: data, child and delete events on the node itself, many
/// times; nothing for grandchildren or a child's data.
async fn persistent_watch(addr: String, _target: Target) {
    let c = connect(&addr).await;
    let writer = connect(&addr).await;

    let mut w = c.watch("/p", AddWatchMode::Persistent).await.unwrap();
    writer.create("/p", b"", &persistent()).await.unwrap();
    assert_eq!(
        next(&mut w, "create").await,
        node_event(EventType::NodeCreated, "/p")
    );
    writer.set_data("/p", b"1", None).await.unwrap();
    assert_eq!(
        next(&mut w, "set 1").await,
        node_event(EventType::NodeDataChanged, "/p")
    );
    writer.set_data("/p", b"2", None).await.unwrap();
    assert_eq!(
        next(&mut w, "set 2 (still armed)").await,
        node_event(EventType::NodeDataChanged, "/p")
    );
    writer.create("/p/kid", b"", &persistent()).await.unwrap();
    assert_eq!(
        next(&mut w, "child").await,
        node_event(EventType::NodeChildrenChanged, "/p")
    );
    writer.set_data("/p/kid", b"x", None).await.unwrap();
    writer
        .create("/p/kid/grandkid", b"", &persistent())
        .await
        .unwrap();
    assert_eq!(maybe_next(&mut w).await, None, "nothing below the node");
    writer.delete("/p/kid/grandkid", None).await.unwrap();
    writer.delete("/p/kid", None).await.unwrap();
    assert_eq!(
        next(&mut w, "child deleted").await,
        node_event(EventType::NodeChildrenChanged, "/p")
    );
    writer.delete("/p", None).await.unwrap();
    assert_eq!(
        next(&mut w, "deleted").await,
        node_event(EventType::NodeDeleted, "/p")
    );
    // Still armed after the node is gone.
    writer.create("/p", b"", &persistent()).await.unwrap();
    assert_eq!(
        next(&mut w, "re-created").await,
        node_event(EventType::NodeCreated, "/p")
    );

    // removeWatches ends it.
    remove_persistent(w).await.unwrap();
    let mut other = c.watch("/q", AddWatchMode::Persistent).await.unwrap();
    writer.set_data("/p", b"after remove", None).await.unwrap();
    writer.create("/q", b"", &persistent()).await.unwrap();
    assert_eq!(
        next(&mut other, "other watch").await,
        node_event(EventType::NodeCreated, "/q")
    );
}

/// addWatch PERSISTENT_RECURSIVE: created/changed/deleted events for the whole
/// subtree; no NodeChildrenChanged.
async fn persistent_recursive_watch(addr: String, _target: Target) {
    let c = connect(&addr).await;
    let writer = connect(&addr).await;
    writer.create("/r", b"", &persistent()).await.unwrap();

    let mut w = c
        .watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    writer.create("/r/a", b"", &persistent()).await.unwrap();
    assert_eq!(
        next(&mut w, "child created").await,
        node_event(EventType::NodeCreated, "/r/a")
    );
    writer.create("/r/a/b", b"", &persistent()).await.unwrap();
    assert_eq!(
        next(&mut w, "grandchild created").await,
        node_event(EventType::NodeCreated, "/r/a/b")
    );
    writer.set_data("/r/a/b", b"x", None).await.unwrap();
    assert_eq!(
        next(&mut w, "grandchild data").await,
        node_event(EventType::NodeDataChanged, "/r/a/b")
    );
    writer.set_data("/r", b"x", None).await.unwrap();
    assert_eq!(
        next(&mut w, "root data").await,
        node_event(EventType::NodeDataChanged, "/r")
    );
    writer.delete("/r/a/b", None).await.unwrap();
    assert_eq!(
        next(&mut w, "grandchild deleted").await,
        node_event(EventType::NodeDeleted, "/r/a/b")
    );
    // Siblings outside the subtree (even with a shared name prefix) are silent.
    writer.create("/rx", b"", &persistent()).await.unwrap();
    writer.set_data("/rx", b"1", None).await.unwrap();
    assert_eq!(maybe_next(&mut w).await, None, "/rx is not under /r");

    remove_persistent(w).await.unwrap();
}

/// digest auth: an ACL for an authenticated user keeps everyone else out with
/// NoAuth; a read-only world entry lets them read but not write.
async fn digest_auth_and_acl(addr: String, target: Target) {
    let alice = Client::connector()
        .with_auth("digest", b"alice:secret")
        .connect(&addr)
        .await
        .unwrap();
    let anonymous = connect(&addr).await;
    let mallory = connect(&addr).await;
    mallory.auth("digest", b"alice:wrong").await.unwrap();

    // creator_all: the `auth` scheme, expanded to alice's digest id.
    let creator = CreateMode::Persistent.with_acls(Acls::creator_all());
    alice.create("/secret", b"s", &creator).await.unwrap();
    let (acl, _) = alice.get_acl("/secret").await.unwrap();
    let alice_id = "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=";
    assert_eq!(
        acl,
        [Acl::new(Permission::ALL, AuthId::new("digest", alice_id))]
    );
    assert_eq!(alice.get_data("/secret").await.unwrap().0, b"s");
    for (who, c) in [("anonymous", &anonymous), ("wrong password", &mallory)] {
        assert_eq!(
            c.get_data("/secret").await.unwrap_err(),
            zk::Error::NoAuth,
            "{who}"
        );
        assert_eq!(
            c.set_data("/secret", b"x", None).await.unwrap_err(),
            zk::Error::NoAuth,
            "{who}"
        );
        assert_eq!(
            c.create("/secret/kid", b"", &persistent())
                .await
                .unwrap_err(),
            zk::Error::NoAuth,
            "{who}"
        );
        // exists: ZooKeeper 3.8.0 (the oracle here) needs no permission;
        // 3.8.4+ and 3.9 need READ, and rzk follows them (docs/DIFFERENTIAL.md).
        match target {
            Target::Apache => {
                assert!(c.check_stat("/secret").await.unwrap().is_some(), "{who}")
            }
            Target::Rzk => assert_eq!(
                c.check_stat("/secret").await.unwrap_err(),
                zk::Error::NoAuth,
                "{who}"
            ),
        }
    }

    // creator_all without any auth identity is an invalid ACL.
    assert_eq!(
        anonymous.create("/x", b"", &creator).await.unwrap_err(),
        zk::Error::InvalidAcl
    );

    // Read for the world, everything for alice (explicit digest id).
    let mixed = [
        Acl::new(Permission::READ, AuthId::anyone()),
        Acl::new(Permission::ALL, AuthId::new("digest", alice_id)),
    ];
    let opts = CreateMode::Persistent.with_acls(Acls::new(&mixed));
    alice.create("/shared", b"v", &opts).await.unwrap();
    assert_eq!(anonymous.get_data("/shared").await.unwrap().0, b"v");
    assert_eq!(
        anonymous.set_data("/shared", b"x", None).await.unwrap_err(),
        zk::Error::NoAuth
    );
    alice.set_data("/shared", b"w", None).await.unwrap();

    // setACL needs ADMIN, bumps aversion, and checks it.
    assert_eq!(
        anonymous
            .set_acl("/shared", &Acls::anyone_all(), None)
            .await
            .unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(
        alice
            .set_acl("/shared", &Acls::anyone_all(), Some(5))
            .await
            .unwrap_err(),
        zk::Error::BadVersion
    );
    let stat = alice
        .set_acl("/shared", &Acls::anyone_all(), Some(0))
        .await
        .unwrap();
    assert_eq!(stat.aversion, 1);
    anonymous
        .set_data("/shared", b"open now", None)
        .await
        .unwrap();

    // Authenticating later on an open session grants access.
    anonymous.auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(anonymous.get_data("/secret").await.unwrap().0, b"s");

    // whoAmI lists the session's identities.
    let users = alice.list_auth_users().await.unwrap();
    assert!(
        users.contains(&AuthUser::new("digest", "alice")),
        "{users:?}"
    );
    assert!(users.iter().any(|u| u.scheme() == "ip"), "{users:?}");
}

/// A client that reconnects with a session id and password gets that same
/// session back, ephemerals and all.
async fn session_resumed_with_id_and_password(addr: String, _target: Target) {
    let first = Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_detached()
        .connect(&addr)
        .await
        .unwrap();
    let session_id = first.session_id();
    first.create("/mine", b"", &ephemeral()).await.unwrap();
    // Dropping the last handle of a detached client closes its connection
    // without sending closeSession: the session lives on, unattached.
    let session = first.into_session();

    let second = Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_session(session)
        .connect(&addr)
        .await
        .unwrap();
    assert_eq!(second.session_id(), session_id, "same session resumed");
    let stat = second
        .check_stat("/mine")
        .await
        .unwrap()
        .expect("ephemeral survives");
    assert_eq!(stat.ephemeral_owner, session_id.0);
    assert_eq!(second.list_ephemerals("/").await.unwrap(), ["/mine"]);

    // Closing the resumed session removes the ephemeral.
    let observer = connect(&addr).await;
    let (_, w) = observer.check_and_watch_stat("/mine").await.unwrap();
    drop(second);
    let e = event("ephemeral removed on close", w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeDeleted, "/mine"));
}

/// A TCP proxy whose connections can be cut and whose door can be shut, so a
/// client loses its connection (not its session) at a chosen moment.
struct Proxy {
    addr: String,
    shared: Arc<ProxyShared>,
    acceptor: JoinHandle<()>,
}

#[derive(Default)]
struct ProxyShared {
    refusing: AtomicBool,
    pipes: Mutex<Vec<JoinHandle<()>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(ProxyShared::default());
        let upstream = upstream.to_string();
        let acceptor = tokio::spawn({
            let shared = shared.clone();
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        return;
                    };
                    if shared.refusing.load(Ordering::SeqCst) {
                        continue; // dropped: the client sees the connection close
                    }
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        continue;
                    };
                    let pipe = tokio::spawn(async move {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    shared.pipes.lock().unwrap().push(pipe);
                }
            }
        });
        Proxy {
            addr,
            shared,
            acceptor,
        }
    }

    /// Closes every open connection (both directions, at once).
    fn cut(&self) {
        for pipe in self.shared.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    /// While refusing, new connections are accepted and closed at once.
    fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}

/// The connection drops; the client reconnects with its session id and
/// password; the session, its ephemerals and its one-shot watches survive, and
/// a change made while it was away fires its watch on reconnect (setWatches
/// with the last zxid the client saw).
async fn connection_cut_resumes_session_and_watches(addr: String, _target: Target) {
    let proxy = Proxy::start(&addr).await;
    let c = Client::connector()
        .with_session_timeout(Duration::from_secs(20))
        .connect(&proxy.addr)
        .await
        .unwrap();
    let writer = connect(&addr).await;
    let session_id = c.session_id();

    c.create("/eph", b"", &ephemeral()).await.unwrap();
    writer.create("/data", b"0", &persistent()).await.unwrap();
    writer.create("/kids", b"", &persistent()).await.unwrap();
    let (_, _, data_w) = c.get_and_watch_data("/data").await.unwrap();
    let (_, created_w) = c.check_and_watch_stat("/later").await.unwrap();
    let (_, child_w) = c.list_and_watch_children("/kids").await.unwrap();
    let (_, _, quiet_w) = c.get_and_watch_data("/kids").await.unwrap();

    let mut states = c.state_watcher();
    proxy.refuse(true);
    proxy.cut();
    wait_state(&mut states, SessionState::Disconnected).await;

    // Changes while the client is away.
    writer.set_data("/data", b"1", None).await.unwrap();
    writer.create("/later", b"", &persistent()).await.unwrap();
    writer.create("/kids/k", b"", &persistent()).await.unwrap();

    proxy.refuse(false);
    wait_state(&mut states, SessionState::SyncConnected).await;
    assert_eq!(c.session_id(), session_id);

    let e = event("data watch after reconnect", data_w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeDataChanged, "/data"));
    let e = event("exists watch after reconnect", created_w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeCreated, "/later"));
    let e = event("child watch after reconnect", child_w.changed()).await;
    assert_eq!(
        kind(&e),
        node_event(EventType::NodeChildrenChanged, "/kids")
    );

    // Not checked here: persistent watches across a reconnect. zookeeper-client
    // 0.11.2 re-sends watches with setWatches (v1) only, dropping persistent
    // ones (`index = index.max(index)` in its `resend_watches`), so a
    // persistent watch is silently lost on reconnect whatever the server does.

    // The untouched node's watch is still armed, and fires once.
    writer.set_data("/kids", b"x", None).await.unwrap();
    let e = event("re-registered untouched data watch", quiet_w.changed()).await;
    assert_eq!(kind(&e), node_event(EventType::NodeDataChanged, "/kids"));

    // Same session: its ephemeral is still there and still its own.
    let stat = writer
        .check_stat("/eph")
        .await
        .unwrap()
        .expect("ephemeral survives");
    assert_eq!(stat.ephemeral_owner, session_id.0);
    c.set_data("/eph", b"still mine", None).await.unwrap();
}

/// A session that stops heartbeating expires after its timeout: its
/// ephemerals go (firing another client's watch), and the client, when it
/// gets back, learns that its session expired.
async fn session_expiry_removes_ephemerals(addr: String, _target: Target) {
    let proxy = Proxy::start(&addr).await;
    let doomed = Client::connector()
        .with_session_timeout(SHORT_SESSION_TIMEOUT)
        .connect(&proxy.addr)
        .await
        .unwrap();
    assert!(doomed.session_timeout() <= Duration::from_secs(6));
    let observer = connect(&addr).await;

    doomed.create("/lease", b"", &ephemeral()).await.unwrap();
    let (stat, w) = observer.check_and_watch_stat("/lease").await.unwrap();
    assert!(stat.is_some());
    let mut states = doomed.state_watcher();

    let cut_at = tokio::time::Instant::now();
    proxy.refuse(true);
    proxy.cut();
    let e = timeout(Duration::from_secs(30), w.changed())
        .await
        .expect("ephemeral removed by expiry within 30s");
    assert_eq!(kind(&e), node_event(EventType::NodeDeleted, "/lease"));
    let waited = cut_at.elapsed();
    assert!(
        waited >= SHORT_SESSION_TIMEOUT - Duration::from_millis(500),
        "expired after {waited:?}, before the session timeout"
    );
    assert_eq!(observer.check_stat("/lease").await.unwrap(), None);

    proxy.refuse(false);
    wait_state(&mut states, SessionState::Expired).await;
    assert_eq!(
        doomed.create("/x", b"", &persistent()).await.unwrap_err(),
        zk::Error::SessionExpired
    );
}
