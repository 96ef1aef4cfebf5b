//! A znode's child names.
//!
//! Most znodes are leaves, so the set lives behind an `Option<Box<..>>`: a
//! leaf pays one null pointer (8 bytes) instead of an empty `BTreeSet`'s 24,
//! which over a million znodes is 16 MB. The set stays ordered by name:
//! getChildren, snapshots and exports list children in name order, so every
//! server of an ensemble, and every restart, gives the same answer.

use std::collections::BTreeSet;

// clippy's box_collection: the box is the point, it makes a leaf's field
// one pointer wide.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Children(Option<Box<BTreeSet<Box<str>>>>);

impl Children {
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|set| set.is_empty())
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |set| set.len())
    }

    /// Adds `name`; false if it was already there.
    pub fn insert(&mut self, name: &str) -> bool {
        self.0.get_or_insert_with(Box::default).insert(name.into())
    }

    /// Removes `name`; false if it was not there. The set's allocation goes
    /// with its last child, so a parent emptied by a queue consumer costs
    /// what a leaf costs.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(set) = self.0.as_mut() else {
            return false;
        };
        let removed = set.remove(name);
        if set.is_empty() {
            self.0 = None;
        }
        removed
    }

    /// The names in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + Clone {
        self.0.iter().flat_map(|set| set.iter().map(|name| &**name))
    }
}

#[cfg(test)]
mod tests {
    use super::Children;

    #[test]
    fn keeps_names_in_order_and_frees_the_set_when_emptied() {
        let mut c = Children::default();
        assert!(c.is_empty());
        assert!(!c.remove("a"));
        assert!(c.insert("b"));
        assert!(c.insert("a"));
        assert!(!c.insert("a"));
        assert_eq!(c.len(), 2);
        assert_eq!(c.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.iter().rev().collect::<Vec<_>>(), ["b", "a"]);
        assert!(c.remove("a"));
        assert!(c.remove("b"));
        assert!(c.is_empty());
        assert_eq!(
            c,
            Children::default(),
            "the set is freed with its last child"
        );
    }
}
