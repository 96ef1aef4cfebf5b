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
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};

use rzk_replica::hooks::{ApplyHook, LeaderSessions, SnapshotSource};
use rzk_replica::{Member, Replica, ReplicaConfig, SnapshotMeta, Timing, WalLogStore};

use crate::ensemble::Role;
use rzk_state::snapshot_merge::{ChangesTicket, TakeStep};
use rzk_state::{Applied, DataTree, Entry, Txn};

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

    pub(crate) fn shared(&self) -> Option<Arc<Shared>> {
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

    fn encode_if_small(&self, max_bytes: usize) -> Option<Vec<u8>> {
        let shared = self.shared()?;
        let mut core = shared.core();
        let estimate = encoded_size_estimate(&core.tree);
        if estimate > max_bytes as u64 {
            return None;
        }
        let started = std::time::Instant::now();
        let mut bytes = Vec::with_capacity(estimate as usize);
        match core.tree.write_snapshot(&mut bytes) {
            Ok(_) => {
                tracing::debug!(
                    "Encoded the tree for a snapshot: {} bytes in {:?}",
                    bytes.len(),
                    started.elapsed()
                );
                // A tree small enough to encode keeps no changes: keeping
                // them costs every write a set insert and a lookup (about
                // 3% of a set's CPU on 10,000 znodes), and its next
                // snapshot is most likely encoded too. If it grew past the
                // limit by then, that one snapshot is replayed, and the
                // take there starts keeping changes again.
                core.tree.stop_tracking_changes();
                Some(bytes)
            }
            Err(e) => {
                // Writing to a Vec does not fail; replay instead if it did.
                tracing::warn!("encoding the tree for a snapshot: {e}");
                None
            }
        }
    }

    fn take_changes(&self) -> Option<ChangesTicket> {
        let shared = self.shared()?;
        let started = std::time::Instant::now();
        let ticket = shared.core().tree.take_changes();
        tracing::debug!("Took the changes for a snapshot in {:?}", started.elapsed());
        ticket
    }

    fn encode_taken(&self, ticket: ChangesTicket, max_paths: usize) -> TakeStep {
        match self.shared() {
            Some(shared) => shared.core().tree.encode_taken(ticket, max_paths),
            None => TakeStep::Lost,
        }
    }

    fn drop_taken(&self, ticket: ChangesTicket) {
        if let Some(shared) = self.shared() {
            shared.core().tree.drop_taken(ticket);
        }
    }
}

/// Roughly what `write_snapshot` writes for `tree`: paths and data
/// (ZooKeeper's approximate data size) plus each node's stat, ACL
/// reference and framing, and the sessions.
fn encoded_size_estimate(tree: &rzk_state::DataTree) -> u64 {
    const PER_NODE_BYTES: u64 = 96;
    tree.approximate_data_size()
        .saturating_add((tree.node_count() as u64).saturating_mul(PER_NODE_BYTES))
}

impl SnapshotSource for ServerHooks {
    /// A snapshot from the leader (this server fell behind its log): the
    /// whole tree is replaced. Every session of the new tree is tracked with
    /// a fresh deadline, and this server's clients are dropped, as a
    /// ZooKeeper follower drops them when it resyncs with a snapshot: they
    /// reconnect and re-send their watches with setWatches, which fires the
    /// events for whatever changed in between.
    fn install(&self, bytes: &[u8]) -> io::Result<()> {
        let Some(shared) = self.shared() else {
            return Err(io::Error::other("server not attached"));
        };
        let mut tree = tree_from_snapshot(bytes, state_config(&shared.config))?;
        // The next snapshot merges onto the file just saved for this one.
        tree.track_changes();
        let zxid = tree.last_zxid();
        shared
            .sessions()
            .track_tree_sessions(&tree, shared.clock.now_ms());
        shared.core().tree = tree;
        tracing::info!(
            "Installed a snapshot from the leader (zxid 0x{zxid:x}); reconnecting clients"
        );
        shared
            .conns()
            .close_all(&crate::control::CloseReason::LostLeader);
        Ok(())
    }
}

/// The snapshot directory under `dataDir`.
pub const SNAPSHOT_DIR_NAME: &str = "snapshots";

/// The state machine's settings from zoo.cfg (the same for the server's tree
/// and the trees snapshots are replayed onto).
pub fn state_config(config: &ServerConfig) -> rzk_state::StateConfig {
    rzk_state::StateConfig {
        extended_types_enabled: config.extended_types_enabled,
        reconfig_enabled: config.reconfig_enabled,
        enforce_quota: config.enforce_quota,
        skip_acl: config.skip_acl,
        dynamic_config: !config.ensemble.is_empty(),
    }
}

/// Reads a tree from a snapshot's state bytes.
pub fn tree_from_snapshot(bytes: &[u8], config: rzk_state::StateConfig) -> io::Result<DataTree> {
    DataTree::read_snapshot(&mut &bytes[..], config)
        .map(|(tree, _)| tree)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

/// Opens the snapshot directory and reads the newest intact snapshot into a
/// tree, if there is one (older ones are tried when the newest is damaged).
/// The file is read as a stream: a million-znode snapshot is about 200 MB
/// that would otherwise be held, and copied, while the tree is built.
pub fn load_snapshot(config: &ServerConfig) -> io::Result<Option<(SnapshotMeta, DataTree)>> {
    let dir = config.data_dir.join(SNAPSHOT_DIR_NAME);
    let store = rzk_replica::snapshot_store::SnapshotStore::open(&dir)?;
    let state_config = state_config(config);
    // `state` is buffered by the store.
    store.read_newest(|_, mut state| {
        DataTree::read_snapshot(&mut state, state_config.clone())
            .map(|(mut tree, _)| {
                // The replica's first snapshot merges onto this file.
                tree.track_changes();
                tree
            })
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    })
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
    pub voters: BTreeMap<u64, Member>,
    /// Observers the leader adds as learners.
    pub observers: BTreeMap<u64, Member>,
}

/// Builds (not yet runs) the replica this server's zoo.cfg describes, over
/// the durable log in `dataLogDir`: a standalone server is an ensemble of
/// one; with `server.N` lines, this server listens on its own peer port.
pub async fn build_replica(
    config: &ServerConfig,
    hooks: Arc<ServerHooks>,
    restored: Option<SnapshotMeta>,
) -> io::Result<Built> {
    let timing = Timing {
        tick_time_ms: config.tick_time_ms,
        init_limit_ticks: config.init_limit_ticks,
        sync_limit_ticks: config.sync_limit_ticks,
        snap_count: config.snap_count,
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
    // A standalone server has no followers to send entries to: a lone
    // writer's append may fdatasync on raft's core (see the method).
    log_store.sync_idle_appends_here(peer_listen.is_none());
    let counted = hooks.clone();
    log_store.count_requests_with(Arc::new(move || {
        counted
            .shared()
            .map_or(0, |s| s.stats.packets_received.load(Ordering::Relaxed))
    }));
    let mut replica_config = ReplicaConfig::new(
        config.my_id,
        timing,
        peer_listen,
        config.data_dir.join(SNAPSHOT_DIR_NAME),
    );
    replica_config.clock = crate::clock::wall_ms;
    // Snapshots are built by replaying the log onto a tree of their own: it
    // must decide as the server's tree does.
    replica_config.state_config = state_config(config);
    // ZooKeeper purges old snapshots only with autopurge on; so does rzk.
    replica_config.snapshot_retain_count = (config.autopurge_purge_interval_hours > 0)
        .then_some(config.autopurge_snap_retain_count as usize);
    let replica = Replica::build(
        replica_config,
        log_store,
        hooks.clone(),
        hooks.clone(),
        restored,
    )
    .await
    .map_err(|e| io::Error::other(e.to_string()))?;
    let hooks_for_reconfig = hooks.clone();
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
        voters.insert(config.my_id, Member::at(addr));
    } else {
        replica.set_leader_reconfig(Arc::new(crate::reconfig::Reconfigurer::new(
            hooks_for_reconfig,
            replica.raft().clone(),
        )));
    }
    Ok(Built {
        replica,
        voters,
        observers: ensemble.observers(),
    })
}
