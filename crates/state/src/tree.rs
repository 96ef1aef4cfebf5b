//! The znode tree. (API skeleton: bodies are filled in by the state-machine work.)

use crate::entry::{Applied, Entry};
use rzk_proto::{Acl, ErrorCode, Id, Stat};

/// Settings that change what `apply` decides. Identical on every replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// `extendedTypesEnabled`: TTL nodes allowed (otherwise createTTL and TTL
    /// create modes answer Unimplemented).
    pub extended_types_enabled: bool,
    /// `reconfigEnabled`: otherwise reconfig answers ReconfigDisabled.
    pub reconfig_enabled: bool,
    /// `zookeeper.enforceQuota` (ZooKeeper's default false): hard quota limits
    /// reject with QuotaExceeded; soft limits only warn either way.
    pub enforce_quota: bool,
    /// `zookeeper.skipACL` (default false).
    pub skip_acl: bool,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            extended_types_enabled: false,
            reconfig_enabled: false,
            enforce_quota: false,
            skip_acl: false,
        }
    }
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
    config: StateConfig,
}

impl DataTree {
    /// A fresh tree holding `/`, `/zookeeper`, `/zookeeper/quota`, `/zookeeper/config`.
    pub fn new(config: StateConfig) -> Self {
        DataTree { config }
    }

    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    /// Applies one log entry. Deterministic; never panics on any entry.
    pub fn apply(&mut self, entry: &Entry) -> Applied {
        let _ = entry;
        todo!("state machine")
    }

    /// The zxid of the last applied entry (0 for a fresh tree).
    pub fn last_zxid(&self) -> i64 {
        todo!()
    }

    /// exists: no ACL check, as in ZooKeeper.
    pub fn exists(&self, path: &str) -> Option<Stat> {
        let _ = path;
        todo!()
    }

    /// getData: READ permission required.
    pub fn get_data(&self, path: &str, auth: &[Id]) -> Result<(Vec<u8>, Stat), ErrorCode> {
        let _ = (path, auth);
        todo!()
    }

    /// getChildren / getChildren2: READ permission required. Children sorted.
    pub fn get_children(&self, path: &str, auth: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        let _ = (path, auth);
        todo!()
    }

    /// getACL, with ZooKeeper's permission rules for it.
    pub fn get_acl(&self, path: &str, auth: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let _ = (path, auth);
        todo!()
    }

    /// getEphemerals: the session's ephemeral paths under `prefix_path`, sorted.
    pub fn get_ephemerals(&self, session_id: i64, prefix_path: &str) -> Vec<String> {
        let _ = (session_id, prefix_path);
        todo!()
    }

    /// getAllChildrenNumber: number of descendants of `path` (not counting it).
    pub fn get_all_children_number(&self, path: &str, auth: &[Id]) -> Result<i32, ErrorCode> {
        let _ = (path, auth);
        todo!()
    }

    /// Checks `perm` on the node at `path` for `auth` (NoNode if absent, NoAuth if
    /// denied). For the server's checks on watch registration and the like.
    pub fn check_acl(&self, path: &str, perm: i32, auth: &[Id]) -> Result<(), ErrorCode> {
        let _ = (path, perm, auth);
        todo!()
    }

    /// The ACL of the node at `path`.
    pub fn acl_of(&self, path: &str) -> Option<Vec<Acl>> {
        let _ = path;
        todo!()
    }

    pub fn session(&self, session_id: i64) -> Option<&SessionInfo> {
        let _ = session_id;
        todo!()
    }

    /// All live sessions, in session-id order.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        todo!()
    }

    /// Paths the container/TTL checker should propose for deletion at `now_ms`:
    /// empty containers whose cversion > 0, and TTL nodes without children whose
    /// mtime + ttl < now. Sorted; at most `limit` paths.
    pub fn deletion_candidates(&self, now_ms: i64, limit: usize) -> Vec<String> {
        let _ = (now_ms, limit);
        todo!()
    }

    /// Number of znodes, including `/` and the system nodes.
    pub fn node_count(&self) -> usize {
        todo!()
    }

    /// Sum of path lengths and data lengths, as ZooKeeper's approximateDataSize.
    pub fn approximate_data_size(&self) -> u64 {
        todo!()
    }

    /// Number of ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        todo!()
    }

    /// Every session with ephemerals and their paths (for `dump`), sorted.
    pub fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
        todo!()
    }
}

/// ZooKeeper's `PathUtils.validatePath`: absolute, no trailing slash (except
/// `/`), no empty, `.` or `..` segments, no forbidden characters. For sequential
/// creates pass `sequential = true` (the trailing slash check is relaxed as in
/// ZooKeeper, since a suffix will be appended).
pub fn validate_path(path: &str, sequential: bool) -> Result<(), ErrorCode> {
    let _ = (path, sequential);
    todo!()
}
