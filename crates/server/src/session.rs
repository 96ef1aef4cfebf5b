//! Session liveness: the tracker that decides when a session has been silent for
//! longer than its timeout, and the task that turns that decision into an
//! `ExpireSession` entry in the log.
//!
//! As ZooKeeper's `SessionTrackerImpl` and `ExpiryQueue`: each touch moves a
//! session's deadline to `now + timeout` rounded up to the next tick, sessions
//! sharing a deadline share a bucket, and the expiry task wakes every tick and
//! takes the buckets whose time has come. Deadlines use the server's monotonic
//! clock; the log decides what an expiry does.

use crate::shared::Shared;
use rzk_state::id_hash::{IdMap, IdSet};
use rzk_state::Txn;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Tracked {
    timeout_ms: u64,
    deadline_ms: u64,
    /// Expiry has been proposed; touches no longer revive the session.
    closing: bool,
}

/// Touched sessions remembered between two reports to the leader. Beyond
/// this, touches are dropped until the next report (the sessions stay
/// tracked; a report is due every half tick anyway).
pub const SESSION_TOUCHES_PENDING_MAX: usize = 1 << 20;

/// Deadlines of the sessions this server is responsible for.
#[derive(Debug)]
pub struct SessionTracker {
    tick_ms: u64,
    sessions: IdMap<i64, Tracked>,
    buckets: BTreeMap<u64, BTreeSet<i64>>,
    next_id: i64,
    /// Sessions touched since the last [`SessionTracker::take_touched`]: what
    /// a follower reports to the leader, whose tracker is the one that
    /// expires sessions (ZooKeeper's learners send the same in their pings).
    touched: IdSet<i64>,
    /// On the leader: the server each session is connected to (ZooKeeper's
    /// session owner). A write that arrives through another server is
    /// answered SessionMoved: the client has moved on, and its old
    /// connection must not change anything any more.
    owners: IdMap<i64, u64>,
}

/// ZooKeeper's `initializeNextSessionId`: the server id in the top byte, the
/// clock in the next 40 bits, a counter below. `(now << 24) >>> 8` keeps the
/// top byte free for the server id.
pub fn first_session_id(wall_ms: i64, my_id: u64) -> i64 {
    let time_part = ((wall_ms as u64) << 24) >> 8;
    (time_part | (my_id << 56)) as i64
}

impl SessionTracker {
    pub fn new(tick_ms: u64, first_id: i64) -> Self {
        SessionTracker {
            tick_ms: tick_ms.max(1),
            sessions: IdMap::default(),
            buckets: BTreeMap::new(),
            next_id: first_id,
            touched: IdSet::default(),
            owners: IdMap::default(),
        }
    }

    /// A fresh session id (never 0, never one that is tracked).
    pub fn next_session_id(&mut self) -> i64 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            // i64::MIN is ZooKeeper's container ephemeral owner marker.
            if id != 0 && id != i64::MIN && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    fn round_up(&self, ms: u64) -> u64 {
        (ms / self.tick_ms + 1) * self.tick_ms
    }

    /// Starts (or restarts) tracking a session with `timeout_ms`.
    pub fn track(&mut self, session_id: i64, timeout_ms: u64, now_ms: u64) {
        let deadline_ms = self.round_up(now_ms.saturating_add(timeout_ms));
        if let Some(old) = self.sessions.insert(
            session_id,
            Tracked {
                timeout_ms,
                deadline_ms,
                closing: false,
            },
        ) {
            self.unbucket(session_id, old.deadline_ms);
        }
        self.buckets
            .entry(deadline_ms)
            .or_default()
            .insert(session_id);
    }

    /// Records activity. `false` if the session is unknown or already expiring
    /// (the caller treats it as expired).
    pub fn touch(&mut self, session_id: i64, now_ms: u64) -> bool {
        let Some(t) = self.sessions.get(&session_id).copied() else {
            return false;
        };
        if t.closing {
            return false;
        }
        if self.touched.len() < SESSION_TOUCHES_PENDING_MAX {
            self.touched.insert(session_id);
        }
        let deadline_ms = self.round_up(now_ms.saturating_add(t.timeout_ms));
        if deadline_ms != t.deadline_ms {
            self.unbucket(session_id, t.deadline_ms);
            self.buckets
                .entry(deadline_ms)
                .or_default()
                .insert(session_id);
            if let Some(t) = self.sessions.get_mut(&session_id) {
                t.deadline_ms = deadline_ms;
            }
        }
        true
    }

    /// A resumed session: new negotiated timeout, fresh deadline. `false` if it
    /// is unknown or expiring.
    pub fn revalidate(&mut self, session_id: i64, timeout_ms: u64, now_ms: u64) -> bool {
        match self.sessions.get(&session_id) {
            Some(t) if !t.closing => {
                self.track(session_id, timeout_ms, now_ms);
                true
            }
            _ => false,
        }
    }

    /// Tracks a session this server learned of from the log (created through
    /// another server, or replayed at start), unless it is tracked already.
    pub fn track_if_absent(&mut self, session_id: i64, timeout_ms: u64, now_ms: u64) {
        if !self.sessions.contains_key(&session_id) {
            self.track(session_id, timeout_ms, now_ms);
        }
    }

    /// Tracks every session of `tree` not tracked yet, with a full timeout
    /// from `now_ms`, as ZooKeeper treats sessions it loads (a restored or
    /// installed snapshot: nobody knows when they were last heard from).
    pub fn track_tree_sessions(&mut self, tree: &rzk_state::DataTree, now_ms: u64) {
        for s in tree.sessions() {
            let timeout_ms = u64::try_from(s.timeout_ms).unwrap_or(0);
            self.track_if_absent(s.session_id, timeout_ms, now_ms);
        }
    }

    /// This server just became the leader: every session gets a full timeout
    /// from now, as ZooKeeper's new leader gives them (it cannot know when
    /// sessions connected elsewhere were last heard from), and expiries the
    /// previous leader proposed but may not have committed are forgotten.
    pub fn refresh_all(&mut self, now_ms: u64) {
        let sessions: Vec<(i64, u64)> = self
            .sessions
            .iter()
            .map(|(id, t)| (*id, t.timeout_ms))
            .collect();
        for (id, timeout_ms) in sessions {
            self.track(id, timeout_ms, now_ms);
        }
    }

    /// Records `server` as the owner of `session_id` (a session created or
    /// resumed through it).
    pub fn set_owner(&mut self, session_id: i64, server: u64) {
        self.owners.insert(session_id, server);
    }

    /// Whether a request for `session_id` arriving through `server` may
    /// proceed: yes if `server` owns it, or if no owner is known (a new
    /// leader learns owners as requests arrive, as ZooKeeper's does), in
    /// which case `server` becomes the owner.
    pub fn check_owner(&mut self, session_id: i64, server: u64) -> bool {
        *self.owners.entry(session_id).or_insert(server) == server
    }

    /// The sessions touched since the last call (for the report to the leader).
    pub fn take_touched(&mut self) -> Vec<i64> {
        self.touched.drain().collect()
    }

    pub fn is_live(&self, session_id: i64) -> bool {
        self.sessions.get(&session_id).is_some_and(|t| !t.closing)
    }

    pub fn remove(&mut self, session_id: i64) {
        self.touched.remove(&session_id);
        self.owners.remove(&session_id);
        if let Some(t) = self.sessions.remove(&session_id) {
            self.unbucket(session_id, t.deadline_ms);
        }
    }

    fn unbucket(&mut self, session_id: i64, deadline_ms: u64) {
        if let Some(set) = self.buckets.get_mut(&deadline_ms) {
            set.remove(&session_id);
            if set.is_empty() {
                self.buckets.remove(&deadline_ms);
            }
        }
    }

    /// Takes the sessions whose deadline has passed and marks them closing.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<(i64, u64)> {
        let mut expired = Vec::new();
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() > now_ms {
                break;
            }
            for id in entry.remove() {
                if let Some(t) = self.sessions.get_mut(&id) {
                    t.closing = true;
                    expired.push((id, t.timeout_ms));
                }
            }
        }
        expired
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Session ids by expiry deadline (monotonic ms), soonest first: what
    /// `dump` reports (`/commands/dump`'s `expiry_time_to_session_ids`).
    pub fn expiry_buckets(&self) -> Vec<(u64, Vec<i64>)> {
        self.buckets
            .iter()
            .map(|(deadline, ids)| (*deadline, ids.iter().copied().collect()))
            .collect()
    }
}

/// Wakes every tick, expires silent sessions by proposing `ExpireSession`.
/// Runs until the server shuts down (the log closes).
pub async fn run_expiry(shared: Arc<Shared>) {
    let tick = Duration::from_millis(u64::from(shared.config.tick_time_ms.max(1)));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        // Only the leader expires sessions (through the log); the others
        // report activity to it (`run_activity_reports`).
        if !shared.role().is_leader() {
            continue;
        }
        let now_ms = shared.clock.now_ms();
        let expired = shared.sessions().take_expired(now_ms);
        for (session_id, timeout_ms) in expired {
            let client = match shared.conns().client_of_session(session_id) {
                Some((peer, true)) => peer.to_string(),
                Some((peer, false)) => format!("{peer} (disconnected)"),
                None => "not connected to this server".to_string(),
            };
            tracing::info!(
                "Expiring session 0x{session_id:x}, timeout of {timeout_ms}ms exceeded, client {client}"
            );
            if shared
                .log
                .submit(Txn::ExpireSession { session_id })
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Every half tick, sends the sessions touched here since the last report
/// to the leader (ZooKeeper's learners carry the same in their pings), so
/// the leader's tracker, the only one that expires sessions, sees clients
/// that are connected to other servers. On the leader the touches are
/// already in its own tracker.
pub async fn run_activity_reports(shared: Arc<Shared>) {
    let half_tick = Duration::from_millis(u64::from(shared.config.tick_time_ms.max(2) / 2));
    let mut interval = tokio::time::interval(half_tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let touched = shared.sessions().take_touched();
        if !touched.is_empty() && !shared.role().is_leader() {
            shared.log.report_activity(touched);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_like_zookeeper() {
        let id = first_session_id(0x0123_4567_89ab, 1);
        assert_eq!(id as u64 >> 56, 1);
        assert_eq!(
            (id as u64 >> 16) & 0xff_ffff_ffff,
            0x0123_4567_89ab & 0xff_ffff_ffff
        );
        let mut t = SessionTracker::new(2000, 0);
        assert_eq!(t.next_session_id(), 1, "0 is never handed out");
    }

    #[test]
    fn deadlines_round_up_to_ticks_and_touch_extends() {
        let mut t = SessionTracker::new(2000, 1);
        t.track(7, 4000, 100);
        assert!(t.take_expired(5999).is_empty());
        assert!(t.touch(7, 3000));
        assert!(t.take_expired(6000).is_empty(), "touched: deadline 8000");
        assert_eq!(t.take_expired(8000), vec![(7, 4000)]);
        assert!(!t.touch(7, 8001), "expiring sessions are not revived");
        assert!(!t.revalidate(7, 4000, 8001));
        t.remove(7);
        assert!(t.is_empty());
    }
}
