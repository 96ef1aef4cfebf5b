//! One benchmark session: a TCP connection with raw pipelining.
//!
//! Requests are encoded straight into one write buffer and flushed in a
//! batch; replies are parsed only as far as their header (xid, zxid,
//! error), so the benchmark spends far less per request than a server does.
//! A ZooKeeper server answers a session's requests in order, so the caller
//! matches replies to requests by position, not by xid.

use std::io;
use std::ops::Range;
use std::time::Duration;

use rzk_proto::records::{ConnectRequest, ConnectResponse, WatcherEvent};
use rzk_proto::{frame, Decode, Encode, OpCode, Reader, Request, RequestFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest reply frame accepted: a getChildren of a wide parent can be
/// large, but not larger than a server's own default `jute.maxbuffer` plus
/// slack.
pub const REPLY_FRAME_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Free buffer space offered to each socket read.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// How long a connect (TCP and handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// xid of watch notifications and of ping replies.
const NOTIFICATION_XID: i32 = -1;
const PING_XID: i32 = -2;

/// What arrived.
#[derive(Debug)]
pub enum Incoming {
    /// A reply: its error code (0 is Ok).
    Reply { err: i32 },
    /// A watch notification.
    Event(WatcherEvent),
}

pub struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    inbuf: Vec<u8>,
    /// Start of unparsed bytes in `inbuf`.
    consumed: usize,
    next_xid: i32,
    pub session_id: i64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Conn {
    /// Connects and opens a session.
    pub async fn connect(addr: &str, session_timeout_ms: i32) -> io::Result<Conn> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::open(addr, session_timeout_ms))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("connect to {addr}")))?
    }

    async fn open(addr: &str, session_timeout_ms: i32) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            out: Vec::with_capacity(64 * 1024),
            inbuf: Vec::with_capacity(READ_CHUNK_BYTES),
            consumed: 0,
            next_xid: 1,
            session_id: 0,
        };
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: session_timeout_ms,
            session_id: 0,
            password: vec![0; 16],
            read_only: Some(false),
        };
        conn.stream
            .write_all(&frame::frame(&request.to_bytes()))
            .await?;
        let body = conn.next_frame().await?;
        let response = ConnectResponse::decode_all(&conn.inbuf[body])
            .map_err(|e| invalid(format!("connect response from {addr}: {e}")))?;
        if response.timeout_ms <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{addr} refused the session"),
            ));
        }
        conn.session_id = response.session_id;
        Ok(conn)
    }

    /// Adds a request to the write buffer (sent by [`Conn::flush`]).
    pub fn push(&mut self, op: OpCode, request: Request) {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        let start = frame::begin_frame(&mut self.out);
        RequestFrame { xid, op, request }.encode(&mut self.out);
        frame::finish_frame(&mut self.out, start);
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// The next reply or notification (ping replies are skipped).
    pub async fn next(&mut self) -> io::Result<Incoming> {
        loop {
            let body = self.next_frame().await?;
            let mut r = Reader::new(&self.inbuf[body]);
            let header = rzk_proto::records::ReplyHeader::decode(&mut r)
                .map_err(|e| invalid(format!("reply header: {e}")))?;
            match header.xid {
                PING_XID => continue,
                NOTIFICATION_XID => {
                    let event = WatcherEvent::decode(&mut r)
                        .map_err(|e| invalid(format!("notification: {e}")))?;
                    return Ok(Incoming::Event(event));
                }
                _ => return Ok(Incoming::Reply { err: header.err }),
            }
        }
    }

    /// Whether a whole frame is already buffered (no read needed).
    pub fn has_buffered_frame(&self) -> bool {
        let pending = &self.inbuf[self.consumed..];
        matches!(
            frame::parse_frame_len(pending, REPLY_FRAME_BYTES_MAX),
            Ok(Some(len)) if pending.len() >= 4 + len
        )
    }

    /// Where the next frame's body lies in `inbuf`, reading until it is
    /// whole. The body stays in the buffer (valid until the next call):
    /// replies are parsed in place, never copied out.
    async fn next_frame(&mut self) -> io::Result<Range<usize>> {
        loop {
            let pending = &self.inbuf[self.consumed..];
            match frame::parse_frame_len(pending, REPLY_FRAME_BYTES_MAX) {
                Ok(Some(len)) if pending.len() >= 4 + len => {
                    let body = self.consumed + 4..self.consumed + 4 + len;
                    self.consumed = body.end;
                    return Ok(body);
                }
                Ok(_) => {}
                Err(e) => return Err(invalid(format!("reply frame: {e:?}"))),
            }
            if self.consumed > 0 {
                self.inbuf.drain(..self.consumed);
                self.consumed = 0;
            }
            // Into spare capacity: a read that zero-filled its 64 KiB first
            // was a tenth of the benchmark's CPU under get 16x8.
            self.inbuf.reserve(READ_CHUNK_BYTES);
            if self.stream.read_buf(&mut self.inbuf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
        }
    }

    /// Sends closeSession and waits for its answer.
    pub async fn close(mut self) -> io::Result<i32> {
        self.push(OpCode::CloseSession, Request::CloseSession);
        self.flush().await?;
        loop {
            match self.next().await? {
                Incoming::Reply { err } => return Ok(err),
                Incoming::Event(_) => {}
            }
        }
    }
}
