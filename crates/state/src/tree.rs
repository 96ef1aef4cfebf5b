//! The znode tree: the replicated state and its read API.
//!
//! Writes go through [`DataTree::apply`] only (see `ops`); the mutation
//! primitives live in `store`. This file holds the state itself and the reads
//! the server answers directly from a `&DataTree`.

use std::collections::BTreeSet;

use rzk_proto::{Acl, ErrorCode, Id, Perms, Stat};

use crate::acl;
use crate::acl_cache::AclCache;
use crate::entry::{Applied, Entry, WatchTrigger};
use crate::ephemeral::EphemeralKind;
use crate::node::{Node, StoredStat};
use crate::node_map::NodeMap;
use crate::path::{self, CONFIG_ZOOKEEPER, PROC_ZOOKEEPER, QUOTA_ZOOKEEPER};
use crate::quota::PathTrie;
use crate::sessions::SessionTable;
use crate::store::Undo;

pub use crate::path::validate_path;

/// Settings that change what `apply` decides. Identical on every replica.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateConfig {
    /// `extendedTypesEnabled`: TTL nodes allowed (otherwise createTTL and TTL
    /// create modes answer Unimplemented).
    pub extended_types_enabled: bool,
    /// `reconfigEnabled`: otherwise reconfig answers ReconfigDisabled.
    pub reconfig_enabled: bool,
    /// `zookeeper.enforceQuota` (ZooKeeper's default false): hard quota limits
    /// reject with QuotaExceeded; soft limits only warn. As in ZooKeeper 3.8,
    /// when this is false quotas are not checked at all (no warnings either);
    /// the usage in `zookeeper_stats` is kept up to date regardless.
    pub enforce_quota: bool,
    /// `zookeeper.skipACL` (default false).
    pub skip_acl: bool,
    /// Part of an ensemble (zoo.cfg has `server.N` lines): `/zookeeper/config`
    /// holds the membership ([`crate::Txn::SetConfig`]) and reconfig is
    /// answered from it. False for a standalone server, whose config node
    /// stays empty and whose reconfig answers Unimplemented, as ZooKeeper's.
    pub dynamic_config: bool,
}

/// A live session as the state machine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: i64,
    pub timeout_ms: i32,
    pub password: Vec<u8>,
}

/// The replicated state: znodes, sessions, and the bookkeeping derived from them.
#[derive(Debug, Clone)]
pub struct DataTree {
    pub(crate) config: StateConfig,
    /// Every znode by full path (the root is `/`). Only looked up, never
    /// iterated where order could matter (dumps sort).
    pub(crate) nodes: NodeMap,
    pub(crate) last_zxid: i64,
    pub(crate) sessions: SessionTable,
    /// Paths of container nodes (candidates for the container reaper).
    pub(crate) containers: BTreeSet<Box<str>>,
    /// Paths of TTL nodes.
    pub(crate) ttls: BTreeSet<Box<str>>,
    /// Quota roots (ZooKeeper's `pTrie`).
    pub(crate) quotas: PathTrie,
    pub(crate) acls: AclCache,
    /// Sum over nodes of the path length (UTF-16 units) and the data length.
    pub(crate) data_size: u64,
    /// Per-entry scratch: how to undo what the entry changed so far (a failed
    /// multi rolls back), the watch triggers and warnings it produced.
    pub(crate) undo: Vec<Undo>,
    pub(crate) triggers: Vec<WatchTrigger>,
    pub(crate) warnings: Vec<String>,
    /// The paths changed since the last snapshot point, when kept
    /// (`snapshot_merge`).
    pub(crate) changes: crate::snapshot_merge::Changes,
    /// Changes taken at the last snapshot point whose records are still
    /// being encoded (`snapshot_merge`); every mutation checks it first.
    pub(crate) taking: crate::snapshot_merge::TakingSlot,
}

impl DataTree {
    /// A fresh tree holding `/`, `/zookeeper`, `/zookeeper/quota`, `/zookeeper/config`,
    /// with the Stats a fresh ZooKeeper 3.8 shows: all zeros, except that
    /// `/zookeeper/config` has aversion -1 and READ-only ACL (ZooKeeper sets
    /// that ACL with version -1 at startup), and cversions read -1 for `/` and
    /// -2 for `/zookeeper` (children were added without counting creations).
    pub fn new(config: StateConfig) -> Self {
        let mut tree = DataTree::empty(config);
        let open = Acl::open_unsafe();
        let read = tree.acls.intern(&Acl::read_unsafe());
        let zero = StoredStat::default();
        for path in ["/", PROC_ZOOKEEPER, QUOTA_ZOOKEEPER] {
            let acl = tree.acls.intern(&open);
            tree.attach(path, Node::new(path, &[], acl, zero));
        }
        let config_stat = StoredStat {
            aversion: -1,
            ..zero
        };
        tree.attach(
            CONFIG_ZOOKEEPER,
            Node::new(CONFIG_ZOOKEEPER, &[], read, config_stat),
        );
        tree
    }

    /// A tree without any node, not even `/`: what a snapshot is loaded into.
    pub(crate) fn empty(config: StateConfig) -> Self {
        DataTree {
            config,
            nodes: NodeMap::default(),
            last_zxid: 0,
            sessions: SessionTable::default(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            quotas: PathTrie::default(),
            acls: AclCache::default(),
            data_size: 0,
            undo: Vec::new(),
            triggers: Vec::new(),
            warnings: Vec::new(),
            changes: Default::default(),
            taking: Default::default(),
        }
    }

    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    /// Applies one log entry. Deterministic; never panics on any entry.
    pub fn apply(&mut self, entry: &Entry) -> Applied {
        crate::ops::apply(self, entry)
    }

    /// The zxid of the last applied entry (0 for a fresh tree).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// The node at `path`. As in ZooKeeper, `""` is an alias of the root
    /// (a raw client asking for `""` gets `/`).
    pub(crate) fn lookup(&self, path: &str) -> Option<&Node> {
        self.nodes.get(Self::key(path))
    }

    pub(crate) fn key(path: &str) -> &str {
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    pub(crate) fn extended(&self) -> bool {
        self.config.extended_types_enabled
    }

    pub(crate) fn check_perm(&self, acl: &[Acl], perm: i32, auth: &[Id]) -> Result<(), ErrorCode> {
        if self.config.skip_acl {
            return Ok(());
        }
        acl::check(acl, perm, auth)
    }

    fn readable(&self, path: &str, auth: &[Id]) -> Result<&Node, ErrorCode> {
        let node = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        self.check_perm(&node.acl, Perms::READ, auth)?;
        Ok(node)
    }

    /// The leader's checks of a reconfig that need the tree, as ZooKeeper's
    /// PrepRequestProcessor makes them before the change: the session is
    /// live (SessionExpired otherwise).
    pub fn check_reconfig_session(&self, session_id: i64) -> Result<(), ErrorCode> {
        if self.sessions.is_live(session_id) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    /// The last check of a reconfig: WRITE on `/zookeeper/config` (whose
    /// default ACL is world:anyone:r, so only a super user or an ACL set by
    /// one passes), NoAuth otherwise.
    pub fn check_reconfig_acl(&self, auth: &[Id]) -> Result<(), ErrorCode> {
        let node = self.lookup(CONFIG_ZOOKEEPER).ok_or(ErrorCode::NoNode)?;
        self.check_perm(&node.acl, Perms::WRITE, auth)
    }

    /// exists: no ACL check, as in ZooKeeper.
    pub fn exists(&self, path: &str) -> Option<Stat> {
        self.lookup(path).map(|n| n.client_stat(self.extended()))
    }

    /// exists with ZooKeeper's one argument check: a path containing `\0`
    /// answers BadArguments; a missing node NoNode.
    pub fn stat_node(&self, path: &str) -> Result<Stat, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        self.exists(path).ok_or(ErrorCode::NoNode)
    }

    /// getData: READ permission required.
    pub fn get_data(&self, path: &str, auth: &[Id]) -> Result<(Vec<u8>, Stat), ErrorCode> {
        let node = self.readable(path, auth)?;
        Ok((node.data().to_vec(), node.client_stat(self.extended())))
    }

    /// getChildren / getChildren2: READ permission required. Children sorted.
    pub fn get_children(&self, path: &str, auth: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        let node = self.readable(path, auth)?;
        let children = self
            .nodes
            .children_sorted(node)
            .into_iter()
            .map(|(_, child)| {
                path::split_last(child)
                    .map_or("", |(_, name)| name)
                    .to_owned()
            })
            .collect();
        Ok((children, node.client_stat(self.extended())))
    }

    /// getACL, with ZooKeeper 3.8's permission rules for it: READ or ADMIN is
    /// required; a client without ADMIN sees digest ids as `user:x`.
    pub fn get_acl(&self, path: &str, auth: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let node = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        self.check_perm(&node.acl, Perms::READ | Perms::ADMIN, auth)?;
        let stat = node.client_stat(self.extended());
        let acl = match self.check_perm(&node.acl, Perms::ADMIN, auth) {
            Ok(()) => node.acl.to_vec(),
            Err(_) => acl::redact(&node.acl),
        };
        Ok((acl, stat))
    }

    /// getEphemerals: the session's ephemeral paths under `prefix_path`, sorted.
    /// As in ZooKeeper, the prefix is a plain string prefix (`/a` also matches
    /// `/ab`), and a prefix that is blank or `/` after trimming means all.
    pub fn get_ephemerals(&self, session_id: i64, prefix_path: &str) -> Vec<String> {
        let trimmed = path::java_trim(prefix_path);
        let all = trimmed.is_empty() || trimmed == "/";
        self.sessions
            .ephemerals_of(session_id)
            .filter(|p| all || p.starts_with(prefix_path))
            .map(str::to_owned)
            .collect()
    }

    /// getAllChildrenNumber: number of descendants of `path` (not counting it).
    /// READ on the node is required. For `/` this counts `/zookeeper` and its
    /// children too, as ZooKeeper does.
    pub fn get_all_children_number(&self, path: &str, auth: &[Id]) -> Result<i32, ErrorCode> {
        let node = self.readable(path, auth)?;
        let mut count = self.count_descendants(node);
        if path.is_empty() {
            // ZooKeeper counts keys starting with "" + "/": the root too.
            count += 1;
        }
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    fn count_descendants(&self, node: &Node) -> usize {
        let mut count = 0;
        let mut stack: Vec<u32> = node.children().slots().collect();
        while let Some(slot) = stack.pop() {
            count += 1;
            if let Some(n) = self.nodes.node_at(slot) {
                stack.extend(n.children().slots());
            }
        }
        count
    }

    /// Checks `perm` on the node at `path` for `auth` (NoNode if absent, NoAuth if
    /// denied). For the server's checks on watch registration and the like.
    pub fn check_acl(&self, path: &str, perm: i32, auth: &[Id]) -> Result<(), ErrorCode> {
        let node = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        self.check_perm(&node.acl, perm, auth)
    }

    /// The ACL of the node at `path`.
    pub fn acl_of(&self, path: &str) -> Option<Vec<Acl>> {
        self.lookup(path).map(|n| n.acl.to_vec())
    }

    pub fn session(&self, session_id: i64) -> Option<&SessionInfo> {
        self.sessions.get(session_id)
    }

    /// All live sessions, in session-id order.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.sessions.all().cloned().collect()
    }

    /// Paths the container/TTL checker should propose for deletion at `now_ms`:
    /// empty containers whose cversion > 0, and TTL nodes without children whose
    /// mtime + ttl < now. Sorted; at most `limit` paths.
    ///
    /// "cversion > 0" is ZooKeeper's test on the *stored* cversion (the number
    /// of children ever created), so a container that never had a child stays.
    pub fn deletion_candidates(&self, now_ms: i64, limit: usize) -> Vec<String> {
        let mut out: Vec<String> = self
            .containers
            .iter()
            .chain(self.ttls.iter())
            .filter(|p| self.is_deletable(p, now_ms))
            .map(|p| p.to_string())
            .collect();
        out.sort();
        out.dedup();
        out.truncate(limit);
        out
    }

    /// ContainerManager's test, also re-checked when a DeleteContainer entry
    /// is applied.
    pub(crate) fn is_deletable(&self, path: &str, now_ms: i64) -> bool {
        let Some(node) = self.nodes.get(path) else {
            return false;
        };
        if !node.children().is_empty() || path::is_special(path) {
            return false;
        }
        match node.kind(self.extended()) {
            EphemeralKind::Container => node.cversion() > 0,
            EphemeralKind::Ttl(ttl) => ttl != 0 && now_ms.wrapping_sub(node.mtime()) > ttl,
            _ => false,
        }
    }

    /// Number of znodes, including `/` and the system nodes. (ZooKeeper's own
    /// `zk_znode_count` is one more: its node map holds the root twice, under
    /// `/` and under `""`.)
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Sum of path lengths and data lengths, as ZooKeeper's approximateDataSize.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// Number of ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        self.sessions.ephemeral_count()
    }

    /// Every session with ephemerals and their paths (for `dump`), sorted.
    pub fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
        self.sessions
            .ephemerals_by_session()
            .map(|(id, set)| (id, set.iter().map(|p| p.to_string()).collect()))
            .collect()
    }

    /// Every node as (path, client Stat, data, ACL), sorted by path. For tests
    /// and snapshots.
    pub fn dump(&self) -> Vec<(String, Stat, Vec<u8>, Vec<Acl>)> {
        let mut out: Vec<_> = self
            .nodes
            .iter()
            .map(|(path, node)| {
                (
                    path.to_string(),
                    node.client_stat(self.extended()),
                    node.data().to_vec(),
                    node.acl.to_vec(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Number of distinct ACL lists in use (ZooKeeper's `aclCacheSize`).
    pub fn acl_list_count(&self) -> usize {
        self.acls.len()
    }

    /// The session ids that own the ephemeral `path`'s node, or `None` for a
    /// node that is not a session ephemeral. (For the server's `wchp`-style
    /// tools and tests.)
    pub fn ephemeral_owner(&self, path: &str) -> Option<i64> {
        match self.lookup(path)?.kind(self.extended()) {
            EphemeralKind::Session(id) => Some(id),
            _ => None,
        }
    }
}
