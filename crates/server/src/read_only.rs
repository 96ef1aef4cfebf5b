//! Read-only mode (`readonlymode.enabled=true`), as ZooKeeper 3.8's
//! `ReadOnlyZooKeeperServer`.
//!
//! A member of an ensemble that has had no leader for a grace period (see
//! [`start_delay_ms`]; `role` decides when) serves clients that said they
//! accept a read-only server, from its local tree, which may be stale:
//!
//! - the handshake ([`negotiate`]) refuses a client whose `readOnly` flag is
//!   not set, and a client resuming a *global* session (one in the tree):
//!   ZooKeeper closes both without an answer. A new session is a local one:
//!   it never enters the log, lives in [`ReadOnlySessions`] on this server
//!   only, and its id comes from the same generator as this server's global
//!   ids, so it can never collide with a global session. Resuming a
//!   read-only session of this server works as usual (password, deadline);
//! - requests ([`verdict`]): every write, `check`, `multi`, `reconfig` and
//!   `sync` is answered NotReadOnly (ZooKeeper's `ReadOnlyRequestProcessor`),
//!   closeSession ends the local session, everything else (reads, pings,
//!   watches, auth) is served as usual;
//! - expiry is local too ([`expire_sessions`], every tick while read-only).
//!
//! When a leader is known again, `role` closes every connection and clears
//! the sessions, so read-only clients go and find a read-write server.

use std::collections::HashMap;
use std::net::SocketAddr;

use rzk_proto::records::ConnectRequest;
use rzk_proto::OpCode;

use crate::control::CloseReason;
use crate::handshake::Outcome;
use crate::session::SessionTracker;
use crate::shared::Shared;

/// ZooKeeper's grace period before a leaderless server starts its
/// read-only server: `max(2000 ms, tickTime)` (`QuorumPeer.run`, roZkMgr).
pub const START_DELAY_MS_MIN: u64 = 2_000;

/// Read-only sessions one server keeps at most; beyond this, new ones are
/// refused (each lives until its timeout even after its client left).
pub const READ_ONLY_SESSIONS_MAX: usize = 65_536;

/// How long a server waits without a leader before serving read-only.
pub fn start_delay_ms(tick_time_ms: u32) -> u64 {
    START_DELAY_MS_MIN.max(u64::from(tick_time_ms))
}

/// What a read-only session does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Served as on any server (reads, ping, watches, auth, ...).
    Serve,
    /// Answered NotReadOnly without touching anything.
    NotReadOnly,
    /// closeSession: the local session ends here.
    CloseLocally,
}

/// The opcodes `ReadOnlyRequestProcessor` answers NotReadOnly (sync
/// included: there is no leader to sync with), decided on the header's
/// opcode alone as ZooKeeper does, so an undecodable write is refused the
/// same way.
pub fn verdict(op: i32) -> Verdict {
    match OpCode::from_code(op) {
        Some(
            OpCode::Sync
            | OpCode::Create
            | OpCode::Create2
            | OpCode::CreateTtl
            | OpCode::CreateContainer
            | OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::SetData
            | OpCode::Reconfig
            | OpCode::SetAcl
            | OpCode::Multi
            | OpCode::Check,
        ) => Verdict::NotReadOnly,
        Some(OpCode::CloseSession) => Verdict::CloseLocally,
        _ => Verdict::Serve,
    }
}

/// The sessions created while read-only: deadlines (ZooKeeper's expiry
/// buckets, reused) and passwords. Never in the log or the tree.
#[derive(Debug)]
pub struct ReadOnlySessions {
    tick_ms: u64,
    deadlines: SessionTracker,
    passwords: HashMap<i64, Vec<u8>>,
}

impl ReadOnlySessions {
    pub fn new(tick_ms: u64) -> Self {
        ReadOnlySessions {
            tick_ms,
            // Ids are never drawn from this tracker (see `negotiate`).
            deadlines: SessionTracker::new(tick_ms, 1),
            passwords: HashMap::new(),
        }
    }

    /// Starts a session; `false` when [`READ_ONLY_SESSIONS_MAX`] are live.
    pub fn create(&mut self, id: i64, password: Vec<u8>, timeout_ms: u64, now_ms: u64) -> bool {
        if self.passwords.len() >= READ_ONLY_SESSIONS_MAX {
            return false;
        }
        self.deadlines.track(id, timeout_ms, now_ms);
        self.passwords.insert(id, password);
        true
    }

    /// Whether `id` is a read-only session of this server.
    pub fn contains(&self, id: i64) -> bool {
        self.passwords.contains_key(&id)
    }

    /// Resumes a session: its password if `password` matches and it is
    /// not expiring, with a fresh deadline for the new timeout.
    pub fn resume(
        &mut self,
        id: i64,
        password: &[u8],
        timeout_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<u8>, &'static str> {
        let Some(stored) = self.passwords.get(&id).cloned() else {
            return Err("unknown or expired session");
        };
        if stored != password {
            return Err("wrong password");
        }
        if !self.deadlines.revalidate(id, timeout_ms, now_ms) {
            return Err("session is expiring");
        }
        Ok(stored)
    }

    /// Records activity; `false` if the session is unknown or expiring.
    pub fn touch(&mut self, id: i64, now_ms: u64) -> bool {
        self.deadlines.touch(id, now_ms)
    }

    pub fn remove(&mut self, id: i64) {
        self.deadlines.remove(id);
        self.passwords.remove(&id);
    }

    /// Removes and returns the sessions whose deadline has passed.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<(i64, u64)> {
        let expired = self.deadlines.take_expired(now_ms);
        for (id, _) in &expired {
            self.remove(*id);
        }
        expired
    }

    /// Forgets every session (read-only mode ended).
    pub fn clear(&mut self) {
        *self = ReadOnlySessions::new(self.tick_ms);
    }

    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }
}

/// The handshake while read-only (`ZooKeeperServer.processConnectRequest`
/// with `ReadOnlyZooKeeperServer`'s `validateSession` and local sessions).
pub async fn negotiate(
    shared: &Shared,
    req: &ConnectRequest,
    peer: SocketAddr,
) -> Result<Outcome, CloseReason> {
    if req.read_only != Some(true) {
        let msg = format!("Refusing session request for not-read-only client /{peer}");
        tracing::info!("{msg}");
        return Err(CloseReason::Handshake(msg));
    }
    crate::handshake::check_zxid(shared, req)?;
    let timeout_ms = shared.config.negotiate_timeout_ms(req.timeout_ms);
    let timeout = u64::try_from(timeout_ms).unwrap_or(0);
    let now_ms = shared.clock.now_ms();
    if req.session_id == 0 {
        let password = crate::handshake::random_password()?;
        // The global generator: this server's id in the top byte and a
        // counter, so no global session (from any server) gets this id.
        let session_id = shared.sessions().next_session_id();
        if !shared
            .read_only_sessions()
            .create(session_id, password.clone(), timeout, now_ms)
        {
            return Err(CloseReason::Handshake(format!(
                "{READ_ONLY_SESSIONS_MAX} read-only sessions already open"
            )));
        }
        return Ok(Outcome::Established {
            session_id,
            timeout_ms,
            password,
            resumed: false,
            read_only: true,
        });
    }
    let session_id = req.session_id;
    // Read-only sessions never enter the tree, so a session there is global.
    let global = shared.core().tree.session(session_id).is_some();
    if global {
        let msg = format!("Refusing global session reconnection in RO mode /{peer}");
        tracing::info!("{msg}");
        return Err(CloseReason::Handshake(msg));
    }
    let resumed = shared
        .read_only_sessions()
        .resume(session_id, &req.password, timeout, now_ms);
    match resumed {
        Ok(password) => Ok(Outcome::Established {
            session_id,
            timeout_ms,
            password,
            resumed: true,
            read_only: true,
        }),
        Err(why) => Ok(Outcome::Invalid { session_id, why }),
    }
}

/// Expires the read-only sessions whose deadline has passed: local, so
/// expiry is only closing the connection (they own no ephemerals).
pub fn expire_sessions(shared: &Shared) {
    let now_ms = shared.clock.now_ms();
    let expired = shared.read_only_sessions().take_expired(now_ms);
    for (session_id, timeout_ms) in expired {
        tracing::info!(
            "Expiring read-only session 0x{session_id:x}, timeout of {timeout_ms}ms exceeded"
        );
        shared
            .conns()
            .close_session(session_id, CloseReason::SessionExpired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_zookeepers() {
        assert_eq!(start_delay_ms(100), 2_000);
        assert_eq!(start_delay_ms(2_000), 2_000);
        assert_eq!(start_delay_ms(3_000), 3_000);
    }

    #[test]
    fn writes_and_sync_are_refused_reads_served() {
        for op in [
            OpCode::Create,
            OpCode::Create2,
            OpCode::CreateTtl,
            OpCode::CreateContainer,
            OpCode::Delete,
            OpCode::SetData,
            OpCode::SetAcl,
            OpCode::Multi,
            OpCode::Check,
            OpCode::Reconfig,
            OpCode::Sync,
        ] {
            assert_eq!(verdict(op.code()), Verdict::NotReadOnly, "{op:?}");
        }
        for op in [
            OpCode::GetData,
            OpCode::Exists,
            OpCode::GetChildren,
            OpCode::GetChildren2,
            OpCode::GetAcl,
            OpCode::GetAllChildrenNumber,
            OpCode::GetEphemerals,
            OpCode::MultiRead,
            OpCode::Ping,
            OpCode::SetWatches,
            OpCode::Auth,
        ] {
            assert_eq!(verdict(op.code()), Verdict::Serve, "{op:?}");
        }
        assert_eq!(verdict(OpCode::CloseSession.code()), Verdict::CloseLocally);
        assert_eq!(verdict(20), Verdict::NotReadOnly, "deleteContainer");
    }

    #[test]
    fn sessions_resume_with_their_password_and_expire_locally() {
        let mut s = ReadOnlySessions::new(100);
        assert!(s.create(7, vec![1; 16], 1_000, 0));
        assert_eq!(s.resume(7, &[2; 16], 1_000, 10), Err("wrong password"));
        assert_eq!(s.resume(7, &[1; 16], 1_000, 10), Ok(vec![1; 16]));
        assert_eq!(
            s.resume(8, &[1; 16], 1_000, 10),
            Err("unknown or expired session")
        );
        assert!(s.take_expired(1_000).is_empty());
        assert!(s.touch(7, 900));
        assert!(s.take_expired(1_900).is_empty(), "touched at 900");
        assert_eq!(s.take_expired(2_000), vec![(7, 1_000)]);
        assert!(!s.contains(7) && s.is_empty());
        assert!(!s.touch(7, 2_001));
        assert!(s.create(9, vec![], 1_000, 0));
        s.clear();
        assert!(s.is_empty());
    }
}
