//! The watches this client holds, as the Java client's `ZKWatchManager`
//! keeps them: so that they can be set again after a reconnect
//! (`setWatches2`), so that a fired one-shot watch is forgotten, and so
//! that `removewatches` can report what it removed.

use std::collections::BTreeSet;

use rzk_proto::records::SetWatches2;
use rzk_proto::{EventType, WatcherType};

/// Paths tracked per kind of watch. The server holds the watches; beyond
/// this many, further ones still work but are not set again after a
/// reconnect.
pub const WATCHED_PATHS_MAX: usize = 100_000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Watches {
    data: BTreeSet<String>,
    exist: BTreeSet<String>,
    child: BTreeSet<String>,
    persistent: BTreeSet<String>,
    recursive: BTreeSet<String>,
}

/// Which set a newly registered watch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    Data,
    Exist,
    Child,
    Persistent,
    PersistentRecursive,
}

fn insert(set: &mut BTreeSet<String>, path: &str) {
    if set.len() < WATCHED_PATHS_MAX {
        set.insert(path.to_string());
    }
}

impl Watches {
    pub fn add(&mut self, kind: WatchKind, path: &str) {
        let set = match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exist => &mut self.exist,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent => &mut self.persistent,
            WatchKind::PersistentRecursive => &mut self.recursive,
        };
        insert(set, path);
    }

    /// Forgets the one-shot watches an event fires (persistent ones stay).
    pub fn fired(&mut self, event_type: EventType, path: &str) {
        match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                self.data.remove(path);
                self.exist.remove(path);
            }
            EventType::NodeChildrenChanged => {
                self.child.remove(path);
            }
            EventType::NodeDeleted => {
                self.data.remove(path);
                self.exist.remove(path);
                self.child.remove(path);
            }
            _ => {}
        }
    }

    /// Forgets the watches a successful `removeWatches` of `kind` on `path`
    /// removed and returns the events the Java client delivers for them.
    pub fn removed(&mut self, kind: WatcherType, path: &str) -> Vec<EventType> {
        let mut events = Vec::new();
        let child = matches!(kind, WatcherType::Children | WatcherType::Any);
        let data = matches!(kind, WatcherType::Data | WatcherType::Any);
        if child && self.child.remove(path) {
            events.push(EventType::ChildWatchRemoved);
        }
        if data {
            let had_data = self.data.remove(path);
            let had_exist = self.exist.remove(path);
            if had_data || had_exist {
                events.push(EventType::DataWatchRemoved);
            }
        }
        let persistent = matches!(
            kind,
            WatcherType::Any | WatcherType::Persistent | WatcherType::PersistentRecursive
        );
        if persistent {
            let had_persistent = self.persistent.remove(path);
            let had_recursive = self.recursive.remove(path);
            if had_persistent || had_recursive {
                events.push(EventType::PersistentWatchRemoved);
            }
        }
        events
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// The `setWatches2` record that sets every watch again on a new
    /// connection, relative to the last zxid this client saw.
    pub fn set_watches(&self, relative_zxid: i64) -> SetWatches2 {
        let list = |s: &BTreeSet<String>| s.iter().cloned().collect();
        SetWatches2 {
            relative_zxid,
            data_watches: list(&self.data),
            exist_watches: list(&self.exist),
            child_watches: list(&self.child),
            persistent_watches: list(&self.persistent),
            persistent_recursive_watches: list(&self.recursive),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_watches_fire_once_persistent_stay() {
        let mut w = Watches::default();
        w.add(WatchKind::Data, "/a");
        w.add(WatchKind::Child, "/a");
        w.add(WatchKind::Persistent, "/a");
        w.fired(EventType::NodeDataChanged, "/a");
        let s = w.set_watches(7);
        assert!(s.data_watches.is_empty());
        assert_eq!(s.child_watches, ["/a"]);
        assert_eq!(s.persistent_watches, ["/a"]);
        assert_eq!(s.relative_zxid, 7);
        assert_eq!(
            w.removed(WatcherType::Any, "/a"),
            [
                EventType::ChildWatchRemoved,
                EventType::PersistentWatchRemoved
            ]
        );
        assert!(w.is_empty());
    }
}
