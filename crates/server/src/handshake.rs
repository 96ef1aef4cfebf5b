//! The connect handshake: a new session, a resumed one, or a refusal.
//!
//! As ZooKeeper's `processConnectRequest`:
//! - a client that has seen a zxid newer than ours is refused (connection
//!   closed without an answer) so that it tries another server;
//! - the timeout is clamped into `[minSessionTimeout, maxSessionTimeout]`;
//! - session id 0 creates a session through the log (`CreateSession`), with an
//!   id made like ZooKeeper's and a random 16-byte password;
//! - a known session id with its password resumes that session: its ephemerals
//!   stay, its deadline restarts with the new timeout, and its previous
//!   connection is closed;
//! - an unknown or expired id, or a wrong password, gets the "invalid session"
//!   answer (timeout 0, id 0, zero password) and the connection is closed.
//!
//! While the server is read-only (no leader, `readonlymode.enabled`), the
//! handshake is [`crate::read_only::negotiate`]'s instead.
//!
//! Deviation: ZooKeeper closes the session's current connection before it
//! checks the password, so anyone who knows a session id can cut its client
//! off. rzk closes it only once the password has been verified.

use crate::control::CloseReason;
use crate::limits::SESSION_PASSWORD_BYTES;
use crate::shared::Shared;
use rzk_proto::records::ConnectRequest;
use rzk_state::Txn;

/// How the handshake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Established {
        session_id: i64,
        timeout_ms: i32,
        password: Vec<u8>,
        resumed: bool,
        /// A read-only session (local to this server, see `read_only`).
        read_only: bool,
    },
    /// Answer with the invalid-session response, then close.
    Invalid { session_id: i64, why: &'static str },
}

pub async fn negotiate(
    shared: &Shared,
    req: &ConnectRequest,
    peer: std::net::SocketAddr,
) -> Result<Outcome, CloseReason> {
    if !shared.is_serving() {
        if shared.is_read_only() {
            return crate::read_only::negotiate(shared, req, peer).await;
        }
        return Err(CloseReason::Handshake(
            "ZooKeeperServer not running: no leader yet, or still applying the log after a start"
                .to_string(),
        ));
    }
    check_zxid(shared, req)?;
    let timeout_ms = shared.config.negotiate_timeout_ms(req.timeout_ms);
    if req.session_id == 0 {
        create(shared, timeout_ms).await
    } else {
        resume(shared, req, timeout_ms).await
    }
}

/// Refuses a client that has seen a newer zxid than this server's tree.
pub(crate) fn check_zxid(shared: &Shared, req: &ConnectRequest) -> Result<(), CloseReason> {
    let last_zxid = shared.core().tree.last_zxid();
    if req.last_zxid_seen > last_zxid {
        return Err(CloseReason::Handshake(format!(
            "client has seen zxid 0x{:x}, our last zxid is 0x{:x}; client must try another server",
            req.last_zxid_seen, last_zxid
        )));
    }
    Ok(())
}

/// A session whose creation through the log takes longer than this is
/// logged (it normally takes one commit round).
const SLOW_SESSION_CREATION: std::time::Duration = std::time::Duration::from_secs(1);

async fn create(shared: &Shared, timeout_ms: i32) -> Result<Outcome, CloseReason> {
    let password = random_password()?;
    let session_id = {
        let mut sessions = shared.sessions();
        let id = sessions.next_session_id();
        // Tracked before the log applies it, as ZooKeeper does, so a session
        // whose creation stalls still expires.
        sessions.track(id, timeout_ms as u64, shared.clock.now_ms());
        id
    };
    let txn = Txn::CreateSession {
        session_id,
        timeout_ms,
        password: password.clone(),
    };
    let started = std::time::Instant::now();
    let proposed = shared.log.propose(txn).await;
    let took = started.elapsed();
    if took >= SLOW_SESSION_CREATION {
        // The client may have given up on this server by now.
        tracing::warn!(
            "Creating session 0x{session_id:x} took {took:?} ({})",
            if proposed.is_ok() {
                "applied"
            } else {
                "failed"
            }
        );
    }
    let applied = match proposed {
        Ok(a) => a,
        Err(_) => {
            shared.sessions().remove(session_id);
            return Err(CloseReason::LogClosed);
        }
    };
    if applied.reply.err != rzk_proto::ErrorCode::Ok {
        shared.sessions().remove(session_id);
        return Err(CloseReason::Handshake(format!(
            "creating session 0x{session_id:x} failed: {:?}",
            applied.reply.err
        )));
    }
    Ok(Outcome::Established {
        session_id,
        timeout_ms,
        password,
        resumed: false,
        read_only: false,
    })
}

async fn resume(
    shared: &Shared,
    req: &ConnectRequest,
    timeout_ms: i32,
) -> Result<Outcome, CloseReason> {
    let session_id = req.session_id;
    let stored = shared
        .core()
        .tree
        .session(session_id)
        .map(|s| s.password.clone());
    let Some(password) = stored else {
        return Ok(Outcome::Invalid {
            session_id,
            why: "unknown or expired session",
        });
    };
    if password != req.password {
        return Ok(Outcome::Invalid {
            session_id,
            why: "wrong password",
        });
    }
    let now_ms = shared.clock.now_ms();
    if !shared
        .sessions()
        .revalidate(session_id, timeout_ms as u64, now_ms)
    {
        return Ok(Outcome::Invalid {
            session_id,
            why: "session is expiring",
        });
    }
    // The leader's tracker decides (and makes this server the owner, so
    // requests still arriving through the session's old server are answered
    // SessionMoved). On the leader itself this is a local call.
    match shared.log.revalidate(session_id, timeout_ms).await {
        Ok(true) => {}
        Ok(false) => {
            return Ok(Outcome::Invalid {
                session_id,
                why: "session is expiring on the leader",
            })
        }
        Err(_) => return Err(CloseReason::LogClosed),
    }
    Ok(Outcome::Established {
        session_id,
        timeout_ms,
        password,
        resumed: true,
        read_only: false,
    })
}

/// 16 bytes from the operating system's generator. ZooKeeper derives the
/// password from the id and a server secret with `java.util.Random`; any
/// unguessable value is equally compatible, since clients only echo it.
pub(crate) fn random_password() -> Result<Vec<u8>, CloseReason> {
    let mut password = vec![0u8; SESSION_PASSWORD_BYTES];
    getrandom::fill(&mut password)
        .map_err(|e| CloseReason::Handshake(format!("no randomness for a password: {e}")))?;
    Ok(password)
}
