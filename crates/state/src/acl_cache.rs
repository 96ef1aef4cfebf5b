//! Interned ACL lists. Most trees use a handful of distinct ACLs, so every node
//! shares one `Arc<[Acl]>` per distinct list instead of owning a copy (ZooKeeper
//! does the same with its `ReferenceCountedACLCache`).

use std::collections::BTreeSet;
use std::sync::Arc;

use rzk_proto::Acl;

#[derive(Debug, Clone, Default)]
pub struct AclCache {
    lists: BTreeSet<Arc<[Acl]>>,
}

impl AclCache {
    /// The shared copy of `acl`, adding it if new.
    pub fn intern(&mut self, acl: &[Acl]) -> Arc<[Acl]> {
        if let Some(shared) = self.lists.get(acl) {
            return shared.clone();
        }
        let shared: Arc<[Acl]> = Arc::from(acl);
        self.lists.insert(shared.clone());
        shared
    }

    /// Called when a node drops its reference: forgets lists nobody else uses.
    pub fn release(&mut self, acl: &Arc<[Acl]>) {
        // The cache's own reference plus the caller's.
        if Arc::strong_count(acl) <= 2 {
            self.lists.remove(&**acl);
        }
    }

    /// Every distinct list, in `Ord` order (for snapshots).
    pub fn iter(&self) -> impl Iterator<Item = &Arc<[Acl]>> {
        self.lists.iter()
    }

    pub fn len(&self) -> usize {
        self.lists.len()
    }
}
