//! Quotas, as ZooKeeper 3.8 keeps them.
//!
//! A quota on `/p` is the pair of nodes `/zookeeper/quota/p/zookeeper_limits`
//! (the limits, written by `setquota`) and `/zookeeper/quota/p/zookeeper_stats`
//! (the current usage, which the tree keeps up to date on every create, delete
//! and setData under `/p` by rewriting the node's data in place, without
//! touching its Stat and without firing watches).
//!
//! Both use `StatsTrack`'s text format: `count=N,bytes=M` followed, when other
//! keys exist, by `=;key=value` pairs in key order (so old parsers ignore
//! them): `count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=5`.
//!
//! The set of quota roots is ZooKeeper's `PathTrie`, kept with its quirks:
//! blank path components are ignored, and removing a quota root removes every
//! quota root below it from the trie too.

use std::collections::BTreeMap;

use crate::path::java_trim;

/// `Quotas.limitNode`.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// `Quotas.statNode`.
pub const STAT_NODE: &str = "zookeeper_stats";

/// `Quotas.limitPath`.
pub fn limit_path(prefix: &str) -> String {
    format!("{}{prefix}/{LIMIT_NODE}", crate::path::QUOTA_ZOOKEEPER)
}

/// `Quotas.statPath`.
pub fn stat_path(prefix: &str) -> String {
    format!("{}{prefix}/{STAT_NODE}", crate::path::QUOTA_ZOOKEEPER)
}

/// ZooKeeper's `StatsTrack`: a small key/value record. Missing keys read as -1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Parses node data. `None` where ZooKeeper's parser would throw (a pair
    /// without `=`, a non-numeric value); callers then skip the quota.
    pub fn parse(data: &[u8]) -> Option<StatsTrack> {
        let text = String::from_utf8_lossy(data);
        let mut values = BTreeMap::new();
        if text.is_empty() {
            return Some(StatsTrack { values });
        }
        for pair in java_split(&text, |c| c == ',' || c == ';', true) {
            let kv = java_split(pair, |c| c == '=', false);
            let key = kv.first()?;
            let value = kv.get(1)?;
            let value = if value.is_empty() {
                -1
            } else {
                java_parse_long(value)?
            };
            values.insert((*key).to_owned(), value);
        }
        Some(StatsTrack { values })
    }

    fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn count(&self) -> i64 {
        self.get("count")
    }
    pub fn bytes(&self) -> i64 {
        self.get("bytes")
    }
    pub fn count_hard_limit(&self) -> i64 {
        self.get("countHardLimit")
    }
    pub fn byte_hard_limit(&self) -> i64 {
        self.get("byteHardLimit")
    }
    pub fn set_count(&mut self, v: i64) {
        self.values.insert("count".to_owned(), v);
    }
    pub fn set_bytes(&mut self, v: i64) {
        self.values.insert("bytes".to_owned(), v);
    }

    /// `StatsTrack.toString`.
    pub fn to_text(&self) -> String {
        let mut out = format!("count={},bytes={}", self.count(), self.bytes());
        let mut extra = self
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != "count" && k.as_str() != "bytes")
            .peekable();
        if extra.peek().is_some() {
            out.push('=');
            for (k, v) in extra {
                out.push_str(&format!(";{k}={v}"));
            }
        }
        out
    }
}

/// Java's regex `split`: an input without a separator yields itself; otherwise
/// trailing empty strings are removed. With `runs`, the pattern is `[..]+`, so
/// consecutive separators count as one (a leading empty part stays).
fn java_split(s: &str, sep: impl Fn(char) -> bool + Copy, runs: bool) -> Vec<&str> {
    if !s.contains(sep) {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    if runs {
        let mut i = 0;
        parts.retain(|p| {
            i += 1;
            i == 1 || !p.is_empty()
        });
    }
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// Java's `Long.parseLong` for ASCII input.
fn java_parse_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// ZooKeeper's `PathTrie` of quota roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTrie {
    root: TrieNode,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TrieNode {
    property: bool,
    children: BTreeMap<String, TrieNode>,
}

/// `PathTrie.split`: components, ignoring blank ones.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !java_trim(c).is_empty())
}

impl PathTrie {
    /// `addPath`: marks `path` as a quota root. (ZooKeeper throws on `""`; this
    /// is a no-op instead.)
    pub fn add(&mut self, path: &str) {
        if path.is_empty() {
            return;
        }
        let mut node = &mut self.root;
        for part in components(path) {
            node = node.children.entry(part.to_owned()).or_default();
        }
        node.property = true;
    }

    /// `deletePath`: removes the trie node of `path` *and everything below it*.
    /// Removing the root itself (a path with no components) is not possible,
    /// as in ZooKeeper where the root's parent is null.
    pub fn delete(&mut self, path: &str) {
        if path.is_empty() {
            return;
        }
        let parts: Vec<&str> = components(path).collect();
        let Some((last, init)) = parts.split_last() else {
            return;
        };
        let mut node = &mut self.root;
        for part in init {
            match node.children.get_mut(*part) {
                Some(child) => node = child,
                None => return,
            }
        }
        node.children.remove(*last);
    }

    /// `getMaxPrefixWithQuota`: the deepest quota root that is `path` or one of
    /// its ancestors, rebuilt from the trie's components. `None` when there is
    /// none (or it is `/`, which ZooKeeper never tracks).
    pub fn max_prefix(&self, path: &str) -> Option<String> {
        if self.root.children.is_empty() {
            // No quota anywhere (nearly every tree): skip splitting `path`,
            // which every create and setData asks about.
            return None;
        }
        let mut node = &self.root;
        let mut walked: Vec<&str> = Vec::new();
        let mut deepest: Option<usize> = None;
        for part in components(path) {
            match node.children.get_key_value(part) {
                Some((name, child)) => {
                    walked.push(name.as_str());
                    node = child;
                    if node.property {
                        deepest = Some(walked.len());
                    }
                }
                None => break,
            }
        }
        let depth = deepest?;
        Some(format!("/{}", walked[..depth].join("/")))
    }

    /// Whether the trie's root itself is marked (possible only through a
    /// quota path whose components are all blank). For snapshots.
    pub fn root_marked(&self) -> bool {
        self.root.property
    }

    /// Every trie node below the root, parents before children and siblings
    /// in name order, as (depth >= 1, name, marked as a quota root). For
    /// snapshots: the trie is not derivable from the tree (deleting a quota
    /// root drops the roots below it although their limit nodes remain), so
    /// it is stored exactly. Iterative: a deep trie cannot overflow the stack.
    pub fn preorder(&self) -> Vec<(usize, &str, bool)> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.children.iter()];
        while let Some(level) = stack.last_mut() {
            match level.next() {
                Some((name, node)) => {
                    out.push((stack.len(), name.as_str(), node.property));
                    stack.push(node.children.iter());
                }
                None => {
                    stack.pop();
                }
            }
        }
        out
    }

    /// The trie that [`PathTrie::preorder`] and [`PathTrie::root_marked`]
    /// describe. `None` unless `entries` is exactly such a preorder (depths
    /// step down or up by at most one, siblings strictly increasing, names
    /// that `components` could have produced), so a corrupt list can never
    /// build a trie that `add` could not have.
    pub fn from_preorder(
        root_marked: bool,
        entries: impl IntoIterator<Item = (usize, String, bool)>,
    ) -> Option<PathTrie> {
        // stack[i]: the open node at depth i (with the name its parent knows
        // it by); deeper open nodes are closed into their parents as the
        // walk comes back up.
        let mut stack: Vec<(String, TrieNode)> = vec![(
            String::new(),
            TrieNode {
                property: root_marked,
                children: BTreeMap::new(),
            },
        )];
        fn close_to(stack: &mut Vec<(String, TrieNode)>, depth: usize) {
            while stack.len() > depth {
                let Some((name, node)) = stack.pop() else {
                    return;
                };
                if let Some((_, parent)) = stack.last_mut() {
                    parent.children.insert(name, node);
                }
            }
        }
        for (depth, name, property) in entries {
            if depth == 0 || depth > stack.len() {
                return None;
            }
            if name.contains('/') || java_trim(&name).is_empty() {
                return None;
            }
            close_to(&mut stack, depth);
            let (_, parent) = stack.last()?;
            if let Some((last, _)) = parent.children.last_key_value() {
                if *last >= name {
                    return None;
                }
            }
            stack.push((
                name,
                TrieNode {
                    property,
                    children: BTreeMap::new(),
                },
            ));
        }
        close_to(&mut stack, 1);
        let (_, root) = stack.pop()?;
        Some(PathTrie { root })
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.root.children.is_empty() && !self.root.property
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_round_trips() {
        let s = StatsTrack::parse(b"count=5,bytes=10").unwrap();
        assert_eq!((s.count(), s.bytes(), s.count_hard_limit()), (5, 10, -1));
        assert_eq!(s.to_text(), "count=5,bytes=10");
        let h =
            StatsTrack::parse(b"count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=2").unwrap();
        assert_eq!(
            (
                h.count(),
                h.bytes(),
                h.count_hard_limit(),
                h.byte_hard_limit()
            ),
            (-1, -1, 2, 100)
        );
        assert_eq!(
            h.to_text(),
            "count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=2"
        );
        assert_eq!(
            StatsTrack::parse(b"").unwrap().to_text(),
            "count=-1,bytes=-1"
        );
        assert!(StatsTrack::parse(b"count").is_none());
        assert!(StatsTrack::parse(b"count=x").is_none());
        assert_eq!(StatsTrack::parse(b"count==3").unwrap().count(), -1);
        assert_eq!(StatsTrack::parse(b"count=1,,;bytes=2,").unwrap().bytes(), 2);
        assert!(StatsTrack::parse(b",count=1").is_none());
        assert_eq!(StatsTrack::parse(b",").unwrap().count(), -1);
    }

    #[test]
    fn trie_finds_deepest_quota_root() {
        let mut t = PathTrie::default();
        t.add("/a");
        t.add("/a/b/c");
        assert_eq!(t.max_prefix("/a"), Some("/a".into()));
        assert_eq!(t.max_prefix("/a/b"), Some("/a".into()));
        assert_eq!(t.max_prefix("/a/b/c/d"), Some("/a/b/c".into()));
        assert_eq!(t.max_prefix("/ab"), None);
        assert_eq!(t.max_prefix("/"), None);
        t.delete("/a");
        assert_eq!(
            t.max_prefix("/a/b/c/d"),
            None,
            "deleting a root drops the subtree"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn trie_preorder_round_trips() {
        let mut t = PathTrie::default();
        for p in ["/a/b/c", "/a", "/b", "/a/d", "/c/x/y", "/a/b/e"] {
            t.add(p);
        }
        t.delete("/c/x/y"); // leaves /c/x as an unmarked leaf
        let (marked, entries) = (t.root_marked(), t.preorder());
        let owned: Vec<_> = entries
            .iter()
            .map(|(d, n, p)| (*d, n.to_string(), *p))
            .collect();
        assert_eq!(owned[0], (1, "a".to_string(), true));
        let back = PathTrie::from_preorder(marked, owned.clone()).unwrap();
        assert_eq!(back, t);

        let mut blank_root = PathTrie::default();
        blank_root.add("/ ");
        assert!(blank_root.root_marked());
        let back = PathTrie::from_preorder(true, Vec::new()).unwrap();
        assert_eq!(back, blank_root);

        // Not a preorder: a depth jump, unsorted siblings, a duplicate, bad names.
        let bad: [Vec<(usize, String, bool)>; 6] = [
            vec![(2, "a".into(), true)],
            vec![(0, "a".into(), true)],
            vec![(1, "b".into(), true), (1, "a".into(), true)],
            vec![(1, "a".into(), true), (1, "a".into(), false)],
            vec![(1, " ".into(), true)],
            vec![(1, "a/b".into(), true)],
        ];
        for entries in bad {
            assert!(
                PathTrie::from_preorder(false, entries.clone()).is_none(),
                "{entries:?}"
            );
        }
        // Deeper after shallower is fine; siblings compare within their parent.
        let ok = vec![
            (1, "a".into(), false),
            (2, "z".into(), true),
            (1, "b".into(), false),
            (2, "a".into(), true),
        ];
        assert!(PathTrie::from_preorder(false, ok).is_some());
    }
}
