//! One ZooKeeper session, as the shell sees it: requests in, replies out,
//! watch events delivered as they arrive.
//!
//! A [`Session`] owns at most one [`Link`] (a TCP connection after its
//! handshake) at a time. Each link has two threads: a reader, which takes
//! frames off the socket, hands replies to the caller waiting on that xid
//! and passes notifications to the event sink (in arrival order, so an
//! event is delivered before any later reply); and a pinger, which keeps
//! the session alive while the shell waits for the user. When a link dies
//! the session reconnects on the next request, with the same session id
//! and password, and sets its watches and auth again, as the Java client
//! does; an expired session ends the session (state CLOSED), as in zkCli.
//!
//! Bytes from the network are never trusted: frames are bounded by
//! [`MAX_INCOMING_FRAME_BYTES`], every record is decoded by `rzk-proto`'s
//! checked reader, and a frame that does not decode drops the connection.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rzk_proto::codes::xid;
use rzk_proto::frame::{self, parse_frame_len};
use rzk_proto::records::{
    AuthPacket, ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent,
};
use rzk_proto::{Decode, Encode, ErrorCode, EventType, KeeperState, OpCode, Reader};
use rzk_proto::{Request, RequestFrame};

use crate::format::WatchedEvent;
use crate::watches::{WatchKind, Watches};

/// Largest frame accepted from a server: ZooKeeper's default
/// `jute.maxbuffer` plus room for the reply header.
pub const MAX_INCOMING_FRAME_BYTES: usize = frame::DEFAULT_MAX_FRAME_BYTES + 1024;
/// Requests waiting for a reply on one link. The shell sends one at a time
/// (deleteall a few batches), so this is never reached in normal use.
pub const PENDING_REQUESTS_MAX: usize = 64;
/// Servers in `-server host:port,host:port...`.
pub const SERVERS_MAX: usize = 64;
/// The longest a TCP connect to one server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between rounds over the server list while (re)connecting.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Receives every watch event and connection state change, on the link's
/// reader thread (or the caller's, for state changes it causes).
pub type EventSink = Arc<dyn Fn(WatchedEvent) + Send + Sync>;

/// `ZooKeeper.States`, as zkCli's prompt shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connecting,
    Connected,
    ConnectedReadOnly,
    Closed,
    AuthFailed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Connecting => "CONNECTING",
            State::Connected => "CONNECTED",
            State::ConnectedReadOnly => "CONNECTEDREADONLY",
            State::Closed => "CLOSED",
            State::AuthFailed => "AUTH_FAILED",
        }
    }

    /// `States.isAlive`: the session can still be used (or reconnected).
    pub fn is_alive(self) -> bool {
        !matches!(self, State::Closed | State::AuthFailed)
    }
}

/// What the reader thread and the session share.
struct Common {
    state: Mutex<State>,
    watches: Mutex<Watches>,
    last_zxid: AtomicI64,
    sink: EventSink,
}

/// Locks a mutex, taking the data even if a thread panicked holding it (the
/// data here stays consistent between statements).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A reply: the header's error code and the body bytes after the header.
struct Reply {
    err: i32,
    body: Vec<u8>,
}

/// What a link's threads and its owner share.
struct LinkShared {
    writer: Mutex<TcpStream>,
    pending: Mutex<HashMap<i32, SyncSender<Reply>>>,
    alive: AtomicBool,
    /// Set when the session itself ends the link: no Disconnected event.
    closing: AtomicBool,
}

/// One TCP connection after a successful handshake.
struct Link {
    shared: Arc<LinkShared>,
    /// Dropping it wakes the pinger, which then exits.
    stop_pinger: Option<mpsc::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Link {
    fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::SeqCst)
    }

    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        let mut w = lock(&self.shared.writer);
        w.write_all(bytes)?;
        w.flush()
    }

    /// Ends the connection and waits for its threads.
    fn shut(mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        let _ = lock(&self.shared.writer).shutdown(Shutdown::Both);
        self.stop_pinger.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Opens a TCP connection to `addr` and performs the handshake.
fn handshake(addr: &str, req: &ConnectRequest) -> io::Result<(TcpStream, ConnectResponse)> {
    let sock = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address")))?;
    let mut stream = TcpStream::connect_timeout(&sock, CONNECT_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    stream.write_all(&frame::frame(&req.to_bytes()))?;
    let mut buf = Vec::new();
    let body = read_frame(&mut stream, &mut buf)?;
    let resp = ConnectResponse::decode_all(&body)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok((stream, resp))
}

/// Reads one whole frame body, keeping extra bytes in `buf`.
fn read_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    loop {
        match parse_frame_len(buf, MAX_INCOMING_FRAME_BYTES) {
            Ok(Some(len)) => {
                let body =
                    buf[frame::LENGTH_PREFIX_BYTES..frame::LENGTH_PREFIX_BYTES + len].to_vec();
                buf.drain(..frame::LENGTH_PREFIX_BYTES + len);
                return Ok(body);
            }
            Ok(None) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The reader thread: replies to their waiters, notifications to the sink,
/// until the connection ends (or a frame does not decode).
fn read_loop(mut stream: TcpStream, link: Arc<LinkShared>, common: Arc<Common>) {
    let mut buf = Vec::new();
    while let Ok(body) = read_frame(&mut stream, &mut buf) {
        if dispatch(&body, &link, &common).is_err() {
            break;
        }
    }
    link.alive.store(false, Ordering::SeqCst);
    // Dropping the senders wakes every waiter with "disconnected".
    lock(&link.pending).clear();
    let _ = stream.shutdown(Shutdown::Both);
    if link.closing.load(Ordering::SeqCst) {
        return;
    }
    let was_alive = {
        let mut state = lock(&common.state);
        let alive = state.is_alive();
        if alive {
            *state = State::Connecting;
        }
        alive
    };
    if was_alive {
        (common.sink)(WatchedEvent::state_change(KeeperState::Disconnected));
    }
}

fn dispatch(body: &[u8], link: &LinkShared, common: &Common) -> Result<(), rzk_proto::DecodeError> {
    let mut r = Reader::new(body);
    let header = ReplyHeader::decode(&mut r)?;
    let rest = &body[body.len() - r.remaining()..];
    match header.xid {
        xid::NOTIFICATION => {
            let ev = WatcherEvent::decode_all(rest)?;
            let event_type = EventType::from_code(ev.event_type).unwrap_or(EventType::None);
            let state = KeeperState::from_code(ev.state).unwrap_or(KeeperState::SyncConnected);
            lock(&common.watches).fired(event_type, &ev.path);
            (common.sink)(WatchedEvent {
                state,
                event_type,
                path: Some(ev.path),
            });
        }
        xid::PING => {}
        _ => {
            if header.zxid > 0 {
                common.last_zxid.fetch_max(header.zxid, Ordering::SeqCst);
            }
            if header.xid == xid::AUTH && header.err == ErrorCode::AuthFailed.code() {
                *lock(&common.state) = State::AuthFailed;
                (common.sink)(WatchedEvent::state_change(KeeperState::AuthFailed));
            }
            if let Some(tx) = lock(&link.pending).remove(&header.xid) {
                let _ = tx.try_send(Reply {
                    err: header.err,
                    body: rest.to_vec(),
                });
            }
        }
    }
    Ok(())
}

/// The pinger thread: a ping every `interval` until told to stop.
fn ping_loop(link: Arc<LinkShared>, stop: mpsc::Receiver<()>, interval: Duration) {
    let mut ping = Vec::new();
    RequestHeader {
        xid: xid::PING,
        op: OpCode::Ping.code(),
    }
    .encode(&mut ping);
    let ping = frame::frame(&ping);
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(interval) {
        let mut w = lock(&link.writer);
        if w.write_all(&ping).and_then(|_| w.flush()).is_err() {
            return;
        }
    }
}

/// How to reach the ensemble and what to ask for.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `host:port` of each server, tried in order.
    pub servers: Vec<String>,
    pub timeout_ms: i32,
    pub read_only: bool,
}

impl SessionConfig {
    /// Parses zkCli's `host:port[,host:port...]` (a port-less host gets 2181).
    pub fn parse(servers: &str, timeout_ms: i32, read_only: bool) -> Result<Self, String> {
        let list: Vec<String> = servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.contains(':') {
                    s.to_string()
                } else {
                    format!("{s}:2181")
                }
            })
            .collect();
        if list.is_empty() {
            return Err(format!("no server in {servers:?}"));
        }
        if list.len() > SERVERS_MAX {
            return Err(format!("more than {SERVERS_MAX} servers in {servers:?}"));
        }
        if let Some(bad) = list.iter().find(|s| s.contains('/')) {
            return Err(format!(
                "{bad}: a chroot suffix is not supported by rzk cli"
            ));
        }
        Ok(SessionConfig {
            servers: list,
            timeout_ms,
            read_only,
        })
    }
}

/// A ZooKeeper session.
pub struct Session {
    config: SessionConfig,
    common: Arc<Common>,
    link: Option<Link>,
    session_id: i64,
    password: Vec<u8>,
    negotiated_timeout_ms: i32,
    next_xid: i32,
    next_server: usize,
    /// `addauth` credentials, sent again on every new connection.
    auth: Vec<(String, Vec<u8>)>,
}

/// Credentials kept for reconnects.
const AUTH_ENTRIES_MAX: usize = 64;

impl Session {
    /// A session not yet connected; the first request (or [`Session::connect`])
    /// connects it.
    pub fn new(config: SessionConfig, sink: EventSink) -> Session {
        Session {
            config,
            common: Arc::new(Common {
                state: Mutex::new(State::Connecting),
                watches: Mutex::new(Watches::default()),
                last_zxid: AtomicI64::new(0),
                sink,
            }),
            link: None,
            session_id: 0,
            password: vec![0; 16],
            negotiated_timeout_ms: 0,
            next_xid: 1,
            next_server: 0,
            auth: Vec::new(),
        }
    }

    pub fn state(&self) -> State {
        *lock(&self.common.state)
    }

    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// Connects (or reconnects) unless connected; retries the server list
    /// for up to the session timeout.
    pub fn connect(&mut self) -> Result<(), ErrorCode> {
        if self.link.as_ref().is_some_and(Link::is_alive) {
            return Ok(());
        }
        if !self.state().is_alive() {
            return Err(ErrorCode::SessionExpired);
        }
        if let Some(old) = self.link.take() {
            old.shut();
        }
        let deadline =
            Instant::now() + Duration::from_millis(self.config.timeout_ms.max(1000) as u64);
        loop {
            for _ in 0..self.config.servers.len() {
                let addr =
                    self.config.servers[self.next_server % self.config.servers.len()].clone();
                self.next_server = self.next_server.wrapping_add(1);
                match self.open(&addr) {
                    Ok(()) => return self.restore(),
                    Err(ErrorCode::SessionExpired) => return Err(ErrorCode::SessionExpired),
                    Err(_) => {}
                }
            }
            if Instant::now() + RETRY_PAUSE >= deadline {
                return Err(ErrorCode::ConnectionLoss);
            }
            thread::sleep(RETRY_PAUSE);
        }
    }

    /// One connection attempt to `addr`.
    fn open(&mut self, addr: &str) -> Result<(), ErrorCode> {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.common.last_zxid.load(Ordering::SeqCst),
            timeout_ms: self.config.timeout_ms,
            session_id: self.session_id,
            password: self.password.clone(),
            read_only: Some(self.config.read_only),
        };
        let (stream, resp) = handshake(addr, &req).map_err(|_| ErrorCode::ConnectionLoss)?;
        if resp.timeout_ms <= 0 {
            let _ = stream.shutdown(Shutdown::Both);
            *lock(&self.common.state) = State::Closed;
            (self.common.sink)(WatchedEvent::state_change(KeeperState::Expired));
            return Err(ErrorCode::SessionExpired);
        }
        let timeout_ms = resp.timeout_ms as u64;
        // As the Java client: no bytes for 2/3 of the session timeout (pings
        // go every third) means the server is gone.
        let io = |e: io::Error| {
            let _ = e;
            ErrorCode::ConnectionLoss
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(timeout_ms * 2 / 3 + 1)))
            .map_err(io)?;
        let reader_stream = stream.try_clone().map_err(io)?;
        let shared = Arc::new(LinkShared {
            writer: Mutex::new(stream),
            pending: Mutex::new(HashMap::new()),
            alive: AtomicBool::new(true),
            closing: AtomicBool::new(false),
        });
        let (stop_tx, stop_rx) = mpsc::channel();
        let reader = {
            let (link, common) = (Arc::clone(&shared), Arc::clone(&self.common));
            thread::spawn(move || read_loop(reader_stream, link, common))
        };
        let pinger = {
            let link = Arc::clone(&shared);
            let interval = Duration::from_millis((timeout_ms / 3).max(1));
            thread::spawn(move || ping_loop(link, stop_rx, interval))
        };
        self.link = Some(Link {
            shared,
            stop_pinger: Some(stop_tx),
            threads: vec![reader, pinger],
        });
        self.session_id = resp.session_id;
        self.password = resp.password;
        self.negotiated_timeout_ms = resp.timeout_ms;
        let read_only = resp.read_only == Some(true);
        *lock(&self.common.state) = if read_only {
            State::ConnectedReadOnly
        } else {
            State::Connected
        };
        (self.common.sink)(WatchedEvent::state_change(if read_only {
            KeeperState::ConnectedReadOnly
        } else {
            KeeperState::SyncConnected
        }));
        Ok(())
    }

    /// After a reconnect: auth and watches again, as the Java client does.
    fn restore(&mut self) -> Result<(), ErrorCode> {
        for (scheme, auth) in self.auth.clone() {
            self.send_auth(&scheme, &auth)?;
        }
        let watches = {
            let w = lock(&self.common.watches);
            (!w.is_empty()).then(|| w.set_watches(self.common.last_zxid.load(Ordering::SeqCst)))
        };
        if let Some(set) = watches {
            self.call_xid(
                xid::SET_WATCHES,
                OpCode::SetWatches2,
                Request::SetWatches(set),
            )?;
        }
        Ok(())
    }

    fn send_auth(&mut self, scheme: &str, auth: &[u8]) -> Result<(), ErrorCode> {
        let packet = AuthPacket {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth: auth.to_vec(),
        };
        self.call_xid(xid::AUTH, OpCode::Auth, Request::Auth(packet))
            .map(|_| ())
    }

    /// `addauth`: sends the credentials and remembers them for reconnects.
    pub fn add_auth(&mut self, scheme: &str, auth: &[u8]) -> Result<(), ErrorCode> {
        self.send_auth(scheme, auth)?;
        if self.auth.len() < AUTH_ENTRIES_MAX {
            self.auth.push((scheme.to_string(), auth.to_vec()));
        }
        Ok(())
    }

    /// Sends a request and waits for its reply body.
    pub fn call(&mut self, op: OpCode, request: Request) -> Result<Vec<u8>, ErrorCode> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.checked_add(1).unwrap_or(1);
        self.call_xid(xid, op, request)
    }

    /// Sends an already encoded request body (header included).
    pub fn call_encoded(
        &mut self,
        body: impl FnOnce(i32, &mut Vec<u8>),
    ) -> Result<Vec<u8>, ErrorCode> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.checked_add(1).unwrap_or(1);
        let mut bytes = Vec::new();
        body(xid, &mut bytes);
        self.roundtrip(xid, &bytes)
    }

    fn call_xid(&mut self, xid: i32, op: OpCode, request: Request) -> Result<Vec<u8>, ErrorCode> {
        let mut bytes = Vec::new();
        RequestFrame { xid, op, request }.encode(&mut bytes);
        self.roundtrip(xid, &bytes)
    }

    fn roundtrip(&mut self, xid: i32, body: &[u8]) -> Result<Vec<u8>, ErrorCode> {
        self.connect()?;
        let link = self.link.as_ref().ok_or(ErrorCode::ConnectionLoss)?;
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let mut pending = lock(&link.shared.pending);
            if !link.is_alive() || pending.len() >= PENDING_REQUESTS_MAX {
                return Err(ErrorCode::ConnectionLoss);
            }
            pending.insert(xid, tx);
        }
        if link.write(&frame::frame(body)).is_err() {
            return Err(ErrorCode::ConnectionLoss);
        }
        let wait = Duration::from_millis(self.negotiated_timeout_ms.max(1000) as u64);
        match rx.recv_timeout(wait) {
            Ok(reply) if reply.err == 0 => Ok(reply.body),
            Ok(reply) => Err(ErrorCode::from_code(reply.err).unwrap_or(ErrorCode::SystemError)),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(link) = self.link.take() {
                    link.shut();
                }
                *lock(&self.common.state) = State::Connecting;
                Err(ErrorCode::ConnectionLoss)
            }
            Err(RecvTimeoutError::Disconnected) => Err(ErrorCode::ConnectionLoss),
        }
    }

    /// Records a watch the server accepted.
    pub fn watch(&self, kind: WatchKind, path: &str) {
        lock(&self.common.watches).add(kind, path);
    }

    /// Forgets removed watches and delivers the events Java's client gives
    /// for them.
    pub fn watches_removed(&self, kind: rzk_proto::WatcherType, path: &str) {
        let events = lock(&self.common.watches).removed(kind, path);
        for event_type in events {
            (self.common.sink)(WatchedEvent {
                state: KeeperState::SyncConnected,
                event_type,
                path: Some(path.to_string()),
            });
        }
    }

    /// Ends the session (closeSession), then the connection.
    pub fn close(&mut self) {
        if self.state().is_alive() && self.link.as_ref().is_some_and(Link::is_alive) {
            if let Some(link) = &self.link {
                link.shared.closing.store(true, Ordering::SeqCst);
            }
            let _ = self.call(OpCode::CloseSession, Request::CloseSession);
        }
        if let Some(link) = self.link.take() {
            link.shut();
        }
        let was_alive = {
            let mut state = lock(&self.common.state);
            let alive = state.is_alive();
            *state = State::Closed;
            alive
        };
        if was_alive {
            (self.common.sink)(WatchedEvent::state_change(KeeperState::Closed));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            link.shut();
        }
    }
}
