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
//!
//! The same box holds the two Stat fields that change with a node's
//! children: `pzxid` and the stored `cversion` (see `node`). A node that
//! never had a child has a fresh node's values there (its czxid, and 0),
//! which the node supplies, so a leaf stores neither: 12 bytes of its slot,
//! 16 with alignment (a million leaves: 15 MiB). Once a node has had a
//! child the box stays, as its counters no longer match a fresh node's;
//! the table's own allocation still goes with the last child.

use hashbrown::HashTable;

/// The table's hash of a slot number: a multiplication spreads consecutive
/// slots (siblings are usually created one after another) over the buckets
/// and the control bytes.
fn slot_hash(slot: u32) -> u64 {
    u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A node's children and child counters; see the module documentation.
#[derive(Clone, Default)]
pub struct Children(Option<Box<Family>>);

#[derive(Clone)]
struct Family {
    slots: HashTable<u32>,
    pzxid: i64,
    cversion: i32,
}

impl Family {
    /// A box with no children yet, holding these counters.
    fn boxed(cversion: i32, pzxid: i64) -> Box<Family> {
        Box::new(Family {
            slots: HashTable::new(),
            pzxid,
            cversion,
        })
    }
}

impl std::fmt::Debug for Children {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.slots()).finish()
    }
}

/// The same children and the same stored counters. A box is kept exactly
/// when it holds a child or counters unlike a fresh node's, so two nodes
/// with the same czxid and the same Stat compare equal.
impl PartialEq for Children {
    fn eq(&self, other: &Self) -> bool {
        let counters = |c: &Children| c.0.as_ref().map(|family| (family.cversion, family.pzxid));
        counters(self) == counters(other)
            && self.len() == other.len()
            && self.slots().all(|s| other.contains(s))
    }
}

impl Eq for Children {}

impl Children {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |family| family.slots.len())
    }

    fn contains(&self, slot: u32) -> bool {
        self.0
            .as_ref()
            .is_some_and(|family| family.slots.find(slot_hash(slot), |&s| s == slot).is_some())
    }

    /// The children's slots, in no particular order.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.0
            .iter()
            .flat_map(|family| family.slots.iter().copied())
    }

    /// The stored cversion and the pzxid, where a node with no box has a
    /// fresh node's: `fresh_pzxid` (its czxid) and 0.
    pub fn counters(&self, fresh_pzxid: i64) -> (i32, i64) {
        self.0
            .as_ref()
            .map_or((0, fresh_pzxid), |family| (family.cversion, family.pzxid))
    }

    /// Stores the child counters (a fresh node's are `fresh_pzxid` and 0).
    pub fn set_counters(&mut self, cversion: i32, pzxid: i64, fresh_pzxid: i64) {
        if let Some(family) = self.0.as_mut() {
            family.cversion = cversion;
            family.pzxid = pzxid;
        } else if (cversion, pzxid) != (0, fresh_pzxid) {
            self.0 = Some(Family::boxed(cversion, pzxid));
        }
        self.drop_if_fresh(fresh_pzxid);
    }

    /// Adds the child in `slot`; false if it was already there.
    /// `fresh_pzxid` as in [`Children::counters`].
    pub fn insert(&mut self, slot: u32, fresh_pzxid: i64) -> bool {
        let family = self.0.get_or_insert_with(|| Family::boxed(0, fresh_pzxid));
        if family.slots.find(slot_hash(slot), |&s| s == slot).is_some() {
            return false;
        }
        family
            .slots
            .insert_unique(slot_hash(slot), slot, |&s| slot_hash(s));
        true
    }

    /// Removes the child in `slot`; false if it was not there. The table's
    /// allocation goes with its last child, so a parent emptied by a queue
    /// consumer keeps only its counters. `fresh_pzxid` as in
    /// [`Children::counters`].
    pub fn remove(&mut self, slot: u32, fresh_pzxid: i64) -> bool {
        let Some(family) = self.0.as_mut() else {
            return false;
        };
        let removed = match family.slots.find_entry(slot_hash(slot), |&s| s == slot) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        };
        if family.slots.is_empty() {
            family.slots = HashTable::new();
        }
        self.drop_if_fresh(fresh_pzxid);
        removed
    }

    /// Frees the box when it holds nothing a missing box would not say.
    fn drop_if_fresh(&mut self, fresh_pzxid: i64) {
        if self.0.as_ref().is_some_and(|family| {
            family.slots.is_empty() && (family.cversion, family.pzxid) == (0, fresh_pzxid)
        }) {
            self.0 = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Children;

    const CZXID: i64 = 7;

    #[test]
    fn a_set_of_slots_that_frees_its_table_when_emptied() {
        let mut c = Children::default();
        assert!(c.is_empty());
        assert!(!c.remove(1, CZXID));
        for slot in 0..1000 {
            assert!(c.insert(slot, CZXID));
        }
        assert!(!c.insert(7, CZXID));
        assert_eq!(c.len(), 1000);
        let mut slots: Vec<u32> = c.slots().collect();
        slots.sort_unstable();
        assert_eq!(slots, (0..1000).collect::<Vec<_>>());
        let copy = c.clone();
        assert_eq!(copy, c);
        for slot in 0..1000 {
            assert!(c.remove(slot, CZXID), "{slot}");
        }
        assert!(c.is_empty());
        assert!(c.0.is_none(), "nothing is kept for a fresh node's counters");
        assert_ne!(copy, c);
    }

    /// A leaf keeps no box; counters unlike a fresh node's keep one, also
    /// once the last child is gone (without the table's allocation).
    #[test]
    fn counters_live_in_the_box_only_when_they_differ_from_a_fresh_nodes() {
        let mut c = Children::default();
        assert_eq!(c.counters(CZXID), (0, CZXID));
        c.set_counters(0, CZXID, CZXID);
        assert!(c.0.is_none(), "a fresh node's counters need no box");
        assert!(c.insert(3, CZXID));
        c.set_counters(1, 9, CZXID);
        assert_eq!(c.counters(CZXID), (1, 9));
        assert!(c.remove(3, CZXID));
        c.set_counters(1, 10, CZXID);
        let family = c.0.as_ref().expect("the counters keep the box");
        assert_eq!(family.slots.capacity(), 0, "the table's allocation went");
        assert_eq!(c.counters(CZXID), (1, 10));
        assert!(c.is_empty());
        assert_ne!(c, Children::default());
        // Counters set back to a fresh node's (a rolled back multi) free it.
        c.set_counters(0, CZXID, CZXID);
        assert!(c.0.is_none());
        assert_eq!(c, Children::default());
    }
}
