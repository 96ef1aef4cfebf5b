//! Closing a connection from outside its task.
//!
//! Several parties may decide that a connection must end: the sequencer when
//! its session expires or its outbound queue overflows, a newer connection that
//! resumed the same session, the writer when the socket fails, the listener on
//! shutdown. Each calls [`ConnControl::close`]; the connection task waits on
//! [`ConnControl::closed`] in its main loop and logs the first reason given.

use std::fmt;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Why a connection was closed, for the log line and for how it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its end.
    ClientClosed,
    /// The session expired (its connection is cut, as in ZooKeeper).
    SessionExpired,
    /// The client closed its session with closeSession.
    SessionClosed,
    /// The same session was resumed on another connection.
    SessionMoved,
    /// More events and replies were waiting than the outbound queue holds: the
    /// client is not reading. Closing beats silently dropping a watch event.
    OutboundFull,
    /// The connection holds more watches than allowed.
    TooManyWatches,
    /// A frame announced a length outside `0..=jute.maxbuffer`.
    FrameTooLarge(String),
    /// A frame could not be decoded, or named an unknown opcode.
    BadRequest(String),
    /// The handshake was refused (expired session, client ahead of us, ...).
    Handshake(String),
    /// An `addauth` failed.
    AuthFailed(String),
    /// Reading or writing the socket failed.
    Io(String),
    /// No first frame within the sessionless connection timeout.
    HandshakeTimeout,
    /// The ordered log stopped (server shutting down).
    LogClosed,
    /// The server is shutting down.
    Shutdown,
    /// The server lost its leader: as a ZooKeeper follower does, it drops its
    /// clients, which reconnect to a server that is part of a quorum.
    LostLeader,
    /// The server left read-only mode (a leader is known again): its
    /// read-only clients reconnect and find a read-write server.
    ReadOnlyEnded,
}

impl CloseReason {
    /// Whether replies already queued should still be flushed to the client.
    /// Not when the client is not reading (nothing would drain) or gone.
    pub fn flush_first(&self) -> bool {
        !matches!(
            self,
            CloseReason::OutboundFull | CloseReason::Io(_) | CloseReason::ClientClosed
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientClosed => f.write_str("client closed the connection"),
            CloseReason::SessionExpired => f.write_str("session expired"),
            CloseReason::SessionClosed => f.write_str("session closed by client"),
            CloseReason::SessionMoved => f.write_str("session resumed on another connection"),
            CloseReason::OutboundFull => {
                f.write_str("outbound queue full (client is not reading its socket)")
            }
            CloseReason::TooManyWatches => f.write_str("too many watches on one connection"),
            CloseReason::FrameTooLarge(m) => write!(f, "frame too large: {m}"),
            CloseReason::BadRequest(m) => write!(f, "bad request: {m}"),
            CloseReason::Handshake(m) => write!(f, "handshake refused: {m}"),
            CloseReason::AuthFailed(m) => write!(f, "authentication failed: {m}"),
            CloseReason::Io(m) => write!(f, "socket error: {m}"),
            CloseReason::LostLeader => f.write_str("this server lost its leader"),
            CloseReason::ReadOnlyEnded => {
                f.write_str("read-only mode ended (the ensemble has a leader again)")
            }
            CloseReason::HandshakeTimeout => f.write_str("no connect request in time"),
            CloseReason::LogClosed => f.write_str("server log stopped"),
            CloseReason::Shutdown => f.write_str("server shutting down"),
        }
    }
}

/// The shared close switch of one connection.
#[derive(Debug, Default)]
pub struct ConnControl {
    reason: Mutex<Option<CloseReason>>,
    notify: Notify,
}

impl ConnControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the connection to close. The first reason wins; later calls are
    /// no-ops. Never blocks, so it is safe under any lock.
    pub fn close(&self, reason: CloseReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
            // notify_one stores a permit when nobody waits yet: no lost wakeup.
            self.notify.notify_one();
        }
    }

    pub fn reason(&self) -> Option<CloseReason> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resolves once [`close`](Self::close) has been called.
    pub async fn closed(&self) -> CloseReason {
        loop {
            if let Some(reason) = self.reason() {
                return reason;
            }
            self.notify.notified().await;
        }
    }
}
