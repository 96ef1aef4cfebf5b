//! Interned ACL lists. Most trees use a handful of distinct ACLs, so every node
//! shares one [`SharedAcl`] per distinct list instead of owning a copy (ZooKeeper
//! does the same with its `ReferenceCountedACLCache`).
//!
//! Each list carries an explicit count of the nodes that use it: every
//! `intern` (a node takes the list) is matched by one `release` (a node drops
//! it). The count is not `Arc::strong_count`, which also counts copies held
//! by a multi's undo records (so two nodes with one ACL deleted by the same
//! entry left the list cached forever) and by a cloned tree.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rzk_proto::Acl;

/// An ACL list as nodes share it. An `Arc` of a `Vec`, not of a slice: the
/// pointer is then 8 bytes, not 16, in every node (8 MiB over a million
/// znodes); the extra hop to the list reads one of a handful of lists,
/// which stay in cache.
pub type SharedAcl = Arc<Vec<Acl>>;

/// A cached list, found by the slice it holds (a request's ACL is a slice;
/// looking it up must not allocate).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Cached(SharedAcl);

impl Borrow<[Acl]> for Cached {
    fn borrow(&self) -> &[Acl] {
        &self.0
    }
}

#[derive(Debug, Clone, Default)]
pub struct AclCache {
    /// Each list and its uses. The value holds the list again, so that a
    /// create finds and counts it with one walk of the tree (a create
    /// interns its node's list).
    lists: BTreeMap<Cached, Uses>,
}

#[derive(Debug, Clone)]
struct Uses {
    list: SharedAcl,
    /// The number of nodes using the list (never 0).
    nodes: u64,
}

impl AclCache {
    /// The shared copy of `acl`, adding it if new, for one more node.
    pub fn intern(&mut self, acl: &[Acl]) -> SharedAcl {
        if let Some(uses) = self.lists.get_mut(acl) {
            uses.nodes += 1;
            return uses.list.clone();
        }
        let shared: SharedAcl = Arc::new(acl.to_vec());
        self.lists.insert(
            Cached(shared.clone()),
            Uses {
                list: shared.clone(),
                nodes: 1,
            },
        );
        shared
    }

    /// `refs` more nodes use `acl`, a list this cache handed out (a loader
    /// that interned it once and shared the `Arc` counts them in one go).
    pub fn add_refs(&mut self, acl: &[Acl], refs: u64) {
        match self.lists.get_mut(acl) {
            Some(uses) => uses.nodes += refs,
            None => debug_assert!(false, "added references to an ACL list that is not cached"),
        }
    }

    /// One node no longer uses `acl`: forgets the list when no node does.
    pub fn release(&mut self, acl: &[Acl]) {
        let Some(uses) = self.lists.get_mut(acl) else {
            debug_assert!(false, "released an ACL list that is not cached");
            return;
        };
        uses.nodes -= 1;
        if uses.nodes == 0 {
            self.lists.remove(acl);
        }
    }

    /// Every distinct list, in `Ord` order (for snapshots).
    pub fn iter(&self) -> impl Iterator<Item = &SharedAcl> {
        self.lists.keys().map(|cached| &cached.0)
    }

    pub fn len(&self) -> usize {
        self.lists.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::Id;

    #[test]
    fn lists_live_exactly_as_long_as_their_nodes() {
        let mut cache = AclCache::default();
        let a = vec![Acl::new(1, Id::anyone())];
        let first = cache.intern(&a);
        let second = cache.intern(&a);
        assert!(Arc::ptr_eq(&first, &second));
        // Extra Arc copies (an undo record, a cloned tree) do not keep the
        // list alive, and do not make it go early either.
        let held = first.clone();
        cache.release(&first);
        assert_eq!(cache.len(), 1);
        cache.release(&second);
        assert_eq!(cache.len(), 0);
        drop(held);
        let again = cache.intern(&a);
        assert_eq!(cache.len(), 1);
        assert!(!Arc::ptr_eq(&again, &first));
    }
}
