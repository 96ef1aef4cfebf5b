//! A znode's children, as the node map's slot numbers of the child nodes.
//!
//! The children's names are not stored again: each child's full path, which
//! the node map keeps anyway, ends with its name. A set of 4-byte slot
//! numbers in a hash table costs 5 to 10 bytes per child, where a
//! `BTreeSet<Box<str>>` of names cost about 48 (a 16-byte key in B-tree
//! leaves that sequential creates leave half full, plus the name's own
//! allocation): 38 MB over a million znodes. Names come back in order when
//! asked for (`NodeMap::children_sorted`): getChildren, snapshots and
//! exports list children sorted by name, so every server of an ensemble,
//! and every restart, gives the same answer.
//!
//! Slot numbers stay valid because only `DataTree::attach` and
//! `DataTree::detach` add and remove children, together with the map entry
//! itself; a cloned map keeps every slot number.
//!
//! Most znodes are leaves, so the table lives behind an `Option<Box<..>>`: a
//! leaf pays one null pointer.

use hashbrown::HashTable;

/// The table's hash of a slot number: a multiplication spreads consecutive
/// slots (siblings are usually created one after another) over the buckets
/// and the control bytes.
fn slot_hash(slot: u32) -> u64 {
    u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

// clippy's box_collection: the box is the point, it makes a leaf's field
// one pointer wide.
#[allow(clippy::box_collection)]
#[derive(Clone, Default)]
pub struct Children(Option<Box<HashTable<u32>>>);

impl std::fmt::Debug for Children {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.slots()).finish()
    }
}

impl PartialEq for Children {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.slots().all(|s| other.contains(s))
    }
}

impl Eq for Children {}

impl Children {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |table| table.len())
    }

    fn contains(&self, slot: u32) -> bool {
        self.0
            .as_ref()
            .is_some_and(|table| table.find(slot_hash(slot), |&s| s == slot).is_some())
    }

    /// Adds the child in `slot`; false if it was already there.
    pub fn insert(&mut self, slot: u32) -> bool {
        let table = self.0.get_or_insert_with(Box::default);
        if table.find(slot_hash(slot), |&s| s == slot).is_some() {
            return false;
        }
        table.insert_unique(slot_hash(slot), slot, |&s| slot_hash(s));
        true
    }

    /// Removes the child in `slot`; false if it was not there. The table
    /// goes with its last child, so a parent emptied by a queue consumer
    /// costs what a leaf costs.
    pub fn remove(&mut self, slot: u32) -> bool {
        let Some(table) = self.0.as_mut() else {
            return false;
        };
        let removed = match table.find_entry(slot_hash(slot), |&s| s == slot) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        };
        if table.is_empty() {
            self.0 = None;
        }
        removed
    }

    /// The children's slots, in no particular order.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().flat_map(|table| table.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::Children;

    #[test]
    fn a_set_of_slots_that_frees_its_table_when_emptied() {
        let mut c = Children::default();
        assert!(c.is_empty());
        assert!(!c.remove(1));
        for slot in 0..1000 {
            assert!(c.insert(slot));
        }
        assert!(!c.insert(7));
        assert_eq!(c.len(), 1000);
        let mut slots: Vec<u32> = c.slots().collect();
        slots.sort_unstable();
        assert_eq!(slots, (0..1000).collect::<Vec<_>>());
        let copy = c.clone();
        assert_eq!(copy, c);
        for slot in 0..1000 {
            assert!(c.remove(slot), "{slot}");
        }
        assert!(c.is_empty());
        assert!(c.0.is_none(), "the table is freed with its last child");
        assert_ne!(copy, c);
    }
}
