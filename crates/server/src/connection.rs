//! One task per client connection: first contact (four-letter word or connect
//! handshake), then the session's request loop, then an orderly close.
//!
//! Ordering, the two guarantees this file keeps:
//!
//! * Per-session FIFO. Requests enter a [`Pipeline`] in arrival order and
//!   replies leave only from its front, so they go out in request order. A read
//!   runs only at the front, after every earlier write of the session has been
//!   applied; a write that arrives behind a read is held back until the read
//!   has run, so the read cannot see it.
//! * Events before replies. There is one outbound queue per connection. The
//!   sequencer pushes watch events into it while it holds the core lock, right
//!   after applying the entry that fired them. A write's reply is pushed only
//!   after its oneshot fires, which is after the apply, so after its events. A
//!   read runs and pushes its reply while holding the core lock, so a reply
//!   that reflects an entry follows that entry's events, and an event for a
//!   watch the read just set follows the read's reply.

use crate::conn_table::ConnEntry;
use crate::control::{CloseReason, ConnControl};
use crate::framing::{FrameReader, ReadError};
use crate::handshake::{self, Outcome};
use crate::limits::{
    CLOSE_FLUSH_TIMEOUT_MS, OUTBOUND_EVENTS_MAX, SESSIONLESS_CONNECTION_TIMEOUT_MS,
};
use crate::ops::{self, auth::AuthOutcome, LocalCtx};
use crate::outbound::{run_writer, OutFrame, Outbound, WriterContext};
use crate::pipeline::{Done, Front, LocalWork, Meta, PendingWrite, Pipeline};
use crate::reply::{connect_frame, invalid_session, reply_frame, Body};
use crate::shared::Shared;
use crate::stats::ConnStats;
use crate::transport::{ClientStream, WriteHalf};
use crate::watch::ConnId;
use crate::{auth, fourlw, read_only};
use rzk_proto::records::{ConnectRequest, ConnectResponse, RequestHeader};
use rzk_proto::{Decode, DecodeError, ErrorCode, Id, OpCode, Reader, RequestFrame, Response};
use rzk_state::{Applied, Txn};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Opcodes ZooKeeper's PrepRequestProcessor turns into transactions: a request
/// of one of these that fails to decode still becomes an (error) transaction.
fn is_write_opcode(op: i32) -> bool {
    matches!(
        OpCode::from_code(op),
        Some(
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
        )
    )
}

/// What a read-only session does instead of the usual routing, if anything
/// (see [`read_only::verdict`]): a refusal, or closing the local session
/// (answered Ok, then the connection closes).
fn read_only_work(op: i32) -> Option<LocalWork> {
    let (err, close) = match read_only::verdict(op) {
        read_only::Verdict::Serve => return None,
        read_only::Verdict::NotReadOnly => (ErrorCode::NotReadOnly, None),
        read_only::Verdict::CloseLocally => (ErrorCode::Ok, Some(CloseReason::SessionClosed)),
    };
    Some(LocalWork::Fail {
        err,
        zxid: None,
        body: Body::Response(Response::Empty),
        close,
    })
}

/// Serves one accepted connection to its end, over either port's stream
/// (plain TCP or an established TLS session). Never panics on client input;
/// whatever happens, the connection leaves the tables and a line is logged.
pub async fn serve(
    shared: Arc<Shared>,
    stream: impl ClientStream,
    conn_id: ConnId,
    entry: ConnEntry,
) {
    let peer = entry.peer;
    let (read_half, write_half) = stream.into_halves();
    let mut reader = FrameReader::new(read_half, shared.config.max_frame_bytes);
    let reason = match first_contact(&shared, &mut reader, &entry.control).await {
        Ok(Opening::FourLetter(word)) => {
            entry.stats.packets_received.fetch_add(1, Relaxed);
            fourlw::respond(&shared, conn_id, word, &mut reader, write_half, peer).await;
            shared.conns().close(conn_id);
            return;
        }
        Ok(Opening::Connect(request)) => {
            entry.stats.packets_received.fetch_add(1, Relaxed);
            session(&shared, conn_id, &entry, request, reader, write_half).await
        }
        Err(reason) => reason,
    };
    shared.conns().close(conn_id);
    let session_id = entry.stats.session_id.load(Relaxed);
    tracing::info!(
        "Closed connection from {} (session 0x{:x}): {}",
        peer,
        session_id,
        reason
    );
}

enum Opening {
    FourLetter(&'static str),
    Connect(ConnectRequest),
}

/// Reads the first frame within the sessionless-connection timeout. ZooKeeper
/// recognises a four-letter word by the first four bytes, read as the length.
async fn first_contact(
    shared: &Shared,
    reader: &mut FrameReader,
    control: &ConnControl,
) -> Result<Opening, CloseReason> {
    let read = async {
        let Some(prefix) = reader.peek_prefix().await.map_err(read_error)? else {
            return Err(CloseReason::ClientClosed);
        };
        if let Some(word) = fourlw::lookup(prefix) {
            let _ = reader.take_exact(4).await.map_err(read_error)?;
            return Ok(Opening::FourLetter(word));
        }
        let Some(body) = reader.read_frame().await.map_err(read_error)? else {
            return Err(CloseReason::ClientClosed);
        };
        shared.stats.packets_received.fetch_add(1, Relaxed);
        ConnectRequest::decode(&mut Reader::new(&body))
            .map(Opening::Connect)
            .map_err(|e| CloseReason::BadRequest(format!("connect request: {e}")))
    };
    let timeout = Duration::from_millis(SESSIONLESS_CONNECTION_TIMEOUT_MS);
    tokio::select! {
        reason = control.closed() => Err(reason),
        res = tokio::time::timeout(timeout, read) => res.unwrap_or(Err(CloseReason::HandshakeTimeout)),
    }
}

fn read_error(e: ReadError) -> CloseReason {
    match e {
        ReadError::TooLarge(e) => CloseReason::FrameTooLarge(e.to_string()),
        ReadError::Truncated { .. } => CloseReason::BadRequest(e.to_string()),
        ReadError::Io(e) => CloseReason::Io(e.to_string()),
    }
}

/// Handshake, then the request loop, then the close.
async fn session(
    shared: &Arc<Shared>,
    conn_id: ConnId,
    entry: &ConnEntry,
    request: ConnectRequest,
    mut reader: FrameReader,
    mut write_half: WriteHalf,
) -> CloseReason {
    let sent_read_only = request.read_only.is_some();
    let outcome = tokio::select! {
        reason = entry.control.closed() => return reason,
        outcome = handshake::negotiate(shared, &request, entry.peer) => outcome,
    };
    let (session_id, timeout_ms, password, resumed, read_only) = match outcome {
        Err(reason) => return reason,
        Ok(Outcome::Invalid { session_id, why }) => {
            tracing::info!(
                "Invalid session 0x{session_id:x} for client {}, {why}",
                entry.peer
            );
            let frame = connect_frame(&invalid_session(sent_read_only));
            let _ = write_half.write_all(&frame).await;
            let _ = write_half.flush().await;
            let _ = write_half.shutdown().await;
            return CloseReason::Handshake(format!("session 0x{session_id:x}: {why}"));
        }
        Ok(Outcome::Established {
            session_id,
            timeout_ms,
            password,
            resumed,
            read_only,
        }) => (session_id, timeout_ms, password, resumed, read_only),
    };
    let stats = &entry.stats;
    stats.session_id.store(session_id, Relaxed);
    stats.timeout_ms.store(timeout_ms, Relaxed);
    stats
        .established_wall_ms
        .store(shared.clock.wall_ms(), Relaxed);
    shared.conns().bind_session(conn_id, session_id);

    let capacity = shared.config.outstanding_requests_max + OUTBOUND_EVENTS_MAX;
    let (outbound, rx) = Outbound::channel(capacity, entry.control.clone());
    let space = Arc::new(Notify::new());
    let writer = tokio::spawn(run_writer(
        rx,
        write_half,
        WriterContext {
            conn_stats: stats.clone(),
            server_stats: shared.stats.clone(),
            space: space.clone(),
            control: entry.control.clone(),
        },
    ));
    let auth_ids: Arc<[Id]> = vec![auth::ip_identity(entry.peer.ip())].into();
    {
        let mut core = shared.core();
        core.watches
            .register(conn_id, session_id, outbound.clone(), auth_ids.clone());
        outbound.push(OutFrame::event(connect_frame(&ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id,
            password,
            read_only: sent_read_only.then_some(read_only),
        })));
    }
    tracing::info!(
        "{}ession 0x{session_id:x} {} for client {}, negotiated timeout {timeout_ms} ms",
        if read_only { "Read-only s" } else { "S" },
        if resumed { "resumed" } else { "established" },
        entry.peer
    );

    let mut conn = Connection {
        shared: shared.clone(),
        conn_id,
        peer: entry.peer,
        session_id,
        auth: auth_ids,
        outbound,
        control: entry.control.clone(),
        stats: stats.clone(),
        space,
        pipeline: Pipeline::default(),
        closing: None,
        read_only,
    };
    let reason = conn.run(&mut reader).await;
    conn.close(&reason, writer).await;
    if read_only && reason == CloseReason::SessionClosed {
        shared.read_only_sessions().remove(session_id);
    }
    reason
}

/// The request loop's state.
struct Connection {
    shared: Arc<Shared>,
    conn_id: ConnId,
    peer: SocketAddr,
    session_id: i64,
    /// Identities, `ip:<address>` first; grows with addauth (a new list).
    /// Shared with every write this connection proposes and with its
    /// watch registration.
    auth: Arc<[Id]>,
    outbound: Outbound,
    control: Arc<ConnControl>,
    stats: Arc<ConnStats>,
    space: Arc<Notify>,
    pipeline: Pipeline,
    /// Set by a request that ends the connection once answered (closeSession,
    /// failed auth, bad request).
    closing: Option<CloseReason>,
    /// A read-only session (see `read_only`): local to this server, and its
    /// writes are refused.
    read_only: bool,
}

impl Connection {
    /// Runs until something closes the connection; returns why.
    async fn run(&mut self, reader: &mut FrameReader) -> CloseReason {
        let control = self.control.clone();
        let space = self.space.clone();
        let limit = self.shared.config.outstanding_requests_max;
        // One wait for the close switch for the connection's whole life,
        // not a new one (a waiter registered and unregistered) per request.
        let closed = control.closed();
        tokio::pin!(closed);
        loop {
            if let Err(reason) = self.pump().await {
                return reason;
            }
            if let Some(reason) = self.closing.take() {
                return reason;
            }
            let can_read = self.stats.outstanding.load(Relaxed) < limit;
            let mut outcome = None;
            let mut frame = None;
            tokio::select! {
                biased;
                reason = &mut closed => return reason,
                res = self.pipeline.front_outcome() => outcome = Some(res),
                res = reader.read_frame(), if can_read => frame = Some(res),
                _ = space.notified(), if !can_read => {}
            }
            if let Some(res) = outcome {
                let Ok(applied) = res else {
                    return CloseReason::LogClosed;
                };
                if let Some(done) = self.pipeline.pop_front_with(applied) {
                    self.finish_write(done);
                }
            }
            match frame {
                None => {}
                Some(Ok(Some(body))) => {
                    if let Err(reason) = self.on_frame(body).await {
                        return reason;
                    }
                    // The rest of a pipelined burst, read with it: taken
                    // now rather than one wait round per request.
                    while self.closing.is_none() && self.stats.outstanding.load(Relaxed) < limit {
                        match reader.buffered_frame() {
                            Ok(Some(body)) => {
                                if let Err(reason) = self.on_frame(body).await {
                                    return reason;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => return read_error(e),
                        }
                    }
                }
                Some(Ok(None)) => return CloseReason::ClientClosed,
                Some(Err(e)) => return read_error(e),
            }
        }
    }

    /// Accounts for and queues one request.
    async fn on_frame(&mut self, body: Vec<u8>) -> Result<(), CloseReason> {
        let now_ms = self.shared.clock.now_ms();
        self.stats.packets_received.fetch_add(1, Relaxed);
        self.stats.last_activity_ms.store(now_ms, Relaxed);
        self.shared.stats.packets_received.fetch_add(1, Relaxed);
        let live = if self.read_only {
            self.shared
                .read_only_sessions()
                .touch(self.session_id, now_ms)
        } else {
            self.shared.sessions().touch(self.session_id, now_ms)
        };
        if !live {
            return Err(CloseReason::SessionExpired);
        }
        let header = RequestHeader::decode(&mut Reader::new(&body)).map_err(|e| {
            CloseReason::BadRequest(format!(
                "request header of a {}-byte frame: {e}",
                body.len()
            ))
        })?;
        self.stats.outstanding.fetch_add(1, Relaxed);
        let op = OpCode::from_code(header.op).unwrap_or(OpCode::Error);
        // ZooKeeper's FinalRequestProcessor line; pings only at trace.
        if op == OpCode::Ping {
            tracing::trace!(
                "Processing request:: sessionid:0x{:x} type:ping",
                self.session_id
            );
        } else {
            tracing::debug!(
                "Processing request:: sessionid:0x{:x} type:{op:?} cxid:0x{:x} from {}",
                self.session_id,
                header.xid,
                self.peer
            );
        }
        let mut meta = Meta {
            xid: header.xid,
            op,
            received_ms: now_ms,
        };
        if self.read_only {
            if let Some(work) = read_only_work(header.op) {
                self.pipeline.push_local(meta, work);
                return Ok(());
            }
        }
        let work = match RequestFrame::decode(&body) {
            Ok(frame) => {
                LocalWork::from_route(ops::with_opcode(ops::route(frame.request), frame.op))
            }
            Err(e) => {
                meta.op = OpCode::Error;
                self.undecodable(&header, &e)
            }
        };
        match work {
            Ok(work) => self.pipeline.push_local(meta, work),
            Err(write) if self.pipeline.may_submit_now() => {
                let failure = write.failure();
                let rx = self.submit(write).await?;
                self.pipeline.push_submitted(meta, rx, failure);
            }
            Err(write) => self.pipeline.push_held(meta, write),
        }
        Ok(())
    }

    /// ZooKeeper's answers to requests it cannot decode: an unknown opcode
    /// gets Unimplemented (zxid -1) and the connection is closed; a known one
    /// with a bad body gets MarshallingError and the connection stays open
    /// (the framing is intact); deleteContainer, which only the server may
    /// issue, gets BadArguments.
    /// Write opcodes fail through the log (see [`PendingWrite::Failed`]).
    fn undecodable(
        &self,
        header: &RequestHeader,
        e: &DecodeError,
    ) -> Result<LocalWork, PendingWrite> {
        let what = format!("opcode {} xid {}: {e}", header.op, header.xid);
        let (err, zxid, close) = match e {
            DecodeError::UnknownOpCode(op) if *op == OpCode::DeleteContainer.code() => {
                (ErrorCode::BadArguments, None, None)
            }
            DecodeError::UnknownOpCode(_) => (
                ErrorCode::Unimplemented,
                Some(-1),
                Some(CloseReason::BadRequest(what.clone())),
            ),
            _ => (ErrorCode::MarshallingError, None, None),
        };
        if close.is_none() {
            tracing::warn!(
                "Session 0x{:x} from {}: bad request ({what}), answered {err:?}",
                self.session_id,
                self.peer
            );
        }
        let body = if header.op == OpCode::MultiRead.code() {
            Body::EmptyMultiOnError
        } else {
            Body::Response(Response::Empty)
        };
        if close.is_none() && is_write_opcode(header.op) {
            return Err(PendingWrite::Failed { err, body });
        }
        Ok(LocalWork::Fail {
            err,
            zxid,
            body,
            close,
        })
    }

    async fn submit(
        &self,
        write: PendingWrite,
    ) -> Result<tokio::sync::oneshot::Receiver<Applied>, CloseReason> {
        let txn = match write {
            PendingWrite::Write(op) => Txn::Write {
                session_id: self.session_id,
                auth: self.auth.clone(),
                op,
            },
            PendingWrite::CloseSession => Txn::CloseSession {
                session_id: self.session_id,
            },
            PendingWrite::Failed { err, .. } => Txn::Error {
                session_id: self.session_id,
                err,
            },
            PendingWrite::Sync(path) => return Ok(crate::log::sync(&self.shared, path)),
        };
        self.shared
            .log
            .submit(txn)
            .await
            .map_err(|_| CloseReason::LogClosed)
    }

    /// Answers everything at the front that can be answered now.
    async fn pump(&mut self) -> Result<(), CloseReason> {
        while self.closing.is_none() {
            match self.pipeline.front() {
                Front::Empty => break,
                Front::Submitted => match self.pipeline.try_take_front_outcome() {
                    Some(Ok(done)) => self.finish_write(done),
                    Some(Err(())) => return Err(CloseReason::LogClosed),
                    None => break,
                },
                Front::Local => {
                    if let Some((meta, work)) = self.pipeline.pop_local() {
                        self.run_local(meta, work);
                    }
                    self.release_held().await?;
                }
                Front::Held => self.release_held().await?,
            }
        }
        Ok(())
    }

    /// Submits the held writes whose turn has come (no local item before them).
    async fn release_held(&mut self) -> Result<(), CloseReason> {
        while self.closing.is_none() {
            let Some((index, _meta, write)) = self.pipeline.next_releasable() else {
                break;
            };
            let failure = write.failure();
            let rx = self.submit(write).await?;
            self.pipeline.mark_submitted(index, rx, failure);
        }
        Ok(())
    }

    fn finish_write(&mut self, done: Done) {
        let Done {
            meta,
            failure,
            applied,
        } = done;
        let (err, body) =
            failure.unwrap_or((applied.reply.err, Body::Response(applied.reply.response)));
        let frame = reply_frame(meta.xid, applied.zxid, err, &body);
        self.outbound.push(OutFrame::reply(frame));
        self.record(meta, applied.zxid);
        if meta.op == OpCode::CloseSession {
            tracing::info!(
                "Session 0x{:x} closed by client {}",
                self.session_id,
                self.peer
            );
            self.closing = Some(CloseReason::SessionClosed);
        }
    }

    fn record(&self, meta: Meta, zxid: i64) {
        let now_ms = self.shared.clock.now_ms();
        let latency_ms = now_ms.saturating_sub(meta.received_ms);
        self.stats
            .record_reply(meta.xid, zxid, ops::op_name(meta.op), latency_ms, now_ms);
        self.shared.stats.record_latency(latency_ms);
        self.shared.stats.record_op_latency(meta.op, latency_ms);
    }

    /// Runs a local item at the front. Its reply is pushed while the core lock
    /// is held (see the file comment).
    fn run_local(&mut self, meta: Meta, work: LocalWork) {
        match work {
            LocalWork::Request(request) => {
                let mut core = self.shared.core();
                let mut ctx = LocalCtx {
                    core: &mut core,
                    conn: self.conn_id,
                    session_id: self.session_id,
                    auth: &self.auth,
                };
                let reply = ops::serve_local(&mut ctx, meta.op, &request);
                let zxid = core.tree.last_zxid();
                self.outbound.push(OutFrame::reply(reply_frame(
                    meta.xid,
                    zxid,
                    reply.err,
                    &reply.body,
                )));
                drop(core);
                self.record(meta, zxid);
            }
            LocalWork::Auth(packet) => self.run_auth(meta, &packet),
            LocalWork::Sasl => {
                tracing::warn!(
                    "Session 0x{:x} from {} asked for SASL authentication, which rzk does not \
                     support; answered with no token, as ZooKeeper without SASL does",
                    self.session_id,
                    self.peer
                );
                self.push(meta, 0, ErrorCode::Ok, &Body::SaslNoToken);
            }
            LocalWork::Fail {
                err,
                zxid,
                body,
                close,
            } => {
                let zxid = zxid.unwrap_or_else(|| self.shared.core().tree.last_zxid());
                self.push(meta, zxid, err, &body);
                if close.is_some() {
                    self.closing = close;
                }
            }
        }
    }

    fn run_auth(&mut self, meta: Meta, packet: &rzk_proto::records::AuthPacket) {
        let outcome = ops::auth::add_auth(
            packet,
            self.peer.ip(),
            self.shared.config.super_digest.as_deref(),
        );
        match outcome {
            AuthOutcome::Added(ids) => {
                let mut auth = self.auth.to_vec();
                auth::add_identities(&mut auth, ids);
                self.auth = auth.into();
                self.shared
                    .core()
                    .watches
                    .set_auth(self.conn_id, self.auth.clone());
                tracing::info!(
                    "Session 0x{:x}: auth success for scheme {} and address {}",
                    self.session_id,
                    packet.scheme,
                    self.peer
                );
                self.push_plain(meta, 0, ErrorCode::Ok);
            }
            AuthOutcome::Failed(why) => {
                self.shared.stats.auth_failures.fetch_add(1, Relaxed);
                self.push_plain(meta, 0, ErrorCode::AuthFailed);
                self.closing = Some(CloseReason::AuthFailed(why));
            }
        }
    }

    fn push_plain(&mut self, meta: Meta, zxid: i64, err: ErrorCode) {
        self.push(meta, zxid, err, &Body::Response(Response::Empty));
    }

    fn push(&mut self, meta: Meta, zxid: i64, err: ErrorCode, body: &Body) {
        self.outbound
            .push(OutFrame::reply(reply_frame(meta.xid, zxid, err, body)));
        self.record(meta, zxid);
    }

    /// Leaves the registries, then lets the writer flush what is queued (unless
    /// the client cannot or will not read it) and ends it.
    async fn close(self, reason: &CloseReason, mut writer: JoinHandle<()>) {
        self.shared.core().watches.unregister(self.conn_id);
        let Connection { outbound, .. } = self;
        // With the registry's copy gone, this is the last sender: the writer
        // ends after draining the queue.
        drop(outbound);
        if reason.flush_first() {
            let flush = Duration::from_millis(CLOSE_FLUSH_TIMEOUT_MS);
            if tokio::time::timeout(flush, &mut writer).await.is_err() {
                writer.abort();
            }
        } else {
            writer.abort();
        }
    }
}
