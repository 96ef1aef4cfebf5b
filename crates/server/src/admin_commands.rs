//! The admin server's commands: ZooKeeper 3.8's `admin.Commands`, each a
//! JSON object with ZooKeeper's field names and shapes, built from
//! [`crate::report`] (the same values the four-letter words print).
//!
//! Every answer ends with `"command"` (the primary name) and `"error"`
//! (`null` unless the command failed), as ZooKeeper's `CommandResponse`.
//! Values rzk does not track (TLS connections, response buffer sizes, fsync
//! threshold) are reported as ZooKeeper reports "none": empty lists, 0, -1.

use crate::report::{self, ConnectionInfo, Value};
use crate::shared::Shared;
use serde_json::{json, Map, Value as Json};
use std::sync::atomic::Ordering::Relaxed;

/// A JSON object under construction, in insertion order.
pub type Fields = Map<String, Json>;

/// One command: its names (the first is primary, as ZooKeeper lists it),
/// whether it needs a serving server, and what it answers.
pub struct Command {
    pub names: &'static [&'static str],
    /// ZooKeeper's `isServerRequired`: answered only while serving.
    pub server_required: bool,
    pub run: fn(&Shared) -> Fields,
}

impl Command {
    pub fn primary(&self) -> &'static str {
        self.names[0]
    }
}

/// Every command rzk answers, with ZooKeeper's names and aliases.
pub const COMMANDS: &[Command] = &[
    cmd(&["configuration", "conf", "config"], true, configuration),
    cmd(
        &["connection_stat_reset", "crst"],
        true,
        connection_stat_reset,
    ),
    cmd(&["connections", "cons"], true, connections),
    cmd(&["dirs"], true, dirs),
    cmd(&["dump"], true, dump),
    cmd(&["environment", "env", "envi"], false, environment),
    cmd(&["get_trace_mask", "gtmk"], false, get_trace_mask),
    cmd(&["hash"], true, hash),
    cmd(&["is_read_only", "isro"], true, is_read_only),
    cmd(&["last_snapshot", "lsnp"], true, last_snapshot),
    cmd(&["leader", "lead"], true, leader),
    cmd(&["log_level"], false, |_| log_level_fields()),
    cmd(&["monitor", "mntr"], false, monitor),
    cmd(&["ruok"], true, |_| Fields::new()),
    cmd(&["server_stats", "srvr"], true, server_stats),
    cmd(&["stat_reset", "srst"], true, stat_reset),
    cmd(&["stats", "stat"], true, stats),
    cmd(&["voting_view"], true, voting_view),
    cmd(&["watch_summary", "wchs"], true, watch_summary),
    cmd(&["watches", "wchc"], true, watches),
    cmd(&["watches_by_path", "wchp"], true, watches_by_path),
];

const fn cmd(
    names: &'static [&'static str],
    server_required: bool,
    run: fn(&Shared) -> Fields,
) -> Command {
    Command {
        names,
        server_required,
        run,
    }
}

/// The command called `name` (primary name or alias), as ZooKeeper matches
/// it: exactly, case-sensitively.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

fn fields(value: Json) -> Fields {
    match value {
        Json::Object(map) => map,
        _ => Fields::new(),
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Int(v) => json!(v),
        Value::Double(v) => json!(v),
        Value::Text(v) => json!(v),
    }
}

/// `client_response_stats`: rzk does not track response sizes; -1 is
/// ZooKeeper's value before any response.
fn no_response_sizes() -> Json {
    json!({"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1})
}

/// `server_stats` and the head of `stats`.
fn server_stats_fields(shared: &Shared, conns: &[(u64, crate::conn_table::ConnEntry)]) -> Fields {
    let s = report::server_stats(shared, conns);
    let (data_size, log_size) = report::dirs(&shared.config);
    fields(json!({
        "version": report::VERSION,
        "read_only": s.read_only,
        "server_stats": {
            "packets_sent": s.packets_sent,
            "packets_received": s.packets_received,
            "fsync_threshold_exceed_count": 0,
            "client_response_stats": no_response_sizes(),
            "uptime": s.uptime_ms,
            "data_dir_size": data_size,
            "log_dir_size": log_size,
            "provider_null": false,
            "server_state": s.server_state,
            "last_processed_zxid": s.last_zxid,
            "outstanding_requests": s.outstanding,
            "avg_latency": s.avg_latency(),
            "max_latency": s.latency.max_ms,
            "min_latency": s.latency.min_ms,
            "num_alive_client_connections": s.connections,
            "auth_failed_count": s.auth_failed,
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
        },
        "client_response": no_response_sizes(),
        "node_count": s.node_count,
    }))
}

/// `log_level` (rzk's own; `?level=` changes it, see `admin`): the filter
/// and format in force, or nulls with an error when the server runs
/// embedded, without rzk's log subscriber.
pub fn log_level_fields() -> Fields {
    match crate::logging::current() {
        Some((level, format)) => fields(json!({"level": level, "format": format.to_string()})),
        None => fields(json!({
            "level": null,
            "format": null,
            "error": "rzk's log subscriber is not installed (the server runs embedded)",
        })),
    }
}

fn server_stats(shared: &Shared) -> Fields {
    let conns = shared.conns().entries();
    server_stats_fields(shared, &conns)
}

/// `stats`: `server_stats` plus each connection, briefly.
fn stats(shared: &Shared) -> Fields {
    let conns = shared.conns().entries();
    let mut out = server_stats_fields(shared, &conns);
    let (plain, secure) = split_by_port(&conns, true);
    out.insert("connections".into(), Json::Array(plain));
    out.insert("secure_connections".into(), Json::Array(secure));
    out
}

/// `ServerCnxn.getConnectionInfo`.
fn connection(info: &ConnectionInfo, brief: bool) -> Json {
    let mut c = fields(json!({
        "remote_socket_address": info.peer.to_string(),
        "interest_ops": info.interest_ops,
        "outstanding_requests": info.outstanding,
        "packets_received": info.packets_received,
        "packets_sent": info.packets_sent,
    }));
    if let (false, Some(s)) = (brief, &info.session) {
        c.extend(fields(json!({
            "session_id": s.session_id,
            "last_operation": s.last_operation,
            "established": s.established_wall_ms,
            "session_timeout": s.timeout_ms,
            "last_cxid": s.last_cxid,
            "last_zxid": s.last_zxid,
            "last_response_time": s.last_response_ms,
            "last_latency": s.last_latency_ms,
            "min_latency": s.latency.min_ms,
            "avg_latency": s.latency.avg_integer(),
            "max_latency": s.latency.max_ms,
        })));
    }
    Json::Object(c)
}

fn connections(shared: &Shared) -> Fields {
    let conns = shared.conns().entries();
    let (plain, secure) = split_by_port(&conns, false);
    fields(json!({"connections": plain, "secure_connections": secure}))
}

/// Connections on the client port and on the secure client port, as
/// ZooKeeper lists its two connection factories.
fn split_by_port(
    conns: &[(u64, crate::conn_table::ConnEntry)],
    brief: bool,
) -> (Vec<Json>, Vec<Json>) {
    let (secure, plain): (Vec<_>, Vec<_>) = report::connections(conns, None)
        .into_iter()
        .partition(|c| c.secure);
    let render = |list: Vec<ConnectionInfo>| list.iter().map(|c| connection(c, brief)).collect();
    (render(plain), render(secure))
}

fn monitor(shared: &Shared) -> Fields {
    report::monitor(shared)
        .iter()
        .map(|(key, value)| (key.to_string(), to_json(value)))
        .collect()
}

fn configuration(shared: &Shared) -> Fields {
    let c = report::conf(&shared.config);
    fields(json!({
        "client_port": c.client_port,
        "data_dir": c.data_dir,
        "data_log_dir": c.data_log_dir,
        "tick_time": c.tick_time_ms,
        "max_client_cnxns": c.max_client_cnxns,
        "min_session_timeout": c.min_session_timeout_ms,
        "max_session_timeout": c.max_session_timeout_ms,
        "server_id": c.server_id,
        "client_port_listen_backlog": c.client_port_listen_backlog,
    }))
}

fn dirs(shared: &Shared) -> Fields {
    let (data, log) = report::dirs(&shared.config);
    fields(json!({"datadir_size": data, "logdir_size": log}))
}

/// Session ids by expiry time (the server's monotonic milliseconds) and
/// ephemeral paths by session.
fn dump(shared: &Shared) -> Fields {
    let d = report::dump(shared);
    let expiry: Fields = d
        .session_expiry
        .iter()
        .map(|(deadline, ids)| (deadline.to_string(), json!(ids)))
        .collect();
    let ephemerals: Fields = d
        .ephemerals
        .iter()
        .map(|(session, paths)| (session.to_string(), json!(paths)))
        .collect();
    fields(json!({
        "expiry_time_to_session_ids": expiry,
        "session_id_to_ephemeral_paths": ephemerals,
    }))
}

fn environment(_: &Shared) -> Fields {
    report::environment()
        .into_iter()
        .map(|(key, value)| (key.to_string(), json!(value)))
        .collect()
}

fn get_trace_mask(shared: &Shared) -> Fields {
    fields(json!({"tracemask": shared.trace_mask.load(Relaxed)}))
}

/// ZooKeeper lists its tree digests here when `digest.enabled`; rzk keeps
/// none (the log's CRCs and deterministic apply play that part).
fn hash(_: &Shared) -> Fields {
    fields(json!({"digests": []}))
}

fn is_read_only(shared: &Shared) -> Fields {
    fields(json!({"read_only": shared.is_read_only()}))
}

/// The zxid as Java's `Long.toHexString` prints it (no `0x`).
fn last_snapshot(shared: &Shared) -> Fields {
    let (zxid, seconds) = report::last_snapshot(shared);
    fields(json!({"zxid": format!("{zxid:x}"), "timestamp": seconds}))
}

fn leader(shared: &Shared) -> Fields {
    match report::leader(shared) {
        Some(l) => fields(json!({
            "is_leader": l.is_leader,
            "leader_id": l.leader_id,
            "leader_ip": l.leader_ip,
        })),
        None => fields(json!({"error": "server is not initialized"})),
    }
}

fn stat_reset(shared: &Shared) -> Fields {
    shared.stats.reset();
    Fields::new()
}

fn connection_stat_reset(shared: &Shared) -> Fields {
    for (_, entry) in shared.conns().entries() {
        entry.stats.reset();
    }
    Fields::new()
}

/// The voting members from zoo.cfg's `server.N` lines (observers are not
/// voters); empty for a standalone server, as ZooKeeper's.
fn voting_view(shared: &Shared) -> Fields {
    let view: Fields = shared
        .config
        .ensemble
        .servers
        .values()
        .filter(|s| s.role == crate::ensemble::Role::Participant)
        .map(|s| {
            let server = json!({
                "server_addresses": [format!("{}:{}", s.host, s.peer_port)],
                "election_addresses": [format!("{}:{}", s.host, s.election_port)],
                "client_address": s.client.map(|a| a.to_string()).unwrap_or_default(),
                "learner_type": "participant",
            });
            (s.id.to_string(), server)
        })
        .collect();
    fields(json!({"current_config": view}))
}

fn watch_summary(shared: &Shared) -> Fields {
    let s = shared.core().watches.summary();
    fields(json!({
        "num_connections": s.connections,
        "num_paths": s.paths,
        "num_total_watches": s.watches,
    }))
}

fn watches(shared: &Shared) -> Fields {
    let by_session = shared.core().watches.by_session();
    let map: Fields = by_session
        .iter()
        .map(|(session, paths)| (session.to_string(), json!(paths)))
        .collect();
    fields(json!({"session_id_to_watched_paths": map}))
}

fn watches_by_path(shared: &Shared) -> Fields {
    let by_path = shared.core().watches.by_path();
    let map: Fields = by_path
        .iter()
        .map(|(path, sessions)| (path.clone(), json!(sessions)))
        .collect();
    fields(json!({"path_to_session_ids": map}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let mut all: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| c.names.iter().copied())
            .collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a name is used twice");
        assert_eq!(find("srvr").map(Command::primary), Some("server_stats"));
        assert_eq!(find("mntr").map(Command::primary), Some("monitor"));
        assert!(find("SRVR").is_none());
        let primaries: Vec<&str> = COMMANDS.iter().map(Command::primary).collect();
        let mut sorted = primaries.clone();
        sorted.sort_unstable();
        assert_eq!(primaries, sorted, "listed in ZooKeeper's (sorted) order");
    }
}
