//! What the server reports about replication (`srvr`, `stat`, `mntr`, role
//! change log lines), read from raft's metrics and put in ZooKeeper's terms.
//!
//! A plain snapshot of values, so the server needs no openraft types.

use std::sync::Arc;

use openraft::async_runtime::WatchReceiver;
use openraft::Instant as _;
use openraft::ServerState;

use crate::membership::Member;
use crate::types::{NodeId, Raft};

/// A server's role, as ZooKeeper names it (`Mode:` in `srvr`,
/// `zk_server_state` in `mntr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The only voter of an ensemble of one.
    Standalone,
    Leader,
    Follower,
    /// A learner: receives every entry, never votes.
    Observer,
    /// Looking for a leader (raft candidate, or a follower that knows none).
    Looking,
    /// Stopped (shut down, or a fatal storage error).
    Stopped,
}

impl Role {
    /// ZooKeeper's word for the role.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::Looking => "looking",
            Role::Stopped => "stopped",
        }
    }

    /// Whether this server orders writes itself.
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Standalone | Role::Leader)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reading of the replica's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub node_id: NodeId,
    pub role: Role,
    pub leader: Option<NodeId>,
    pub term: u64,
    /// Index of the last entry in the local log.
    pub last_log_index: Option<u64>,
    /// Index of the last entry known committed.
    pub committed_index: Option<u64>,
    /// Index of the last entry applied to the tree here.
    pub last_applied_index: Option<u64>,
    /// Last index covered by the newest snapshot.
    pub snapshot_index: Option<u64>,
    /// Last index purged from the local log: the log holds only entries
    /// after it, so a follower that lacks an entry at or below it can only
    /// catch up by a snapshot install.
    pub purged_index: Option<u64>,
    /// Voters in the effective membership (this server included).
    pub voters: usize,
    /// Learners (observers) in the effective membership.
    pub observers: usize,
    /// On the leader: followers and observers it replicates to
    /// (`zk_followers` counts both, as ZooKeeper's learner count does).
    pub followers: usize,
    /// On the leader: voting followers whose log matches the leader's
    /// commit point (`zk_synced_followers`).
    pub synced_followers: usize,
    /// This server is not in the effective membership: a reconfig removed
    /// it (its role is then `Looking`: it has no leader to serve for).
    pub removed: bool,
    /// On the leader: milliseconds since a quorum of voters last
    /// acknowledged it (openraft's `last_quorum_acked`, read at the time of
    /// this reading, so it grows while nobody answers). `None` when this
    /// server does not lead, or leads but no quorum has acknowledged it yet.
    /// A leader that is its own quorum (one voter) reads 0.
    pub quorum_acked_ms_ago: Option<u64>,
    /// Set when raft stopped on a fatal error.
    pub fatal: Option<String>,
}

/// When this server last heard from its leader: an AppendEntries
/// (heartbeats included) that raft did not refuse for a higher vote.
///
/// Why rzk keeps it: raft reports a follower's leader until a new one is
/// elected, and with pre-vote a follower cut off from the ensemble (or
/// removed from it by a reconfig) never becomes a candidate, so it would go
/// on "following" a leader it cannot hear, serving ever staler reads.
/// ZooKeeper's follower gives up on a leader silent for syncLimit ticks;
/// rzk's does the same through this.
#[derive(Debug)]
pub struct LeaderContact {
    epoch: std::time::Instant,
    /// Milliseconds after `epoch` of the last contact, plus one (0: never).
    last_ms: std::sync::atomic::AtomicU64,
}

impl Default for LeaderContact {
    fn default() -> Self {
        LeaderContact {
            epoch: std::time::Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl LeaderContact {
    /// Records a contact now.
    pub fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_ms
            .store(now + 1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Milliseconds since the last contact; `None` if there was none.
    pub fn millis_since(&self) -> Option<u64> {
        match self.last_ms.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            at => {
                let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                Some(now.saturating_sub(at - 1))
            }
        }
    }
}

/// Reads [`Status`] from a running raft; cheap to clone.
#[derive(Clone)]
pub struct StatusHandle {
    raft: Raft,
    contact: Arc<LeaderContact>,
    /// How long a follower or observer may go without hearing from its
    /// leader and still count it as its leader.
    leader_silence_ms_max: u64,
}

impl std::fmt::Debug for StatusHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusHandle").finish_non_exhaustive()
    }
}

impl StatusHandle {
    pub(crate) fn new(raft: Raft, contact: Arc<LeaderContact>, leader_silence_ms_max: u64) -> Self {
        StatusHandle {
            raft,
            contact,
            leader_silence_ms_max,
        }
    }

    /// The current status (a copy; it does not change under the caller).
    pub fn status(&self) -> Status {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let membership = m.membership_config.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let observers = membership.learner_ids().count();
        let is_voter = voters.contains(&m.id);
        // An uninitialised server has no membership yet: not removed.
        let removed =
            m.membership_config.log_id().is_some() && membership.get_node(&m.id).is_none();
        let role = match (&m.running_state, m.state) {
            (Err(_), _) | (_, ServerState::Shutdown) => Role::Stopped,
            _ if removed => Role::Looking,
            (_, ServerState::Leader) if voters.len() == 1 && observers == 0 => Role::Standalone,
            (_, ServerState::Leader) => Role::Leader,
            (_, ServerState::Candidate) => Role::Looking,
            _ if !self.hears_leader() => Role::Looking,
            (_, ServerState::Learner) if !is_voter && m.current_leader.is_some() => Role::Observer,
            (_, ServerState::Follower) if m.current_leader.is_some() => Role::Follower,
            _ => Role::Looking,
        };
        let committed_index = m.local_committed.map(|c| c.index);
        let (followers, synced_followers) = match &m.replication {
            Some(replication) => {
                let others = replication.keys().filter(|id| **id != m.id).count();
                let synced = replication
                    .iter()
                    .filter(|(id, matched)| {
                        **id != m.id
                            && voters.contains(id)
                            && matched.map(|l| l.index) >= committed_index
                    })
                    .count();
                (others, synced)
            }
            None => (0, 0),
        };
        let quorum_acked_ms_ago = match m.state {
            ServerState::Leader if voters.len() <= 1 => Some(0),
            ServerState::Leader => m
                .last_quorum_acked
                .as_ref()
                .map(|acked| u64::try_from(acked.elapsed().as_millis()).unwrap_or(u64::MAX)),
            _ => None,
        };
        Status {
            node_id: m.id,
            role,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            committed_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            voters: voters.len(),
            observers,
            followers,
            synced_followers,
            removed,
            quorum_acked_ms_ago,
            fatal: m.running_state.as_ref().err().map(|e| e.to_string()),
        }
    }

    /// Whether the leader was heard from recently enough to follow it.
    fn hears_leader(&self) -> bool {
        self.contact
            .millis_since()
            .is_some_and(|ms| ms <= self.leader_silence_ms_max)
    }

    /// On the leader: makes every server in `learners` a learner of the
    /// ensemble if it is not a member yet (zoo.cfg's observers), as long as
    /// the membership is still the initial one: once it has changed (the
    /// observers were added, or a reconfig changed the ensemble), the log's
    /// membership is the configuration and zoo.cfg's static list must not
    /// undo a reconfig. Does not wait for them to catch up. Errors name the
    /// server that could not be added.
    pub async fn ensure_learners(
        &self,
        learners: &std::collections::BTreeMap<NodeId, Member>,
    ) -> Result<(), String> {
        let missing: std::collections::BTreeMap<NodeId, Member> = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow_watched();
            let config = &m.membership_config;
            if config.log_id().is_some_and(|l| l.index > 0) {
                return Ok(());
            }
            learners
                .iter()
                .filter(|(id, _)| config.membership().get_node(id).is_none())
                .map(|(id, member)| (*id, member.clone()))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        // One entry for all of them: a leader that fails half way cannot
        // leave some added and the membership no longer initial.
        let ids: Vec<NodeId> = missing.keys().copied().collect();
        self.raft
            .change_membership(openraft::ChangeMembers::AddNodes(missing), false)
            .await
            .map_err(|e| format!("adding observers {ids:?}: {e}"))?;
        Ok(())
    }

    /// A stream of changes, for the server's role-change log lines and
    /// leader-only duties. It starts by waking on every change of raft's
    /// metrics (each write's append, commit and apply among them); see
    /// [`StatusWatch::roles_only`].
    pub fn watch(&self) -> StatusWatch {
        StatusWatch {
            handle: self.clone(),
            metrics: self.raft.metrics(),
            roles: self.raft.server_metrics(),
            roles_only: false,
        }
    }
}

/// Yields the status each time raft's metrics change.
pub struct StatusWatch {
    handle: StatusHandle,
    metrics: openraft::alias::WatchReceiverOf<
        crate::TypeConfig,
        openraft::RaftMetrics<crate::TypeConfig>,
    >,
    /// The part of the metrics that changes only with the vote, the leader,
    /// the membership and this server's raft state.
    roles: openraft::alias::WatchReceiverOf<
        crate::TypeConfig,
        openraft::metrics::RaftServerMetrics<crate::TypeConfig>,
    >,
    roles_only: bool,
}

impl StatusWatch {
    /// The next status after a change; `None` once raft has stopped.
    pub async fn next(&mut self) -> Option<Status> {
        if self.roles_only {
            self.roles.changed().await.ok()?;
        } else {
            self.metrics.changed().await.ok()?;
        }
        Some(self.handle.status())
    }

    /// From now on, wakes only when the vote, the leader, the membership or
    /// raft's state changes, not on each write's progress. For a watcher
    /// that no longer needs the log's indexes as they move (the serving gate
    /// once passed): waking it on every write woke a task, and often an idle
    /// worker thread, two or three times per write.
    pub fn roles_only(&mut self) {
        if !self.roles_only {
            self.roles_only = true;
            // Changes until now were seen through the full metrics.
            let _ = self.roles.borrow_and_update();
        }
    }
}
