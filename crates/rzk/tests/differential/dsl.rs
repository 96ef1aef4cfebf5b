//! The scenario DSL: named clients, one method per operation, and a transcript
//! of everything the server said, recorded as tokens so that zxids, times and
//! session ids can be normalized once the scenario is over.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rzk_client::{ClientError, ConnectOptions, RawClient, Reply};
use rzk_proto::records::*;
use rzk_proto::request::{CreateOp, MultiOp, ReadOp};
use rzk_proto::{
    Acl, ErrorCode, Id, MultiReadResult, MultiResult, OpCode, Request, Response, Stat,
};

// ---------------------------------------------------------------------------
// Vocabulary for scenarios.

/// Create flags (raw `i32` so that invalid values can be sent too).
pub const P: i32 = 0;
pub const E: i32 = 1;
pub const PS: i32 = 2;
pub const ES: i32 = 3;
pub const CONTAINER: i32 = 4;
pub const TTL: i32 = 5;
pub const TTLS: i32 = 6;

/// Watcher types for checkWatches / removeWatches.
pub const W_CHILDREN: i32 = 1;
pub const W_DATA: i32 = 2;
pub const W_ANY: i32 = 3;
pub const W_PERSISTENT: i32 = 4;
pub const W_RECURSIVE: i32 = 5;

/// addWatch modes.
pub const AW_PERSISTENT: i32 = 0;
pub const AW_RECURSIVE: i32 = 1;

/// The super user's password; the servers get `superDigest` for `super:SUPER_PASSWORD`.
pub const SUPER_PASSWORD: &str = "secret";

pub fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

pub fn world(perms: i32) -> Vec<Acl> {
    vec![Acl::new(perms, Id::anyone())]
}

pub fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl::new(perms, Id::new(scheme, id))
}

/// A digest ACL entry for user/password.
pub fn digest(perms: i32, user: &str, password: &str) -> Acl {
    Acl::new(
        perms,
        Id::new("digest", rzk_client::digest_id(user, password)),
    )
}

pub fn m_create(path: &str, data: &[u8], flags: i32) -> MultiOp {
    m_create_op(OpCode::Create, path, data, open(), flags, 0)
}

pub fn m_create2(path: &str, data: &[u8], flags: i32) -> MultiOp {
    m_create_op(OpCode::Create2, path, data, open(), flags, 0)
}

pub fn m_create_op(
    op: OpCode,
    path: &str,
    data: &[u8],
    acl: Vec<Acl>,
    flags: i32,
    ttl: i64,
) -> MultiOp {
    MultiOp::Create {
        op,
        create: CreateOp {
            path: path.to_string(),
            data: data.to_vec(),
            acl,
            flags,
            ttl,
        },
    }
}

pub fn m_delete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.to_string(),
        version,
    })
}

pub fn m_set(path: &str, data: &[u8], version: i32) -> MultiOp {
    MultiOp::SetData(SetDataRequest {
        path: path.to_string(),
        data: data.to_vec(),
        version,
    })
}

pub fn m_check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.to_string(),
        version,
    })
}

pub fn r_get(path: &str) -> ReadOp {
    ReadOp::GetData(GetDataRequest {
        path: path.to_string(),
        watch: false,
    })
}

pub fn r_children(path: &str) -> ReadOp {
    ReadOp::GetChildren(GetChildrenRequest {
        path: path.to_string(),
        watch: false,
    })
}

// ---------------------------------------------------------------------------
// Transcript tokens.

/// One piece of a transcript line. Raw values are kept until the scenario ends.
#[derive(Debug, Clone)]
pub enum Tok {
    Text(String),
    Zxid(i64),
    Time(i64),
    Session(i64),
}

#[derive(Default)]
struct LineBuf(Vec<Tok>, LineOpts);

/// Rendering options of one line.
#[derive(Default)]
struct LineOpts {
    sort_acls: bool,
}

impl std::ops::Deref for LineBuf {
    type Target = LineOpts;
    fn deref(&self) -> &LineOpts {
        &self.1
    }
}

impl LineBuf {
    fn t(&mut self, s: impl AsRef<str>) -> &mut Self {
        match self.0.last_mut() {
            Some(Tok::Text(prev)) => prev.push_str(s.as_ref()),
            _ => self.0.push(Tok::Text(s.as_ref().to_string())),
        }
        self
    }
    fn z(&mut self, z: i64) -> &mut Self {
        self.0.push(Tok::Zxid(z));
        self
    }
    fn time(&mut self, t: i64) -> &mut Self {
        self.0.push(Tok::Time(t));
        self
    }
    fn sess(&mut self, s: i64) -> &mut Self {
        self.0.push(Tok::Session(s));
        self
    }
    fn stat(&mut self, s: &Stat) -> &mut Self {
        self.t("{czxid=").z(s.czxid).t(" mzxid=").z(s.mzxid);
        self.t(" ctime=").time(s.ctime).t(" mtime=").time(s.mtime);
        self.t(format!(
            " version={} cversion={} aversion={} owner=",
            s.version, s.cversion, s.aversion
        ));
        self.sess(s.ephemeral_owner);
        self.t(format!(
            " dataLength={} numChildren={} pzxid=",
            s.data_length, s.num_children
        ));
        self.z(s.pzxid).t("}")
    }
}

/// Renders data: short printable UTF-8 as a quoted string, everything else as
/// its length and an FNV-1a hash.
pub fn fmt_data(d: &[u8]) -> String {
    match std::str::from_utf8(d) {
        Ok(s) if d.len() <= 96 && !s.chars().any(|c| c.is_control()) => format!("{s:?}"),
        _ if d.len() <= 16 => format!("{d:?}"),
        _ => {
            let mut h: u64 = 0xcbf29ce484222325;
            for b in d {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x100000001b3);
            }
            format!("<{} bytes fnv={h:016x}>", d.len())
        }
    }
}

fn fmt_acls(acls: &[Acl]) -> String {
    let items: Vec<String> = acls
        .iter()
        .map(|a| format!("{}:{}:{}", a.perms, a.id.scheme, a.id.id))
        .collect();
    format!("[{}]", items.join(", "))
}

fn fmt_list(v: &[String], sort: bool) -> String {
    let mut v = v.to_vec();
    if sort {
        v.sort();
    }
    format!("{v:?}")
}

fn err_name(code: i32) -> String {
    match ErrorCode::from_code(code) {
        Some(e) => e.name().to_string(),
        None => format!("err({code})"),
    }
}

fn event_type_name(t: i32) -> String {
    rzk_proto::EventType::from_code(t)
        .map(|e| e.name().to_string())
        .unwrap_or_else(|| format!("type({t})"))
}

fn state_name(s: i32) -> String {
    rzk_proto::KeeperState::from_code(s)
        .map(|e| e.name().to_string())
        .unwrap_or_else(|| format!("state({s})"))
}

// ---------------------------------------------------------------------------
// The scenario context.

/// A client handle inside one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct C(usize);

struct Slot {
    name: String,
    conn: Option<RawClient>,
    session_id: i64,
    password: Vec<u8>,
    /// The last zxid seen on a connection that was dropped.
    last_zxid: i64,
}

/// What one scenario has access to: its root path, the server, its clients, and
/// the transcript being written.
pub struct Cx {
    /// The scenario's own root, e.g. `/d17`; created before the scenario runs.
    pub root: String,
    addr: String,
    slots: Vec<Slot>,
    lines: Vec<Vec<Tok>>,
    sessions: Vec<(i64, String)>,
    /// Sessions ended by closeSession (no cleanup needed).
    closed_sessions: Vec<i64>,
    /// Sessions created outside `connect` (raw handshakes): name, id, password.
    extra_sessions: Vec<(String, i64, Vec<u8>)>,
    /// Compare ACL lists in replies as sets (for ACLs built from the `auth`
    /// scheme, whose order follows the session's identity hash set).
    pub sort_acls: bool,
    /// Sort the events of each collection batch (for changes whose event order
    /// ZooKeeper leaves to hash-set iteration, such as ephemerals of a closed session).
    pub sort_events: bool,
}

/// How long to wait for a server to close a connection it is expected to close.
pub const CLOSE_WAIT: Duration = Duration::from_millis(1500);

impl Cx {
    pub fn new(root: String, addr: String) -> Cx {
        Cx {
            root,
            addr,
            slots: Vec::new(),
            lines: Vec::new(),
            sessions: Vec::new(),
            closed_sessions: Vec::new(),
            extra_sessions: Vec::new(),
            sort_acls: false,
            sort_events: false,
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Maps a scenario path onto the server: `/x` → `<root>/x`, `/` → `<root>`,
    /// `=/abs` → `/abs` verbatim; anything not starting with `/` (relative, empty)
    /// is sent as is.
    pub fn p(&self, path: &str) -> String {
        if let Some(abs) = path.strip_prefix('=') {
            abs.to_string()
        } else if path == "/" {
            self.root.clone()
        } else if path.starts_with('/') {
            format!("{}{}", self.root, path)
        } else {
            path.to_string()
        }
    }

    /// The quota node for a scenario path: `/zookeeper/quota<root><path>`.
    pub fn quota_path(&self, path: &str) -> String {
        if path.is_empty() {
            format!("=/zookeeper/quota{}", self.root)
        } else {
            format!("=/zookeeper/quota{}", self.p(path))
        }
    }

    fn name(&self, c: C) -> String {
        self.slots[c.0].name.clone()
    }

    fn push(&mut self, line: LineBuf) {
        self.lines.push(line.0);
    }

    /// Adds a free-form line to the transcript.
    pub fn note(&mut self, text: impl AsRef<str>) {
        let mut l = LineBuf::default();
        l.t(text);
        self.push(l);
    }

    // ---- connections -----------------------------------------------------

    /// Opens a new session named `name` with a 30 s timeout.
    pub fn client(&mut self, name: &str) -> C {
        self.connect(name, ConnectOptions::default())
    }

    /// Opens a connection with explicit connect options and records the answer.
    pub fn connect(&mut self, name: &str, opts: ConnectOptions) -> C {
        let c = C(self.slots.len());
        let mut l = LineBuf::default();
        l.t(format!(
            "{name}: connect(timeout={} session=",
            opts.timeout_ms
        ));
        l.sess(opts.session_id);
        l.t(format!(" pwlen={} lastZxid=", opts.password.len()));
        l.z(opts.last_zxid_seen);
        l.t(format!(" ro={}) -> ", opts.read_only));
        let mut slot = Slot {
            name: name.to_string(),
            conn: None,
            session_id: 0,
            password: Vec::new(),
            last_zxid: 0,
        };
        match RawClient::connect(&self.addr, opts) {
            Ok((conn, resp)) => {
                if resp.session_id != 0
                    && !self.sessions.iter().any(|(id, _)| *id == resp.session_id)
                {
                    self.sessions.push((resp.session_id, name.to_string()));
                }
                l.t(format!(
                    "proto={} timeout={} session=",
                    resp.protocol_version, resp.timeout_ms
                ));
                l.sess(resp.session_id);
                l.t(format!(
                    " pwlen={} ro={:?}",
                    resp.password.len(),
                    resp.read_only
                ));
                slot.session_id = resp.session_id;
                slot.password = resp.password.clone();
                slot.conn = Some(conn);
            }
            Err(e) => {
                l.t(format!("FAILED {}", client_err(&e)));
            }
        }
        self.slots.push(slot);
        self.push(l);
        if let Some(conn) = self.slots[c.0].conn.as_ref() {
            if conn.negotiated_timeout_ms() == 0 {
                // Refused session: the server closes the connection right away.
                self.expect_closed(c);
            }
        }
        self.settle();
        c
    }

    /// Opens a TCP connection without a handshake (for raw handshakes and
    /// four-letter words).
    pub fn raw_client(&mut self, name: &str) -> C {
        let c = C(self.slots.len());
        let conn = match RawClient::open(&self.addr) {
            Ok(conn) => Some(conn),
            Err(e) => {
                self.note(format!("{name}: open FAILED {}", client_err(&e)));
                None
            }
        };
        self.slots.push(Slot {
            name: name.to_string(),
            conn,
            session_id: 0,
            password: Vec::new(),
            last_zxid: 0,
        });
        self.note(format!("{name}: tcp connect (no handshake)"));
        c
    }

    /// Reads everything the server sends until it closes the connection (or
    /// `timeout`), and records it as bytes: for four-letter words and for
    /// answers to malformed handshakes.
    pub fn read_raw(&mut self, c: C, timeout: Duration) {
        let name = self.name(c);
        let Some(conn) = self.slots[c.0].conn.as_mut() else {
            self.note(format!("{name}: read_raw: no connection"));
            return;
        };
        let text = match conn.read_raw_to_end(timeout) {
            Ok(bytes) => {
                let closed = conn.is_closed();
                format!(
                    "{name}: raw answer {} ({})",
                    fmt_data(&bytes),
                    if closed {
                        "then closed"
                    } else {
                        "connection open"
                    }
                )
            }
            Err(e) => format!("{name}: raw answer error {}", client_err(&e)),
        };
        self.forget_conn(c.0);
        self.note(text);
    }

    /// Reads one frame from `c` and records it as a ConnectResponse (session id
    /// and password registered under `session_name`), or as bytes if it is not one.
    pub fn read_connect_response(&mut self, c: C, session_name: &str, timeout: Duration) {
        let name = self.name(c);
        let Some(conn) = self.slots[c.0].conn.as_mut() else {
            self.note(format!("{name}: read_connect_response: no connection"));
            return;
        };
        match conn.read_raw_frame(timeout) {
            Ok(body) => match <ConnectResponse as rzk_proto::Decode>::decode_all(&body) {
                Ok(resp) => {
                    self.register_session(session_name, resp.session_id, resp.password.clone());
                    if let Some(slot) = self.slots.get_mut(c.0) {
                        if slot.session_id == 0 {
                            slot.session_id = resp.session_id;
                            slot.password = resp.password.clone();
                        }
                    }
                    let mut l = LineBuf::default();
                    l.t(format!(
                        "{name}: connect response ({} bytes) proto={} timeout={} session=",
                        body.len(),
                        resp.protocol_version,
                        resp.timeout_ms
                    ));
                    l.sess(resp.session_id);
                    l.t(format!(
                        " pwlen={} ro={:?}",
                        resp.password.len(),
                        resp.read_only
                    ));
                    self.push(l);
                }
                Err(e) => self.note(format!(
                    "{name}: frame {} (not a connect response: {e})",
                    fmt_data(&body)
                )),
            },
            Err(e) => {
                let text = format!("{name}: read_connect_response {}", client_err(&e));
                if matches!(e, ClientError::Closed) {
                    self.forget_conn(c.0);
                }
                self.note(text);
            }
        }
    }

    /// Waits up to `timeout` for a notification on `c` and records it (or that
    /// none came). For steps whose effect takes time (session expiry). Does not
    /// run the barrier (which would count as activity on every session).
    pub fn wait_event(&mut self, c: C, timeout: Duration) {
        let name = self.name(c);
        let Some(conn) = self.slots[c.0].conn.as_mut() else {
            self.note(format!("{name}: wait_event: no connection"));
            return;
        };
        let res = conn.wait_event(timeout);
        match res {
            Ok(Some(n)) => {
                let l = render_event(&name, &n);
                self.push(l);
            }
            Ok(None) => self.note(format!("{name}: no event within the wait")),
            Err(e) => self.note(format!("{name}: wait_event {}", client_err(&e))),
        }
    }

    /// Re-opens the session of `of` on a new connection named `name`.
    pub fn reconnect(&mut self, name: &str, of: C) -> C {
        let opts = self.resume_options(of);
        self.connect(name, opts)
    }

    /// Connect options that resume the session of `c`.
    pub fn resume_options(&self, c: C) -> ConnectOptions {
        let slot = &self.slots[c.0];
        ConnectOptions {
            timeout_ms: 30_000,
            session_id: slot.session_id,
            password: slot.password.clone(),
            last_zxid_seen: self.last_zxid(c),
            read_only: false,
        }
    }

    pub fn session_id(&self, c: C) -> i64 {
        self.slots[c.0].session_id
    }

    /// The largest reply-header zxid `c` has seen.
    pub fn last_zxid(&self, c: C) -> i64 {
        let slot = &self.slots[c.0];
        slot.conn
            .as_ref()
            .map(|c| c.last_zxid())
            .unwrap_or(0)
            .max(slot.last_zxid)
    }

    /// Forgets a connection the server has closed, keeping its last zxid.
    fn forget_conn(&mut self, i: usize) {
        if let Some(conn) = self.slots[i].conn.take() {
            self.slots[i].last_zxid = self.slots[i].last_zxid.max(conn.last_zxid());
        }
    }

    /// Drops the TCP connection without closing the session.
    pub fn drop_connection(&mut self, c: C) {
        let name = self.name(c);
        if let Some(conn) = self.slots[c.0].conn.take() {
            self.slots[c.0].last_zxid = self.slots[c.0].last_zxid.max(conn.last_zxid());
            conn.disconnect();
        }
        self.note(format!("{name}: (tcp connection dropped)"));
    }

    pub fn is_open(&self, c: C) -> bool {
        self.slots[c.0]
            .conn
            .as_ref()
            .is_some_and(|c| !c.is_closed())
    }

    /// Waits for the server to close `c`'s connection and records whether it did.
    pub fn expect_closed(&mut self, c: C) {
        let name = self.name(c);
        let Some(conn) = self.slots[c.0].conn.as_mut() else {
            self.note(format!("{name}: already closed"));
            return;
        };
        let closed = conn.wait_closed(CLOSE_WAIT);
        self.record_buffered(c);
        if closed {
            self.forget_conn(c.0);
            self.note(format!("{name}: connection closed by server"));
        } else {
            self.note(format!("{name}: connection still open"));
        }
    }

    /// Sends a request that should not be answered before anything else and
    /// records whatever comes back; then probes whether the connection lives:
    /// `exists("/")` answered → alive, EOF → closed.
    pub fn probe(&mut self, c: C) {
        let name = self.name(c);
        let Some(conn) = self.slots[c.0].conn.as_mut() else {
            self.note(format!("{name}: probe: no connection"));
            return;
        };
        let res = conn.call(
            OpCode::Exists,
            Request::Exists(ExistsRequest {
                path: "/".into(),
                watch: false,
            }),
        );
        self.record_buffered(c);
        let text = match res {
            Ok(r) => format!("{name}: probe -> alive ({})", err_name(r.err_code)),
            Err(e) => {
                self.forget_conn(c.0);
                format!("{name}: probe -> {}", client_err(&e))
            }
        };
        self.note(text);
    }

    /// Direct access to a connection, for steps the DSL has no method for.
    pub fn conn(&mut self, c: C) -> Option<&mut RawClient> {
        self.slots[c.0].conn.as_mut()
    }

    /// Writes raw bytes and records nothing (follow with `probe`, `expect_closed`
    /// or `read_frames`).
    pub fn raw_write(&mut self, c: C, bytes: &[u8]) {
        let name = self.name(c);
        let res = match self.slots[c.0].conn.as_mut() {
            Some(conn) => conn.raw_write(bytes),
            None => Err(ClientError::Closed),
        };
        let len = bytes.len();
        let text = match res {
            Ok(()) => format!("{name}: raw write {len} bytes"),
            Err(e) => format!("{name}: raw write {len} bytes -> {}", client_err(&e)),
        };
        self.note(text);
    }

    /// Reads and records the replies and notifications that arrive within
    /// `timeout`, then whether the connection was closed.
    pub fn read_frames(&mut self, c: C, timeout: Duration) {
        let name = self.name(c);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let now = std::time::Instant::now();
            let Some(conn) = self.slots[c.0].conn.as_mut() else {
                break;
            };
            if now >= deadline {
                self.note(format!("{name}: (nothing more; connection open)"));
                break;
            }
            match conn.recv_any(deadline - now) {
                Ok(rzk_client::Incoming::Reply(r)) => {
                    let mut l = LineBuf::default();
                    l.t(format!("{name}: frame xid={} ", r.xid));
                    render_reply(&mut l, &r);
                    self.push(l);
                }
                Ok(rzk_client::Incoming::Notification(n)) => {
                    let l = render_event(&name, &n);
                    self.push(l);
                }
                Err(ClientError::Timeout) => {
                    self.note(format!("{name}: (nothing more; connection open)"));
                    break;
                }
                Err(e) => {
                    self.forget_conn(c.0);
                    self.note(format!("{name}: {}", client_err(&e)));
                    break;
                }
            }
        }
    }

    /// How long `c` waits for a reply before recording TIMEOUT (default 10 s).
    pub fn set_timeout(&mut self, c: C, timeout: Duration) {
        if let Some(conn) = self.slots[c.0].conn.as_mut() {
            conn.set_read_timeout(timeout);
        }
    }

    pub fn sleep_ms(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    // ---- the generic step --------------------------------------------------

    /// Sends one request, records the reply (and the notifications that arrived
    /// before it), then collects every client's events.
    pub fn op(&mut self, c: C, op: OpCode, req: Request) -> Option<Reply> {
        let out = self.op_no_settle(c, op, req);
        self.settle();
        out
    }

    fn record_buffered(&mut self, c: C) {
        let name = self.name(c);
        let Some(conn) = self.slots[c.0].conn.as_mut() else {
            return;
        };
        let mut lines: Vec<LineBuf> = conn
            .take_notifications()
            .iter()
            .map(|n| render_event(&name, n))
            .collect();
        if self.sort_events {
            lines.sort_by_key(|l| format!("{:?}", l.0));
        }
        for l in lines {
            self.push(l);
        }
    }

    /// Makes every open client read up to a barrier reply, so that every
    /// notification caused by the steps so far has arrived, and records them.
    /// The barrier is `exists("/")`: a server sends the notifications of a change
    /// before the reply to any later request of the same session.
    pub fn settle(&mut self) {
        for i in 0..self.slots.len() {
            let name = self.slots[i].name.clone();
            let Some(conn) = self.slots[i].conn.as_mut() else {
                continue;
            };
            if conn.is_closed() {
                self.record_buffered(C(i));
                self.forget_conn(i);
                self.note(format!("{name}: connection closed by server"));
                continue;
            }
            let res = conn.call(
                OpCode::Exists,
                Request::Exists(ExistsRequest {
                    path: "/".into(),
                    watch: false,
                }),
            );
            self.record_buffered(C(i));
            match res {
                Ok(_) => {}
                Err(ClientError::Closed) => {
                    self.forget_conn(i);
                    self.note(format!("{name}: connection closed by server"));
                }
                Err(e) => {
                    self.forget_conn(i);
                    self.note(format!("{name}: barrier failed: {}", client_err(&e)));
                }
            }
        }
    }

    /// End of scenario: give late notifications a moment, collect them, then
    /// close every open session (recorded, so that ephemeral cleanup and its
    /// events are compared too).
    pub fn finish(&mut self, settle_ms: u64) {
        if settle_ms > 0 {
            std::thread::sleep(Duration::from_millis(settle_ms));
        }
        self.settle();
        for i in 0..self.slots.len() {
            if self.slots[i].conn.is_some() {
                self.close(C(i));
            }
        }
        self.cleanup_sessions();
    }

    /// Makes a session created by a raw handshake known: its id is rendered as
    /// `<name>` and it is closed at the end of the scenario.
    pub fn register_session(&mut self, name: &str, id: i64, password: Vec<u8>) {
        if id != 0 && !self.sessions.iter().any(|(sid, _)| *sid == id) {
            self.sessions.push((id, name.to_string()));
        }
        self.extra_sessions.push((name.to_string(), id, password));
    }

    /// Ends every session of the scenario that is neither closed nor expired,
    /// so that no session expires later, in another scenario (an expiry is a
    /// transaction: it would shift that scenario's zxids). Recorded: whether a
    /// session whose connection the server closed is still alive is behaviour.
    fn cleanup_sessions(&mut self) {
        let mut todo: Vec<(String, i64, Vec<u8>)> = self
            .slots
            .iter()
            .map(|s| (s.name.clone(), s.session_id, s.password.clone()))
            .chain(self.extra_sessions.iter().cloned())
            .filter(|(_, id, _)| *id != 0)
            .collect();
        let mut seen = Vec::new();
        todo.retain(|(_, id, _)| {
            let keep = !seen.contains(id) && !self.closed_sessions.contains(id);
            seen.push(*id);
            keep
        });
        for (name, id, password) in todo {
            let opts = ConnectOptions {
                session_id: id,
                password,
                ..Default::default()
            };
            let text = match RawClient::connect(&self.addr, opts) {
                Ok((_, resp)) if resp.timeout_ms == 0 => {
                    format!("{name}: cleanup: session already gone")
                }
                Ok((mut conn, _)) => {
                    let r = conn.close_session();
                    conn.wait_closed(CLOSE_WAIT);
                    match r {
                        Ok(r) => format!(
                            "{name}: cleanup: session was alive, closeSession -> {}",
                            err_name(r.err_code)
                        ),
                        Err(e) => format!(
                            "{name}: cleanup: session was alive, closeSession -> {}",
                            client_err(&e)
                        ),
                    }
                }
                Err(e) => format!("{name}: cleanup: resume failed {}", client_err(&e)),
            };
            self.note(text);
        }
    }

    /// Closes all connections without recording (after a panic).
    pub fn abandon(&mut self) {
        for s in &mut self.slots {
            if let Some(c) = s.conn.take() {
                c.disconnect();
            }
        }
        self.cleanup_sessions();
    }

    /// The normalized transcript.
    pub fn transcript(&self) -> Vec<String> {
        normalize(&self.lines, &self.sessions)
    }

    // ---- one method per operation -----------------------------------------

    pub fn create(
        &mut self,
        c: C,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        flags: i32,
    ) -> Option<Reply> {
        self.create_op(c, OpCode::Create, path, data, acl, flags, 0)
    }

    pub fn create2(
        &mut self,
        c: C,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        flags: i32,
    ) -> Option<Reply> {
        self.create_op(c, OpCode::Create2, path, data, acl, flags, 0)
    }

    pub fn create_container(&mut self, c: C, path: &str, data: &[u8], flags: i32) -> Option<Reply> {
        self.create_op(c, OpCode::CreateContainer, path, data, open(), flags, 0)
    }

    pub fn create_ttl(
        &mut self,
        c: C,
        path: &str,
        data: &[u8],
        flags: i32,
        ttl: i64,
    ) -> Option<Reply> {
        self.create_op(c, OpCode::CreateTtl, path, data, open(), flags, ttl)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_op(
        &mut self,
        c: C,
        op: OpCode,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        flags: i32,
        ttl: i64,
    ) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            op,
            Request::Create(CreateOp {
                path,
                data: data.to_vec(),
                acl,
                flags,
                ttl,
            }),
        )
    }

    /// Shorthand: persistent node, open ACL.
    pub fn mk(&mut self, c: C, path: &str, data: &[u8]) -> Option<Reply> {
        self.create(c, path, data, open(), P)
    }

    pub fn delete(&mut self, c: C, path: &str, version: i32) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::Delete,
            Request::Delete(DeleteRequest { path, version }),
        )
    }

    pub fn exists(&mut self, c: C, path: &str, watch: bool) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::Exists,
            Request::Exists(ExistsRequest { path, watch }),
        )
    }

    pub fn get(&mut self, c: C, path: &str, watch: bool) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::GetData,
            Request::GetData(GetDataRequest { path, watch }),
        )
    }

    pub fn set(&mut self, c: C, path: &str, data: &[u8], version: i32) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::SetData,
            Request::SetData(SetDataRequest {
                path,
                data: data.to_vec(),
                version,
            }),
        )
    }

    pub fn get_acl(&mut self, c: C, path: &str) -> Option<Reply> {
        let path = self.p(path);
        self.op(c, OpCode::GetAcl, Request::GetAcl(GetAclRequest { path }))
    }

    pub fn set_acl(&mut self, c: C, path: &str, acl: Vec<Acl>, version: i32) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::SetAcl,
            Request::SetAcl(SetAclRequest { path, acl, version }),
        )
    }

    pub fn children(&mut self, c: C, path: &str, watch: bool) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::GetChildren,
            Request::GetChildren(GetChildrenRequest { path, watch }),
        )
    }

    pub fn children2(&mut self, c: C, path: &str, watch: bool) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::GetChildren2,
            Request::GetChildren(GetChildrenRequest { path, watch }),
        )
    }

    pub fn sync(&mut self, c: C, path: &str) -> Option<Reply> {
        let path = self.p(path);
        self.op(c, OpCode::Sync, Request::Sync(SyncRequest { path }))
    }

    pub fn ping(&mut self, c: C) -> Option<Reply> {
        self.op(c, OpCode::Ping, Request::Ping)
    }

    pub fn check(&mut self, c: C, path: &str, version: i32) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::Check,
            Request::Check(CheckVersionRequest { path, version }),
        )
    }

    pub fn multi(&mut self, c: C, ops: Vec<MultiOp>) -> Option<Reply> {
        let ops = ops.into_iter().map(|o| self.map_multi_op(o)).collect();
        self.op(c, OpCode::Multi, Request::Multi(ops))
    }

    fn map_multi_op(&self, op: MultiOp) -> MultiOp {
        match op {
            MultiOp::Create { op, mut create } => {
                create.path = self.p(&create.path);
                MultiOp::Create { op, create }
            }
            MultiOp::Delete(mut d) => {
                d.path = self.p(&d.path);
                MultiOp::Delete(d)
            }
            MultiOp::SetData(mut s) => {
                s.path = self.p(&s.path);
                MultiOp::SetData(s)
            }
            MultiOp::Check(mut k) => {
                k.path = self.p(&k.path);
                MultiOp::Check(k)
            }
        }
    }

    pub fn multi_read(&mut self, c: C, ops: Vec<ReadOp>) -> Option<Reply> {
        let ops = ops
            .into_iter()
            .map(|o| match o {
                ReadOp::GetData(mut g) => {
                    g.path = self.p(&g.path);
                    ReadOp::GetData(g)
                }
                ReadOp::GetChildren(mut g) => {
                    g.path = self.p(&g.path);
                    ReadOp::GetChildren(g)
                }
            })
            .collect();
        self.op(c, OpCode::MultiRead, Request::MultiRead(ops))
    }

    pub fn reconfig(
        &mut self,
        c: C,
        joining: &str,
        leaving: &str,
        members: &str,
        config_id: i64,
    ) -> Option<Reply> {
        self.op(
            c,
            OpCode::Reconfig,
            Request::Reconfig(ReconfigRequest {
                joining_servers: Some(joining.into()),
                leaving_servers: Some(leaving.into()),
                new_members: Some(members.into()),
                cur_config_id: config_id,
            }),
        )
    }

    pub fn check_watches(&mut self, c: C, path: &str, watcher_type: i32) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::CheckWatches,
            Request::CheckWatches(WatchesRequest { path, watcher_type }),
        )
    }

    pub fn remove_watches(&mut self, c: C, path: &str, watcher_type: i32) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::RemoveWatches,
            Request::RemoveWatches(WatchesRequest { path, watcher_type }),
        )
    }

    /// An auth packet. If the server answers with an error, waits to see whether
    /// it closes the connection (ZooKeeper does after AuthFailed).
    pub fn auth(&mut self, c: C, scheme: &str, data: &[u8]) -> Option<Reply> {
        let r = self.op(
            c,
            OpCode::Auth,
            Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: scheme.into(),
                auth: data.to_vec(),
            }),
        );
        if r.as_ref().is_some_and(|r| !r.is_ok()) && self.slots[c.0].conn.is_some() {
            self.expect_closed(c);
        }
        r
    }

    pub fn auth_digest(&mut self, c: C, user: &str, password: &str) -> Option<Reply> {
        self.auth(c, "digest", format!("{user}:{password}").as_bytes())
    }

    pub fn auth_super(&mut self, c: C) -> Option<Reply> {
        self.auth_digest(c, "super", SUPER_PASSWORD)
    }

    /// setWatches (opcode 101). Paths are mapped like every other path.
    pub fn set_watches(
        &mut self,
        c: C,
        rel_zxid: i64,
        data: &[&str],
        exist: &[&str],
        child: &[&str],
    ) -> Option<Reply> {
        let w = SetWatches2 {
            relative_zxid: rel_zxid,
            data_watches: data.iter().map(|p| self.p(p)).collect(),
            exist_watches: exist.iter().map(|p| self.p(p)).collect(),
            child_watches: child.iter().map(|p| self.p(p)).collect(),
            persistent_watches: Vec::new(),
            persistent_recursive_watches: Vec::new(),
        };
        self.op(c, OpCode::SetWatches, Request::SetWatches(w))
    }

    /// setWatches2 (opcode 105).
    #[allow(clippy::too_many_arguments)]
    pub fn set_watches2(
        &mut self,
        c: C,
        rel_zxid: i64,
        data: &[&str],
        exist: &[&str],
        child: &[&str],
        persistent: &[&str],
        recursive: &[&str],
    ) -> Option<Reply> {
        let m = |v: &[&str]| -> Vec<String> { v.iter().map(|p| self.p(p)).collect() };
        let w = SetWatches2 {
            relative_zxid: rel_zxid,
            data_watches: m(data),
            exist_watches: m(exist),
            child_watches: m(child),
            persistent_watches: m(persistent),
            persistent_recursive_watches: m(recursive),
        };
        self.op(c, OpCode::SetWatches2, Request::SetWatches(w))
    }

    pub fn ephemerals(&mut self, c: C, prefix: &str) -> Option<Reply> {
        let prefix_path = self.p(prefix);
        self.op(
            c,
            OpCode::GetEphemerals,
            Request::GetEphemerals(GetEphemeralsRequest { prefix_path }),
        )
    }

    pub fn all_children_number(&mut self, c: C, path: &str) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::GetAllChildrenNumber,
            Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path }),
        )
    }

    pub fn add_watch(&mut self, c: C, path: &str, mode: i32) -> Option<Reply> {
        let path = self.p(path);
        self.op(
            c,
            OpCode::AddWatch,
            Request::AddWatch(AddWatchRequest { path, mode }),
        )
    }

    pub fn whoami(&mut self, c: C) -> Option<Reply> {
        self.op(c, OpCode::WhoAmI, Request::WhoAmI)
    }

    /// closeSession, then waits for the server to close the connection.
    pub fn close(&mut self, c: C) -> Option<Reply> {
        let r = self.op_no_settle(c, OpCode::CloseSession, Request::CloseSession);
        if r.as_ref().is_some_and(|r| r.is_ok()) {
            self.closed_sessions.push(self.slots[c.0].session_id);
        }
        if self.slots[c.0].conn.is_some() {
            self.expect_closed(c);
        }
        self.settle();
        r
    }

    /// Like `op` but without collecting other clients' events afterwards.
    fn op_no_settle(&mut self, c: C, op: OpCode, req: Request) -> Option<Reply> {
        let name = self.name(c);
        let mut l = describe_line(&name, op, &req);
        l.1.sort_acls = self.sort_acls;
        let res = match self.slots[c.0].conn.as_mut() {
            Some(conn) => conn.call(op, req),
            None => Err(ClientError::Closed),
        };
        // Notifications that came before the reply are part of its ordering.
        self.record_buffered(c);
        let out = match res {
            Ok(reply) => {
                render_reply(&mut l, &reply);
                Some(reply)
            }
            Err(e) => {
                l.t(client_err(&e));
                if matches!(e, ClientError::Closed) {
                    self.forget_conn(c.0);
                }
                None
            }
        };
        self.push(l);
        out
    }

    /// Sends requests back to back without reading, then reads every reply and
    /// records them in arrival order (per-session FIFO).
    pub fn pipeline(&mut self, c: C, reqs: Vec<(OpCode, Request)>) {
        let name = self.name(c);
        let Some(conn) = self.slots[c.0].conn.as_mut() else {
            return;
        };
        let mut sent = Vec::new();
        for (op, req) in reqs {
            let desc = describe(op, &req);
            match conn.send(op, req) {
                Ok(xid) => sent.push((xid, desc)),
                Err(e) => {
                    sent.push((i32::MIN, format!("{desc} send failed: {}", client_err(&e))));
                }
            }
        }
        let mut lines = Vec::new();
        for _ in 0..sent.len() {
            let Some(conn) = self.slots[c.0].conn.as_mut() else {
                break;
            };
            match conn.recv_any(rzk_client::DEFAULT_READ_TIMEOUT) {
                Ok(rzk_client::Incoming::Reply(r)) => {
                    let pos = sent.iter().position(|s| s.0 == r.xid);
                    let desc = pos.map(|p| sent[p].1.clone()).unwrap_or_default();
                    if let Some(p) = pos {
                        sent[p].0 = i32::MIN; // a reserved xid may repeat
                    }
                    let mut l = LineBuf::default();
                    l.t(format!(
                        "{name}: [pipelined #{}] {desc} -> ",
                        pos.map(|p| p as i64).unwrap_or(-1)
                    ));
                    render_reply(&mut l, &r);
                    lines.push(l);
                }
                Ok(rzk_client::Incoming::Notification(n)) => lines.push(render_event(&name, &n)),
                Err(e) => {
                    let mut l = LineBuf::default();
                    l.t(format!("{name}: [pipelined] {}", client_err(&e)));
                    lines.push(l);
                    break;
                }
            }
        }
        for l in lines {
            self.push(l);
        }
        self.settle();
    }
}

fn client_err(e: &ClientError) -> String {
    match e {
        ClientError::Closed => "CONNECTION CLOSED".into(),
        ClientError::Timeout => "TIMEOUT".into(),
        ClientError::Io(e) => format!("IO ERROR {:?}", e.kind()),
        ClientError::Decode(e) => format!("UNDECODABLE {e}"),
        ClientError::Protocol(m) => format!("PROTOCOL {m}"),
    }
}

fn render_event(name: &str, n: &rzk_client::Notification) -> LineBuf {
    let mut l = LineBuf::default();
    l.t(format!(
        "{name}: EVENT {} {} {:?} zxid=",
        event_type_name(n.event.event_type),
        state_name(n.event.state),
        n.event.path
    ));
    l.z(n.zxid);
    l
}

fn render_reply(l: &mut LineBuf, r: &Reply) {
    l.t(err_name(r.err_code));
    l.t(" zxid=").z(r.zxid);
    match &r.response {
        Some(resp) => {
            l.t(" ");
            render_response(l, resp);
            // Bytes the decoder did not consume would be invisible otherwise.
        }
        None if !r.body.is_empty() => {
            l.t(format!(" undecoded body {}", fmt_data(&r.body)));
        }
        None => {}
    }
}

fn render_response(l: &mut LineBuf, resp: &Response) {
    match resp {
        Response::Empty => {
            l.t("(empty)");
        }
        Response::Create { path } => {
            l.t(format!("path={path:?}"));
        }
        Response::Create2 { path, stat } => {
            l.t(format!("path={path:?} stat=")).stat(stat);
        }
        Response::Stat(stat) => {
            l.t("stat=").stat(stat);
        }
        Response::Data { data, stat } => {
            l.t(format!("data={} stat=", fmt_data(data))).stat(stat);
        }
        Response::Acl { acl, stat } => {
            if l.sort_acls {
                let mut sorted = acl.clone();
                sorted.sort_by(|a, b| {
                    (&a.id.scheme, &a.id.id, a.perms).cmp(&(&b.id.scheme, &b.id.id, b.perms))
                });
                l.t(format!("acl(sorted)={} stat=", fmt_acls(&sorted)))
                    .stat(stat);
            } else {
                l.t(format!("acl={} stat=", fmt_acls(acl))).stat(stat);
            }
        }
        Response::Children(c) => {
            l.t(format!("children={}", fmt_list(c, true)));
        }
        Response::Children2 { children, stat } => {
            l.t(format!("children={} stat=", fmt_list(children, true)))
                .stat(stat);
        }
        Response::Sync { path } => {
            l.t(format!("path={path:?}"));
        }
        Response::Multi(results) => {
            l.t("results=[");
            for (i, res) in results.iter().enumerate() {
                if i > 0 {
                    l.t(", ");
                }
                match res {
                    MultiResult::Create { path } => {
                        l.t(format!("create path={path:?}"));
                    }
                    MultiResult::Create2 { path, stat } => {
                        l.t(format!("create2 path={path:?} stat=")).stat(stat);
                    }
                    MultiResult::Delete => {
                        l.t("delete");
                    }
                    MultiResult::SetData { stat } => {
                        l.t("setData stat=").stat(stat);
                    }
                    MultiResult::Check => {
                        l.t("check");
                    }
                    MultiResult::Error(e) => {
                        l.t(format!("error {}", e.name()));
                    }
                }
            }
            l.t("]");
        }
        Response::MultiRead(results) => {
            l.t("results=[");
            for (i, res) in results.iter().enumerate() {
                if i > 0 {
                    l.t(", ");
                }
                match res {
                    MultiReadResult::Children(c) => {
                        l.t(format!("children={}", fmt_list(c, true)));
                    }
                    MultiReadResult::Data { data, stat } => {
                        l.t(format!("data={} stat=", fmt_data(data))).stat(stat);
                    }
                    MultiReadResult::Error(e) => {
                        l.t(format!("error {}", e.name()));
                    }
                }
            }
            l.t("]");
        }
        Response::Ephemerals(e) => {
            l.t(format!("ephemerals={}", fmt_list(e, true)));
        }
        Response::AllChildrenNumber(n) => {
            l.t(format!("total={n}"));
        }
        Response::WhoAmI(infos) => {
            // ZooKeeper keeps a session's identities in a hash set: the order is
            // an accident of Java's String.hashCode, so it is not compared.
            let mut v: Vec<String> = infos
                .iter()
                .map(|i| format!("{}:{}", i.auth_scheme, i.user))
                .collect();
            v.sort();
            l.t(format!("whoami={v:?}"));
        }
    }
}

/// `name: <request> -> ` with the relative zxid of setWatches as a zxid token.
fn describe_line(name: &str, op: OpCode, req: &Request) -> LineBuf {
    let mut l = LineBuf::default();
    match req {
        Request::SetWatches(w) => {
            l.t(format!("{name}: {}(rel=", op.name()))
                .z(w.relative_zxid);
            l.t(format!(
                " data={:?} exist={:?} child={:?} persistent={:?} recursive={:?}) -> ",
                w.data_watches,
                w.exist_watches,
                w.child_watches,
                w.persistent_watches,
                w.persistent_recursive_watches
            ));
        }
        _ => {
            l.t(format!("{name}: {} -> ", describe(op, req)));
        }
    }
    l
}

/// A short description of a request for the transcript.
pub fn describe(op: OpCode, req: &Request) -> String {
    match req {
        Request::Create(c) => {
            let ttl = if op == OpCode::CreateTtl {
                format!(" ttl={}", c.ttl)
            } else {
                String::new()
            };
            format!(
                "{}({:?} data={} acl={} flags={}{ttl})",
                op.name(),
                c.path,
                fmt_data(&c.data),
                fmt_acls(&c.acl),
                c.flags
            )
        }
        Request::Delete(d) => format!("delete({:?} version={})", d.path, d.version),
        Request::Exists(x) => format!("exists({:?} watch={})", x.path, x.watch),
        Request::GetData(x) => format!("getData({:?} watch={})", x.path, x.watch),
        Request::SetData(x) => format!(
            "setData({:?} data={} version={})",
            x.path,
            fmt_data(&x.data),
            x.version
        ),
        Request::GetAcl(x) => format!("getACL({:?})", x.path),
        Request::SetAcl(x) => format!(
            "setACL({:?} acl={} version={})",
            x.path,
            fmt_acls(&x.acl),
            x.version
        ),
        Request::GetChildren(x) => format!("{}({:?} watch={})", op.name(), x.path, x.watch),
        Request::Sync(x) => format!("sync({:?})", x.path),
        Request::Ping => "ping".into(),
        Request::Check(x) => format!("check({:?} version={})", x.path, x.version),
        Request::Multi(ops) => {
            let v: Vec<String> = ops
                .iter()
                .map(|o| match o {
                    MultiOp::Create { op, create } => format!(
                        "{}({:?} data={} flags={}{})",
                        op.name(),
                        create.path,
                        fmt_data(&create.data),
                        create.flags,
                        if *op == OpCode::CreateTtl {
                            format!(" ttl={}", create.ttl)
                        } else {
                            String::new()
                        }
                    ),
                    MultiOp::Delete(d) => format!("delete({:?} v={})", d.path, d.version),
                    MultiOp::SetData(s) => format!(
                        "setData({:?} data={} v={})",
                        s.path,
                        fmt_data(&s.data),
                        s.version
                    ),
                    MultiOp::Check(k) => format!("check({:?} v={})", k.path, k.version),
                })
                .collect();
            format!("multi[{}]", v.join(", "))
        }
        Request::MultiRead(ops) => {
            let v: Vec<String> = ops
                .iter()
                .map(|o| match o {
                    ReadOp::GetData(g) => format!("getData({:?})", g.path),
                    ReadOp::GetChildren(g) => format!("getChildren({:?})", g.path),
                })
                .collect();
            format!("multiRead[{}]", v.join(", "))
        }
        Request::Reconfig(r) => format!(
            "reconfig(joining={:?} leaving={:?} members={:?} configId={})",
            r.joining_servers, r.leaving_servers, r.new_members, r.cur_config_id
        ),
        Request::CheckWatches(w) => format!("checkWatches({:?} type={})", w.path, w.watcher_type),
        Request::RemoveWatches(w) => format!("removeWatches({:?} type={})", w.path, w.watcher_type),
        Request::Auth(a) => format!("auth({:?} {})", a.scheme, fmt_data(&a.auth)),
        Request::SetWatches(w) => format!(
            "{}(rel=@ data={:?} exist={:?} child={:?} persistent={:?} recursive={:?})",
            op.name(),
            w.data_watches,
            w.exist_watches,
            w.child_watches,
            w.persistent_watches,
            w.persistent_recursive_watches
        ),
        Request::Sasl(_) => "sasl".into(),
        Request::GetEphemerals(g) => format!("getEphemerals({:?})", g.prefix_path),
        Request::GetAllChildrenNumber(g) => format!("getAllChildrenNumber({:?})", g.path),
        Request::AddWatch(a) => format!("addWatch({:?} mode={})", a.path, a.mode),
        Request::WhoAmI => "whoAmI".into(),
        Request::CloseSession => "closeSession".into(),
    }
}

// ---------------------------------------------------------------------------
// Normalization.

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Renders the token lines of one scenario:
/// - zxids > 0 become `Z<rank>` among all distinct positive zxids of the scenario
///   (order and equality kept); 0 and negative values stay as they are;
/// - times become `T` when they are a plausible wall-clock time (within a day of
///   now), `0` when zero, and `T?<raw>` otherwise (times are compared for
///   presence only, because two servers cannot be made to tick alike);
/// - session ids become the name of the client that owns them, `0` for none,
///   and hex otherwise (container and TTL owners are fixed bit patterns).
pub fn normalize(lines: &[Vec<Tok>], sessions: &[(i64, String)]) -> Vec<String> {
    let mut zxids: Vec<i64> = lines
        .iter()
        .flatten()
        .filter_map(|t| match t {
            Tok::Zxid(z) if *z > 0 => Some(*z),
            _ => None,
        })
        .collect();
    zxids.sort_unstable();
    zxids.dedup();
    let now = now_ms();
    lines
        .iter()
        .map(|line| {
            let mut s = String::new();
            for t in line {
                match t {
                    Tok::Text(x) => s.push_str(x),
                    Tok::Zxid(z) if *z > 0 => {
                        let rank = zxids.binary_search(z).expect("collected above") + 1;
                        s.push_str(&format!("Z{rank}"));
                    }
                    Tok::Zxid(z) => s.push_str(&z.to_string()),
                    Tok::Time(0) => s.push('0'),
                    Tok::Time(t) if (now - 86_400_000..now + 86_400_000).contains(t) => s.push('T'),
                    Tok::Time(t) => s.push_str(&format!("T?{t}")),
                    Tok::Session(0) => s.push('0'),
                    Tok::Session(id) => match sessions.iter().find(|(sid, _)| sid == id) {
                        Some((_, name)) => s.push_str(&format!("<{name}>")),
                        None => s.push_str(&format!("{:#018x}", *id as u64)),
                    },
                }
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_keep_order_and_zero() {
        let lines = vec![
            vec![
                Tok::Text("a ".into()),
                Tok::Zxid(500),
                Tok::Text(" ".into()),
                Tok::Zxid(0),
            ],
            vec![
                Tok::Zxid(700),
                Tok::Text(" ".into()),
                Tok::Zxid(500),
                Tok::Text(" ".into()),
                Tok::Session(42),
            ],
        ];
        let out = normalize(&lines, &[(42, "x".into())]);
        assert_eq!(out, vec!["a Z1 0", "Z2 Z1 <x>"]);
    }
}
