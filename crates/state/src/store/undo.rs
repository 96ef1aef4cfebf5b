//! The undo log: how to take back what the current entry changed.
//!
//! Only a multi ever rolls back (it validates each op against the tree as
//! changed by the ops before it, like ZooKeeper's pending-change records, and
//! must leave no trace if a later op fails). Every primitive records its undo
//! step unconditionally; `ops::apply` clears the log after each entry.

use crate::acl_cache::SharedAcl;

use crate::node::{Node, NodeBytes, StoredStat};
use crate::quota::PathTrie;
use crate::tree::DataTree;

#[derive(Debug, Clone)]
pub enum Undo {
    /// A node was created: detach it.
    Created { path: Box<str> },
    /// A node was deleted: attach it again.
    Deleted { path: Box<str>, node: Node },
    /// A node's stored stat changed (a parent's cversion/pzxid).
    Stat { path: Box<str>, stat: StoredStat },
    /// A node's data and stat changed (setData, or quota usage rewritten).
    Data {
        path: Box<str>,
        data: NodeBytes,
        stat: StoredStat,
    },
    /// A node's ACL and stat changed.
    Acl {
        path: Box<str>,
        acl: SharedAcl,
        stat: StoredStat,
    },
    /// The set of quota roots changed.
    Quotas(Box<PathTrie>),
}

impl Undo {
    /// The node map key of the node this step changed (`None`: the quota
    /// trie, which snapshots write whole); mutable so that it can be moved
    /// out (`std::mem::take`) when the step is done with.
    pub(crate) fn path_mut(&mut self) -> Option<&mut Box<str>> {
        match self {
            Undo::Created { path }
            | Undo::Deleted { path, .. }
            | Undo::Stat { path, .. }
            | Undo::Data { path, .. }
            | Undo::Acl { path, .. } => Some(path),
            Undo::Quotas(_) => None,
        }
    }
}

impl DataTree {
    /// Undoes every change recorded since the log was last cleared, newest
    /// first, and drops the triggers those changes produced.
    pub(crate) fn rollback(&mut self) {
        while let Some(step) = self.undo.pop() {
            match step {
                Undo::Created { path } => {
                    self.detach(&path);
                }
                Undo::Deleted { path, mut node } => {
                    node.acl = self.acls.intern(&node.acl);
                    self.attach(&path, node);
                }
                Undo::Stat { path, stat } => {
                    if let Some(n) = self.nodes.get_mut(&path) {
                        n.set_stat(stat);
                    }
                }
                Undo::Data { path, data, stat } => {
                    if let Some(n) = self.nodes.get_mut(&path) {
                        let new_len = n.data().len() as u64;
                        self.data_size =
                            (self.data_size + data.data().len() as u64).saturating_sub(new_len);
                        n.restore_bytes(data);
                        n.set_stat(stat);
                    }
                }
                Undo::Acl { path, acl, stat } => {
                    let acl = self.acls.intern(&acl);
                    if let Some(n) = self.nodes.get_mut(&path) {
                        let replaced = std::mem::replace(&mut n.acl, acl);
                        n.set_stat(stat);
                        self.acls.release(&replaced);
                    }
                }
                Undo::Quotas(trie) => self.quotas = *trie,
            }
        }
        self.triggers.clear();
    }
}
