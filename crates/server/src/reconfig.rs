//! Dynamic reconfiguration on the leader: ZooKeeper's reconfig opcode
//! carried out as an openraft membership change.
//!
//! The leader runs every reconfig request through [`Reconfigurer`] before it
//! enters the log (`rzk_replica::LeaderReconfig`), with ZooKeeper's checks in
//! ZooKeeper's order (PrepRequestProcessor): reconfigEnabled, the session,
//! no change in progress, `fromConfig`, the new member list, at least two
//! voters (with `standaloneEnabled`), a synced quorum in the new config, and
//! WRITE on `/zookeeper/config` last. Then the change goes through openraft's
//! joint consensus (`change_membership_if`, guarded by the membership the
//! checks were made against). Each membership entry that commits becomes the
//! new `/zookeeper/config` on every server (`rzk_replica::membership`), and
//! the client's own request is logged after it, to be answered with that
//! config. A refused request is logged as an error entry instead, answered
//! like any failed write.
//!
//! Participants are raft voters and observers learners. A server named in
//! a reconfig but not running yet is added all the same, as ZooKeeper adds
//! it, as long as a quorum of the new config is synced: the leader replicates
//! to it once it starts (its zoo.cfg lists the ensemble and itself).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rzk_proto::records::ReconfigRequest;
use rzk_proto::ErrorCode;
use rzk_replica::membership::{self, ChangeError, Target, View};
use rzk_replica::types::Raft;
use rzk_replica::{LeaderReconfig, Member, NodeId, ReconfigFuture};
use rzk_state::{Txn, WriteOp};
use tokio::sync::Mutex;

use crate::ensemble::{parse_server, Role, ServerSpec};
use crate::replicated::ServerHooks;

/// The leader's reconfig handling, attached to the replica of a server with
/// `server.N` lines.
pub struct Reconfigurer {
    hooks: Arc<ServerHooks>,
    raft: Raft,
    /// Held while a change runs: a second request meanwhile is refused with
    /// ReconfigInProgress, as ZooKeeper refuses one while a reconfig is
    /// uncommitted.
    running: Arc<Mutex<()>>,
}

impl Reconfigurer {
    pub fn new(hooks: Arc<ServerHooks>, raft: Raft) -> Self {
        Reconfigurer {
            hooks,
            raft,
            running: Arc::new(Mutex::new(())),
        }
    }
}

impl LeaderReconfig for Reconfigurer {
    fn reconfigure(&self, from: NodeId, txn: Txn) -> ReconfigFuture {
        let hooks = self.hooks.clone();
        let raft = self.raft.clone();
        let running = self.running.clone();
        Box::pin(async move {
            let Txn::Write {
                session_id,
                auth,
                op: WriteOp::Reconfig(request),
            } = &txn
            else {
                return txn;
            };
            let Some(shared) = hooks.shared() else {
                return txn;
            };
            if !shared.config.reconfig_enabled {
                // The state machine answers ReconfigDisabled.
                return txn;
            }
            let session_id = *session_id;
            let refuse = |err: ErrorCode, why: &str| {
                tracing::warn!(
                    "Reconfig from session 0x{session_id:x} (via server {from}) refused: {why} ({err:?})"
                );
                Txn::Error { session_id, err }
            };
            if let Err(err) = shared.core().tree.check_reconfig_session(session_id) {
                return refuse(err, "session not live");
            }
            let Ok(_running) = running.try_lock() else {
                return refuse(ErrorCode::ReconfigInProgress, "another reconfig is running");
            };
            let current = membership::view(&raft);
            if current.in_progress {
                return refuse(
                    ErrorCode::ReconfigInProgress,
                    "a membership change is not committed yet",
                );
            }
            let version = current.version;
            if request.cur_config_id != -1 && request.cur_config_id != version {
                return refuse(
                    ErrorCode::BadVersion,
                    &format!(
                        "Reconfiguration from version {:x} failed -- last seen version is {version:x}",
                        request.cur_config_id
                    ),
                );
            }
            let target = match target(&current, request) {
                Ok(t) => t,
                Err(why) => return refuse(ErrorCode::BadArguments, &why),
            };
            let min_voters = if shared.config.standalone_enabled {
                2
            } else {
                1
            };
            if target.voters.len() < min_voters {
                return refuse(
                    ErrorCode::BadArguments,
                    &format!(
                        "Reconfig failed - new configuration must include at least {min_voters} followers"
                    ),
                );
            }
            let sync_window = Duration::from_millis(
                u64::from(shared.config.tick_time_ms) * u64::from(shared.config.sync_limit_ticks),
            );
            if !membership::quorum_synced(&raft, &target.voters, sync_window) {
                return refuse(
                    ErrorCode::NewConfigNoQuorum,
                    "Reconfig failed - there must be a connected and synced quorum in new configuration",
                );
            }
            if let Err(err) = shared.core().tree.check_reconfig_acl(auth) {
                return refuse(err, "no WRITE permission on /zookeeper/config");
            }
            let timeout = Duration::from_millis(
                u64::from(shared.config.tick_time_ms)
                    * u64::from(shared.config.init_limit_ticks.max(1)),
            );
            match membership::change(&raft, &current, &target, timeout).await {
                Ok(()) => {
                    tracing::info!(
                        "Reconfig from session 0x{session_id:x} done: voters {:?}, observers {:?}",
                        target.voters,
                        target
                            .members
                            .keys()
                            .filter(|id| !target.voters.contains(id))
                            .collect::<Vec<_>>()
                    );
                    txn
                }
                Err(e) => {
                    let err = match &e {
                        ChangeError::InProgress(_) => ErrorCode::ReconfigInProgress,
                        ChangeError::Invalid(_) => ErrorCode::BadArguments,
                        ChangeError::Lost(_) => ErrorCode::ConnectionLoss,
                        ChangeError::TimedOut => ErrorCode::NewConfigNoQuorum,
                    };
                    refuse(err, &e.to_string())
                }
            }
        })
    }
}

/// The membership `request` asks for, starting from `current`: a full new
/// member list (`newMembers`), or servers leaving (`leavingServers`, ids)
/// and joining (`joiningServers`, `server.N=spec`), comma separated, as
/// ZooKeeper's reconfig takes them.
pub fn target(current: &View, request: &ReconfigRequest) -> Result<Target, String> {
    let mut specs: BTreeMap<NodeId, (Member, Role)> = BTreeMap::new();
    if let Some(members) = &request.new_members {
        for line in members.split([',', '\n']) {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("Wrong format of server string: {line}"));
            };
            let key = key.trim();
            if !key.starts_with("server.") {
                // version=, group., weight.: nothing rzk keeps.
                continue;
            }
            let spec = server_spec(key, value)?;
            specs.insert(spec.id, (member_of(&spec), spec.role));
        }
    } else {
        for (id, member) in &current.members {
            let role = if current.voters.contains(id) {
                Role::Participant
            } else {
                Role::Observer
            };
            specs.insert(*id, (member.clone(), role));
        }
        if let Some(leaving) = &request.leaving_servers {
            for id in leaving.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let id: NodeId = id
                    .parse()
                    .map_err(|_| format!("Reconfiguration failed: bad server id {id:?}"))?;
                specs.remove(&id);
            }
        }
        if let Some(joining) = &request.joining_servers {
            for joiner in joining.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let Some((key, value)) = joiner.split_once('=') else {
                    return Err("Wrong format of server string".to_string());
                };
                let spec = server_spec(key.trim(), value)?;
                if spec.client.is_none() {
                    return Err(
                        "Wrong format of server string - each server should have 3 ports specified"
                            .to_string(),
                    );
                }
                specs.insert(spec.id, (member_of(&spec), spec.role));
            }
        }
    }
    let mut seen = BTreeMap::new();
    for (id, (member, _)) in &specs {
        if let Some(other) = seen.insert(member.addr.clone(), *id) {
            return Err(format!(
                "Reconfiguration failed: servers {other} and {id} share the address {}",
                member.addr
            ));
        }
    }
    Ok(Target {
        voters: specs
            .iter()
            .filter(|(_, (_, role))| *role == Role::Participant)
            .map(|(id, _)| *id)
            .collect(),
        members: specs.into_iter().map(|(id, (m, _))| (id, m)).collect(),
    })
}

fn server_spec(key: &str, value: &str) -> Result<ServerSpec, String> {
    let id: NodeId = key
        .rsplit('.')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("Wrong format of server string: {key}"))?;
    parse_server(id, value.trim()).map_err(|e| e.to_string())
}

/// The raft member for a `server.N` spec.
pub fn member_of(spec: &ServerSpec) -> Member {
    Member {
        addr: spec.peer_address(),
        election_port: spec.election_port,
        client: spec.client.map(|c| c.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn member(n: u16) -> Member {
        Member {
            addr: format!("127.0.0.1:{}", 2000 + n),
            election_port: 3000 + n,
            client: Some(format!("127.0.0.1:{}", 2180 + n)),
        }
    }

    fn current() -> View {
        View::for_tests(
            BTreeMap::from([
                (1, member(1)),
                (2, member(2)),
                (3, member(3)),
                (4, member(4)),
            ]),
            BTreeSet::from([1, 2, 3]),
        )
    }

    fn request(joining: Option<&str>, leaving: Option<&str>, new: Option<&str>) -> ReconfigRequest {
        ReconfigRequest {
            joining_servers: joining.map(str::to_string),
            leaving_servers: leaving.map(str::to_string),
            new_members: new.map(str::to_string),
            cur_config_id: -1,
        }
    }

    #[test]
    fn incremental_changes() {
        let t = target(
            &current(),
            &request(
                Some("server.5=127.0.0.1:2005:3005:participant;127.0.0.1:2185"),
                Some("2,4"),
                None,
            ),
        )
        .unwrap();
        assert_eq!(t.voters, BTreeSet::from([1, 3, 5]));
        assert_eq!(t.members.keys().copied().collect::<Vec<_>>(), vec![1, 3, 5]);
        assert_eq!(t.members[&5], member(5));
        // An observer joining; a participant turned observer.
        let t = target(
            &current(),
            &request(
                Some("server.5=127.0.0.1:2005:3005:observer;2185,server.3=127.0.0.1:2003:3003:observer;127.0.0.1:2183"),
                None,
                None,
            ),
        )
        .unwrap();
        assert_eq!(t.voters, BTreeSet::from([1, 2]));
        assert_eq!(t.members[&5].client.as_deref(), Some("0.0.0.0:2185"));
    }

    #[test]
    fn full_member_lists_and_bad_input() {
        let t = target(
            &current(),
            &request(
                None,
                None,
                Some("server.1=127.0.0.1:2001:3001:participant;127.0.0.1:2181,server.2=127.0.0.1:2002:3002:participant;127.0.0.1:2182\nversion=100000000"),
            ),
        )
        .unwrap();
        assert_eq!(t.voters, BTreeSet::from([1, 2]));
        assert_eq!(t.members.len(), 2);
        for bad in [
            request(Some("server.5"), None, None),
            request(Some("server.5=127.0.0.1:2005:3005"), None, None),
            request(Some("server.x=127.0.0.1:2005:3005;2185"), None, None),
            request(None, Some("two"), None),
            request(Some("server.5=127.0.0.1:2001:3005;2185"), None, None),
        ] {
            assert!(target(&current(), &bad).is_err(), "{bad:?}");
        }
    }
}
