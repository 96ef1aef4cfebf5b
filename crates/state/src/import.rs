//! Building a tree from nodes given with their exact stored Stats, and
//! reading those Stats back: the state crate's side of migration from (and
//! to) Apache ZooKeeper.
//!
//! Why this exists beside [`DataTree::apply`]: a migrated tree must keep
//! every Stat field ZooKeeper stored (czxid, pzxid, the stored `cversion`,
//! the `ephemeralOwner` encodings, ...), which no sequence of entries could
//! reproduce, since apply stamps the zxid of the entry applying it. ZooKeeper's
//! `StatPersisted` is exactly the stored Stat this crate keeps (`node.rs`), so
//! the mapping is 1:1.
//!
//! Why through [`TreeBuilder`] and not by writing snapshot bytes: the builder
//! goes through the same two internal steps the snapshot loader uses, the
//! placement check and `attach`, so the derived indexes (children,
//! ephemerals by session, containers, TTLs, the ACL cache, the data size)
//! are built by the one piece of code that builds them everywhere else, and
//! a tree the snapshot loader would refuse cannot be built here either.

use rzk_proto::Acl;

use crate::node::{Node, StoredStat};
use crate::path::QUOTA_ZOOKEEPER;
use crate::quota::LIMIT_NODE;
use crate::snapshot::check_placement;
use crate::tree::{DataTree, SessionInfo, StateConfig};

/// ZooKeeper's `StatPersisted`: a node's Stat as stored, with `cversion`
/// counting child creations and `ephemeral_owner` in its stored encoding
/// (a session id, `i64::MIN` for a container, a TTL encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PersistedStat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

impl From<PersistedStat> for StoredStat {
    fn from(s: PersistedStat) -> StoredStat {
        StoredStat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            pzxid: s.pzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            ephemeral_owner: s.ephemeral_owner,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
        }
    }
}

impl From<StoredStat> for PersistedStat {
    fn from(s: StoredStat) -> PersistedStat {
        PersistedStat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            pzxid: s.pzxid,
        }
    }
}

/// Why a node or session could not join the tree being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// A tree under construction: `/` first, then every node after its parent
/// (any order that keeps parents first: a preorder, a sorted path list).
#[derive(Debug)]
pub struct TreeBuilder {
    tree: DataTree,
}

impl TreeBuilder {
    /// An empty builder: not even `/` yet.
    pub fn new(config: StateConfig) -> Self {
        TreeBuilder {
            tree: DataTree::empty(config),
        }
    }

    /// Adds the node at `path` with exactly `stat` (the stored form).
    /// `/` must come first and each parent before its children.
    pub fn add_node(
        &mut self,
        path: &str,
        data: Vec<u8>,
        acl: &[Acl],
        stat: PersistedStat,
    ) -> Result<(), BuildError> {
        let first = self.tree.nodes.is_empty();
        check_placement(&self.tree, path, first).map_err(|e| BuildError(e.to_string()))?;
        let acl = self.tree.acls.intern(acl);
        self.tree
            .attach(path, Node::new(path, &data, acl, stat.into()));
        Ok(())
    }

    /// Adds a live session. Ids must be distinct.
    pub fn add_session(&mut self, session: SessionInfo) -> Result<(), BuildError> {
        if self.tree.sessions.is_live(session.session_id) {
            return Err(BuildError(format!(
                "session 0x{:x} appears twice",
                session.session_id
            )));
        }
        self.tree.sessions.insert(session);
        Ok(())
    }

    /// The finished tree, as of `last_zxid`. The quota-root trie is rebuilt
    /// from the `zookeeper_limits` nodes under `/zookeeper/quota`, as
    /// ZooKeeper's `setupQuota` does when it loads a snapshot.
    pub fn finish(mut self, last_zxid: i64) -> Result<DataTree, BuildError> {
        if !self.tree.nodes.contains_key("/") {
            return Err(BuildError("the tree has no root node".to_owned()));
        }
        let suffix = format!("/{LIMIT_NODE}");
        let mut roots: Vec<String> = self
            .tree
            .nodes
            .keys()
            .filter_map(|p| p.strip_prefix(QUOTA_ZOOKEEPER))
            .filter_map(|rest| rest.strip_suffix(suffix.as_str()))
            .filter(|root| !root.is_empty())
            .map(str::to_owned)
            .collect();
        roots.sort();
        for root in roots {
            self.tree.quotas.add(&root);
        }
        self.tree.last_zxid = last_zxid;
        Ok(self.tree)
    }
}

/// One node as stored, for export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedNode {
    pub path: String,
    pub data: Vec<u8>,
    pub acl: Vec<Acl>,
    pub stat: PersistedStat,
}

impl DataTree {
    /// Every node with its stored Stat, parents before children (a preorder,
    /// children in name order), for export. Walks with a stack, not
    /// recursion, so deep trees cannot overflow it.
    pub fn persisted_nodes(&self) -> Vec<PersistedNode> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec!["/".to_owned()];
        while let Some(path) = stack.pop() {
            let Some(node) = self.nodes.get(path.as_str()) else {
                continue;
            };
            // Reversed so that the stack pops children in name order.
            for (_, child) in self.nodes.children_sorted(node).into_iter().rev() {
                stack.push(child.to_owned());
            }
            out.push(PersistedNode {
                data: node.data().to_vec(),
                acl: node.acl.to_vec(),
                stat: node.stat().into(),
                path,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(czxid: i64, cversion: i32, owner: i64) -> PersistedStat {
        PersistedStat {
            czxid,
            mzxid: czxid,
            pzxid: czxid,
            cversion,
            ephemeral_owner: owner,
            ..PersistedStat::default()
        }
    }

    #[test]
    fn built_tree_keeps_stored_stats_and_derives_indexes() {
        let open = Acl::open_unsafe();
        let mut b = TreeBuilder::new(StateConfig::default());
        b.add_node("/", Vec::new(), &open, stat(0, 3, 0)).unwrap();
        b.add_node("/a", b"x".to_vec(), &open, stat(5, 0, 0))
            .unwrap();
        b.add_node("/a/e", Vec::new(), &open, stat(6, 0, 0x42))
            .unwrap();
        b.add_node("/c", Vec::new(), &open, stat(7, 0, i64::MIN))
            .unwrap();
        b.add_session(SessionInfo {
            session_id: 0x42,
            timeout_ms: 4000,
            password: vec![1; 16],
        })
        .unwrap();
        let tree = b.finish(9).unwrap();
        assert_eq!(tree.last_zxid(), 9);
        assert_eq!(tree.ephemeral_owner("/a/e"), Some(0x42));
        assert_eq!(
            tree.ephemerals_by_session(),
            vec![(0x42, vec!["/a/e".to_owned()])]
        );
        // Stored cversion 3 with two children reads 2*3-2 = 4.
        assert_eq!(tree.exists("/").unwrap().cversion, 4);
        assert_eq!(tree.exists("/c").unwrap().ephemeral_owner, 0);
        let nodes = tree.persisted_nodes();
        let paths: Vec<&str> = nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["/", "/a", "/a/e", "/c"]);
        assert_eq!(nodes[3].stat.ephemeral_owner, i64::MIN);
        assert_eq!(nodes[0].stat.cversion, 3);
    }

    #[test]
    fn misplaced_nodes_and_duplicate_sessions_are_refused() {
        let open = Acl::open_unsafe();
        let mut b = TreeBuilder::new(StateConfig::default());
        assert!(b.add_node("/a", Vec::new(), &open, stat(1, 0, 0)).is_err());
        b.add_node("/", Vec::new(), &open, stat(0, 0, 0)).unwrap();
        assert!(b
            .add_node("/x/y", Vec::new(), &open, stat(1, 0, 0))
            .is_err());
        b.add_node("/x", Vec::new(), &open, stat(1, 0, 0)).unwrap();
        assert!(b.add_node("/x", Vec::new(), &open, stat(1, 0, 0)).is_err());
        let s = SessionInfo {
            session_id: 1,
            timeout_ms: 1,
            password: Vec::new(),
        };
        b.add_session(s.clone()).unwrap();
        assert!(b.add_session(s).is_err());
    }

    #[test]
    fn quota_roots_come_back_from_limit_nodes() {
        let open = Acl::open_unsafe();
        let mut b = TreeBuilder::new(StateConfig::default());
        for p in [
            "/",
            "/zookeeper",
            "/zookeeper/quota",
            "/zookeeper/quota/app",
            "/zookeeper/quota/app/zookeeper_limits",
        ] {
            b.add_node(p, Vec::new(), &open, stat(0, 0, 0)).unwrap();
        }
        let tree = b.finish(1).unwrap();
        assert_eq!(tree.quotas.max_prefix("/app/x").as_deref(), Some("/app"));
    }
}
