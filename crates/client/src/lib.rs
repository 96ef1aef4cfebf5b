//! A small, blocking, raw ZooKeeper protocol client over `std::net::TcpStream`.
//!
//! It exists for tests and tools that need to see the protocol exactly as a server
//! speaks it: every reply header (xid, zxid, error code), every notification, and
//! the moment the server closes the connection. It does no reconnecting, no
//! retrying and no background pinging; the caller drives everything.
//!
//! - [`RawClient::connect`] performs the handshake and returns the
//!   [`ConnectResponse`] next to the client.
//! - [`RawClient::send`] writes a request and returns its xid (requests may be
//!   pipelined); [`RawClient::recv`] reads the reply for one xid.
//! - [`RawClient::call`] is `send` + `recv`.
//! - Notifications (xid -1) that arrive while waiting for a reply are buffered:
//!   [`RawClient::take_events`], [`RawClient::take_notifications`],
//!   [`RawClient::wait_event`].
//! - [`RawClient::raw_write`] sends arbitrary bytes, for malformed-input tests.
//!
//! Reply bodies are decoded with the opcode of the request that carried the same
//! xid (the reply itself does not say which request it answers).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use rzk_proto::codes::xid as reserved_xid;
use rzk_proto::frame::{self, parse_frame_len};
use rzk_proto::records::{
    AddWatchRequest, AuthPacket, ConnectRequest, ConnectResponse, ReplyHeader, WatcherEvent,
};
use rzk_proto::{
    Decode, DecodeError, Encode, ErrorCode, OpCode, Reader, Request, RequestFrame, Response,
};

/// Largest frame this client accepts from a server (ZooKeeper's default
/// `jute.maxbuffer` plus room for the reply header).
pub const MAX_INCOMING_FRAME_BYTES: usize = frame::DEFAULT_MAX_FRAME_BYTES + 1024;

/// Default read timeout: long enough for any server under test, short enough that
/// a test that waits for a reply that never comes fails instead of hanging.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What to put in the connect request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    pub timeout_ms: i32,
    /// 0 asks for a new session; anything else asks to resume that session.
    pub session_id: i64,
    /// 16 bytes of zeros for a new session.
    pub password: Vec<u8>,
    pub last_zxid_seen: i64,
    pub read_only: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout_ms: 30_000,
            session_id: 0,
            password: vec![0; 16],
            last_zxid_seen: 0,
            read_only: false,
        }
    }
}

/// Why an operation of the client failed (as opposed to the server answering
/// with an error code, which is a successful [`Reply`]).
#[derive(Debug)]
pub enum ClientError {
    Io(io::Error),
    /// The server closed the connection (EOF or reset).
    Closed,
    /// No reply (or event) within the read timeout.
    Timeout,
    /// The server sent bytes this client cannot decode.
    Decode(DecodeError),
    /// The server sent something that breaks the protocol (for example a frame
    /// larger than [`MAX_INCOMING_FRAME_BYTES`]).
    Protocol(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "i/o error: {e}"),
            ClientError::Closed => write!(f, "connection closed by server"),
            ClientError::Timeout => write!(f, "timed out waiting for the server"),
            ClientError::Decode(e) => write!(f, "undecodable frame from server: {e}"),
            ClientError::Protocol(m) => write!(f, "protocol violation: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<DecodeError> for ClientError {
    fn from(e: DecodeError) -> Self {
        ClientError::Decode(e)
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// One reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    /// The header's error code; `SystemError` if the server sent a code this
    /// client does not know (see `err_code` for the raw value).
    pub err: ErrorCode,
    pub err_code: i32,
    /// The opcode of the request this reply answers (`None` when no request with
    /// this xid was outstanding).
    pub op: Option<OpCode>,
    /// The decoded body: `Some` when the header error is Ok, or when the server
    /// sent a body along with an error (as it may for `multi`) and it decoded.
    pub response: Option<Response>,
    /// The body bytes after the reply header, as received.
    pub body: Vec<u8>,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.err == ErrorCode::Ok
    }
}

/// A watch notification with the zxid of its reply header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub zxid: i64,
    pub event: WatcherEvent,
}

/// Something read from the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Reply(Reply),
    Notification(Notification),
}

/// A blocking connection to a ZooKeeper-protocol server.
pub struct RawClient {
    stream: TcpStream,
    rbuf: Vec<u8>,
    next_xid: i32,
    /// Outstanding requests, per xid in send order (reserved xids repeat).
    pending: HashMap<i32, VecDeque<OpCode>>,
    /// Replies read while looking for another xid.
    replies: VecDeque<Reply>,
    events: VecDeque<Notification>,
    closed: bool,
    read_timeout: Duration,
    session_id: i64,
    password: Vec<u8>,
    negotiated_timeout_ms: i32,
    last_zxid: i64,
}

impl fmt::Debug for RawClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawClient")
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("closed", &self.closed)
            .field("last_zxid", &self.last_zxid)
            .finish()
    }
}

impl RawClient {
    /// Opens a TCP connection and performs the handshake. A server that refuses the
    /// session (expired, wrong password) answers with timeout 0 and then closes
    /// the connection; that answer is returned as is.
    pub fn connect(addr: &str, opts: ConnectOptions) -> Result<(RawClient, ConnectResponse)> {
        let mut client = Self::open(addr)?;
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: opts.last_zxid_seen,
            timeout_ms: opts.timeout_ms,
            session_id: opts.session_id,
            password: opts.password.clone(),
            read_only: Some(opts.read_only),
        };
        client.raw_write(&frame::frame(&req.to_bytes()))?;
        let body = client.read_frame()?;
        let resp = ConnectResponse::decode_all(&body)?;
        client.session_id = resp.session_id;
        client.password = resp.password.clone();
        client.negotiated_timeout_ms = resp.timeout_ms;
        client.last_zxid = opts.last_zxid_seen;
        Ok((client, resp))
    }

    /// Opens a TCP connection without any handshake (for four-letter words and
    /// malformed handshakes).
    pub fn open(addr: &str) -> Result<RawClient> {
        let sock = addr
            .to_socket_addrs()
            .map_err(ClientError::Io)?
            .next()
            .ok_or_else(|| ClientError::Protocol(format!("{addr} resolves to nothing")))?;
        let stream =
            TcpStream::connect_timeout(&sock, Duration::from_secs(5)).map_err(ClientError::Io)?;
        stream.set_nodelay(true).map_err(ClientError::Io)?;
        stream
            .set_read_timeout(Some(DEFAULT_READ_TIMEOUT))
            .map_err(ClientError::Io)?;
        Ok(RawClient {
            stream,
            rbuf: Vec::new(),
            next_xid: 1,
            pending: HashMap::new(),
            replies: VecDeque::new(),
            events: VecDeque::new(),
            closed: false,
            read_timeout: DEFAULT_READ_TIMEOUT,
            session_id: 0,
            password: Vec::new(),
            negotiated_timeout_ms: 0,
            last_zxid: 0,
        })
    }

    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    pub fn password(&self) -> &[u8] {
        &self.password
    }

    pub fn negotiated_timeout_ms(&self) -> i32 {
        self.negotiated_timeout_ms
    }

    /// The largest zxid seen in a reply header (what a reconnecting client sends
    /// as `last_zxid_seen`).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Whether the server has closed the connection (as far as reads so far show).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.read_timeout = timeout;
    }

    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// The xid the next ordinary request will carry.
    pub fn next_xid(&self) -> i32 {
        self.next_xid
    }

    /// Sends a request and returns its xid. Pings, auth and setWatches use the
    /// reserved xids ZooKeeper clients use; everything else the next counter value.
    pub fn send(&mut self, op: OpCode, request: Request) -> Result<i32> {
        let xid = match op {
            OpCode::Ping => reserved_xid::PING,
            OpCode::Auth => reserved_xid::AUTH,
            OpCode::SetWatches | OpCode::SetWatches2 => reserved_xid::SET_WATCHES,
            _ => {
                let x = self.next_xid;
                self.next_xid = self.next_xid.wrapping_add(1);
                x
            }
        };
        self.send_with_xid(xid, op, request)?;
        Ok(xid)
    }

    /// Sends a request with a caller-chosen xid.
    pub fn send_with_xid(&mut self, xid: i32, op: OpCode, request: Request) -> Result<()> {
        let mut body = Vec::new();
        RequestFrame { xid, op, request }.encode(&mut body);
        self.raw_write(&frame::frame(&body))?;
        self.expect_reply(xid, op);
        Ok(())
    }

    /// Records that a reply with `xid` answers `op` (for requests sent with
    /// [`RawClient::raw_write`]).
    pub fn expect_reply(&mut self, xid: i32, op: OpCode) {
        self.pending.entry(xid).or_default().push_back(op);
    }

    /// Sends a request and waits for its reply, buffering notifications.
    pub fn call(&mut self, op: OpCode, request: Request) -> Result<Reply> {
        let xid = self.send(op, request)?;
        self.recv(xid)
    }

    /// Waits for the (first not yet returned) reply with `xid`.
    pub fn recv(&mut self, xid: i32) -> Result<Reply> {
        if let Some(pos) = self.replies.iter().position(|r| r.xid == xid) {
            return Ok(self.replies.remove(pos).expect("position is in range"));
        }
        let deadline = Instant::now() + self.read_timeout;
        loop {
            match self.read_incoming(deadline)? {
                Incoming::Reply(r) if r.xid == xid => return Ok(r),
                Incoming::Reply(r) => self.replies.push_back(r),
                Incoming::Notification(n) => self.events.push_back(n),
            }
        }
    }

    /// Reads the next reply or notification, whichever comes first (buffered
    /// replies and notifications are returned first, replies before events).
    pub fn recv_any(&mut self, timeout: Duration) -> Result<Incoming> {
        if let Some(r) = self.replies.pop_front() {
            return Ok(Incoming::Reply(r));
        }
        if let Some(n) = self.events.pop_front() {
            return Ok(Incoming::Notification(n));
        }
        self.read_incoming(Instant::now() + timeout)
    }

    pub fn ping(&mut self) -> Result<Reply> {
        self.call(OpCode::Ping, Request::Ping)
    }

    /// Sends closeSession and returns its reply. The server closes the connection
    /// afterwards; [`RawClient::wait_closed`] observes that.
    pub fn close_session(&mut self) -> Result<Reply> {
        self.call(OpCode::CloseSession, Request::CloseSession)
    }

    /// Sends an auth packet (xid -4) and waits for its reply.
    pub fn auth(&mut self, scheme: &str, auth: &[u8]) -> Result<Reply> {
        self.call(
            OpCode::Auth,
            Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: scheme.to_string(),
                auth: auth.to_vec(),
            }),
        )
    }

    /// addWatch with a raw mode value (0 persistent, 1 persistent recursive).
    pub fn add_watch(&mut self, path: &str, mode: i32) -> Result<Reply> {
        self.call(
            OpCode::AddWatch,
            Request::AddWatch(AddWatchRequest {
                path: path.to_string(),
                mode,
            }),
        )
    }

    /// All notifications buffered so far.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        self.events.drain(..).collect()
    }

    /// The events of all notifications buffered so far.
    pub fn take_events(&mut self) -> Vec<WatcherEvent> {
        self.events.drain(..).map(|n| n.event).collect()
    }

    /// Waits up to `timeout` for a notification (returns a buffered one at once).
    /// Replies read meanwhile are buffered for [`RawClient::recv`].
    pub fn wait_event(&mut self, timeout: Duration) -> Result<Option<Notification>> {
        if let Some(n) = self.events.pop_front() {
            return Ok(Some(n));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_incoming(deadline) {
                Ok(Incoming::Notification(n)) => return Ok(Some(n)),
                Ok(Incoming::Reply(r)) => self.replies.push_back(r),
                Err(ClientError::Timeout) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until the server closes the connection or `timeout` passes; returns
    /// whether it closed. Frames read meanwhile are buffered.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        if self.closed {
            return true;
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_incoming(deadline) {
                Ok(Incoming::Notification(n)) => self.events.push_back(n),
                Ok(Incoming::Reply(r)) => self.replies.push_back(r),
                Err(ClientError::Timeout) => return false,
                Err(_) => return self.closed,
            }
        }
    }

    /// Writes bytes as they are (no framing). A write error means the server has
    /// closed the connection.
    pub fn raw_write(&mut self, bytes: &[u8]) -> Result<()> {
        match self
            .stream
            .write_all(bytes)
            .and_then(|_| self.stream.flush())
        {
            Ok(()) => Ok(()),
            Err(e) if is_disconnect(&e) => {
                self.closed = true;
                Err(ClientError::Closed)
            }
            Err(e) => Err(ClientError::Io(e)),
        }
    }

    /// Reads whatever raw bytes arrive until EOF or `timeout` (for four-letter
    /// words, whose answers are not framed), including bytes already buffered.
    /// Whether the connection was closed is [`RawClient::is_closed`] afterwards.
    pub fn read_raw_to_end(&mut self, timeout: Duration) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        while !self.closed {
            match self.fill(deadline) {
                Ok(()) => {}
                Err(ClientError::Closed) | Err(ClientError::Timeout) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(std::mem::take(&mut self.rbuf))
    }

    /// Reads one whole frame body (after the length prefix) as raw bytes.
    pub fn read_raw_frame(&mut self, timeout: Duration) -> Result<Vec<u8>> {
        self.read_frame_until(Instant::now() + timeout)
    }

    /// Closes the TCP connection without closing the session.
    pub fn disconnect(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Half-closes the write side (the server sees EOF).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads one frame body. Fails with `Closed` on EOF, `Timeout` at the deadline.
    fn read_frame_until(&mut self, deadline: Instant) -> Result<Vec<u8>> {
        loop {
            match parse_frame_len(&self.rbuf, MAX_INCOMING_FRAME_BYTES) {
                Ok(Some(len)) => {
                    let body = self.rbuf[4..4 + len].to_vec();
                    self.rbuf.drain(..4 + len);
                    return Ok(body);
                }
                Ok(None) => {}
                Err(e) => return Err(ClientError::Protocol(e.to_string())),
            }
            if self.closed {
                return Err(ClientError::Closed);
            }
            self.fill(deadline)?;
        }
    }

    fn read_frame(&mut self) -> Result<Vec<u8>> {
        let deadline = Instant::now() + self.read_timeout;
        self.read_frame_until(deadline)
    }

    /// Reads more bytes into `rbuf`.
    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let now = Instant::now();
        if now >= deadline {
            return Err(ClientError::Timeout);
        }
        let wait = (deadline - now).max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(wait))
            .map_err(ClientError::Io)?;
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                Err(ClientError::Closed)
            }
            Ok(n) => {
                self.rbuf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Err(ClientError::Timeout)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) if is_disconnect(&e) => {
                self.closed = true;
                Err(ClientError::Closed)
            }
            Err(e) => Err(ClientError::Io(e)),
        }
    }

    fn read_incoming(&mut self, deadline: Instant) -> Result<Incoming> {
        let body = self.read_frame_until(deadline)?;
        let mut r = Reader::new(&body);
        let header = ReplyHeader::decode(&mut r)?;
        let rest = &body[body.len() - r.remaining()..];
        if header.xid == reserved_xid::NOTIFICATION {
            let event = WatcherEvent::decode(&mut Reader::new(rest))?;
            return Ok(Incoming::Notification(Notification {
                zxid: header.zxid,
                event,
            }));
        }
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        let op = self
            .pending
            .get_mut(&header.xid)
            .and_then(|q| q.pop_front());
        if self.pending.get(&header.xid).is_some_and(|q| q.is_empty()) {
            self.pending.remove(&header.xid);
        }
        let err = ErrorCode::from_code(header.err).unwrap_or(ErrorCode::SystemError);
        let response = match op {
            Some(op) if err == ErrorCode::Ok || !rest.is_empty() => Response::decode(op, rest).ok(),
            _ => None,
        };
        Ok(Incoming::Reply(Reply {
            xid: header.xid,
            zxid: header.zxid,
            err,
            err_code: header.err,
            op,
            response,
            body: rest.to_vec(),
        }))
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

/// The id of a `digest` ACL for `user` with `password`:
/// `user:base64(sha1("user:password"))`, as `DigestAuthenticationProvider` computes it.
pub fn digest_id(user: &str, password: &str) -> String {
    use base64::Engine as _;
    use sha1::Digest as _;
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Sends a four-letter word on a fresh connection and returns the answer.
pub fn four_letter(addr: &str, cmd: &str, timeout: Duration) -> Result<String> {
    let mut c = RawClient::open(addr)?;
    c.raw_write(cmd.as_bytes())?;
    let bytes = c.read_raw_to_end(timeout)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::records::{GetDataRequest, GetDataResponse};
    use rzk_proto::response::encode_reply;
    use rzk_proto::Stat;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn digest_matches_zookeeper() {
        // DigestAuthenticationProvider.generateDigest("super:secret")
        assert_eq!(
            digest_id("super", "secret"),
            "super:lK75jTNcA+U9vtVEw5vB51mj/w4="
        );
    }

    fn read_one_frame(s: &mut TcpStream) -> Vec<u8> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).unwrap();
        body
    }

    /// A scripted fake server: answers the handshake, then for the first request
    /// sends a notification followed by the reply.
    #[test]
    fn handshake_reply_and_buffered_notification() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let req = ConnectRequest::decode_all(&read_one_frame(&mut s)).unwrap();
            assert_eq!(req.timeout_ms, 5000);
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 4000,
                session_id: 0x42,
                password: vec![7; 16],
                read_only: Some(false),
            };
            s.write_all(&frame::frame(&resp.to_bytes())).unwrap();
            let f = RequestFrame::decode(&read_one_frame(&mut s)).unwrap();
            assert_eq!(f.op, OpCode::GetData);
            let mut out = Vec::new();
            rzk_proto::response::encode_notification(
                &mut out,
                &WatcherEvent {
                    event_type: 3,
                    state: 3,
                    path: "/a".into(),
                },
            );
            let body = GetDataResponse {
                data: b"hi".to_vec(),
                stat: Stat::default(),
            };
            encode_reply(
                &mut out,
                f.xid,
                9,
                ErrorCode::Ok,
                &Response::Data {
                    data: body.data,
                    stat: body.stat,
                },
            );
            s.write_all(&out).unwrap();
        });
        let (mut c, resp) = RawClient::connect(
            &addr,
            ConnectOptions {
                timeout_ms: 5000,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(resp.session_id, 0x42);
        let reply = c
            .call(
                OpCode::GetData,
                Request::GetData(GetDataRequest {
                    path: "/a".into(),
                    watch: true,
                }),
            )
            .unwrap();
        assert_eq!(reply.zxid, 9);
        assert!(matches!(reply.response, Some(Response::Data { ref data, .. }) if data == b"hi"));
        let events = c.take_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].path, "/a");
        server.join().unwrap();
        assert!(c.wait_closed(Duration::from_secs(2)));
        assert!(c.is_closed());
    }
}
