//! The mutation primitives: ZooKeeper's `DataTree.createNode`, `deleteNode`,
//! `setData` and `setACL`, each keeping the derived bookkeeping (parent's
//! children, ephemeral/container/TTL indexes, quota usage, data size) in step
//! and recording how to undo itself, so a multi that fails half-way can be
//! rolled back exactly.
//!
//! Validation is not done here: callers (`ops`) check everything first, so
//! these functions only assert invariants that validation guarantees.

mod quota;
mod undo;

pub use undo::Undo;

use crate::acl_cache::SharedAcl;

use rzk_proto::{Acl, EventType, Stat};

use crate::entry::WatchTrigger;
use crate::ephemeral::EphemeralKind;
use crate::node::{Node, StoredStat};
use crate::node_map::NodeMap;
use crate::path::{self, display_parent, java_len};
use crate::tree::DataTree;

impl DataTree {
    /// Inserts `node` at `path` (its parent must exist) and adds it to the
    /// indexes. Touches no Stat.
    pub(crate) fn attach(&mut self, path: &str, node: Node) {
        let parent = match path::split_last(path) {
            Some((parent, _)) if path != "/" => self.nodes.slot_of(DataTree::key(parent)),
            _ => None,
        };
        self.attach_known(parent, path, node);
    }

    /// [`DataTree::attach`] with the parent's slot already looked up.
    fn attach_known(&mut self, parent: Option<u32>, path: &str, node: Node) {
        if let Err(node) = self.attach_under(parent, path, node) {
            debug_assert!(false, "attach over an existing node: {path}");
            self.nodes.insert(node);
        }
    }

    /// [`DataTree::attach`] for a caller that holds the parent's slot
    /// (`None` only for `/`), so the parent is not looked up again. Refuses,
    /// changing nothing, when `path` already holds a node.
    pub(crate) fn attach_under(
        &mut self,
        parent: Option<u32>,
        path: &str,
        node: Node,
    ) -> Result<u32, Node> {
        self.attach_with(parent, path, node, |nodes, node| {
            nodes.insert_new(node).map_err(|(_, node)| node)
        })
    }

    /// [`DataTree::attach_under`] for a snapshot load, which indexes every
    /// node by path at the end (`NodeMap::index_unindexed`, which also finds
    /// a path loaded twice).
    pub(crate) fn attach_unindexed(&mut self, parent: Option<u32>, path: &str, node: Node) -> u32 {
        let pushed = self.attach_with(parent, path, node, |nodes, node| {
            Ok::<u32, std::convert::Infallible>(nodes.push_unindexed(node))
        });
        match pushed {
            Ok(slot) => slot,
            Err(never) => match never {},
        }
    }

    /// The bookkeeping of every attach around `store`, which puts the node
    /// in the map (or refuses, and then nothing changes). `node` holds
    /// `path` (a node is made with its path).
    fn attach_with<E>(
        &mut self,
        parent: Option<u32>,
        path: &str,
        node: Node,
        store: impl FnOnce(&mut NodeMap, Node) -> Result<u32, E>,
    ) -> Result<u32, E> {
        debug_assert_eq!(node.path(), path, "a node attached at another path");
        let kind = node.kind(self.extended());
        let added_bytes = java_len(path) + node.data().len() as u64;
        let slot = store(&mut self.nodes, node)?;
        match kind {
            EphemeralKind::Container => {
                self.containers.insert(path.into());
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.insert(path.into());
            }
            EphemeralKind::Session(owner) => self.sessions.add_ephemeral(owner, path),
            EphemeralKind::Persistent | EphemeralKind::Unknown => {}
        }
        self.data_size += added_bytes;
        if let Some(p) = parent.and_then(|p| self.nodes.node_at_mut(p)) {
            p.add_child(slot);
        }
        Ok(slot)
    }

    /// Removes the node at `path` from the map, its parent and the indexes.
    pub(crate) fn detach(&mut self, path: &str) -> Option<Node> {
        let (slot, node) = self.nodes.remove(path)?;
        if let Some((parent, _)) = path::split_last(path) {
            if let Some(p) = self.nodes.get_mut(DataTree::key(parent)) {
                p.remove_child(slot);
            }
        }
        match node.kind(self.extended()) {
            EphemeralKind::Container => {
                self.containers.remove(path);
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            EphemeralKind::Session(owner) => self.sessions.remove_ephemeral(owner, path),
            EphemeralKind::Persistent | EphemeralKind::Unknown => {}
        }
        self.data_size = self
            .data_size
            .saturating_sub(java_len(path) + node.data().len() as u64);
        self.acls.release(&node.acl);
        Some(node)
    }

    fn trigger(&mut self, path: &str, event: EventType, acl: &SharedAcl) {
        self.triggers.push(WatchTrigger {
            path: path.to_owned(),
            event,
            acl: acl.clone(),
        });
    }

    /// `DataTree.createNode`: adds the node, bumps the parent's (stored)
    /// cversion and pzxid, updates quota usage, fires NodeCreated on the path
    /// and NodeChildrenChanged on the parent. Returns the new node's Stat.
    pub(crate) fn create_node(
        &mut self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        ephemeral_owner: i64,
        zxid: i64,
        time_ms: i64,
    ) -> Stat {
        let Some((parent, name)) = path::split_last(path) else {
            debug_assert!(false, "create_node without a parent: {path}");
            return Stat::default();
        };
        let parent_key = DataTree::key(parent);
        self.before_change(parent_key);
        self.before_change(path);
        let parent_slot = self.nodes.slot_of(parent_key);
        let parent_acl = match parent_slot.and_then(|slot| self.nodes.node_at_mut(slot)) {
            Some(p) => {
                self.undo.push(Undo::Stat {
                    path: parent_key.into(),
                    stat: p.stat(),
                });
                // ZooKeeper only moves cversion/pzxid forward (the check matters
                // when the cversion wraps at i32::MAX).
                let cversion = p.cversion().wrapping_add(1);
                if cversion > p.cversion() {
                    p.set_children_stat(cversion, zxid);
                }
                p.acl.clone()
            }
            None => {
                debug_assert!(false, "create_node under a missing parent: {path}");
                return Stat::default();
            }
        };
        let acl = self.acls.intern(acl);
        let data_len = data.len() as i64;
        let node = Node::new(
            path,
            data,
            acl.clone(),
            StoredStat::new(zxid, time_ms, ephemeral_owner),
        );
        let stat = node.client_stat(self.extended());
        self.attach_known(parent_slot, path, node);
        self.undo.push(Undo::Created { path: path.into() });

        self.quota_after_create(parent, name, path, data_len);
        self.trigger(path, EventType::NodeCreated, &acl);
        self.trigger(
            display_parent(parent),
            EventType::NodeChildrenChanged,
            &parent_acl,
        );
        stat
    }

    /// `DataTree.deleteNode`: removes a childless node, moves the parent's
    /// pzxid forward (its stored cversion is untouched: clients see it grow
    /// because it is reported as `2 * creations - children`), updates quota
    /// usage, fires NodeDeleted on the path and NodeChildrenChanged on the
    /// parent.
    pub(crate) fn delete_node(&mut self, path: &str, zxid: i64) {
        let Some((parent, name)) = path::split_last(path) else {
            return;
        };
        let parent_key = DataTree::key(parent);
        self.before_change(parent_key);
        self.before_change(path);
        let parent_acl = match self.nodes.get_mut(parent_key) {
            Some(p) => {
                self.undo.push(Undo::Stat {
                    path: parent_key.into(),
                    stat: p.stat(),
                });
                if zxid > p.pzxid() {
                    p.set_children_stat(p.cversion(), zxid);
                }
                p.acl.clone()
            }
            None => return,
        };
        let Some(node) = self.detach(path) else {
            return;
        };
        let acl = node.acl.clone();
        let data_len = node.data().len() as i64;
        self.undo.push(Undo::Deleted {
            path: path.into(),
            node,
        });

        self.quota_after_delete(parent, name, path, data_len);
        self.trigger(path, EventType::NodeDeleted, &acl);
        self.trigger(
            display_parent(parent),
            EventType::NodeChildrenChanged,
            &parent_acl,
        );
    }

    /// `DataTree.setData`: new data, version, mtime and mzxid; the parent is
    /// not touched. Fires NodeDataChanged.
    pub(crate) fn set_node_data(
        &mut self,
        path: &str,
        data: &[u8],
        version: i32,
        zxid: i64,
        time_ms: i64,
    ) -> Stat {
        match self.nodes.slot_of(path) {
            Some(slot) => self.set_node_data_at(slot, path, data, version, zxid, time_ms),
            None => Stat::default(),
        }
    }

    /// [`DataTree::set_node_data`] for the node in `slot`, which holds
    /// `path` (setData has just looked it up: one hash lookup, not two).
    pub(crate) fn set_node_data_at(
        &mut self,
        slot: u32,
        path: &str,
        data: &[u8],
        version: i32,
        zxid: i64,
        time_ms: i64,
    ) -> Stat {
        let extended = self.extended();
        self.before_change(path);
        let Some(node) = self.nodes.node_at_mut(slot) else {
            return Stat::default();
        };
        let old_stat = node.stat();
        let new_stat = StoredStat {
            version,
            mtime: time_ms,
            mzxid: zxid,
            ..old_stat
        };
        let old_data = node.replace_data(data, new_stat);
        let stat = node.client_stat(extended);
        let acl = node.acl.clone();
        let new_len = data.len();
        let old_len = old_data.data().len();
        self.undo.push(Undo::Data {
            path: path.into(),
            data: old_data,
            stat: old_stat,
        });
        self.data_size = (self.data_size + new_len as u64).saturating_sub(old_len as u64);

        self.quota_after_set_data(path, new_len as i64 - old_len as i64);
        self.trigger(path, EventType::NodeDataChanged, &acl);
        stat
    }

    /// `DataTree.setACL`: new ACL and aversion. No watch fires.
    pub(crate) fn set_node_acl(&mut self, path: &str, acl: &[Acl], aversion: i32) -> Stat {
        let extended = self.extended();
        self.before_change(path);
        let shared = self.acls.intern(acl);
        let Some(node) = self.nodes.get_mut(path) else {
            return Stat::default();
        };
        let old = std::mem::replace(&mut node.acl, shared);
        let old_stat = node.stat();
        node.set_stat(StoredStat {
            aversion,
            ..old_stat
        });
        let stat = node.client_stat(extended);
        self.acls.release(&old);
        self.undo.push(Undo::Acl {
            path: path.into(),
            acl: old,
            stat: old_stat,
        });
        stat
    }
}
