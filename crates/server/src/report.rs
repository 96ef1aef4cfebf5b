//! What the monitoring commands report, computed once and rendered three
//! ways: as four-letter-word text ([`crate::fourlw`]), as the admin server's
//! JSON ([`crate::admin`]) and as Prometheus gauges ([`crate::metrics`]).
//!
//! Why a separate module: ZooKeeper keeps two code paths (`FourLetterCommand`
//! and `admin.Commands`) that drift apart; here each value is read in one
//! place, so `mntr` over the client port, `/commands/monitor` and `/metrics`
//! cannot disagree about what `znode_count` means. Nothing here formats text
//! or JSON; the renderers do.

use crate::config::ServerConfig;
use crate::conn_table::ConnEntry;
use crate::shared::Shared;
use crate::stats::{java_double, Latency};
use crate::watch::ConnId;
use rzk_replica::status::{Role, Status};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

/// What rzk reports as its ZooKeeper version: ZooKeeper's protocol level it
/// implements, then rzk's own version, in the `X.Y.Z-..., built on ...` shape
/// tools parse.
pub const VERSION: &str = concat!(
    "3.8.0-rzk-",
    env!("CARGO_PKG_VERSION"),
    ", built on unknown"
);

/// One reported value. `mntr` prints every kind as text; JSON and Prometheus
/// need to know which values are numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Double(f64),
    Text(String),
}

impl Value {
    /// As `mntr` prints it (a double the way Java prints one).
    pub fn to_text(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Double(v) => java_double(*v),
            Value::Text(v) => v.clone(),
        }
    }

    /// The number a Prometheus gauge carries; `None` for text.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::Double(v) => Some(*v),
            Value::Text(_) => None,
        }
    }
}

fn int(v: impl TryInto<i64>) -> Value {
    Value::Int(v.try_into().unwrap_or(i64::MAX))
}

/// ZooKeeper's average latency: a double rounded to 4 decimals.
fn avg_latency(latency: &Latency) -> f64 {
    if latency.count == 0 {
        return 0.0;
    }
    let avg = latency.total_ms as f64 / latency.count as f64;
    (avg * 10_000.0).round() / 10_000.0
}

/// ZooKeeper's node count includes the root twice (its node map holds it under
/// both "" and "/"), so a fresh server reports 5. rzk reports the same number so
/// that monitoring compares equal.
fn zookeeper_node_count(nodes: usize) -> usize {
    nodes + 1
}

/// `srvr` / `server_stats` (and the head of `stat` / `stats`).
#[derive(Debug, Clone)]
pub struct ServerStats {
    pub read_only: bool,
    pub server_state: &'static str,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub uptime_ms: u64,
    pub latency: Latency,
    pub connections: usize,
    pub outstanding: usize,
    pub last_zxid: i64,
    pub node_count: usize,
    pub auth_failed: u64,
}

impl ServerStats {
    pub fn avg_latency(&self) -> f64 {
        avg_latency(&self.latency)
    }
}

/// Reads the server-wide counters; `conns` is the connection table read once
/// by the caller (who may also list the connections).
pub fn server_stats(shared: &Shared, conns: &[(ConnId, ConnEntry)]) -> ServerStats {
    let (last_zxid, node_count) = {
        let core = shared.core();
        (
            core.tree.last_zxid(),
            zookeeper_node_count(core.tree.node_count()),
        )
    };
    ServerStats {
        read_only: shared.is_read_only(),
        server_state: shared.server_state(),
        packets_received: shared.stats.packets_received.load(Relaxed),
        packets_sent: shared.stats.packets_sent.load(Relaxed),
        uptime_ms: shared.clock.now_ms(),
        latency: shared.stats.latency(),
        connections: conns.len(),
        outstanding: outstanding(conns),
        last_zxid,
        node_count,
        auth_failed: shared.stats.auth_failures.load(Relaxed),
    }
}

fn outstanding(conns: &[(ConnId, ConnEntry)]) -> usize {
    conns
        .iter()
        .map(|(_, e)| e.stats.outstanding.load(Relaxed))
        .sum()
}

/// One connection of `cons` / `connections` (ZooKeeper's
/// `ServerCnxn.getConnectionInfo`).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    /// Came in on `secureClientPort`.
    pub secure: bool,
    /// ZooKeeper shows the asking connection with interest ops 0 (its
    /// selection key is cancelled while it answers), every other with 1.
    pub interest_ops: u8,
    pub outstanding: usize,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// Present once the connection has a session.
    pub session: Option<SessionInfo>,
}

/// The session part of [`ConnectionInfo`].
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub session_id: i64,
    pub last_operation: &'static str,
    pub established_wall_ms: i64,
    pub timeout_ms: i32,
    /// -1 until the first request with a client xid.
    pub last_cxid: i64,
    pub last_zxid: i64,
    pub last_response_ms: u64,
    pub last_latency_ms: u64,
    pub latency: Latency,
}

pub fn connection_info(entry: &ConnEntry, is_self: bool) -> ConnectionInfo {
    let s = &entry.stats;
    let session_id = s.session_id.load(Relaxed);
    let session = (session_id != 0).then(|| SessionInfo {
        session_id,
        last_operation: s.last_op(),
        established_wall_ms: s.established_wall_ms.load(Relaxed),
        timeout_ms: s.timeout_ms.load(Relaxed),
        last_cxid: s.last_cxid.load(Relaxed),
        last_zxid: s.last_zxid.load(Relaxed),
        last_response_ms: s.last_response_ms.load(Relaxed),
        last_latency_ms: s.last_latency_ms.load(Relaxed),
        latency: s.latency(),
    });
    ConnectionInfo {
        peer: entry.peer,
        secure: entry.port == crate::transport::Port::Secure,
        interest_ops: if is_self { 0 } else { 1 },
        outstanding: s.outstanding.load(Relaxed),
        packets_received: s.packets_received.load(Relaxed),
        packets_sent: s.packets_sent.load(Relaxed),
        session,
    }
}

/// Every open connection, oldest first; `asking` is the connection that
/// asked (none for the admin server).
pub fn connections(conns: &[(ConnId, ConnEntry)], asking: Option<ConnId>) -> Vec<ConnectionInfo> {
    conns
        .iter()
        .map(|(id, entry)| connection_info(entry, Some(*id) == asking))
        .collect()
}

/// `conf` / `configuration` (`ZooKeeperServer.dumpConf`).
#[derive(Debug, Clone)]
pub struct Conf {
    pub client_port: u16,
    /// -1 without `secureClientPort`, as ZooKeeper prints it.
    pub secure_client_port: i32,
    pub data_dir: String,
    pub data_dir_size: u64,
    pub data_log_dir: String,
    pub data_log_size: u64,
    pub tick_time_ms: u32,
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub client_port_listen_backlog: i32,
    pub server_id: u64,
}

pub fn conf(config: &ServerConfig) -> Conf {
    Conf {
        client_port: config.client_port,
        secure_client_port: config.secure_client_port.map_or(-1, i32::from),
        data_dir: absolute(&config.data_dir),
        data_dir_size: dir_size(&config.data_dir),
        data_log_dir: absolute(&config.data_log_dir),
        data_log_size: dir_size(&config.data_log_dir),
        tick_time_ms: config.tick_time_ms,
        max_client_cnxns: config.max_client_cnxns_per_ip,
        min_session_timeout_ms: config.min_session_timeout_ms,
        max_session_timeout_ms: config.max_session_timeout_ms,
        client_port_listen_backlog: config.client_port_listen_backlog,
        server_id: config.my_id,
    }
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// `dirs`: bytes under the data and log directories.
pub fn dirs(config: &ServerConfig) -> (u64, u64) {
    (dir_size(&config.data_dir), dir_size(&config.data_log_dir))
}

/// Bytes of the regular files under `dir`, visiting at most
/// [`crate::limits::DIR_SIZE_FILES_MAX`] entries (a loop with an explicit
/// stack, no recursion).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    let mut visited = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > crate::limits::DIR_SIZE_FILES_MAX {
                return total;
            }
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total = total.saturating_add(m.len()),
                Err(_) => {}
            }
        }
    }
    total
}

/// `envi` / `environment`: ZooKeeper lists JVM properties; rzk lists the same
/// keys that make sense for a native process, in ZooKeeper's order.
pub fn environment() -> Vec<(&'static str, String)> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        other => other,
    };
    let host = Some(read("/proc/sys/kernel/hostname"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let os_name = match std::env::consts::OS {
        "linux" => "Linux".to_string(),
        other => other.to_string(),
    };
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    vec![
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host),
        ("rzk.version", env!("CARGO_PKG_VERSION").to_string()),
        ("os.name", os_name),
        ("os.arch", arch.to_string()),
        ("os.version", read("/proc/sys/kernel/osrelease")),
        ("user.name", env("USER")),
        ("user.home", env("HOME")),
        ("user.dir", cwd),
    ]
}

/// `dump`: session deadlines, ephemerals by session, connection deadlines.
/// Deadlines are the server's monotonic milliseconds (see [`crate::clock`]).
#[derive(Debug, Clone)]
pub struct Dump {
    pub sessions: usize,
    pub session_expiry: Vec<(u64, Vec<i64>)>,
    pub ephemerals: Vec<(i64, Vec<String>)>,
    pub connections: usize,
    /// Deadline → (peer, session id) of each connection expiring then.
    pub connection_expiry: BTreeMap<u64, Vec<(SocketAddr, i64)>>,
}

pub fn dump(shared: &Shared) -> Dump {
    let (sessions, session_expiry) = {
        let tracker = shared.sessions();
        (tracker.len(), tracker.expiry_buckets())
    };
    let ephemerals = shared.core().tree.ephemerals_by_session();
    // ZooKeeper's connection expiry queue: last activity plus the session
    // timeout (the sessionless timeout before a handshake), rounded up to the
    // sessionless interval.
    let interval = crate::limits::SESSIONLESS_CONNECTION_TIMEOUT_MS;
    let conns = shared.conns().entries();
    let mut connection_expiry: BTreeMap<u64, Vec<(SocketAddr, i64)>> = BTreeMap::new();
    for (_, entry) in &conns {
        let s = &entry.stats;
        let timeout = match s.timeout_ms.load(Relaxed) {
            t if t > 0 => t as u64,
            _ => interval,
        };
        let deadline =
            (s.last_activity_ms.load(Relaxed) + timeout) / interval * interval + interval;
        connection_expiry
            .entry(deadline)
            .or_default()
            .push((entry.peer, s.session_id.load(Relaxed)));
    }
    Dump {
        sessions,
        session_expiry,
        ephemerals,
        connections: conns.len(),
        connection_expiry,
    }
}

/// `mntr` / `monitor`: ZooKeeper's key names (without `mntr`'s `zk_`
/// prefix), in `mntr`'s order. Every numeric entry is also a Prometheus
/// gauge of the same name.
pub fn monitor(shared: &Shared) -> Vec<(&'static str, Value)> {
    let conns = shared.conns().entries();
    let (ephemerals, nodes, data_size, watches) = {
        let core = shared.core();
        (
            core.tree.ephemeral_count(),
            zookeeper_node_count(core.tree.node_count()),
            core.tree.approximate_data_size(),
            core.watches.total_count(),
        )
    };
    let sessions = shared.sessions().len();
    let latency = shared.stats.latency();
    let stats = &shared.stats;
    let mut out = vec![
        ("version", Value::Text(VERSION.to_string())),
        (
            "server_state",
            Value::Text(shared.server_state().to_string()),
        ),
        ("ephemerals_count", int(ephemerals)),
        ("num_alive_connections", int(conns.len())),
        ("avg_latency", Value::Double(avg_latency(&latency))),
        ("outstanding_requests", int(outstanding(&conns))),
        ("znode_count", int(nodes)),
        ("global_sessions", int(sessions)),
        ("non_mtls_remote_conn_count", Value::Int(0)),
        ("packets_sent", int(stats.packets_sent.load(Relaxed))),
        (
            "packets_received",
            int(stats.packets_received.load(Relaxed)),
        ),
        ("connection_drop_probability", Value::Double(0.0)),
        ("watch_count", int(watches)),
        ("auth_failed_count", int(stats.auth_failures.load(Relaxed))),
        ("min_latency", int(latency.min_ms)),
        ("max_latency", int(latency.max_ms)),
        ("max_file_descriptor_count", Value::Int(max_fds())),
        ("approximate_data_size", int(data_size)),
        ("open_file_descriptor_count", Value::Int(open_fds())),
        ("local_sessions", int(shared.read_only_sessions().len())),
        ("uptime", int(shared.clock.now_ms())),
        ("outstanding_tls_handshake", Value::Int(0)),
    ];
    if let Some(mut status) = shared.replica_status() {
        // A leader without its quorum reports as looking (see `role`).
        status.role = shared.role();
        replication(&status, shared, &mut out);
    }
    out
}

/// The ensemble part of `mntr`: ZooKeeper 3.8's quorum gauges (`peer_state`,
/// `quorum_size`, and on the leader `learners`, `synced_followers`,
/// `synced_non_voting_followers`, `synced_observers`, `pending_syncs`), the
/// 3.4-era `followers` that older dashboards read, and rzk's raft positions.
fn replication(status: &Status, shared: &Shared, out: &mut Vec<(&'static str, Value)>) {
    if status.role != Role::Standalone {
        let peer_state = match status.role {
            Role::Leader => "leading - broadcast",
            Role::Follower => "following - broadcast",
            Role::Observer => "observing - broadcast",
            _ => "looking",
        };
        out.push(("peer_state", Value::Text(peer_state.to_string())));
        out.push(("quorum_size", int(status.voters)));
    }
    if status.role == Role::Leader {
        let observers = status
            .followers
            .saturating_sub(status.voters.saturating_sub(1));
        out.push(("learners", int(status.followers)));
        out.push(("followers", int(status.followers)));
        out.push(("synced_followers", int(status.synced_followers)));
        out.push(("synced_non_voting_followers", Value::Int(0)));
        out.push(("synced_observers", int(observers)));
        out.push((
            "pending_syncs",
            int(shared.stats.pending_syncs.load(Relaxed)),
        ));
    }
    let index = |i: Option<u64>| i.map_or(Value::Int(-1), int);
    out.push(("last_log_index", index(status.last_log_index)));
    out.push(("commit_index", index(status.committed_index)));
    out.push(("last_applied_index", index(status.last_applied_index)));
    out.push(("last_snapshot_index", index(status.snapshot_index)));
    out.push(("last_purged_index", index(status.purged_index)));
}

fn open_fds() -> i64 {
    std::fs::read_dir("/proc/self/fd").map_or(-1, |d| d.count() as i64)
}

fn max_fds() -> i64 {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return -1;
    };
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// `lead` / `leader`: whether this server leads and who does. `None` for a
/// standalone server (ZooKeeper answers "server is not initialized" there).
#[derive(Debug, Clone)]
pub struct Leader {
    pub is_leader: bool,
    /// -1 while no leader is known, as ZooKeeper's `getLeaderId`.
    pub leader_id: i64,
    /// The leader's quorum address `host:port`, empty while unknown.
    pub leader_ip: String,
}

pub fn leader(shared: &Shared) -> Option<Leader> {
    let status = shared.replica_status()?;
    if shared.config.ensemble.is_empty() || status.role == Role::Standalone {
        return None;
    }
    let leader_id = status
        .leader
        .map_or(-1, |id| i64::try_from(id).unwrap_or(-1));
    let leader_ip = status
        .leader
        .and_then(|id| shared.config.ensemble.get(id))
        .map(|s| format!("{}:{}", s.host, s.peer_port))
        .unwrap_or_default();
    Some(Leader {
        is_leader: shared.role() == Role::Leader,
        leader_id,
        leader_ip,
    })
}

/// `lsnp` / `last_snapshot`: the newest snapshot's zxid (raft index) and
/// its file's modification time in seconds; `(-1, -1)` when there is none.
pub fn last_snapshot(shared: &Shared) -> (i64, i64) {
    let dir = shared
        .config
        .data_dir
        .join(crate::replicated::SNAPSHOT_DIR_NAME);
    let newest = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let index: i64 = name.strip_prefix("snapshot.")?.parse().ok()?;
            Some((index, e.path()))
        })
        .max_by_key(|(index, _)| *index);
    let Some((index, path)) = newest else {
        return (-1, -1);
    };
    let seconds = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(-1, |d| i64::try_from(d.as_secs()).unwrap_or(-1));
    (index, seconds)
}
