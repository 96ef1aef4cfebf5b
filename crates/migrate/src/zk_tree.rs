//! ZooKeeper's DataTree as far as replaying its transaction log needs it:
//! nodes with their `StatPersisted`, each session's ephemerals, and the
//! changes `DataTree.processTxn` makes for each transaction.
//!
//! Why a model of its own rather than rzk's `DataTree::apply`: ZooKeeper's
//! log holds *outcomes* (the create that happened, with the parent's new
//! cversion), rzk's holds *requests*. And ZooKeeper's snapshots are fuzzy:
//! taken while transactions kept being applied, so replaying the log after
//! the snapshot's zxid meets nodes that already exist or are already gone.
//! ZooKeeper makes that replay converge by tolerating those errors in
//! specific ways (a create's parent cversion only grows, a delete's parent
//! pzxid only grows, a failed create still fixes its parent's cversion);
//! this module reproduces exactly those rules, so the imported tree is the
//! tree ZooKeeper itself would have loaded.
//!
//! Paths are ZooKeeper's keys: the root is `""` here, `/` everywhere else.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rzk_proto::Acl;
use rzk_state::import::PersistedStat;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
const CONTAINER_OWNER: i64 = i64::MIN;
/// The top byte of an extended-type owner (TTL nodes).
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;

#[derive(Debug, Clone)]
pub struct ZkNode {
    pub data: Vec<u8>,
    pub acl: Arc<[Acl]>,
    pub stat: PersistedStat,
    pub children: BTreeSet<String>,
}

/// Why a transaction did not apply (ZooKeeper ignores these during replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    NoNode,
    NodeExists,
}

#[derive(Debug, Clone, Default)]
pub struct ZkTree {
    pub nodes: HashMap<String, ZkNode>,
    /// Session id -> paths of its ephemerals (`DataTree.ephemerals`).
    pub ephemerals: BTreeMap<i64, BTreeSet<String>>,
    /// Live sessions and their timeouts (the snapshot's session map).
    pub sessions: BTreeMap<i64, i32>,
    /// TTL nodes are only recognised with extended types enabled, as in
    /// ZooKeeper's `EphemeralType.get`.
    pub extended_types: bool,
}

/// The parent key and child name of `path` (`/a` -> `("", "a")`).
pub fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

impl ZkTree {
    /// A fresh ZooKeeper tree (`new DataTree()`): `/`, `/zookeeper`,
    /// `/zookeeper/quota`, `/zookeeper/config` (read-only ACL set with
    /// version -1, so its aversion is -1). Used when a data dir has logs but
    /// no snapshot.
    pub fn fresh() -> ZkTree {
        let mut t = ZkTree::default();
        let open: Arc<[Acl]> = Acl::open_unsafe().into();
        let zero = PersistedStat::default();
        for (path, children) in [
            ("", &["zookeeper"][..]),
            ("/zookeeper", &["quota", "config"][..]),
            ("/zookeeper/quota", &[][..]),
        ] {
            t.nodes.insert(
                path.to_owned(),
                ZkNode {
                    data: Vec::new(),
                    acl: open.clone(),
                    stat: zero,
                    children: children.iter().map(|c| c.to_string()).collect(),
                },
            );
        }
        t.nodes.insert(
            "/zookeeper/config".to_owned(),
            ZkNode {
                data: Vec::new(),
                acl: Acl::read_unsafe().into(),
                stat: PersistedStat {
                    aversion: -1,
                    ..zero
                },
                children: BTreeSet::new(),
            },
        );
        t
    }

    /// Does `owner` name a session (rather than a container or TTL node)?
    fn session_owner(&self, owner: i64) -> Option<i64> {
        let extended = self.extended_types && owner & EXTENDED_MASK == EXTENDED_MASK;
        (owner != 0 && owner != CONTAINER_OWNER && !extended).then_some(owner)
    }

    /// Adds a node read from a snapshot, under a parent already read
    /// (`DataTree.deserialize`). Returns false if the parent is missing.
    pub fn insert_loaded(&mut self, path: String, node: ZkNode) -> bool {
        if !path.is_empty() {
            let (parent, name) = split(&path);
            match self.nodes.get_mut(parent) {
                Some(p) => {
                    p.children.insert(name.to_owned());
                }
                None => return false,
            }
            if let Some(owner) = self.session_owner(node.stat.ephemeral_owner) {
                self.ephemerals
                    .entry(owner)
                    .or_default()
                    .insert(path.clone());
            }
        }
        self.nodes.insert(path, node);
        true
    }

    /// `DataTree.createNode`, including what it does on failure: NoNode
    /// without a parent; NodeExists leaves the existing node with the new
    /// ACL. A parent cversion of -1 means "one more than now", and the parent
    /// is updated only if that raises its cversion.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &mut self,
        path: &str,
        data: Vec<u8>,
        acl: Arc<[Acl]>,
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<(), Refused> {
        let (parent_key, name) = split(path);
        if !self.nodes.contains_key(parent_key) {
            return Err(Refused::NoNode);
        }
        if let Some(existing) = self.nodes.get_mut(path) {
            existing.acl = acl;
            return Err(Refused::NodeExists);
        }
        let parent = self.nodes.get_mut(parent_key).ok_or(Refused::NoNode)?;
        let cversion = if parent_cversion == -1 {
            parent.stat.cversion.wrapping_add(1)
        } else {
            parent_cversion
        };
        if cversion > parent.stat.cversion {
            parent.stat.cversion = cversion;
            parent.stat.pzxid = zxid;
        }
        parent.children.insert(name.to_owned());
        let stat = PersistedStat {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        if let Some(session) = self.session_owner(owner) {
            self.ephemerals
                .entry(session)
                .or_default()
                .insert(path.to_owned());
        }
        self.nodes.insert(
            path.to_owned(),
            ZkNode {
                data,
                acl,
                stat,
                children: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// `DataTree.setCversionPzxid`: after a create that met an existing node
    /// during replay, the parent still gets the create's cversion and zxid
    /// (if that raises its cversion).
    pub fn set_cversion_pzxid(&mut self, path: &str, cversion: i32, zxid: i64) {
        let key = path.strip_suffix('/').unwrap_or(path);
        if let Some(node) = self.nodes.get_mut(key) {
            let cversion = if cversion == -1 {
                node.stat.cversion.wrapping_add(1)
            } else {
                cversion
            };
            if cversion > node.stat.cversion {
                node.stat.cversion = cversion;
                node.stat.pzxid = zxid;
            }
        }
    }

    /// `DataTree.deleteNode`: the parent forgets the child and its pzxid
    /// grows to `zxid` even when the child is already gone.
    pub fn delete(&mut self, path: &str, zxid: i64) -> Result<(), Refused> {
        let (parent_key, name) = split(path);
        let parent = self.nodes.get_mut(parent_key).ok_or(Refused::NoNode)?;
        parent.children.remove(name);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let node = self.nodes.remove(path).ok_or(Refused::NoNode)?;
        if let Some(session) = self.session_owner(node.stat.ephemeral_owner) {
            if let Some(set) = self.ephemerals.get_mut(&session) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&session);
                }
            }
        }
        Ok(())
    }

    /// `DataTree.setData`: the version is the one the transaction carries.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Vec<u8>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<(), Refused> {
        let node = self.nodes.get_mut(path).ok_or(Refused::NoNode)?;
        node.data = data;
        node.stat.mtime = time;
        node.stat.mzxid = zxid;
        node.stat.version = version;
        Ok(())
    }

    /// `DataTree.setACL`.
    pub fn set_acl(&mut self, path: &str, acl: Arc<[Acl]>, version: i32) -> Result<(), Refused> {
        let node = self.nodes.get_mut(path).ok_or(Refused::NoNode)?;
        node.stat.aversion = version;
        node.acl = acl;
        Ok(())
    }

    /// `DataTree.killSession`: deletes the paths the transaction names, then
    /// whatever else the session still owned here.
    pub fn kill_session(&mut self, session: i64, zxid: i64, paths_in_txn: &[String]) {
        let mut local = self.ephemerals.remove(&session).unwrap_or_default();
        for path in paths_in_txn {
            let _ = self.delete(path, zxid);
            local.remove(path);
        }
        for path in local {
            let _ = self.delete(&path, zxid);
        }
        self.ephemerals.remove(&session);
    }

    /// Nodes reachable from the root, parents first (children in name
    /// order), as `(path with "/" for the root, node)`. ZooKeeper's own
    /// snapshot walks the same way, so a node a damaged history left without
    /// a parent is dropped here as it would be there.
    pub fn preorder(&self) -> Vec<(String, &ZkNode)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![String::new()];
        while let Some(path) = stack.pop() {
            let Some(node) = self.nodes.get(&path) else {
                continue;
            };
            for name in node.children.iter().rev() {
                stack.push(format!("{path}/{name}"));
            }
            let shown = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            out.push((shown, node));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Arc<[Acl]> {
        Acl::open_unsafe().into()
    }

    #[test]
    fn replayed_creates_and_deletes_follow_zookeepers_rules() {
        let mut t = ZkTree::fresh();
        t.create("/a", b"x".to_vec(), open(), 0, 1, 10, 100)
            .unwrap();
        // A fuzzy snapshot already holding /a: NodeExists, but the ACL is
        // taken and the parent's cversion stays.
        assert_eq!(
            t.create("/a", Vec::new(), Acl::read_unsafe().into(), 0, 1, 10, 100),
            Err(Refused::NodeExists)
        );
        assert_eq!(&*t.nodes["/a"].acl, &Acl::read_unsafe()[..]);
        t.create("/a/e", Vec::new(), open(), 0x55, -1, 11, 101)
            .unwrap();
        assert_eq!(t.nodes["/a"].stat.cversion, 1);
        assert_eq!(t.nodes["/a"].stat.pzxid, 11);
        assert_eq!(t.ephemerals[&0x55].len(), 1);
        // A delete of a child already gone still raises the parent's pzxid.
        assert_eq!(t.delete("/a/gone", 12), Err(Refused::NoNode));
        assert_eq!(t.nodes["/a"].stat.pzxid, 12);
        t.kill_session(0x55, 13, &[]);
        assert!(!t.nodes.contains_key("/a/e"));
        assert!(t.ephemerals.is_empty());
        assert_eq!(
            t.create("/x/y", Vec::new(), open(), 0, -1, 14, 0),
            Err(Refused::NoNode)
        );
        let paths: Vec<String> = t.preorder().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "/",
                "/a",
                "/zookeeper",
                "/zookeeper/config",
                "/zookeeper/quota"
            ]
        );
    }
}
