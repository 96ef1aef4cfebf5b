//! What every task of the server shares, and the locks that guard it.
//!
//! `core` (the data tree and the watch registry, together) is a std `Mutex`
//! because every critical section is short and never awaits: the sequencer
//! applies a batch, a connection serves one read. Keeping the tree and the
//! registry under one lock is what makes a read's watch registration and its
//! reply atomic with respect to the writes that could fire it.
//!
//! Lock order, when more than one is needed: `core`, then `sessions`, then
//! `read_only_sessions`, then `conns`. Most paths take one at a time.

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::conn_table::ConnTable;
use crate::log::LogHandle;
use crate::read_only::ReadOnlySessions;
use crate::session::SessionTracker;
use crate::stats::ServerStats;
use crate::watch::WatchRegistry;
use rzk_state::DataTree;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The replicated tree and the local watches, locked together.
#[derive(Debug)]
pub struct Core {
    pub tree: DataTree,
    pub watches: WatchRegistry,
}

#[derive(Debug)]
pub struct Shared {
    pub config: ServerConfig,
    pub clock: Clock,
    pub log: LogHandle,
    pub stats: Arc<ServerStats>,
    /// ZooKeeper's text trace mask (`gtmk`/`stmk`); kept for the 4lw only.
    pub trace_mask: AtomicU64,
    /// The replica's status, once the replica is built.
    pub replica_status: OnceLock<rzk_replica::status::StatusHandle>,
    /// Whether client sessions are accepted (see `role`): false until the
    /// replica knows a leader and has applied its own log after a start.
    pub serving: AtomicBool,
    /// Whether the server serves read-only (see `read_only`): no leader for
    /// a while and `readonlymode.enabled`. Never true with `serving`.
    pub read_only: AtomicBool,
    /// Set by `role` while this server is raft's leader but has not heard
    /// from a quorum for `syncLimit` ticks: it then counts as looking.
    pub quorum_lost: AtomicBool,
    core: Mutex<Core>,
    sessions: Mutex<SessionTracker>,
    read_only_sessions: Mutex<ReadOnlySessions>,
    conns: Mutex<ConnTable>,
}

/// ZooKeeper's default text trace mask (printed by `gtmk`).
pub const DEFAULT_TRACE_MASK: u64 = 306;

impl Shared {
    pub fn new(
        config: ServerConfig,
        clock: Clock,
        log: LogHandle,
        tree: DataTree,
        sessions: SessionTracker,
    ) -> Self {
        let watches = WatchRegistry::new(config.skip_acl);
        let read_only_sessions = ReadOnlySessions::new(u64::from(config.tick_time_ms.max(1)));
        Shared {
            config,
            clock,
            log,
            stats: Arc::new(ServerStats::default()),
            trace_mask: AtomicU64::new(DEFAULT_TRACE_MASK),
            replica_status: OnceLock::new(),
            serving: AtomicBool::new(true),
            read_only: AtomicBool::new(false),
            quorum_lost: AtomicBool::new(false),
            core: Mutex::new(Core { tree, watches }),
            sessions: Mutex::new(sessions),
            read_only_sessions: Mutex::new(read_only_sessions),
            conns: Mutex::new(ConnTable::default()),
        }
    }

    /// The replica's view of the ensemble (a standalone server with the
    /// in-memory sequencer reports itself as standalone).
    pub fn replica_status(&self) -> Option<rzk_replica::status::Status> {
        self.replica_status.get().map(|h| h.status())
    }

    pub fn is_serving(&self) -> bool {
        self.serving.load(Ordering::Acquire)
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    /// The role this server acts in: the replica's, except that a leader
    /// that lost its quorum (see `role`) counts as looking, so it neither
    /// expires sessions nor reports itself as leader.
    pub fn role(&self) -> rzk_replica::status::Role {
        use rzk_replica::status::Role;
        let role = self.replica_status().map_or(Role::Standalone, |s| s.role);
        if role == Role::Leader && self.quorum_lost.load(Ordering::Acquire) {
            Role::Looking
        } else {
            role
        }
    }

    /// ZooKeeper's `getState()`: `Mode:` of `srvr` and `zk_server_state`
    /// of `mntr` (`read-only` while read-only, else the role).
    pub fn server_state(&self) -> &'static str {
        if self.is_read_only() {
            "read-only"
        } else {
            self.role().as_str()
        }
    }

    /// A poisoned lock means a thread panicked mid-update; the data is still the
    /// best we have and panics are bugs we log elsewhere, so keep serving.
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn sessions(&self) -> MutexGuard<'_, SessionTracker> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn read_only_sessions(&self) -> MutexGuard<'_, ReadOnlySessions> {
        self.read_only_sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub fn conns(&self) -> MutexGuard<'_, ConnTable> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}
