//! Follows the replica's role and acts on its changes: a log line on every
//! role change and election (with how long the server was without a
//! leader), fresh session deadlines when this server becomes the leader, the
//! serving gate with its three modes, and stopping the server when raft
//! stops.
//!
//! Serving: like ZooKeeper, a server accepts client sessions only while it is
//! part of a working ensemble (it knows a leader) and, after a start, once it
//! has applied what its own log already held: a restarted server must not
//! answer reads from a tree that is still missing entries it had
//! acknowledged before the crash.
//!
//! A leader without a quorum: openraft keeps a leader leading however long
//! its followers are silent. ZooKeeper's leader gives up when it has not
//! heard from a quorum for `syncLimit` ticks ("Not sufficient followers
//! synced") and goes looking. rzk does the same for serving: such a leader
//! counts as looking ([`quorum_silence_ms`]), drops its clients and serves
//! again once a quorum acknowledges it (or it follows a newer leader).
//! openraft 0.10 has no call that makes a member leader step down (only
//! `transfer_leader`, which needs a reachable target), so raft itself stays
//! leader: the majority side elects a new leader on its own (its followers
//! time out) and this server becomes a follower when it hears of that term.
//!
//! Read-only: with `readonlymode.enabled`, a member that has been without a
//! leader for [`crate::read_only::start_delay_ms`] serves read-only
//! ([`mode`]; the rest is in [`crate::read_only`]).
//!
//! The loop wakes on every change of raft's metrics until the gate is
//! passed, then only on changes of the vote, the leader, the membership and
//! raft's state: a write's append, commit and apply no longer wake it. What
//! changes without such a change (a leader's last quorum acknowledgement, a
//! follower's last contact with its leader, the time without a leader) is
//! re-read every tick.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rzk_replica::status::{Role, Status, StatusHandle};

use crate::control::CloseReason;
use crate::shared::Shared;

/// What the server offers clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No sessions (no leader, or still applying the log after a start).
    NotServing,
    /// Part of a working ensemble.
    ReadWrite,
    /// Leaderless for a while with read-only mode enabled.
    ReadOnly,
}

/// What the mode depends on besides the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// The log index to have applied before serving read-write (the log's
    /// end when the server started).
    pub catch_up_to: Option<u64>,
    /// `readonlymode.enabled`.
    pub read_only_enabled: bool,
    /// How long to be leaderless before serving read-only.
    pub read_only_delay_ms: u64,
}

/// Whether the log up to `catch_up_to` has been applied (past that, only
/// the leader decides whether this server serves).
fn caught_up(status: &Status, catch_up_to: Option<u64>) -> bool {
    status.last_applied_index >= catch_up_to
}

/// Whether a status lets this server serve clients, given the log index it
/// must have applied first (its log's end when it started).
pub fn can_serve(status: &Status, catch_up_to: Option<u64>) -> bool {
    has_leader(status) && caught_up(status, catch_up_to)
}

/// The mode for an effective status (see [`effective`]), given how long
/// this server has been without a leader (`None`: it has one).
pub fn mode(status: &Status, gate: &Gate, leaderless_ms: Option<u64>) -> Mode {
    if can_serve(status, gate.catch_up_to) {
        return Mode::ReadWrite;
    }
    // ZooKeeper starts its read-only server only while the peer is looking
    // (never standalone, never stopped), after the grace period. The tree
    // need not be caught up: read-only answers may be stale by design, and
    // a client that has seen newer data is refused at the handshake.
    // A server removed by a reconfig is no longer part of the ensemble.
    let looking = matches!(status.role, Role::Looking) && !has_leader(status) && !status.removed;
    if gate.read_only_enabled
        && looking
        && leaderless_ms.is_some_and(|ms| ms >= gate.read_only_delay_ms)
    {
        return Mode::ReadOnly;
    }
    Mode::NotServing
}

/// On a leader of more than one voter: how long ago a quorum last
/// acknowledged it, if that is more than `sync_limit_ms` (its quorum is
/// lost). A leader no quorum has acknowledged yet counts from when it
/// started leading (`leading_ms`).
pub fn quorum_silence_ms(status: &Status, leading_ms: u64, sync_limit_ms: u64) -> Option<u64> {
    if status.role != Role::Leader || status.voters <= 1 {
        return None;
    }
    let silence_ms = status.quorum_acked_ms_ago.unwrap_or(leading_ms);
    (silence_ms > sync_limit_ms).then_some(silence_ms)
}

/// The status the server acts on: a leader that lost its quorum is looking
/// and knows no leader.
pub fn effective(mut status: Status, quorum_lost: bool) -> Status {
    if quorum_lost {
        status.role = Role::Looking;
        status.leader = None;
    }
    status
}

/// Whether this server is part of a working ensemble: it leads, or it
/// follows or observes a known leader.
fn has_leader(status: &Status) -> bool {
    status.leader.is_some()
        && matches!(
            status.role,
            Role::Standalone | Role::Leader | Role::Follower | Role::Observer
        )
}

/// The loop's memory between two readings.
struct Follower {
    shared: Arc<Shared>,
    handle: StatusHandle,
    observers: BTreeMap<u64, rzk_replica::Member>,
    gate: Gate,
    sync_limit_ms: u64,
    /// Effective role and leader of the last reading.
    role: Role,
    leader: Option<u64>,
    leaderless_since: Option<Instant>,
    /// Term and start of this server's current leadership (raft's view).
    leading_since: Option<(u64, Instant)>,
    quorum_lost: bool,
}

/// Runs until raft stops; returns why it stopped. `observers` (id -> peer
/// address) are added as learners whenever this server becomes the leader.
pub async fn follow(
    shared: Arc<Shared>,
    handle: StatusHandle,
    observers: BTreeMap<u64, rzk_replica::Member>,
) -> String {
    let start = handle.status();
    let config = &shared.config;
    let tick_ms = u64::from(config.tick_time_ms.max(10));
    let gate = Gate {
        catch_up_to: start.last_log_index,
        read_only_enabled: config.read_only_mode_enabled,
        read_only_delay_ms: crate::read_only::start_delay_ms(config.tick_time_ms),
    };
    let sync_limit_ms = tick_ms.saturating_mul(u64::from(config.sync_limit_ticks.max(1)));
    tracing::info!(
        "Replica {} starting as {}; it will serve clients once it has a leader and has applied its log up to index {}{}",
        start.node_id,
        start.role,
        gate.catch_up_to.map_or("-".to_string(), |i| i.to_string()),
        if gate.read_only_enabled {
            format!(
                " (read-only after {} ms without a leader)",
                gate.read_only_delay_ms
            )
        } else {
            String::new()
        }
    );
    let mut f = Follower {
        shared: shared.clone(),
        handle: handle.clone(),
        observers,
        gate,
        sync_limit_ms,
        role: start.role,
        leader: start.leader,
        leaderless_since: Some(Instant::now()),
        leading_since: None,
        quorum_lost: false,
    };
    let mut watch = handle.watch();
    if caught_up(&start, f.gate.catch_up_to) {
        watch.roles_only();
    }
    f.on_status(start, true);
    let mut tick = tokio::time::interval(Duration::from_millis(tick_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let status = tokio::select! {
            next = watch.next() => match next {
                Some(status) => status,
                // Raft stopped (the watch closed).
                None => break,
            },
            _ = tick.tick() => handle.status(),
        };
        if let Some(fatal) = &status.fatal {
            f.stop();
            return format!("replication stopped: {fatal}");
        }
        if status.role == Role::Stopped {
            break;
        }
        if caught_up(&status, f.gate.catch_up_to) {
            // Past the gate, serving depends on the role and the leader
            // only (and on what the tick re-reads): no wake-up per write.
            watch.roles_only();
        }
        f.on_status(status, false);
        if shared.is_read_only() {
            crate::read_only::expire_sessions(&shared);
        }
    }
    f.stop();
    "replication stopped".to_string()
}

impl Follower {
    /// Acts on one reading of raft's status.
    fn on_status(&mut self, raw: Status, first: bool) {
        let now = Instant::now();
        self.leading_since = match self.leading_since {
            Some((term, since)) if raw.role == Role::Leader && term == raw.term => {
                Some((term, since))
            }
            _ if raw.role == Role::Leader => Some((raw.term, now)),
            _ => None,
        };
        let leading_ms = self
            .leading_since
            .map_or(0, |(_, since)| elapsed_ms(since, now));
        let silence = quorum_silence_ms(&raw, leading_ms, self.sync_limit_ms);
        let lost = silence.is_some();
        if lost != self.quorum_lost {
            if let Some(silence_ms) = silence {
                tracing::warn!(
                    "Leader {} (term {}): not sufficient followers synced, a quorum last acknowledged it {silence_ms} ms ago (syncLimit is {} ms); it no longer counts as leader",
                    raw.node_id,
                    raw.term,
                    self.sync_limit_ms
                );
            } else if raw.role == Role::Leader {
                tracing::info!(
                    "Leader {} (term {}): a quorum acknowledges it again",
                    raw.node_id,
                    raw.term
                );
            }
            self.quorum_lost = lost;
            self.shared.quorum_lost.store(lost, Ordering::Release);
        }
        let status = effective(raw, lost);
        if first || status.role != self.role || status.leader != self.leader {
            let previous = (!first).then_some(self.role);
            self.on_role_change(&status, previous);
            if status.role == Role::Leader && !self.observers.is_empty() {
                tokio::spawn(add_observers(
                    self.handle.clone(),
                    self.observers.clone(),
                    self.shared.config.tick_time_ms,
                ));
            }
            self.role = status.role;
            self.leader = status.leader;
        }
        let leaderless_ms = self.leaderless_since.map(|since| elapsed_ms(since, now));
        let next = mode(&status, &self.gate, leaderless_ms);
        set_mode(&self.shared, next, &status);
    }

    fn on_role_change(&mut self, status: &Status, previous: Option<Role>) {
        let shared = &self.shared;
        if has_leader(status) {
            if let Some(since) = self.leaderless_since.take() {
                tracing::info!(
                    "Election done: server {} is {} (leader {}, term {}), {} ms without a leader",
                    status.node_id,
                    status.role,
                    status.leader.map_or("-".to_string(), |l| l.to_string()),
                    status.term,
                    since.elapsed().as_millis()
                );
            } else if let Some(previous) = previous {
                tracing::info!(
                    "Role change: server {} {previous} -> {} (leader {}, term {})",
                    status.node_id,
                    status.role,
                    status.leader.map_or("-".to_string(), |l| l.to_string()),
                    status.term
                );
            }
        } else if status.removed {
            if self.leaderless_since.is_none() {
                self.leaderless_since = Some(Instant::now());
            }
            if previous.is_some_and(|p| p != Role::Looking) {
                tracing::warn!(
                    "Server {} was removed from the ensemble by a reconfig; not serving clients",
                    status.node_id
                );
            }
        } else if self.leaderless_since.is_none() {
            self.leaderless_since = Some(Instant::now());
            tracing::warn!(
                "Server {} lost its leader (now {}, term {}); looking for a new one",
                status.node_id,
                status.role,
                status.term
            );
        }
        if status.role.is_leader() && !previous.is_some_and(|p| p.is_leader()) {
            // ZooKeeper's new leader gives every session a full timeout.
            shared.sessions().refresh_all(shared.clock.now_ms());
        }
    }

    fn stop(&self) {
        self.shared.serving.store(false, Ordering::Release);
        if self.shared.read_only.swap(false, Ordering::AcqRel) {
            self.shared.read_only_sessions().clear();
        }
    }
}

fn elapsed_ms(since: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(since).as_millis()).unwrap_or(u64::MAX)
}

/// Switches the gate to `next`, closing the connections the old mode
/// served: all of them when read-write serving stops (as a ZooKeeper
/// follower that loses its leader), and the read-only ones when read-only
/// mode ends (they must find a read-write server).
fn set_mode(shared: &Shared, next: Mode, status: &Status) {
    // The old mode closes first, so that no connection the new mode
    // accepted is closed with the old mode's clients.
    if next != Mode::ReadWrite && shared.serving.swap(false, Ordering::AcqRel) {
        tracing::warn!(
            "Not serving clients until a leader is known; closing {} client connections",
            shared.conns().len()
        );
        shared.conns().close_all(&CloseReason::LostLeader);
    }
    if next != Mode::ReadOnly && shared.read_only.swap(false, Ordering::AcqRel) {
        let sessions = shared.read_only_sessions().len();
        shared.read_only_sessions().clear();
        tracing::info!(
            "Read-only server stopped: closing {} client connections, forgetting {sessions} read-only sessions",
            shared.conns().len()
        );
        shared.conns().close_all(&CloseReason::ReadOnlyEnded);
    }
    if next == Mode::ReadWrite && !shared.serving.swap(true, Ordering::AcqRel) {
        tracing::info!(
            "Serving clients (applied through index {})",
            status.last_applied_index.map_or(0, |i| i)
        );
    }
    if next == Mode::ReadOnly && !shared.read_only.swap(true, Ordering::AcqRel) {
        tracing::info!(
            "Read-only server started: no leader for a while; serving read-only clients from the local tree (zxid 0x{:x})",
            shared.core().tree.last_zxid()
        );
    }
}

/// Makes zoo.cfg's observers learners, retrying every tick while this
/// server leads: a new leader cannot change the membership until its
/// first entry has committed.
async fn add_observers(
    handle: StatusHandle,
    observers: BTreeMap<u64, rzk_replica::Member>,
    tick_ms: u32,
) {
    let mut failures = 0u32;
    // Bounded by leadership: stops once this server no longer leads.
    while handle.status().role == Role::Leader {
        match handle.ensure_learners(&observers).await {
            Ok(()) => return,
            Err(e) => {
                failures += 1;
                if failures % 50 == 1 {
                    tracing::info!("{e}; retrying");
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(tick_ms.max(10)))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(role: Role, leader: Option<u64>) -> Status {
        Status {
            node_id: 1,
            role,
            leader,
            term: 3,
            last_log_index: Some(10),
            committed_index: Some(10),
            last_applied_index: Some(10),
            snapshot_index: None,
            voters: 3,
            observers: 0,
            followers: 2,
            synced_followers: 2,
            purged_index: None,
            removed: false,
            quorum_acked_ms_ago: None,
            fatal: None,
        }
    }

    const GATE: Gate = Gate {
        catch_up_to: Some(10),
        read_only_enabled: true,
        read_only_delay_ms: 2_000,
    };

    #[test]
    fn with_a_leader_and_caught_up_it_serves_read_write() {
        assert_eq!(
            mode(&status(Role::Follower, Some(2)), &GATE, None),
            Mode::ReadWrite
        );
        let mut behind = status(Role::Follower, Some(2));
        behind.last_applied_index = Some(9);
        assert_eq!(mode(&behind, &GATE, None), Mode::NotServing);
    }

    #[test]
    fn read_only_only_after_the_delay_when_enabled_and_looking() {
        let looking = status(Role::Looking, None);
        assert_eq!(mode(&looking, &GATE, Some(1_999)), Mode::NotServing);
        assert_eq!(mode(&looking, &GATE, Some(2_000)), Mode::ReadOnly);
        let disabled = Gate {
            read_only_enabled: false,
            ..GATE
        };
        assert_eq!(mode(&looking, &disabled, Some(60_000)), Mode::NotServing);
        let stopped = status(Role::Stopped, None);
        assert_eq!(mode(&stopped, &GATE, Some(60_000)), Mode::NotServing);
        // Read-only does not wait for the log to be applied.
        let mut behind = status(Role::Looking, None);
        behind.last_applied_index = None;
        assert_eq!(mode(&behind, &GATE, Some(2_000)), Mode::ReadOnly);
    }

    #[test]
    fn a_leader_loses_its_quorum_after_sync_limit() {
        let mut leader = status(Role::Leader, Some(1));
        leader.quorum_acked_ms_ago = Some(300);
        assert_eq!(quorum_silence_ms(&leader, 10_000, 300), None);
        leader.quorum_acked_ms_ago = Some(301);
        assert_eq!(quorum_silence_ms(&leader, 10_000, 300), Some(301));
        // Not acknowledged yet: counts from the start of its leadership.
        leader.quorum_acked_ms_ago = None;
        assert_eq!(quorum_silence_ms(&leader, 100, 300), None);
        assert_eq!(quorum_silence_ms(&leader, 500, 300), Some(500));
        // One voter is its own quorum; followers have no quorum to lose.
        let mut alone = status(Role::Leader, Some(1));
        alone.voters = 1;
        assert_eq!(quorum_silence_ms(&alone, 60_000, 300), None);
        let standalone = status(Role::Standalone, Some(1));
        assert_eq!(quorum_silence_ms(&standalone, 60_000, 300), None);
        let follower = status(Role::Follower, Some(2));
        assert_eq!(quorum_silence_ms(&follower, 60_000, 300), None);
    }

    #[test]
    fn a_leader_without_quorum_is_looking_and_may_go_read_only() {
        let leader = status(Role::Leader, Some(1));
        assert_eq!(
            mode(&effective(leader.clone(), false), &GATE, None),
            Mode::ReadWrite
        );
        let lost = effective(leader, true);
        assert_eq!((lost.role, lost.leader), (Role::Looking, None));
        assert_eq!(mode(&lost, &GATE, Some(0)), Mode::NotServing);
        assert_eq!(mode(&lost, &GATE, Some(2_500)), Mode::ReadOnly);
    }
}
