//! The watch registry for the sessions connected to this server.
//!
//! Watches are not replicated state: the state machine returns *triggers* and
//! this registry turns them into events for the connections that asked, with
//! ZooKeeper's rules (`WatchManager` and `DataTree`):
//!
//! - Two tables, as ZooKeeper's `dataWatches` and `childWatches`. getData and
//!   exists watches both live in the data table, so a connection holding both on
//!   one path gets one event; getChildren watches live in the child table.
//! - NodeCreated and NodeDataChanged fire the data table; NodeChildrenChanged
//!   (on the parent) fires the child table; NodeDeleted fires both, and a
//!   connection found in both gets one event.
//! - A one-shot (standard) watch is removed when it fires. A persistent watch
//!   (addWatch PERSISTENT, in both tables) stays. A persistent-recursive watch
//!   (data table only) stays and also fires for every descendant, but never
//!   for NodeChildrenChanged.
//! - Modes coexist on one path as in ZooKeeper 3.9 (`WatchStats`): adding a
//!   one-shot watch where a persistent one exists does not downgrade it, which
//!   ZooKeeper 3.8 did.
//! - An event is not delivered to a connection that may not READ the node
//!   (ZooKeeper 3.8.4+), judged with the node's ACL carried by the trigger.
//!
//! Events are pushed into the connection's outbound queue right here, while the
//! caller holds the core lock: that is what orders them before any reply that
//! reflects the change.

use crate::auth::acl_allows;
use crate::control::CloseReason;
use crate::limits::WATCHES_PER_CONNECTION_MAX;
use crate::outbound::{OutFrame, Outbound};
use rzk_proto::records::WatcherEvent;
use rzk_proto::response::encode_notification;
use rzk_proto::{Acl, EventType, Id, KeeperState, Perms, WatcherType};
use rzk_state::WatchTrigger;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// A connection's id, unique for the server's lifetime.
pub type ConnId = u64;

const STANDARD: u8 = 1;
const PERSISTENT: u8 = 2;
const RECURSIVE: u8 = 4;

/// What a request asks to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// getData / exists (both one-shot in the data table).
    Data,
    /// getChildren (one-shot in the child table).
    Child,
    /// addWatch PERSISTENT: both tables.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: data table.
    PersistentRecursive,
}

/// A connection the registry can deliver to.
#[derive(Debug)]
struct Watcher {
    session_id: i64,
    outbound: Outbound,
    /// The connection's identities: the same list its writes carry.
    auth: Arc<[Id]>,
    watch_count: usize,
}

/// One of the two tables: path -> connection -> mode bits, and the reverse.
#[derive(Debug, Default)]
struct Table {
    by_path: HashMap<String, HashMap<ConnId, u8>>,
    by_conn: HashMap<ConnId, HashSet<String>>,
    recursive_count: usize,
}

impl Table {
    /// Adds `mode`; returns whether a new (path, connection) entry was made.
    fn add(&mut self, conn: ConnId, path: &str, mode: u8) -> bool {
        let entry = self.by_path.entry(path.to_string()).or_default();
        let modes = entry.entry(conn).or_insert(0);
        let was_new = *modes == 0;
        if *modes & RECURSIVE == 0 && mode & RECURSIVE != 0 {
            self.recursive_count += 1;
        }
        *modes |= mode;
        if was_new {
            self.by_conn
                .entry(conn)
                .or_default()
                .insert(path.to_string());
        }
        was_new
    }

    fn modes(&self, conn: ConnId, path: &str) -> u8 {
        self.by_path
            .get(path)
            .and_then(|m| m.get(&conn))
            .copied()
            .unwrap_or(0)
    }

    /// Clears `mask` bits; returns (bits that were set, entry removed).
    fn remove(&mut self, conn: ConnId, path: &str, mask: u8) -> (u8, bool) {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return (0, false);
        };
        let Some(modes) = watchers.get_mut(&conn) else {
            return (0, false);
        };
        let cleared = *modes & mask;
        if cleared & RECURSIVE != 0 {
            self.recursive_count -= 1;
        }
        *modes &= !mask;
        if *modes != 0 {
            return (cleared, false);
        }
        watchers.remove(&conn);
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        if let Some(paths) = self.by_conn.get_mut(&conn) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        (cleared, true)
    }

    /// Removes every entry of a connection; returns how many there were.
    fn remove_conn(&mut self, conn: ConnId) -> usize {
        let Some(paths) = self.by_conn.remove(&conn) else {
            return 0;
        };
        for path in &paths {
            if let Some(watchers) = self.by_path.get_mut(path) {
                if let Some(modes) = watchers.remove(&conn) {
                    if modes & RECURSIVE != 0 {
                        self.recursive_count -= 1;
                    }
                }
                if watchers.is_empty() {
                    self.by_path.remove(path);
                }
            }
        }
        paths.len()
    }

    /// ZooKeeper's `triggerWatch`: adds the connections to notify for an event
    /// on `path` to `out`, consumes the one-shot watches that fired, and lists
    /// in `removed` each connection whose (path, connection) entry went away.
    fn trigger(
        &mut self,
        path: &str,
        event: EventType,
        out: &mut BTreeSet<ConnId>,
        removed: &mut Vec<ConnId>,
    ) {
        if let Some(watchers) = self.by_path.get_mut(path) {
            let mut emptied = Vec::new();
            for (conn, modes) in watchers.iter_mut() {
                out.insert(*conn);
                *modes &= !STANDARD;
                if *modes == 0 {
                    emptied.push(*conn);
                }
            }
            for conn in emptied {
                watchers.remove(&conn);
                removed.push(conn);
                if let Some(paths) = self.by_conn.get_mut(&conn) {
                    paths.remove(path);
                    if paths.is_empty() {
                        self.by_conn.remove(&conn);
                    }
                }
            }
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
        }
        if self.recursive_count == 0 || event == EventType::NodeChildrenChanged {
            return;
        }
        for ancestor in ancestors(path) {
            if let Some(watchers) = self.by_path.get(ancestor) {
                for (conn, modes) in watchers {
                    if modes & RECURSIVE != 0 {
                        out.insert(*conn);
                    }
                }
            }
        }
    }
}

/// Proper ancestors of an absolute path, nearest first: `/a/b/c` gives `/a/b`,
/// `/a`, `/`. A loop, not recursion: paths can be deep.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        if rest == "/" || rest.is_empty() {
            return None;
        }
        let cut = rest.rfind('/')?;
        rest = if cut == 0 { "/" } else { &rest[..cut] };
        Some(rest)
    })
}

/// Counts for `wchs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSummary {
    pub connections: usize,
    pub paths: usize,
    pub watches: usize,
}

/// Result of a registration attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    /// The connection is at [`WATCHES_PER_CONNECTION_MAX`]; it has been asked
    /// to close.
    LimitReached,
}

/// All watches of the connections on this server.
#[derive(Debug, Default)]
pub struct WatchRegistry {
    watchers: HashMap<ConnId, Watcher>,
    data: Table,
    child: Table,
    skip_acl: bool,
}

impl WatchRegistry {
    pub fn new(skip_acl: bool) -> Self {
        WatchRegistry {
            skip_acl,
            ..Default::default()
        }
    }

    /// Makes a connection able to hold watches (once its session is set up).
    pub fn register(&mut self, conn: ConnId, session_id: i64, outbound: Outbound, auth: Arc<[Id]>) {
        self.watchers.insert(
            conn,
            Watcher {
                session_id,
                outbound,
                auth,
                watch_count: 0,
            },
        );
    }

    /// Forgets a connection and all its watches (connection closed).
    pub fn unregister(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
        self.watchers.remove(&conn);
    }

    /// Keeps the identities used for the READ check in step with `addauth`.
    pub fn set_auth(&mut self, conn: ConnId, auth: Arc<[Id]>) {
        if let Some(w) = self.watchers.get_mut(&conn) {
            w.auth = auth;
        }
    }

    pub fn add(&mut self, conn: ConnId, path: &str, kind: WatchKind) -> AddOutcome {
        let Some(watcher) = self.watchers.get_mut(&conn) else {
            return AddOutcome::Added;
        };
        let new_entries = match kind {
            WatchKind::Data => usize::from(self.data.modes(conn, path) == 0),
            WatchKind::Child => usize::from(self.child.modes(conn, path) == 0),
            WatchKind::Persistent => {
                usize::from(self.data.modes(conn, path) == 0)
                    + usize::from(self.child.modes(conn, path) == 0)
            }
            WatchKind::PersistentRecursive => usize::from(self.data.modes(conn, path) == 0),
        };
        if watcher.watch_count + new_entries > WATCHES_PER_CONNECTION_MAX {
            watcher
                .outbound
                .control()
                .close(CloseReason::TooManyWatches);
            return AddOutcome::LimitReached;
        }
        watcher.watch_count += new_entries;
        match kind {
            WatchKind::Data => {
                self.data.add(conn, path, STANDARD);
            }
            WatchKind::Child => {
                self.child.add(conn, path, STANDARD);
            }
            WatchKind::Persistent => {
                self.data.add(conn, path, PERSISTENT);
                self.child.add(conn, path, PERSISTENT);
            }
            WatchKind::PersistentRecursive => {
                self.data.add(conn, path, RECURSIVE);
            }
        }
        AddOutcome::Added
    }

    /// checkWatches, with ZooKeeper 3.9's per-type meaning.
    pub fn contains(&self, conn: ConnId, path: &str, kind: WatcherType) -> bool {
        match kind {
            WatcherType::Children => self.child.modes(conn, path) & STANDARD != 0,
            WatcherType::Data => self.data.modes(conn, path) & STANDARD != 0,
            WatcherType::Persistent => self.data.modes(conn, path) & PERSISTENT != 0,
            WatcherType::PersistentRecursive => self.data.modes(conn, path) & RECURSIVE != 0,
            WatcherType::Any => {
                self.child.modes(conn, path) != 0 || self.data.modes(conn, path) != 0
            }
        }
    }

    /// removeWatches; returns whether anything was removed (else NoWatcher).
    pub fn remove(&mut self, conn: ConnId, path: &str, kind: WatcherType) -> bool {
        let (data_mask, child_mask) = match kind {
            WatcherType::Children => (0, STANDARD),
            WatcherType::Data => (STANDARD, 0),
            WatcherType::Persistent => (PERSISTENT, PERSISTENT),
            WatcherType::PersistentRecursive => (RECURSIVE, 0),
            WatcherType::Any => (u8::MAX, u8::MAX),
        };
        let (data_cleared, data_gone) = self.data.remove(conn, path, data_mask);
        let (child_cleared, child_gone) = self.child.remove(conn, path, child_mask);
        let gone = usize::from(data_gone) + usize::from(child_gone);
        self.forget_entries(conn, gone);
        data_cleared != 0 || child_cleared != 0
    }

    fn forget_entries(&mut self, conn: ConnId, entries: usize) {
        if let Some(w) = self.watchers.get_mut(&conn) {
            w.watch_count = w.watch_count.saturating_sub(entries);
        }
    }

    /// Fires the watches for the triggers of one applied entry, in order, and
    /// pushes the events into the connections' outbound queues.
    pub fn deliver(&mut self, triggers: &[WatchTrigger]) {
        for trigger in triggers {
            self.fire(trigger);
        }
    }

    fn fire(&mut self, trigger: &WatchTrigger) {
        let mut targets = BTreeSet::new();
        let mut removed = Vec::new();
        let path = trigger.path.as_str();
        match trigger.event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                self.data
                    .trigger(path, trigger.event, &mut targets, &mut removed);
            }
            EventType::NodeChildrenChanged => {
                self.child
                    .trigger(path, trigger.event, &mut targets, &mut removed);
            }
            EventType::NodeDeleted => {
                self.data
                    .trigger(path, trigger.event, &mut targets, &mut removed);
                self.child
                    .trigger(path, trigger.event, &mut targets, &mut removed);
            }
            _ => return,
        }
        for conn in removed {
            self.forget_entries(conn, 1);
        }
        if targets.is_empty() {
            return;
        }
        let frame = notification(trigger.event, path);
        for conn in targets {
            self.send(conn, &trigger.acl, &frame);
        }
    }

    fn send(&self, conn: ConnId, acl: &[Acl], frame: &[u8]) {
        let Some(w) = self.watchers.get(&conn) else {
            return;
        };
        if !acl_allows(acl, Perms::READ, &w.auth, self.skip_acl) {
            return;
        }
        w.outbound.push(OutFrame::event(frame.to_vec()));
    }

    /// Sends one event to one connection now (setWatches answering a watch
    /// that already fired while the client was away).
    pub fn send_now(&self, conn: ConnId, event: EventType, path: &str, acl: Option<&[Acl]>) {
        let frame = notification(event, path);
        match acl {
            Some(acl) => self.send(conn, acl, &frame),
            None => {
                if let Some(w) = self.watchers.get(&conn) {
                    w.outbound.push(OutFrame::event(frame));
                }
            }
        }
    }

    /// `wchs`: counts over the data table, as ZooKeeper prints them.
    pub fn summary(&self) -> WatchSummary {
        WatchSummary {
            connections: self.data.by_conn.len(),
            paths: self.data.by_path.len(),
            watches: self.data.by_conn.values().map(HashSet::len).sum(),
        }
    }

    /// `mntr`'s zk_watch_count: entries in both tables.
    pub fn total_count(&self) -> usize {
        let count = |t: &Table| t.by_path.values().map(HashMap::len).sum::<usize>();
        count(&self.data) + count(&self.child)
    }

    /// `wchc`: session id -> paths (data table), sorted.
    pub fn by_session(&self) -> BTreeMap<i64, BTreeSet<String>> {
        let mut out: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        for (conn, paths) in &self.data.by_conn {
            let session = self.watchers.get(conn).map_or(0, |w| w.session_id);
            out.entry(session)
                .or_default()
                .extend(paths.iter().cloned());
        }
        out
    }

    /// `wchp`: path -> session ids (data table), sorted.
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<i64>> {
        self.data
            .by_path
            .iter()
            .map(|(path, conns)| {
                let sessions = conns
                    .keys()
                    .map(|c| self.watchers.get(c).map_or(0, |w| w.session_id))
                    .collect();
                (path.clone(), sessions)
            })
            .collect()
    }

    /// Watches held by one connection (both tables).
    pub fn count_for(&self, conn: ConnId) -> usize {
        self.watchers.get(&conn).map_or(0, |w| w.watch_count)
    }
}

/// Encodes a watch notification frame (state SyncConnected, as ZooKeeper).
pub fn notification(event: EventType, path: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + path.len());
    encode_notification(
        &mut out,
        &WatcherEvent {
            event_type: event.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.to_string(),
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ConnControl;
    use std::sync::Arc;
    use tokio::sync::mpsc;

    fn registry_with(conns: &[ConnId]) -> (WatchRegistry, Vec<mpsc::Receiver<OutFrame>>) {
        let mut reg = WatchRegistry::new(false);
        let mut rxs = Vec::new();
        for &c in conns {
            let (out, rx) = Outbound::channel(64, Arc::new(ConnControl::new()));
            reg.register(
                c,
                c as i64 * 100,
                out,
                vec![Id::new("ip", "127.0.0.1")].into(),
            );
            rxs.push(rx);
        }
        (reg, rxs)
    }

    fn trig(path: &str, event: EventType) -> WatchTrigger {
        WatchTrigger {
            path: path.to_string(),
            event,
            acl: std::sync::Arc::new(Acl::open_unsafe()),
        }
    }

    fn drain(rx: &mut mpsc::Receiver<OutFrame>) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        while let Ok(f) = rx.try_recv() {
            let body = &f.bytes[4 + 16..];
            let ev = <WatcherEvent as rzk_proto::Decode>::decode_all(body).expect("event");
            out.push((ev.event_type, ev.path));
        }
        out
    }

    #[test]
    fn ancestors_walk_up_to_root() {
        assert_eq!(
            ancestors("/a/b/c").collect::<Vec<_>>(),
            vec!["/a/b", "/a", "/"]
        );
        assert_eq!(ancestors("/").count(), 0);
    }

    #[test]
    fn data_and_exist_watch_give_one_event_and_are_consumed() {
        let (mut reg, mut rx) = registry_with(&[1]);
        reg.add(1, "/a", WatchKind::Data);
        reg.add(1, "/a", WatchKind::Data);
        reg.add(1, "/a", WatchKind::Child);
        reg.deliver(&[trig("/a", EventType::NodeDeleted)]);
        assert_eq!(drain(&mut rx[0]), vec![(2, "/a".to_string())]);
        reg.deliver(&[trig("/a", EventType::NodeCreated)]);
        assert!(drain(&mut rx[0]).is_empty());
        assert_eq!(reg.count_for(1), 0);
    }

    #[test]
    fn persistent_watch_stays_and_sees_children_changed() {
        let (mut reg, mut rx) = registry_with(&[1]);
        reg.add(1, "/a", WatchKind::Persistent);
        reg.add(1, "/a", WatchKind::Data);
        reg.deliver(&[
            trig("/a", EventType::NodeDataChanged),
            trig("/a", EventType::NodeChildrenChanged),
            trig("/a", EventType::NodeDataChanged),
        ]);
        assert_eq!(drain(&mut rx[0]).len(), 3);
        assert!(reg.contains(1, "/a", WatcherType::Persistent));
        assert!(!reg.contains(1, "/a", WatcherType::Data));
    }

    #[test]
    fn recursive_watch_fires_for_descendants_but_not_children_changed() {
        let (mut reg, mut rx) = registry_with(&[1]);
        reg.add(1, "/a", WatchKind::PersistentRecursive);
        reg.deliver(&[
            trig("/a/b/c", EventType::NodeCreated),
            trig("/a/b", EventType::NodeChildrenChanged),
            trig("/a", EventType::NodeDataChanged),
            trig("/x", EventType::NodeCreated),
        ]);
        assert_eq!(
            drain(&mut rx[0]),
            vec![(1, "/a/b/c".to_string()), (3, "/a".to_string())]
        );
    }

    #[test]
    fn events_need_read_permission() {
        let (mut reg, mut rx) = registry_with(&[1]);
        reg.add(1, "/secret", WatchKind::Data);
        let acl = vec![Acl::new(Perms::ALL, Id::new("digest", "bob:x"))];
        reg.deliver(&[WatchTrigger {
            path: "/secret".to_string(),
            event: EventType::NodeDataChanged,
            acl: std::sync::Arc::new(acl),
        }]);
        assert!(drain(&mut rx[0]).is_empty());
        assert_eq!(reg.count_for(1), 0, "the watch is consumed all the same");
    }

    #[test]
    fn remove_and_summaries() {
        let (mut reg, _rx) = registry_with(&[1, 2]);
        reg.add(1, "/a", WatchKind::Data);
        reg.add(1, "/a", WatchKind::Child);
        reg.add(2, "/b", WatchKind::Data);
        assert_eq!(
            reg.summary(),
            WatchSummary {
                connections: 2,
                paths: 2,
                watches: 2
            }
        );
        assert_eq!(reg.total_count(), 3);
        assert!(reg.remove(1, "/a", WatcherType::Data));
        assert!(!reg.remove(1, "/a", WatcherType::Data));
        assert!(reg.remove(1, "/a", WatcherType::Any));
        assert_eq!(reg.count_for(1), 0);
        reg.unregister(2);
        assert_eq!(reg.total_count(), 0);
        assert!(reg.by_session().is_empty());
    }
}
