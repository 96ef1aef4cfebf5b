//! The table of open connections: who is connected from where (for
//! `maxClientCnxns`), which connection holds which session (to close the old one
//! on resume and the right one on expiry), and each connection's counters (for
//! `cons`, `stat`, `dump`).

use crate::control::{CloseReason, ConnControl};
use crate::stats::ConnStats;
use crate::transport::Port;
use crate::watch::ConnId;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct ConnEntry {
    pub peer: SocketAddr,
    /// The listener it came in on (`clientPort` or `secureClientPort`).
    pub port: Port,
    pub control: Arc<ConnControl>,
    pub stats: Arc<ConnStats>,
}

/// Refusal of a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyFromAddress {
    pub limit: u32,
}

#[derive(Debug, Default)]
pub struct ConnTable {
    conns: BTreeMap<ConnId, ConnEntry>,
    by_session: HashMap<i64, ConnId>,
    per_ip: HashMap<IpAddr, u32>,
    /// Where each live session whose connection here went away last
    /// connected from, for the expiry log line. Bounded by the live
    /// sessions: dropped when the session reconnects or ends.
    last_peer: HashMap<i64, SocketAddr>,
    next_id: ConnId,
}

impl ConnTable {
    /// Registers an accepted connection unless its address already holds
    /// `limit_per_ip` (0 = unlimited), as ZooKeeper's `maxClientCnxns`.
    /// Both ports count towards the same limit, and a TLS connection counts
    /// from the moment it is accepted, before its handshake.
    pub fn open(
        &mut self,
        entry: ConnEntry,
        limit_per_ip: u32,
    ) -> Result<ConnId, TooManyFromAddress> {
        let count = self.per_ip.entry(entry.peer.ip()).or_insert(0);
        if limit_per_ip > 0 && *count >= limit_per_ip {
            return Err(TooManyFromAddress {
                limit: limit_per_ip,
            });
        }
        *count += 1;
        self.next_id += 1;
        let id = self.next_id;
        self.conns.insert(id, entry);
        Ok(id)
    }

    /// Removes a connection (and its session binding, if it still holds it).
    pub fn close(&mut self, conn: ConnId) {
        let Some(entry) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(n) = self.per_ip.get_mut(&entry.peer.ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&entry.peer.ip());
            }
        }
        let session = entry.stats.session_id.load(Relaxed);
        if self.by_session.get(&session) == Some(&conn) {
            self.by_session.remove(&session);
            self.last_peer.insert(session, entry.peer);
        }
    }

    /// Forgets an ended session's last address.
    pub fn forget_session(&mut self, session_id: i64) {
        self.last_peer.remove(&session_id);
    }

    /// Binds a session to a connection; a previous connection of the same
    /// session is told to close (`SessionMoved`).
    pub fn bind_session(&mut self, conn: ConnId, session_id: i64) {
        self.last_peer.remove(&session_id);
        if let Some(old) = self.by_session.insert(session_id, conn) {
            if old != conn {
                if let Some(entry) = self.conns.get(&old) {
                    entry.control.close(CloseReason::SessionMoved);
                }
            }
        }
    }

    /// Closes the connection holding `session_id`, if any.
    pub fn close_session(&mut self, session_id: i64, reason: CloseReason) {
        if let Some(conn) = self.by_session.remove(&session_id) {
            if let Some(entry) = self.conns.get(&conn) {
                entry.control.close(reason);
            }
        }
    }

    /// The address of the client holding `session_id`, if connected.
    pub fn peer_of_session(&self, session_id: i64) -> Option<SocketAddr> {
        let conn = self.by_session.get(&session_id)?;
        self.conns.get(conn).map(|e| e.peer)
    }

    /// The client of `session_id` for a log line: its address, and whether
    /// it is still connected here; `None` if it never connected here.
    pub fn client_of_session(&self, session_id: i64) -> Option<(SocketAddr, bool)> {
        match self.peer_of_session(session_id) {
            Some(peer) => Some((peer, true)),
            None => self.last_peer.get(&session_id).map(|peer| (*peer, false)),
        }
    }

    /// Asks every connection to close (shutdown).
    pub fn close_all(&self, reason: &CloseReason) {
        for entry in self.conns.values() {
            entry.control.close(reason.clone());
        }
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Snapshot of the open connections, oldest first.
    pub fn entries(&self) -> Vec<(ConnId, ConnEntry)> {
        self.conns.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Sum of requests in flight on all connections.
    pub fn outstanding(&self) -> usize {
        self.conns
            .values()
            .map(|e| e.stats.outstanding.load(Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(t: &mut ConnTable, addr: &str, limit: u32) -> Result<ConnId, TooManyFromAddress> {
        let entry = ConnEntry {
            peer: addr.parse().expect("addr"),
            port: Port::Plain,
            control: Arc::new(ConnControl::new()),
            stats: Arc::new(ConnStats::new(0)),
        };
        t.open(entry, limit)
    }

    #[test]
    fn per_address_limit() {
        let mut t = ConnTable::default();
        let a = open(&mut t, "10.0.0.1:1", 2).expect("first");
        open(&mut t, "10.0.0.1:2", 2).expect("second");
        assert!(open(&mut t, "10.0.0.1:3", 2).is_err());
        open(&mut t, "10.0.0.2:1", 2).expect("other address");
        t.close(a);
        open(&mut t, "10.0.0.1:4", 2).expect("room again");
        open(&mut t, "10.0.0.1:5", 0).expect("0 is unlimited");
    }

    #[test]
    fn resume_closes_the_old_connection() {
        let mut t = ConnTable::default();
        let a = open(&mut t, "10.0.0.1:1", 0).expect("a");
        let b = open(&mut t, "10.0.0.1:2", 0).expect("b");
        t.bind_session(a, 42);
        t.bind_session(b, 42);
        let old = t.entries()[0].1.control.reason();
        assert_eq!(old, Some(CloseReason::SessionMoved));
    }

    #[test]
    fn a_disconnected_session_keeps_its_last_address_until_it_ends() {
        let mut t = ConnTable::default();
        let a = open(&mut t, "10.0.0.1:1", 0).expect("a");
        t.bind_session(a, 42);
        t.entries()[0].1.stats.session_id.store(42, Relaxed);
        let peer: SocketAddr = "10.0.0.1:1".parse().expect("addr");
        assert_eq!(t.client_of_session(42), Some((peer, true)));
        t.close(a);
        assert_eq!(t.client_of_session(42), Some((peer, false)));
        let b = open(&mut t, "10.0.0.1:2", 0).expect("b");
        t.bind_session(b, 42);
        t.entries()[0].1.stats.session_id.store(42, Relaxed);
        assert_eq!(t.client_of_session(42).map(|c| c.1), Some(true));
        t.close(b);
        assert_eq!(t.client_of_session(42).map(|c| c.1), Some(false));
        t.forget_session(42);
        assert_eq!(t.client_of_session(42), None);
    }
}
