//! Four-letter words on the client port (`echo ruok | nc host 2181`).
//!
//! ZooKeeper reads the first four bytes of a new connection as a frame length;
//! when they spell a known command instead, it answers in plain text and
//! closes. Commands not in `4lw.commands.whitelist` (default: `srvr` only)
//! get ZooKeeper's refusal line. Output formats follow ZooKeeper 3.8 line for
//! line, checked against the real server; where ZooKeeper prints hash-map
//! order, rzk prints sorted order, and `envi` describes this process instead
//! of a JVM.

use crate::framing::FrameReader;
use crate::limits::FOUR_LETTER_OUTPUT_BYTES_MAX;
use crate::report::{self, ConnectionInfo};
use crate::shared::Shared;
use crate::stats::java_double;
use crate::transport::WriteHalf;
use crate::watch::ConnId;
use rzk_proto::java_date::java_date;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// rzk's version string (kept here too for callers that name it so).
pub use crate::report::VERSION;

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
    mut socket: WriteHalf,
    peer: SocketAddr,
) {
    shared.stats.packets_received.fetch_add(1, Relaxed);
    let text = if !shared.config.four_letter_word_enabled(word) {
        tracing::debug!("Command {word} is not executed because it is not in the whitelist.");
        format!("{word} is not executed because it is not in the whitelist.\n")
    } else {
        tracing::info!("Processing {word} command from {peer}");
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
    let _ = socket.flush().await;
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
            let conns = shared.conns().entries();
            for info in report::connections(&conns, Some(conn_id)) {
                connection_line(&info, false, &mut out);
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
            let (data, log) = report::dirs(&shared.config);
            let _ = writeln!(out, "datadir_size: {data}");
            let _ = writeln!(out, "logdir_size: {log}");
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
        for info in report::connections(&conns, Some(conn_id)) {
            connection_line(&info, true, out);
            out.push('\n');
        }
        out.push('\n');
    }
    let s = report::server_stats(shared, &conns);
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        s.latency.min_ms,
        java_double(s.avg_latency()),
        s.latency.max_ms
    );
    let _ = writeln!(out, "Received: {}", s.packets_received);
    let _ = writeln!(out, "Sent: {}", s.packets_sent);
    let _ = writeln!(out, "Connections: {}", s.connections);
    let _ = writeln!(out, "Outstanding: {}", s.outstanding);
    let _ = writeln!(out, "Zxid: 0x{:x}", s.last_zxid);
    let _ = writeln!(out, "Mode: {}", s.server_state);
    let _ = writeln!(out, "Node count: {}", s.node_count);
}

/// `ServerCnxn.dumpConnectionInfo`; Java prints a socket address as
/// `/127.0.0.1:2181`.
fn connection_line(info: &ConnectionInfo, brief: bool, out: &mut String) {
    let _ = write!(
        out,
        " /{}[{}](queued={},recved={},sent={}",
        info.peer, info.interest_ops, info.outstanding, info.packets_received, info.packets_sent
    );
    if let (false, Some(s)) = (brief, &info.session) {
        let _ = write!(
            out,
            ",sid=0x{:x},lop={},est={},to={}",
            s.session_id, s.last_operation, s.established_wall_ms, s.timeout_ms
        );
        if s.last_cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{:x}", s.last_cxid);
        }
        let _ = write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            s.last_zxid,
            s.last_response_ms,
            s.last_latency_ms,
            s.latency.min_ms,
            s.latency.avg_integer(),
            s.latency.max_ms
        );
    }
    out.push(')');
}

/// `ZooKeeperServer.dumpConf`.
fn conf(shared: &Shared, out: &mut String) {
    let c = report::conf(&shared.config);
    let _ = writeln!(out, "clientPort={}", c.client_port);
    let _ = writeln!(out, "secureClientPort={}", c.secure_client_port);
    let _ = writeln!(out, "dataDir={}", c.data_dir);
    let _ = writeln!(out, "dataDirSize={}", c.data_dir_size);
    let _ = writeln!(out, "dataLogDir={}", c.data_log_dir);
    let _ = writeln!(out, "dataLogSize={}", c.data_log_size);
    let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
    let _ = writeln!(
        out,
        "clientPortListenBacklog={}",
        c.client_port_listen_backlog
    );
    let _ = writeln!(out, "serverId={}", c.server_id);
}

/// `envi`: `key=value` lines under a heading.
fn envi(out: &mut String) {
    out.push_str("Environment:\n");
    for (key, value) in report::environment() {
        let _ = writeln!(out, "{key}={value}");
    }
}

/// `dump`, as ZooKeeper's `ExpiryQueue.dump` and `dumpEphemerals` print it.
fn dump(shared: &Shared, out: &mut String) {
    let clock = shared.clock;
    let d = report::dump(shared);
    out.push_str("SessionTracker dump:\n");
    let _ = writeln!(
        out,
        "Session Sets ({})/({}):",
        d.session_expiry.len(),
        d.sessions
    );
    for (deadline, ids) in &d.session_expiry {
        let _ = writeln!(
            out,
            "{} expire at {}:",
            ids.len(),
            java_date(clock.wall_of(*deadline))
        );
        for id in ids {
            let _ = writeln!(out, "\t0x{id:x}");
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", d.ephemerals.len());
    for (session, paths) in &d.ephemerals {
        let _ = writeln!(out, "0x{session:x}:");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\n");
    let _ = writeln!(
        out,
        "Connections Sets ({})/({}):",
        d.connection_expiry.len(),
        d.connections
    );
    for (deadline, conns) in &d.connection_expiry {
        let _ = writeln!(
            out,
            "{} expire at {}:",
            conns.len(),
            java_date(clock.wall_of(*deadline))
        );
        for (peer, session) in conns {
            let _ = writeln!(out, "\tip: /{peer} sessionId: 0x{session:x}");
        }
    }
}

/// `mntr`: one `zk_<key>\t<value>` line per reported value.
fn mntr(shared: &Shared, out: &mut String) {
    for (key, value) in report::monitor(shared) {
        let _ = writeln!(out, "zk_{key}\t{}", value.to_text());
    }
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
