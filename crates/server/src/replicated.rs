//! The server's side of replication (`replication=raft` in zoo.cfg): the hooks
//! through which `rzk-replica` applies committed entries, and starting the
//! replica from zoo.cfg.
//!
//! Applying an entry here does what the local sequencer does
//! ([`crate::log::run_sequencer`]): apply under the core lock, queue watch
//! events on the spot, then drop the sessions the entries ended. The replica
//! releases each proposer's reply only after [`ServerHooks::apply`] returns,
//! so events still precede replies.

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock, Weak};

use rzk_replica::hooks::{ApplyHook, LeaderSessions, SnapshotJob, SnapshotSource};
use rzk_replica::{Replica, ReplicaConfig, Timing, WalLogStore};

use crate::ensemble::Role;
use rzk_state::{Applied, Entry, Txn};

use crate::config::ServerConfig;
use crate::log::{apply_entry, settle_sessions, SessionEvents};
use crate::shared::Shared;

/// The hooks, attached to the server's shared state once it exists (the
/// shared state holds the proposer, which needs the replica, which needs the
/// hooks: [`Replica::build`] first, then [`ServerHooks::attach`], then
/// [`Replica::run`]).
#[derive(Debug, Default)]
pub struct ServerHooks {
    shared: OnceLock<Weak<Shared>>,
}

impl ServerHooks {
    pub fn attach(&self, shared: &Arc<Shared>) {
        let _ = self.shared.set(Arc::downgrade(shared));
    }

    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.get().and_then(Weak::upgrade)
    }
}

impl ApplyHook for ServerHooks {
    fn apply(&self, batch: &[Entry]) -> Vec<Applied> {
        let Some(shared) = self.shared() else {
            // Only during shutdown (the server is gone); nobody waits.
            return batch
                .iter()
                .map(|e| Applied {
                    zxid: e.zxid,
                    reply: rzk_state::Reply::error(rzk_proto::ErrorCode::Ok),
                    triggers: Vec::new(),
                    ended_session: None,
                    warnings: Vec::new(),
                })
                .collect();
        };
        let mut out = Vec::with_capacity(batch.len());
        let mut sessions = SessionEvents::default();
        {
            let mut core = shared.core();
            for entry in batch {
                out.push(apply_entry(&mut core, entry, &mut sessions));
            }
        }
        settle_sessions(&shared, sessions);
        out
    }
}

impl SnapshotSource for ServerHooks {
    // The state crate's snapshot format is not there yet; with snapCount 0
    // (below) raft never asks for one, and a joining server gets entries.
    fn freeze(&self) -> SnapshotJob {
        Box::new(|| Err(io::Error::other("snapshots are not implemented yet")))
    }

    fn install(&self, _bytes: &[u8]) -> io::Result<()> {
        Err(io::Error::other("snapshots are not implemented yet"))
    }
}

/// The leader's session tracker, as the replica reaches it: activity
/// reported by followers, revalidation of sessions that reconnected to
/// them, and the owner check on every proposal.
impl LeaderSessions for ServerHooks {
    fn touched(&self, _from: u64, sessions: &[i64]) {
        let Some(shared) = self.shared() else { return };
        let now_ms = shared.clock.now_ms();
        let mut tracker = shared.sessions();
        for id in sessions {
            tracker.touch(*id, now_ms);
        }
    }

    fn revalidate(&self, from: u64, session_id: i64, timeout_ms: i32) -> bool {
        let Some(shared) = self.shared() else {
            return false;
        };
        let now_ms = shared.clock.now_ms();
        let timeout_ms = u64::try_from(timeout_ms).unwrap_or(0);
        let mut tracker = shared.sessions();
        let live = tracker.revalidate(session_id, timeout_ms, now_ms);
        if live {
            tracker.set_owner(session_id, from);
        }
        live
    }

    fn admit(&self, from: u64, txn: Txn) -> Txn {
        let Some(shared) = self.shared() else {
            return txn;
        };
        match &txn {
            Txn::CreateSession { session_id, .. } => {
                shared.sessions().set_owner(*session_id, from);
                txn
            }
            Txn::Write { session_id, .. } | Txn::CloseSession { session_id } => {
                let session_id = *session_id;
                if shared.sessions().check_owner(session_id, from) {
                    txn
                } else {
                    tracing::info!(
                        "Session 0x{session_id:x} moved away from server {from}: its request is answered SessionMoved"
                    );
                    Txn::Error {
                        session_id,
                        err: rzk_proto::ErrorCode::SessionMoved,
                    }
                }
            }
            _ => txn,
        }
    }
}

/// The raft log's directory under `dataLogDir`.
pub const LOG_DIR_NAME: &str = "raft-log";

/// A replica built from zoo.cfg, not yet running.
pub struct Built {
    pub replica: Replica,
    /// Voters of a new ensemble (server id -> peer address), for
    /// `Replica::initialize`; empty for an observer, which never initialises.
    pub voters: BTreeMap<u64, String>,
    /// Observers the leader adds as learners.
    pub observers: BTreeMap<u64, String>,
}

/// Builds (not yet runs) the replica this server's zoo.cfg describes, over
/// the durable log in `dataLogDir`: a standalone server is an ensemble of
/// one; with `server.N` lines, this server listens on its own peer port.
pub async fn build_replica(config: &ServerConfig, hooks: Arc<ServerHooks>) -> io::Result<Built> {
    let timing = Timing {
        tick_time_ms: config.tick_time_ms,
        init_limit_ticks: config.init_limit_ticks,
        sync_limit_ticks: config.sync_limit_ticks,
        snap_count: 0,
    };
    let ensemble = &config.ensemble;
    let me = ensemble.get(config.my_id);
    let peer_listen: Option<SocketAddr> = match me {
        Some(spec) => Some(
            (spec.host.as_str(), spec.peer_port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("server.{}: {} resolves to no address", spec.id, spec.host),
                    )
                })?,
        ),
        None => None,
    };
    let log_dir = config.data_log_dir.join(LOG_DIR_NAME);
    let (log_store, report) = WalLogStore::open(&log_dir).map_err(io::Error::from)?;
    tracing::info!("Raft log {}: {report}", log_dir.display());
    let mut replica_config = ReplicaConfig::new(config.my_id, timing, peer_listen);
    replica_config.clock = crate::clock::wall_ms;
    let replica = Replica::build(replica_config, log_store, hooks.clone(), hooks.clone())
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    replica.set_leader_sessions(hooks);
    let observer = me.is_some_and(|s| s.role == Role::Observer)
        || (me.is_none() && config.peer_type == Role::Observer);
    let mut voters = if observer {
        BTreeMap::new()
    } else {
        ensemble.voters()
    };
    if ensemble.is_empty() {
        let addr = replica
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        voters.insert(config.my_id, addr);
    }
    Ok(Built {
        replica,
        voters,
        observers: ensemble.observers(),
    })
}
