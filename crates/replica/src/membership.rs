//! Ensemble members as raft knows them, and the ZooKeeper view of them:
//! `/zookeeper/config`.
//!
//! Why the membership carries ZooKeeper's whole server spec (election port,
//! client address) and not just the peer address raft dials: ZooKeeper
//! clients read the ensemble from `/zookeeper/config` (`getConfig`, Curator's
//! EnsembleTracker) and reconfig adds servers by spec. Keeping the spec in
//! raft's membership makes the config node a pure function of the membership
//! entry: every server derives the same text at the same zxid, a crash
//! between "membership changed" and "node updated" cannot exist, and a
//! snapshot built by replay derives it exactly as the live apply does.
//!
//! Voters are ZooKeeper participants; learners are observers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::raft::Precondition;
use openraft::{ChangeMembers, Instant, Membership};
use rzk_state::{Entry, Txn};
use serde::{Deserialize, Serialize};

use crate::types::{zxid_of, LogId, NodeId, Raft, TypeConfig};

/// One server of the ensemble: openraft's node type for rzk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `host:peerPort` (IPv6 hosts in brackets): where raft traffic goes.
    pub addr: String,
    /// ZooKeeper's electionPort. rzk elects over the peer port, so it is
    /// only kept to be shown in `/zookeeper/config`.
    pub election_port: u16,
    /// The client address (`ip:port`), when the server spec gives one.
    pub client: Option<String>,
}

impl Member {
    /// A member known only by its peer address (a standalone server, tests).
    pub fn at(addr: impl Into<String>) -> Member {
        Member {
            addr: addr.into(),
            election_port: 0,
            client: None,
        }
    }
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.addr)
    }
}

/// The server lines of `/zookeeper/config` for `membership`, in ZooKeeper's
/// format (`QuorumServer.toString`), one per line, ordered by id:
/// `server.N=host:peerPort:electionPort:participant|observer[;ip:clientPort]`.
pub fn server_lines(membership: &Membership<NodeId, Member>) -> String {
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let mut nodes: Vec<(&NodeId, &Member)> = membership.nodes().collect();
    nodes.sort_by_key(|(id, _)| **id);
    let mut out = String::new();
    for (id, member) in nodes {
        let role = if voters.contains(id) {
            "participant"
        } else {
            "observer"
        };
        out.push_str(&format!(
            "server.{id}={}:{}:{role}",
            member.addr, member.election_port
        ));
        if let Some(client) = &member.client {
            out.push(';');
            out.push_str(client);
        }
        out.push('\n');
    }
    out
}

/// The tree entry a membership log entry becomes: `/zookeeper/config` set to
/// its server lines at the entry's zxid. `None` for a joint membership (the
/// middle step of a change: ZooKeeper has no such state to show; the uniform
/// entry that follows is the change). The time is 0: membership entries
/// carry no leader-stamped time, and apply must not read a clock.
pub fn config_entry(log_id: &LogId, membership: &Membership<NodeId, Member>) -> Option<Entry> {
    if membership.get_joint_config().len() != 1 {
        return None;
    }
    Some(Entry {
        zxid: zxid_of(log_id),
        time_ms: 0,
        txn: Txn::SetConfig {
            servers: server_lines(membership),
        },
    })
}

/// How far behind the leader's log a server may be and still count as
/// synced for a new config's quorum (ZooKeeper counts followers that
/// finished their sync with the leader).
pub const RECONFIG_SYNC_LAG_ENTRIES_MAX: u64 = 10_000;

/// The ensemble as this server sees it, for a reconfig.
#[derive(Debug, Clone)]
pub struct View {
    pub members: BTreeMap<NodeId, Member>,
    pub voters: BTreeSet<NodeId>,
    /// The config version clients see in `/zookeeper/config`: the zxid of
    /// the membership entry.
    pub version: i64,
    /// A change is under way: a joint membership, or one not committed yet.
    pub in_progress: bool,
    log_id: Option<LogId>,
}

impl View {
    /// A settled view of `members` with `voters`, version 0 (for tests of
    /// what is computed from a view).
    pub fn for_tests(members: BTreeMap<NodeId, Member>, voters: BTreeSet<NodeId>) -> View {
        View {
            members,
            voters,
            version: 0,
            in_progress: false,
            log_id: None,
        }
    }
}

/// What a reconfig asks for: every member with its spec, and the voters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub members: BTreeMap<NodeId, Member>,
    pub voters: BTreeSet<NodeId>,
}

/// Why a membership change did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// Another change is under way or happened since the view was taken.
    InProgress(String),
    /// Raft refused the membership (e.g. no voters left).
    Invalid(String),
    /// Leadership moved or raft stopped: the change may or may not happen.
    Lost(String),
    /// The change did not commit in time; it may still.
    TimedOut,
}

impl std::fmt::Display for ChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeError::InProgress(e) | ChangeError::Invalid(e) | ChangeError::Lost(e) => {
                f.write_str(e)
            }
            ChangeError::TimedOut => f.write_str("the new configuration did not commit in time"),
        }
    }
}

/// The current membership, from raft's metrics.
pub fn view(raft: &Raft) -> View {
    let metrics = raft.metrics();
    let m = metrics.borrow_watched();
    let config = &m.membership_config;
    let membership = config.membership();
    View {
        members: membership
            .nodes()
            .map(|(id, member)| (*id, member.clone()))
            .collect(),
        voters: membership.voter_ids().collect(),
        version: config.log_id().as_ref().map_or(0, zxid_of),
        in_progress: membership.get_joint_config().len() != 1
            || m.committed_membership_config.log_id() != config.log_id(),
        log_id: *config.log_id(),
    }
}

/// On the leader: whether a majority of `voters` is this server or servers
/// that acked within `window` and are at most
/// [`RECONFIG_SYNC_LAG_ENTRIES_MAX`] entries behind its log (ZooKeeper's
/// "connected and synced quorum in the new configuration").
pub fn quorum_synced(raft: &Raft, voters: &BTreeSet<NodeId>, window: Duration) -> bool {
    let metrics = raft.metrics();
    let m = metrics.borrow_watched();
    let last = m.last_log_index.unwrap_or(0);
    let synced = voters
        .iter()
        .filter(|id| {
            if **id == m.id {
                return true;
            }
            let caught_up = m
                .replication
                .as_ref()
                .and_then(|r| r.get(id).cloned().flatten())
                .is_some_and(|l| l.index.saturating_add(RECONFIG_SYNC_LAG_ENTRIES_MAX) >= last);
            let recent = m
                .heartbeat
                .as_ref()
                .and_then(|h| h.get(id).cloned().flatten())
                .is_some_and(|at| at.elapsed() <= window);
            caught_up && recent
        })
        .count();
    synced * 2 > voters.len()
}

/// On the leader: changes the membership from `from` (which the caller's
/// checks were made against; a change in between fails) to `target`,
/// through joint consensus when voters change. Returns once the new
/// membership has committed, or `timeout` passes.
pub async fn change(
    raft: &Raft,
    from: &View,
    target: &Target,
    timeout: Duration,
) -> Result<(), ChangeError> {
    // Voters leaving keep their node through the joint step (raft needs
    // them there); raft drops them once the change is uniform.
    let mut nodes = target.members.clone();
    for id in &from.voters {
        if let Some(member) = from.members.get(id) {
            nodes.entry(*id).or_insert_with(|| member.clone());
        }
    }
    let demoted: BTreeMap<NodeId, Member> = target
        .members
        .iter()
        .filter(|(id, _)| from.voters.contains(id) && !target.voters.contains(id))
        .map(|(id, m)| (*id, m.clone()))
        .collect();
    let changes = ChangeMembers::Batch(vec![
        ChangeMembers::ReplaceAllNodes(nodes),
        ChangeMembers::ReplaceAllVoters(target.voters.clone()),
    ]);
    let preconditions = [Precondition::LastMembershipLogId {
        last_membership_log_id: from.log_id,
    }];
    bounded(
        timeout,
        raft.change_membership_if(changes, false, preconditions),
    )
    .await?;
    if !demoted.is_empty() {
        // A participant staying on as an observer: raft removed it with
        // the other former voters; it comes back as a learner.
        bounded(
            timeout,
            raft.change_membership(ChangeMembers::AddNodes(demoted), false),
        )
        .await?;
    }
    Ok(())
}

async fn bounded<T>(
    timeout: Duration,
    change: impl std::future::Future<
        Output = Result<T, RaftError<TypeConfig, ClientWriteError<TypeConfig>>>,
    >,
) -> Result<(), ChangeError> {
    match tokio::time::timeout(timeout, change).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(RaftError::APIError(e))) => Err(match e {
            ClientWriteError::ChangeMembershipError(ChangeMembershipError::InProgress(e)) => {
                ChangeError::InProgress(e.to_string())
            }
            ClientWriteError::PreconditionFailed(e) => ChangeError::InProgress(e.to_string()),
            ClientWriteError::ChangeMembershipError(e) => ChangeError::Invalid(e.to_string()),
            other => ChangeError::Lost(other.to_string()),
        }),
        Ok(Err(e)) => Err(ChangeError::Lost(e.to_string())),
        Err(_) => Err(ChangeError::TimedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(port: u16, client: Option<&str>) -> Member {
        Member {
            addr: format!("127.0.0.1:{port}"),
            election_port: port + 1000,
            client: client.map(str::to_string),
        }
    }

    #[test]
    fn lines_follow_zookeeper_and_roles_follow_votes() {
        let nodes = BTreeMap::from([
            (3, member(2003, Some("127.0.0.1:2183"))),
            (1, member(2001, Some("0.0.0.0:2181"))),
            (2, member(2002, None)),
        ]);
        let m = Membership::new(vec![BTreeSet::from([1, 2])], nodes).unwrap();
        assert_eq!(
            server_lines(&m),
            "server.1=127.0.0.1:2001:3001:participant;0.0.0.0:2181\n\
             server.2=127.0.0.1:2002:3002:participant\n\
             server.3=127.0.0.1:2003:3003:observer;127.0.0.1:2183\n"
        );
    }

    #[test]
    fn only_uniform_memberships_become_config_entries() {
        let nodes = BTreeMap::from([(1, member(1, None)), (2, member(2, None))]);
        let joint = Membership::new(
            vec![BTreeSet::from([1]), BTreeSet::from([1, 2])],
            nodes.clone(),
        )
        .unwrap();
        let log_id = LogId::new(
            openraft::alias::CommittedLeaderIdOf::<crate::types::TypeConfig>::new(2),
            9,
        );
        assert!(config_entry(&log_id, &joint).is_none());
        let uniform = Membership::new(vec![BTreeSet::from([1, 2])], nodes).unwrap();
        let entry = config_entry(&log_id, &uniform).unwrap();
        assert_eq!(entry.zxid, 9);
        assert!(matches!(entry.txn, Txn::SetConfig { .. }));
    }
}
