//! Four-letter words on the client port (`echo ruok | nc host 2181`).
//!
//! ZooKeeper reads the first four bytes of a new connection as a frame length;
//! when they spell a known command instead, it answers in plain text and
//! closes. Commands not in `4lw.commands.whitelist` (default: `srvr` only)
//! get ZooKeeper's refusal line. Output formats follow ZooKeeper 3.8 line for
//! line, checked against the real server; where ZooKeeper prints hash-map
//! order, rzk prints sorted order, and `envi` describes this process instead
//! of a JVM.

use crate::clock::java_date;
use crate::conn_table::ConnEntry;
use crate::framing::FrameReader;
use crate::limits::{DIR_SIZE_FILES_MAX, FOUR_LETTER_OUTPUT_BYTES_MAX};
use crate::shared::Shared;
use crate::stats::java_double;
use crate::watch::ConnId;
use rzk_replica::status::{Role, Status};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

/// What rzk reports as its ZooKeeper version: ZooKeeper's protocol level it
/// implements, then rzk's own version, in the `X.Y.Z-..., built on ...` shape
/// tools parse.
pub const VERSION: &str = concat!(
    "3.8.0-rzk-",
    env!("CARGO_PKG_VERSION"),
    ", built on unknown"
);

/// Telnet's close sequence (IAC IP IAC DO), which ZooKeeper lists as a command
/// so the log stays quiet about it.
const TELNET_CLOSE: [u8; 4] = [0xff, 0xf4, 0xff, 0xfd];

/// The command a connection's first four bytes name, if any.
pub fn lookup(prefix: [u8; 4]) -> Option<&'static str> {
    if prefix == TELNET_CLOSE {
        return Some("telnet close");
    }
    crate::config::FOUR_LETTER_WORDS
        .iter()
        .copied()
        .find(|w| w.as_bytes() == prefix)
}

/// Answers a four-letter word and closes the connection.
pub async fn respond(
    shared: &Arc<Shared>,
    conn_id: ConnId,
    word: &'static str,
    reader: &mut FrameReader,
    mut socket: OwnedWriteHalf,
) {
    shared.stats.packets_received.fetch_add(1, Relaxed);
    let peer = socket.peer_addr().ok();
    let text = if !shared.config.four_letter_word_enabled(word) {
        tracing::debug!("Command {word} is not executed because it is not in the whitelist.");
        format!("{word} is not executed because it is not in the whitelist.\n")
    } else {
        if let Some(peer) = peer {
            tracing::info!("Processing {word} command from {peer}");
        }
        match word {
            // Enabled, ZooKeeper treats it as a bad length and closes.
            "telnet close" => String::new(),
            "stmk" => match reader.take_exact(8).await {
                Ok(Some(b)) => {
                    let mask = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    shared.trace_mask.store(mask, Relaxed);
                    mask.to_string()
                }
                _ => String::new(),
            },
            _ => run(shared, conn_id, word),
        }
    };
    let mut bytes = text.into_bytes();
    bytes.truncate(FOUR_LETTER_OUTPUT_BYTES_MAX);
    let _ = socket.write_all(&bytes).await;
    let _ = socket.shutdown().await;
}

/// ZooKeeper's answer from a server that is not serving (no leader yet, or
/// still catching up after a start).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// Commands that answer [`NOT_SERVING`] while the server is not serving, as
/// in ZooKeeper 3.8 (`isro` answers `null` instead; the rest always answer).
/// A read-only server is serving: they answer, `isro` with `ro`.
const NEED_SERVING: &[&str] = &[
    "srvr", "stat", "cons", "crst", "srst", "conf", "dirs", "wchs", "wchc", "wchp", "dump", "mntr",
];

/// The text of an enabled command (other than `stmk`).
pub fn run(shared: &Shared, conn_id: ConnId, word: &str) -> String {
    let mut out = String::new();
    let read_only = shared.is_read_only();
    if !shared.is_serving() && !read_only {
        if word == "isro" {
            return "null".to_string();
        }
        if NEED_SERVING.contains(&word) {
            return NOT_SERVING.to_string();
        }
    }
    match word {
        "ruok" => out.push_str("imok"),
        "isro" => out.push_str(if read_only { "ro" } else { "rw" }),
        "gtmk" => out.push_str(&shared.trace_mask.load(Relaxed).to_string()),
        "hash" => {}
        "srvr" => stat(shared, conn_id, false, &mut out),
        "stat" => stat(shared, conn_id, true, &mut out),
        "cons" => {
            for (id, entry) in shared.conns().entries() {
                connection_line(&entry, id == conn_id, false, &mut out);
                out.push('\n');
            }
            out.push('\n');
        }
        "crst" => {
            for (_, entry) in shared.conns().entries() {
                entry.stats.reset();
            }
            out.push_str("Connection stats reset.\n");
        }
        "srst" => {
            shared.stats.reset();
            out.push_str("Server stats reset.\n");
        }
        "conf" => conf(shared, &mut out),
        "dirs" => {
            let _ = writeln!(out, "datadir_size: {}", dir_size(&shared.config.data_dir));
            let _ = writeln!(
                out,
                "logdir_size: {}",
                dir_size(&shared.config.data_log_dir)
            );
        }
        "envi" => envi(&mut out),
        "wchs" => {
            let s = shared.core().watches.summary();
            let _ = writeln!(
                out,
                "{} connections watching {} paths\nTotal watches:{}",
                s.connections, s.paths, s.watches
            );
        }
        "wchc" => {
            for (session, paths) in shared.core().watches.by_session() {
                let _ = writeln!(out, "0x{session:x}");
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
            out.push('\n');
        }
        "wchp" => {
            for (path, sessions) in shared.core().watches.by_path() {
                let _ = writeln!(out, "{path}");
                for session in sessions {
                    let _ = writeln!(out, "\t0x{session:x}");
                }
            }
            out.push('\n');
        }
        "dump" => dump(shared, &mut out),
        "mntr" => mntr(shared, &mut out),
        _ => {}
    }
    out
}

/// `srvr` and `stat` (which adds the client list).
fn stat(shared: &Shared, conn_id: ConnId, with_clients: bool, out: &mut String) {
    let _ = writeln!(out, "Zookeeper version: {VERSION}");
    let conns = shared.conns().entries();
    if with_clients {
        out.push_str("Clients:\n");
        for (id, entry) in &conns {
            connection_line(entry, *id == conn_id, true, out);
            out.push('\n');
        }
        out.push('\n');
    }
    let latency = shared.stats.latency();
    let outstanding: usize = conns
        .iter()
        .map(|(_, e)| e.stats.outstanding.load(Relaxed))
        .sum();
    let (zxid, nodes) = {
        let core = shared.core();
        (
            core.tree.last_zxid(),
            zookeeper_node_count(core.tree.node_count()),
        )
    };
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        latency.min_ms,
        latency.avg_java(),
        latency.max_ms
    );
    let _ = writeln!(
        out,
        "Received: {}",
        shared.stats.packets_received.load(Relaxed)
    );
    let _ = writeln!(out, "Sent: {}", shared.stats.packets_sent.load(Relaxed));
    let _ = writeln!(out, "Connections: {}", conns.len());
    let _ = writeln!(out, "Outstanding: {outstanding}");
    let _ = writeln!(out, "Zxid: 0x{zxid:x}");
    let _ = writeln!(out, "Mode: {}", shared.server_state());
    let _ = writeln!(out, "Node count: {nodes}");
}

/// ZooKeeper's node count includes the root twice (its node map holds it under
/// both "" and "/"), so a fresh server reports 5. rzk reports the same number so
/// that monitoring compares equal.
fn zookeeper_node_count(nodes: usize) -> usize {
    nodes + 1
}

/// Java prints a socket address as `/127.0.0.1:2181`.
fn java_addr(addr: &SocketAddr) -> String {
    format!("/{addr}")
}

/// `ServerCnxn.dumpConnectionInfo`. The asking connection itself shows
/// interest ops 0 (ZooKeeper has cancelled its selection key), others 1.
fn connection_line(entry: &ConnEntry, is_self: bool, brief: bool, out: &mut String) {
    let s = &entry.stats;
    let _ = write!(
        out,
        " {}[{}](queued={},recved={},sent={}",
        java_addr(&entry.peer),
        if is_self { 0 } else { 1 },
        s.outstanding.load(Relaxed),
        s.packets_received.load(Relaxed),
        s.packets_sent.load(Relaxed)
    );
    let session = s.session_id.load(Relaxed);
    if !brief && session != 0 {
        let latency = s.latency();
        let _ = write!(
            out,
            ",sid=0x{session:x},lop={},est={},to={}",
            s.last_op(),
            s.established_wall_ms.load(Relaxed),
            s.timeout_ms.load(Relaxed)
        );
        let cxid = s.last_cxid.load(Relaxed);
        if cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{cxid:x}");
        }
        let _ = write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            s.last_zxid.load(Relaxed),
            s.last_response_ms.load(Relaxed),
            s.last_latency_ms.load(Relaxed),
            latency.min_ms,
            latency.avg_integer(),
            latency.max_ms
        );
    }
    out.push(')');
}

/// `ZooKeeperServer.dumpConf`.
fn conf(shared: &Shared, out: &mut String) {
    let c = &shared.config;
    let data_dir = absolute(&c.data_dir);
    let log_dir = absolute(&c.data_log_dir);
    let _ = writeln!(out, "clientPort={}", c.client_port);
    out.push_str("secureClientPort=-1\n");
    let _ = writeln!(out, "dataDir={data_dir}");
    let _ = writeln!(out, "dataDirSize={}", dir_size(&c.data_dir));
    let _ = writeln!(out, "dataLogDir={log_dir}");
    let _ = writeln!(out, "dataLogSize={}", dir_size(&c.data_log_dir));
    let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns_per_ip);
    let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
    let _ = writeln!(
        out,
        "clientPortListenBacklog={}",
        c.client_port_listen_backlog
    );
    let _ = writeln!(out, "serverId={}", c.my_id);
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Bytes of the regular files under `dir`, visiting at most
/// [`DIR_SIZE_FILES_MAX`] entries (a loop with an explicit stack, no recursion).
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
            if visited > DIR_SIZE_FILES_MAX {
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

/// `envi`: ZooKeeper lists JVM properties; rzk lists the same keys that make
/// sense for a native process.
fn envi(out: &mut String) {
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
    out.push_str("Environment:\n");
    let _ = writeln!(out, "zookeeper.version={VERSION}");
    let _ = writeln!(out, "host.name={host}");
    let _ = writeln!(out, "rzk.version={}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "os.name={os_name}");
    let _ = writeln!(out, "os.arch={arch}");
    let _ = writeln!(out, "os.version={}", read("/proc/sys/kernel/osrelease"));
    let _ = writeln!(out, "user.name={}", env("USER"));
    let _ = writeln!(out, "user.home={}", env("HOME"));
    let _ = writeln!(out, "user.dir={cwd}");
}

/// `dump`: session deadlines, ephemerals by session, connection deadlines.
fn dump(shared: &Shared, out: &mut String) {
    let clock = shared.clock;
    out.push_str("SessionTracker dump:\n");
    shared.sessions().dump(out, |t| clock.wall_of(t));
    out.push_str("ephemeral nodes dump:\n");
    let ephemerals = shared.core().tree.ephemerals_by_session();
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", ephemerals.len());
    for (session, paths) in ephemerals {
        let _ = writeln!(out, "0x{session:x}:");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\n");
    // ZooKeeper's connection expiry queue: last activity plus the session
    // timeout (the sessionless timeout before a handshake), rounded up to the
    // sessionless interval.
    let interval = crate::limits::SESSIONLESS_CONNECTION_TIMEOUT_MS;
    let mut buckets: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let conns = shared.conns().entries();
    for (_, entry) in &conns {
        let s = &entry.stats;
        let timeout = match s.timeout_ms.load(Relaxed) {
            t if t > 0 => t as u64,
            _ => interval,
        };
        let deadline =
            (s.last_activity_ms.load(Relaxed) + timeout) / interval * interval + interval;
        buckets.entry(deadline).or_default().push(format!(
            "ip: {} sessionId: 0x{:x}",
            java_addr(&entry.peer),
            s.session_id.load(Relaxed)
        ));
    }
    let _ = writeln!(
        out,
        "Connections Sets ({})/({}):",
        buckets.len(),
        conns.len()
    );
    for (deadline, lines) in buckets {
        let _ = writeln!(
            out,
            "{} expire at {}:",
            lines.len(),
            java_date(clock.wall_of(deadline))
        );
        for line in lines {
            let _ = writeln!(out, "\t{line}");
        }
    }
}

/// `mntr`: ZooKeeper's non-metric values and the metrics rzk keeps.
fn mntr(shared: &Shared, out: &mut String) {
    let conns = shared.conns().entries();
    let outstanding: usize = conns
        .iter()
        .map(|(_, e)| e.stats.outstanding.load(Relaxed))
        .sum();
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
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "zk_{k}\t{v}");
    };
    line("version", VERSION.to_string());
    let status = shared.replica_status().map(|mut s| {
        // A leader without its quorum reports as looking (see `role`).
        s.role = shared.role();
        s
    });
    line("server_state", shared.server_state().to_string());
    line("ephemerals_count", ephemerals.to_string());
    line("num_alive_connections", conns.len().to_string());
    line("avg_latency", latency.avg_java());
    line("outstanding_requests", outstanding.to_string());
    line("znode_count", nodes.to_string());
    line("global_sessions", sessions.to_string());
    line("non_mtls_remote_conn_count", "0".to_string());
    line(
        "packets_sent",
        shared.stats.packets_sent.load(Relaxed).to_string(),
    );
    line(
        "packets_received",
        shared.stats.packets_received.load(Relaxed).to_string(),
    );
    line("connection_drop_probability", java_double(0.0));
    line("watch_count", watches.to_string());
    line(
        "auth_failed_count",
        shared.stats.auth_failures.load(Relaxed).to_string(),
    );
    line("min_latency", latency.min_ms.to_string());
    line("max_latency", latency.max_ms.to_string());
    line("max_file_descriptor_count", max_fds().to_string());
    line("approximate_data_size", data_size.to_string());
    line("open_file_descriptor_count", open_fds().to_string());
    line(
        "local_sessions",
        shared.read_only_sessions().len().to_string(),
    );
    line("uptime", shared.clock.now_ms().to_string());
    line("outstanding_tls_handshake", "0".to_string());
    if let Some(status) = status {
        replication_lines(&status, shared, &mut line);
    }
}

/// The ensemble part of `mntr`: ZooKeeper 3.8's quorum gauges (`peer_state`,
/// `quorum_size`, and on the leader `learners`, `synced_followers`,
/// `synced_non_voting_followers`, `synced_observers`, `pending_syncs`), the
/// 3.4-era `followers` that older dashboards read, and rzk's raft positions.
fn replication_lines(status: &Status, shared: &Shared, line: &mut impl FnMut(&str, String)) {
    if status.role != Role::Standalone {
        let peer_state = match status.role {
            Role::Leader => "leading - broadcast",
            Role::Follower => "following - broadcast",
            Role::Observer => "observing - broadcast",
            _ => "looking",
        };
        line("peer_state", peer_state.to_string());
        line("quorum_size", status.voters.to_string());
    }
    if status.role == Role::Leader {
        line("learners", status.followers.to_string());
        line("followers", status.followers.to_string());
        line("synced_followers", status.synced_followers.to_string());
        line("synced_non_voting_followers", "0".to_string());
        line(
            "synced_observers",
            status
                .followers
                .saturating_sub(status.voters.saturating_sub(1))
                .to_string(),
        );
        line(
            "pending_syncs",
            shared.stats.pending_syncs.load(Relaxed).to_string(),
        );
    }
    let index = |i: Option<u64>| i.map_or("-1".to_string(), |i| i.to_string());
    line("last_log_index", index(status.last_log_index));
    line("commit_index", index(status.committed_index));
    line("last_applied_index", index(status.last_applied_index));
    line("last_snapshot_index", index(status.snapshot_index));
    line("last_purged_index", index(status.purged_index));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_known_words() {
        assert_eq!(lookup(*b"ruok"), Some("ruok"));
        assert_eq!(lookup(*b"stat"), Some("stat"));
        assert_eq!(lookup(TELNET_CLOSE), Some("telnet close"));
        assert_eq!(lookup([0, 0, 0, 44]), None);
        assert_eq!(lookup(*b"RUOK"), None);
    }
}
