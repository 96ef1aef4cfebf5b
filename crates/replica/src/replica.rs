//! One server's replica: raft, its state machine adapter, the peer port, the
//! leader link and the proposer, started and stopped together.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::alias::SnapshotMetaOf;
use openraft::async_runtime::WatchReceiver;
use openraft::errors::{InitializeError, RaftError};
use openraft::storage::RaftLogStorage;
use rzk_state::StateConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Timing, TimingError};
use crate::hooks::{ApplyHook, LeaderSessions, LogSource, SnapshotSource};
use crate::leader_link::{self, LinkIdentity, LinkInbox, LinkTiming};
use crate::leader_watch::{self, LeaderWatch};
use crate::membership::Member;
use crate::network::{listener, PeerNetwork};
use crate::pending::Pending;
use crate::proposer::{system_wall_ms, ProposeError, Proposer, WallClock};
use crate::snapshot_store::SnapshotStore;
use crate::snapshots::Snapshots;
use crate::state_machine::StateMachine;
use crate::types::{NodeId, Raft, TypeConfig};

/// The default cluster name peers must agree on (checked in the Hello).
pub const CLUSTER_NAME_DEFAULT: &str = "rzk";

/// How one server takes part in the ensemble.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// `myid`.
    pub node_id: NodeId,
    pub cluster_name: String,
    pub timing: Timing,
    /// Where to accept peers (the `peerPort` of this server's `server.N`
    /// line). `None` for a standalone server, which has no peers.
    pub peer_listen: Option<SocketAddr>,
    /// The wall clock the leader stamps entries with.
    pub clock: WallClock,
    /// What the server's tree applies with. Snapshots are built by replaying
    /// the log onto a tree of their own, which must decide exactly as the
    /// server's does.
    pub state_config: StateConfig,
    /// Where snapshots are stored, one file each (see
    /// [`crate::snapshot_store`]).
    pub snapshot_dir: PathBuf,
    /// Snapshot files kept after each new one (ZooKeeper's
    /// `autopurge.snapRetainCount`, at least 3); `None` never deletes any,
    /// ZooKeeper's default (`autopurge.purgeInterval=0`).
    pub snapshot_retain_count: Option<usize>,
}

impl ReplicaConfig {
    pub fn new(
        node_id: NodeId,
        timing: Timing,
        peer_listen: Option<SocketAddr>,
        snapshot_dir: impl Into<PathBuf>,
    ) -> Self {
        ReplicaConfig {
            node_id,
            cluster_name: CLUSTER_NAME_DEFAULT.to_string(),
            timing,
            peer_listen,
            clock: system_wall_ms,
            state_config: StateConfig::default(),
            snapshot_dir: snapshot_dir.into(),
            snapshot_retain_count: None,
        }
    }
}

/// Why a replica could not start.
#[derive(Debug)]
pub enum StartError {
    Timing(TimingError),
    /// The peer port could not be bound.
    Bind(io::Error),
    /// openraft refused to start (its storage could not be read).
    Raft(String),
    /// The snapshot directory could not be opened.
    Snapshots(io::Error),
    /// The log does not continue where the restored snapshot ends: starting
    /// would skip the entries in between.
    LogHole(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Timing(e) => write!(f, "{e}"),
            StartError::Bind(e) => write!(f, "cannot listen on the peer port: {e}"),
            StartError::Raft(e) => write!(f, "raft did not start: {e}"),
            StartError::Snapshots(e) => write!(f, "cannot open the snapshot directory: {e}"),
            StartError::LogHole(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running replica.
pub struct Replica {
    node_id: NodeId,
    cluster_name: Arc<str>,
    running: bool,
    raft: Raft,
    pending: Arc<Pending>,
    proposer: Proposer,
    peer_addr: Option<SocketAddr>,
    /// Bound by `build`, served from `run` on.
    listener: Option<TcpListener>,
    /// Stops the peer listener and the leader link.
    stop_listener: watch::Sender<bool>,
    listener_task: Option<JoinHandle<()>>,
    /// The leader link's queue end and settings, until `run` starts it.
    link_start: Option<(LinkIdentity, LinkTiming, LinkInbox)>,
    link_task: Option<JoinHandle<()>>,
    watch_task: Option<JoinHandle<()>>,
    tick_time_ms: u64,
    snapshots: Arc<Snapshots>,
    /// How long a follower may not hear from its leader and still follow
    /// it: raft's longest election timeout, `(syncLimit + 1) × tickTime`.
    leader_silence_ms_max: u64,
}

impl Replica {
    /// Builds and starts a replica: [`Replica::build`] then [`Replica::run`].
    pub async fn start<LS>(
        config: ReplicaConfig,
        log_store: LS,
        hook: Arc<dyn ApplyHook>,
        installer: Arc<dyn SnapshotSource>,
        restored: Option<SnapshotMetaOf<TypeConfig>>,
    ) -> Result<Replica, StartError>
    where
        LS: RaftLogStorage<TypeConfig> + LogSource + Clone,
    {
        let mut replica = Replica::build(config, log_store, hook, installer, restored).await?;
        replica.run();
        Ok(replica)
    }

    /// Sets up raft over `log_store` (the in-memory [`crate::MemLogStore`]
    /// now, the durable WAL later) with the server's hooks, and binds the peer
    /// port if the config has one, but starts nothing: no entry is applied and
    /// no peer is answered until [`Replica::run`]. This lets the server build
    /// its shared state around [`Replica::proposer`] first and only then let
    /// the hooks be called, with one exception: committed entries the log
    /// holds after `restored` are applied through `hook` here, by openraft,
    /// before this returns (the state must be current before raft starts).
    ///
    /// `restored` describes the snapshot the server restored its tree from
    /// (the newest intact one in `config.snapshot_dir`), `None` when
    /// it starts from the empty tree. The log must continue where it ends
    /// (it may also start earlier); a log that starts later is refused with
    /// [`StartError::LogHole`]. The state machine reads the log through a
    /// clone of `log_store` to build snapshots.
    pub async fn build<LS>(
        config: ReplicaConfig,
        mut log_store: LS,
        hook: Arc<dyn ApplyHook>,
        installer: Arc<dyn SnapshotSource>,
        restored: Option<SnapshotMetaOf<TypeConfig>>,
    ) -> Result<Replica, StartError>
    where
        LS: RaftLogStorage<TypeConfig> + LogSource + Clone,
    {
        let raft_config = config
            .timing
            .raft_config(&config.cluster_name)
            .map_err(StartError::Timing)?;
        tracing::info!(
            policy = ?raft_config.snapshot_policy,
            dir = %config.snapshot_dir.display(),
            "snapshots"
        );
        check_log_continues(&mut log_store, restored.as_ref()).await?;
        let store = SnapshotStore::open(&config.snapshot_dir).map_err(StartError::Snapshots)?;
        let snapshots = Arc::new(Snapshots::new(
            store,
            Arc::new(log_store.clone()),
            config.state_config.clone(),
            config.snapshot_retain_count,
            restored,
        ));
        let listener = match config.peer_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(StartError::Bind)?),
            None => None,
        };
        let peer_addr = match &listener {
            Some(l) => Some(l.local_addr().map_err(StartError::Bind)?),
            None => None,
        };
        let incarnation = incarnation();
        let pending = Arc::new(Pending::new(config.node_id, incarnation));
        let state_machine = StateMachine::new(hook, installer, pending.clone(), snapshots.clone());
        let network = PeerNetwork::new(config.node_id, &config.cluster_name);
        let raft = Raft::build(
            config.node_id,
            Arc::new(raft_config),
            network,
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
        let (stop_listener, _) = watch::channel(false);
        let (link, link_inbox) = leader_link::channel();
        let link_start = (
            LinkIdentity {
                me: config.node_id,
                incarnation,
                cluster_name: config.cluster_name.as_str().into(),
            },
            LinkTiming::from_ticks(config.timing.tick_time_ms, config.timing.sync_limit_ticks),
            link_inbox,
        );
        let proposer = Proposer::new(
            config.node_id,
            raft.clone(),
            pending.clone(),
            config.clock,
            link,
        );
        Ok(Replica {
            running: false,
            node_id: config.node_id,
            cluster_name: config.cluster_name.as_str().into(),
            raft,
            pending,
            proposer,
            peer_addr,
            listener,
            stop_listener,
            listener_task: None,
            link_start: Some(link_start),
            link_task: None,
            watch_task: None,
            tick_time_ms: u64::from(config.timing.tick_time_ms),
            snapshots,
            leader_silence_ms_max: u64::from(config.timing.tick_time_ms)
                * (u64::from(config.timing.sync_limit_ticks) + 1),
        })
    }

    /// Starts raft's tasks, the peer listener and the leader link. Calling it
    /// again does nothing.
    pub fn run(&mut self) {
        if self.running {
            return;
        }
        self.running = true;
        if self.listener.is_some() {
            // An ensemble member: the leader watch lets it campaign, in its
            // turn (see `leader_watch::first_election_in_turn`).
            self.raft.runtime_config().elect(false);
        }
        self.raft.run();
        if let Some(listener) = self.listener.take() {
            let leader_watch = LeaderWatch::default();
            self.watch_task = Some(tokio::spawn(leader_watch::run(
                self.raft.clone(),
                self.node_id,
                self.tick_time_ms,
                leader_watch.clone(),
                self.stop_listener.subscribe(),
            )));
            self.listener_task = Some(tokio::spawn(listener::serve(
                listener,
                self.raft.clone(),
                self.proposer.clone(),
                self.node_id,
                self.cluster_name.clone(),
                leader_watch,
                self.stop_listener.subscribe(),
            )));
        }
        if let Some((identity, timing, inbox)) = self.link_start.take() {
            self.link_task = Some(tokio::spawn(leader_link::run(
                identity,
                timing,
                self.raft.clone(),
                self.pending.clone(),
                inbox,
                self.stop_listener.subscribe(),
            )));
        }
    }

    /// Makes `members` (server id → its spec) the initial ensemble, all
    /// voters, if this replica has no membership yet; otherwise does nothing.
    /// Every server of a new ensemble may call it with the same members (as
    /// each reads the same `server.N` lines): the initial entry is identical
    /// everywhere, and an election follows.
    pub async fn initialize(&self, members: BTreeMap<NodeId, Member>) -> Result<(), String> {
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A standalone server: an ensemble of one.
    pub async fn initialize_single(&self) -> Result<(), String> {
        let addr = self.peer_addr.map(|a| a.to_string()).unwrap_or_default();
        self.initialize(BTreeMap::from([(self.node_id, Member::at(addr))]))
            .await
    }

    /// How the snapshots built since start were made (encoded, merged,
    /// replayed).
    pub fn snapshot_builds(&self) -> crate::snapshots::BuildCounts {
        self.snapshots.build_counts()
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The bound peer address (useful when the config asked for port 0).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    pub fn proposer(&self) -> Proposer {
        self.proposer.clone()
    }

    /// Attaches the server's session tracker, whose leader-side half this
    /// replica drives (see [`LeaderSessions`]). Call it once, after build;
    /// until then activity is ignored, revalidation succeeds and proposals are
    /// admitted unchanged. A second call is ignored with a warning.
    pub fn set_leader_sessions(&self, sessions: Arc<dyn LeaderSessions>) {
        if !self.proposer.set_leader_sessions(sessions) {
            tracing::warn!("leader sessions hook attached twice; keeping the first");
        }
    }

    /// Attaches the server's reconfig handling (see
    /// [`crate::LeaderReconfig`]); a second call is ignored with a warning.
    pub fn set_leader_reconfig(&self, reconfig: Arc<dyn crate::LeaderReconfig>) {
        if !self.proposer.set_leader_reconfig(reconfig) {
            tracing::warn!("reconfig hook attached twice; keeping the first");
        }
    }

    /// See [`Proposer::report_activity`].
    pub fn report_activity(&self, sessions: Vec<i64>) {
        self.proposer.report_activity(sessions);
    }

    /// See [`Proposer::revalidate`].
    pub async fn revalidate(&self, session_id: i64, timeout_ms: i32) -> Result<bool, ProposeError> {
        self.proposer.revalidate(session_id, timeout_ms).await
    }

    /// The raft handle, for metrics and administrative calls.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Reads the replica's role, indexes and followers (for 4lw and logs).
    pub fn status_handle(&self) -> crate::status::StatusHandle {
        crate::status::StatusHandle::new(
            self.raft.clone(),
            self.proposer.leader_contact.clone(),
            self.leader_silence_ms_max,
        )
    }

    /// The leader this replica knows of (a local view, possibly stale).
    pub fn current_leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow_watched().current_leader
    }

    /// Waits until this replica knows a leader, or `timeout` passes.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<NodeId> {
        let mut metrics = self.raft.metrics();
        let wait = async {
            // Bounded by the timeout around it.
            loop {
                if let Some(leader) = metrics.borrow_watched().current_leader {
                    return Some(leader);
                }
                if metrics.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }

    /// Stops raft, the peer listener, the leader link and the leader watch.
    /// Proposals still
    /// waiting see their channel close.
    pub async fn shutdown(mut self) {
        let _ = self.stop_listener.send(true);
        for task in [self.link_task.take(), self.watch_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
            let _ = task.await;
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        if let Some(task) = self.listener_task.take() {
            task.abort();
            let _ = task.await;
        }
        self.pending.abandon_all();
    }
}

/// Refuses a log that starts after the entry following `restored` (or after
/// index 0 with no snapshot): the entries in between are in neither, and
/// starting would build every later state on a hole.
async fn check_log_continues<LS>(
    log_store: &mut LS,
    restored: Option<&SnapshotMetaOf<TypeConfig>>,
) -> Result<(), StartError>
where
    LS: RaftLogStorage<TypeConfig> + LogSource,
{
    let state = log_store
        .get_log_state()
        .await
        .map_err(|e| StartError::Raft(format!("reading the log's state: {e}")))?;
    let restored_index = restored.and_then(|m| m.last_log_id).map(|id| id.index);
    let needed = restored_index.map_or(0, |i| i.saturating_add(1));
    let first_held = state
        .last_purged_log_id
        .map_or(0, |p| p.index.saturating_add(1));
    let what = match restored_index {
        Some(i) => format!("the restored snapshot ends at index {i}"),
        None => "there is no snapshot".to_string(),
    };
    if first_held > needed {
        return Err(StartError::LogHole(format!(
            "the log starts at index {first_held} but {what}: entries {needed}..{first_held} are missing; \
             restore a snapshot covering index {} or later",
            first_held - 1
        )));
    }
    // A log reaching past the snapshot must actually hold the next entry.
    let reaches = state.last_log_id.is_some_and(|l| l.index >= needed);
    if reaches {
        if let Err(e) = log_store.read_entries(needed, needed + 1) {
            return Err(StartError::LogHole(format!(
                "{what}, and the log cannot give the next entry ({needed}): {e}"
            )));
        }
    }
    Ok(())
}

/// A number that differs between two runs of this server: the start time in
/// nanoseconds.
fn incarnation() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
