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

use rzk_replica::hooks::{ApplyHook, SnapshotSource};
use rzk_replica::{MemLogStore, Replica, ReplicaConfig, Timing};
use rzk_state::{Applied, Entry};

use crate::config::ServerConfig;
use crate::log::{apply_entry, end_sessions};
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
        let mut ended = Vec::new();
        {
            let mut core = shared.core();
            for entry in batch {
                out.push(apply_entry(&mut core, entry, &mut ended));
            }
        }
        end_sessions(&shared, ended);
        out
    }
}

impl SnapshotSource for ServerHooks {
    // Not wired yet: with snapCount 0 (below) no snapshot is built, the log is
    // never compacted, and a joining server gets entries.
    fn install(&self, _bytes: &[u8]) -> io::Result<()> {
        Err(io::Error::other("snapshots are not implemented yet"))
    }
}

/// `host:peerPort` of a `server.N=host:peerPort:electionPort[:role][;client]` value.
fn peer_address(value: &str) -> Option<String> {
    let spec = value.split(';').next()?;
    let mut parts = spec.split(':');
    let host = parts.next()?.trim();
    let port: u16 = parts.next()?.trim().parse().ok()?;
    Some(format!("{host}:{port}"))
}

/// Builds (not yet runs) the replica this server's zoo.cfg describes: a
/// standalone server is an ensemble of one; with `server.N` lines, this
/// server listens on its own peer port. Returns the members to initialise.
pub async fn build_replica(
    config: &ServerConfig,
    hooks: Arc<ServerHooks>,
) -> io::Result<(Replica, BTreeMap<u64, String>)> {
    let timing = Timing {
        tick_time_ms: config.tick_time_ms,
        init_limit_ticks: config.init_limit_ticks,
        sync_limit_ticks: config.sync_limit_ticks,
        snap_count: 0,
    };
    let mut members = BTreeMap::new();
    for (id, value) in &config.servers {
        let addr = peer_address(value).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("server.{id}={value}: expected host:peerPort:electionPort"),
            )
        })?;
        members.insert(*id, addr);
    }
    let peer_listen: Option<SocketAddr> = match members.get(&config.my_id) {
        Some(addr) => addr.to_socket_addrs()?.next(),
        None if members.is_empty() => None,
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("myid {} has no server.{} line", config.my_id, config.my_id),
            ))
        }
    };
    let snapshot_dir = config.data_dir.join("snapshots");
    let mut replica_config = ReplicaConfig::new(config.my_id, timing, peer_listen, snapshot_dir);
    replica_config.clock = crate::clock::wall_ms;
    // Snapshots are built by replaying the log onto a tree of their own: it
    // must decide as the server's tree does (server::bind builds it alike).
    replica_config.state_config = rzk_state::StateConfig {
        extended_types_enabled: config.extended_types_enabled,
        reconfig_enabled: config.reconfig_enabled,
        enforce_quota: config.enforce_quota,
        skip_acl: config.skip_acl,
    };
    // Nothing persists yet (in-memory log): always start from the empty tree.
    let replica = Replica::build(
        replica_config,
        MemLogStore::new(),
        hooks.clone(),
        hooks,
        None,
    )
    .await
    .map_err(|e| io::Error::other(e.to_string()))?;
    if members.is_empty() {
        let addr = replica
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        members.insert(config.my_id, addr);
    }
    Ok((replica, members))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_address_from_server_lines() {
        assert_eq!(peer_address("zk1:2888:3888").as_deref(), Some("zk1:2888"));
        assert_eq!(
            peer_address("10.0.0.1:2888:3888:participant;0.0.0.0:2181").as_deref(),
            Some("10.0.0.1:2888")
        );
        assert_eq!(peer_address("zk1"), None);
        assert_eq!(peer_address("zk1:x:3888"), None);
    }
}
