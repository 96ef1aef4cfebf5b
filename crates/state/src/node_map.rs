//! Every znode by full path, stored compactly.
//!
//! A `HashMap<Box<str>, Node>` keeps each (key, node) pair inline in its
//! bucket array, which grows by doubling and stays at most 7/8 full: with a
//! million znodes it held two million buckets of 145 bytes, about 300 bytes
//! per znode before a single path or value was stored. Here the nodes live
//! in fixed-size chunks that fill up one after another (no slack beyond one
//! chunk, no copying when they grow), and the hash index holds only 8-byte
//! entries: a slot number and 32 bits of the path's hash. The index doubles
//! like any hash table, but at 8 bytes a bucket that costs little, and its
//! rehash reads the stored hash instead of every node's path.
//!
//! Slots freed by deletions are reused (most recently freed first). Iteration
//! goes in slot order, which depends on the history of creations and
//! deletions: callers that need an order sort, as before.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::node::Node;

/// Slots per chunk: chunks are allocated whole, so this is the most memory a
/// map holds beyond its nodes (4096 × 48 bytes ≈ 0.2 MB), and small enough
/// that allocating one never pauses apply noticeably.
const CHUNK_SLOTS: usize = 4096;

/// An index entry: where the node is, and the low 32 bits of its path's
/// hash (compared before the path is touched, and rehashed from on growth).
#[derive(Clone, Copy)]
struct IndexEntry {
    slot: u32,
    hash: u32,
}

/// The path → node map of a `DataTree`.
#[derive(Clone)]
pub(crate) struct NodeMap {
    chunks: Vec<Box<[Option<Node>]>>,
    /// Slots ever handed out; slot numbers below it are in `chunks`.
    used_slots: u32,
    /// Freed slots, reused before `used_slots` grows.
    free: Vec<u32>,
    index: HashTable<IndexEntry>,
    hasher: foldhash::fast::RandomState,
    len: usize,
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMap").field("len", &self.len).finish()
    }
}

impl Default for NodeMap {
    fn default() -> Self {
        NodeMap {
            chunks: Vec::new(),
            used_slots: 0,
            free: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            len: 0,
        }
    }
}

/// The table's 64-bit hash of a stored 32-bit one. hashbrown takes the
/// bucket from the low bits and the control byte from the top seven, so the
/// 32 bits are spread over all 64.
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The slot numbered `slot` in `chunks`, if it holds a node. A free
/// function so that index probes can borrow the chunks while the index
/// itself is borrowed mutably.
fn slot_in(chunks: &[Box<[Option<Node>]>], slot: u32) -> Option<&Node> {
    let slot = slot as usize;
    chunks
        .get(slot / CHUNK_SLOTS)
        .and_then(|chunk| chunk[slot % CHUNK_SLOTS].as_ref())
}

impl NodeMap {
    /// The hash of a path, over its bytes (a node keeps its path as bytes).
    fn hash_of(&self, path: &[u8]) -> u32 {
        // Truncation intended: the index keeps 32 bits.
        self.hasher.hash_one(path) as u32
    }

    fn slot_mut(&mut self, slot: u32) -> &mut Option<Node> {
        let slot = slot as usize;
        &mut self.chunks[slot / CHUNK_SLOTS][slot % CHUNK_SLOTS]
    }

    /// The slot holding `path`'s node; callers that read and then change
    /// one node look it up once and go on with [`NodeMap::node_at`] and
    /// [`NodeMap::node_at_mut`].
    pub(crate) fn slot_of(&self, path: &str) -> Option<u32> {
        let path = path.as_bytes();
        self.slot_of_hashed(path, self.hash_of(path))
    }

    fn slot_of_hashed(&self, path: &[u8], hash: u32) -> Option<u32> {
        self.index
            .find(spread(hash), |e| {
                e.hash == hash && self.node_at(e.slot).is_some_and(|n| n.path_bytes() == path)
            })
            .map(|e| e.slot)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn contains_key(&self, path: &str) -> bool {
        self.slot_of(path).is_some()
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Node> {
        let slot = self.slot_of(path)?;
        self.node_at(slot)
    }

    pub(crate) fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        let slot = self.slot_of(path)?;
        self.node_at_mut(slot)
    }

    /// Inserts or replaces the node at its path; returns its slot and the
    /// node it replaced. A replaced node keeps its slot.
    pub(crate) fn insert(&mut self, node: Node) -> (u32, Option<Node>) {
        match self.insert_new(node) {
            Ok(slot) => (slot, None),
            Err((slot, node)) => {
                let old = self
                    .slot_mut(slot)
                    .as_mut()
                    .map(|old| std::mem::replace(old, node));
                (slot, old)
            }
        }
    }

    /// Inserts the node at its path if no node is there; returns its new
    /// slot, or the occupied slot and `node` back. One hash of the path and
    /// one probe of the index, whichever way it goes.
    pub(crate) fn insert_new(&mut self, node: Node) -> Result<u32, (u32, Node)> {
        let path = node.path_bytes();
        let hash = self.hash_of(path);
        let chunks = &self.chunks;
        let found = self.index.find(spread(hash), |e| {
            e.hash == hash && slot_in(chunks, e.slot).is_some_and(|n| n.path_bytes() == path)
        });
        if let Some(e) = found {
            return Err((e.slot, node));
        }
        let slot = self.push_unindexed(node);
        self.index
            .insert_unique(spread(hash), IndexEntry { slot, hash }, |e| spread(e.hash));
        Ok(slot)
    }

    /// Stores a node without indexing it: a snapshot load pushes every node
    /// this way and then indexes them all at once with
    /// [`NodeMap::index_unindexed`]. Until then the map finds none of them by
    /// path (slots and [`NodeMap::node_at`] work), and nothing checks for a
    /// second node at the same path.
    pub(crate) fn push_unindexed(&mut self, node: Node) -> u32 {
        let slot = self.take_slot();
        *self.slot_mut(slot) = Some(node);
        self.len += 1;
        slot
    }

    /// Indexes the nodes stored by [`NodeMap::push_unindexed`] since the
    /// index last held every node, or names a path stored twice (the map is
    /// then unusable: the caller drops it).
    ///
    /// Why in bulk: inserted one by one in load order, each node's index
    /// entry lands in a random bucket of a table far larger than the CPU's
    /// caches, a miss per node that was a third of a snapshot load. Sorted
    /// by bucket first, the entries fill the table front to back.
    pub(crate) fn index_unindexed(&mut self) -> Result<(), String> {
        let indexed = self.index.len();
        let mut pending: Vec<IndexEntry> = Vec::with_capacity(self.len - indexed);
        for (slot, n) in self.chunks.iter().flat_map(|c| c.iter()).enumerate() {
            let Some(n) = n else { continue };
            let hash = self.hash_of(n.path_bytes());
            let slot = slot as u32;
            if indexed > 0 && self.slot_of_hashed(n.path_bytes(), hash) == Some(slot) {
                continue;
            }
            pending.push(IndexEntry { slot, hash });
        }
        // The table's bucket count once it holds them all (hashbrown keeps
        // at most 7/8 of a power of two full), so that sorting by the low bits
        // of the spread hash is sorting by bucket. Only speed depends on it.
        self.try_reserve(pending.len());
        let buckets = (self.index.capacity() / 7 * 8).next_power_of_two() as u64;
        let mask = buckets.saturating_sub(1);
        pending.sort_unstable_by_key(|e| spread(e.hash) & mask);
        for e in pending {
            // In bucket order this probe reads where the last inserts wrote.
            // The node's own path is read only if an entry's hash matches
            // (a node keeps its path's length with the path, so reading it
            // up front would be a cache miss per node).
            let chunks = &self.chunks;
            let path_of = |slot| slot_in(chunks, slot).map_or(&[][..], |n| n.path_bytes());
            let twice = self.index.find(spread(e.hash), |c| {
                c.hash == e.hash && path_of(c.slot) == path_of(e.slot)
            });
            if twice.is_some() {
                return Err(String::from_utf8_lossy(path_of(e.slot)).into_owned());
            }
            self.index
                .insert_unique(spread(e.hash), e, |e| spread(e.hash));
        }
        Ok(())
    }

    /// Removes the node at `path`; returns the slot it had and the node.
    pub(crate) fn remove(&mut self, path: &str) -> Option<(u32, Node)> {
        let path = path.as_bytes();
        let hash = self.hash_of(path);
        let chunks = &self.chunks;
        let entry = self
            .index
            .find_entry(spread(hash), |e| {
                e.hash == hash && slot_in(chunks, e.slot).is_some_and(|n| n.path_bytes() == path)
            })
            .ok()?;
        let (IndexEntry { slot, .. }, _) = entry.remove();
        let removed = self.slot_mut(slot).take()?;
        self.free.push(slot);
        self.len -= 1;
        Some((slot, removed))
    }

    /// The node in `slot`, if it holds one, to change in place.
    pub(crate) fn node_at_mut(&mut self, slot: u32) -> Option<&mut Node> {
        let slot = slot as usize;
        self.chunks
            .get_mut(slot / CHUNK_SLOTS)
            .and_then(|chunk| chunk[slot % CHUNK_SLOTS].as_mut())
    }

    /// The node in `slot`, if it holds one.
    pub(crate) fn node_at(&self, slot: u32) -> Option<&Node> {
        slot_in(&self.chunks, slot)
    }

    /// `node`'s children as (slot, full path), sorted by path, which for
    /// siblings is their names' order.
    pub(crate) fn children_sorted(&self, node: &Node) -> Vec<(u32, &str)> {
        self.children_in_order(node)
            .into_iter()
            .map(|(slot, child)| (slot, child.path()))
            .collect()
    }

    /// `node`'s children as (slot, node), in the order of
    /// [`NodeMap::children_sorted`]. Sorted by the paths' bytes, which is
    /// their order as strings (UTF-8 keeps code point order), without
    /// turning each path back into a `&str`.
    pub(crate) fn children_in_order(&self, node: &Node) -> Vec<(u32, &Node)> {
        let mut out: Vec<(u32, &Node)> = node
            .children()
            .slots()
            .filter_map(|slot| self.node_at(slot).map(|n| (slot, n)))
            .collect();
        // Siblings are mostly created in name order, so this is near-linear.
        out.sort_unstable_by(|a, b| a.1.path_bytes().cmp(b.1.path_bytes()));
        out
    }

    /// A slot to fill: the most recently freed one, or the next fresh one
    /// (allocating a chunk when the last is full).
    fn take_slot(&mut self) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        let slot = self.used_slots;
        if (slot as usize).is_multiple_of(CHUNK_SLOTS) {
            self.chunks
                .push(std::iter::repeat_with(|| None).take(CHUNK_SLOTS).collect());
        }
        // Slot numbers are u32: 4 billion znodes would take over 600 GB, so
        // memory runs out long before this can fail.
        assert!(slot < u32::MAX, "node map full");
        self.used_slots = slot + 1;
        slot
    }

    /// Makes room for `additional` more nodes in the index, if memory allows
    /// (a snapshot load knows its node count up front).
    pub(crate) fn try_reserve(&mut self, additional: usize) {
        let _ = self
            .index
            .try_reserve(additional, |e: &IndexEntry| spread(e.hash));
    }

    /// Every path, in slot order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(path, _)| path)
    }

    /// Every (path, node), in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.iter())
            .filter_map(|n| n.as_ref().map(|n| (n.path(), n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::StoredStat;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn node(path: &str, tag: u8) -> Node {
        Node::new(path, &[tag], Arc::new(Vec::new()), StoredStat::default())
    }

    /// Nodes pushed unindexed are found by path once indexed in bulk, beside
    /// nodes inserted before them; a path pushed twice, or pushed when an
    /// indexed node has it, is named instead.
    #[test]
    fn bulk_indexing_finds_every_node_and_names_a_path_stored_twice() {
        let mut map = NodeMap::default();
        map.insert(node("/indexed", 1));
        let count = 3 * CHUNK_SLOTS + 17;
        for i in 0..count {
            map.push_unindexed(node(&format!("/n{i}"), (i % 251) as u8));
        }
        assert_eq!(map.slot_of("/n5"), None, "not indexed yet");
        assert_eq!(map.index_unindexed(), Ok(()));
        assert_eq!(map.len(), count + 1);
        for i in 0..count {
            let path = format!("/n{i}");
            assert_eq!(
                map.get(&path).map(|n| n.data()[0]),
                Some((i % 251) as u8),
                "{path}"
            );
        }
        assert_eq!(map.get("/indexed").map(|n| n.data()[0]), Some(1));
        assert!(map.get("/n-absent").is_none());
        // The index behaves as before for later inserts and removals.
        assert!(map.insert_new(node("/n7", 9)).is_err());
        assert!(map.remove("/n7").is_some());
        assert!(map.get("/n7").is_none());

        let mut twice = NodeMap::default();
        for path in ["/a", "/b", "/a/x", "/b"] {
            twice.push_unindexed(node(path, 0));
        }
        assert_eq!(twice.index_unindexed(), Err("/b".to_owned()));

        let mut shadowed = NodeMap::default();
        shadowed.insert(node("/a", 0));
        shadowed.push_unindexed(node("/c", 0));
        shadowed.push_unindexed(node("/a", 0));
        assert_eq!(shadowed.index_unindexed(), Err("/a".to_owned()));
    }

    /// The map agrees with a `HashMap` over a long run of inserts, replaces
    /// and removes that spans several chunks and reuses freed slots.
    #[test]
    fn behaves_as_a_hash_map_across_chunks_and_reused_slots() {
        let mut map = NodeMap::default();
        let mut model: HashMap<String, u8> = HashMap::new();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for step in 0..(3 * CHUNK_SLOTS * 4) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = format!("/n{}", state % (3 * CHUNK_SLOTS as u64));
            let tag = (step % 251) as u8;
            if state.is_multiple_of(3) {
                assert_eq!(
                    map.remove(&key).map(|(_, n)| n.data()[0]),
                    model.remove(&key),
                    "remove {key}"
                );
            } else {
                assert_eq!(
                    map.insert(node(&key, tag)).1.map(|n| n.data()[0]),
                    model.insert(key.clone(), tag),
                    "insert {key}"
                );
            }
            assert_eq!(map.len(), model.len());
        }
        for (key, tag) in &model {
            assert_eq!(map.get(key).map(|n| n.data()[0]), Some(*tag), "{key}");
            assert!(map.contains_key(key));
        }
        let mut listed: Vec<(String, u8)> = map
            .iter()
            .map(|(p, n)| (p.to_string(), n.data()[0]))
            .collect();
        listed.sort();
        let mut expected: Vec<(String, u8)> = model.into_iter().collect();
        expected.sort();
        assert_eq!(listed, expected);
        assert!(map.get("/absent").is_none());
        assert!(map.remove("/absent").is_none());
        // Freed slots were reused: the map never used more slots than the
        // most keys it held at once could need.
        assert!((map.used_slots as usize) <= 3 * CHUNK_SLOTS);
    }

    #[test]
    fn get_mut_changes_the_stored_node() {
        let mut map = NodeMap::default();
        map.insert(node("/a", 1));
        if let Some(n) = map.get_mut("/a") {
            let stat = n.stat();
            n.replace_data(&[9], stat);
        }
        assert_eq!(map.get("/a").map(|n| n.data().to_vec()), Some(vec![9]));
        let copy = map.clone();
        assert_eq!(copy.get("/a").map(|n| n.data().to_vec()), Some(vec![9]));
        assert_eq!(copy.len(), 1);
    }
}
