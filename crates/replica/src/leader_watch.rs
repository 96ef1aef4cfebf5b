//! Fast failover when the leader's process dies.
//!
//! A ZooKeeper follower reads from a TCP connection to its leader; when the
//! leader's process dies the kernel closes that connection at once, the
//! follower goes LOOKING, and a new leader is elected in well under a second.
//! Raft as openraft runs it waits instead: a follower grants no vote while
//! its leader lease (`election_timeout_max`) runs, and starts an election only
//! when the lease plus an election timeout have passed since the leader was
//! last heard, about `2 × syncLimit` ticks (over 20 s with the sample
//! zoo.cfg). That is the right wait when the leader may only be slow or cut
//! off, and the wrong one when it is known to be gone.
//!
//! This watch learns that the leader is gone the way ZooKeeper does: the
//! leader's connections into this server's peer port are closed (the
//! listener counts the open connections from each server here). While none
//! from the leader is open, it checks with a connection attempt to the
//! leader's peer port: refused means no process listens there any more.
//! Anything else (the connect succeeds, times out or fails otherwise) proves
//! nothing, and raft's own timeouts stay in charge. A leader that is alive
//! but was only reconnecting answers the attempt.
//!
//! Once the leader is known dead, the watch ends this server's lease on it
//! (openraft's leadership-transfer message addressed to the dead leader does
//! exactly that and nothing else) so that it grants votes at once, and then
//! asks raft for an election with pre-vote. Every surviving voter does the
//! same, one after another in server-id order ([`stagger`]), so that one
//! candidate usually wins the first round instead of all splitting the vote;
//! a later one finds a new leader already in place and stays quiet. Pre-vote
//! keeps the attempt harmless: if some voter still believes in a live leader
//! the round is refused and nothing changes (no term is spent).
//!
//! Safety does not depend on any of this: votes still require an up-to-date
//! log, so a wrong conclusion costs at most an election.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openraft::alias::VoteOf;
use openraft::async_runtime::WatchReceiver;
use openraft::raft::TransferLeaderRequest;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::{Instant, MissedTickBehavior};

use crate::leader_link::{era_of, Era};
use crate::types::{NodeId, Raft, TypeConfig};

/// How long the connection attempt to the leader's peer port may take. A
/// refused connect on a live host answers in microseconds; a host that does
/// not answer at all is not a dead process (and not this watch's business).
const PROBE_CONNECT_TIMEOUT_MS: u64 = 500;
/// The longest pause between two checks while no connection from the leader
/// is open (half a tick when ticks are shorter).
const CHECK_INTERVAL_MS_MAX: u64 = 100;
/// Election attempts one server makes after one dead leader (a first one can
/// be refused by a survivor that has not yet noticed the death).
const ELECTION_ATTEMPTS_MAX: u32 = 3;
/// The longest pause between two surviving voters' election attempts.
const STAGGER_STEP_MS_MAX: u64 = 200;

/// The listener's end: counts the open peer connections from each server
/// and wakes the watch when one closes.
#[derive(Clone, Default)]
pub struct LeaderWatch {
    inner: Arc<WatchInner>,
}

#[derive(Default)]
struct WatchInner {
    open: Mutex<HashMap<NodeId, usize>>,
    closed: Notify,
}

impl LeaderWatch {
    /// A connection from server `from` passed its handshake; it counts as
    /// open until the returned guard is dropped.
    pub fn opened(&self, from: NodeId) -> OpenConnection {
        *self.lock().entry(from).or_default() += 1;
        OpenConnection {
            watch: self.clone(),
            from,
        }
    }

    /// Peer connections from `from` open now.
    fn open_from(&self, from: NodeId) -> usize {
        self.lock().get(&from).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<NodeId, usize>> {
        self.inner.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An open peer connection, counted by the [`LeaderWatch`] until dropped.
pub struct OpenConnection {
    watch: LeaderWatch,
    from: NodeId,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut open = self.watch.lock();
        if let Some(count) = open.get_mut(&self.from) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.from);
            }
        }
        drop(open);
        self.watch.inner.closed.notify_one();
    }
}

/// How long voter `me` waits before its election attempt once leader `dead`
/// is known gone: its place among the surviving voters in id order, times a
/// step of half a tick (at most [`STAGGER_STEP_MS_MAX`]).
pub fn stagger(me: NodeId, dead: NodeId, voters: &[NodeId], tick_ms: u64) -> Duration {
    let mut survivors: Vec<NodeId> = voters.iter().copied().filter(|v| *v != dead).collect();
    survivors.sort_unstable();
    let place = survivors.iter().position(|v| *v == me).unwrap_or(0);
    stagger_step(tick_ms) * u32::try_from(place).unwrap_or(u32::MAX)
}

/// The pause between two voters' turns: half a tick, at most
/// [`STAGGER_STEP_MS_MAX`].
fn stagger_step(tick_ms: u64) -> Duration {
    Duration::from_millis((tick_ms / 2).min(STAGGER_STEP_MS_MAX))
}

/// What this server knows of the leader it follows.
struct Following {
    reign: Era,
    vote: VoteOf<TypeConfig>,
    /// The leader's peer address.
    addr: String,
    voters: Vec<NodeId>,
}

/// The leader this server follows, if it is a voter following another
/// server.
fn following(raft: &Raft, me: NodeId) -> Option<Following> {
    let metrics = raft.server_metrics();
    let m = metrics.borrow_watched();
    let (reign, addr) = era_of(&m)?;
    let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
    if reign.leader == me || !voters.contains(&me) {
        return None;
    }
    Some(Following {
        reign,
        vote: m.vote,
        addr: addr?,
        voters,
    })
}

fn still_following(raft: &Raft, me: NodeId) -> Option<Era> {
    following(raft, me).map(|f| f.reign)
}

/// Whether nothing listens on `addr` any more (the connect is refused).
async fn refuses_connections(addr: &str) -> bool {
    let attempt = tokio::time::timeout(
        Duration::from_millis(PROBE_CONNECT_TIMEOUT_MS),
        TcpStream::connect(addr),
    )
    .await;
    matches!(attempt, Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused)
}

/// Lets raft campaign (its elections were disabled before it started) once
/// this server's turn has come: at once if it already knows a leader or is
/// not a voter, otherwise after [`stagger`] by its place among the voters.
/// Without turns every member of a freshly started ensemble campaigns on its
/// first timer tick (no lease holds it back), the votes split, and the next
/// attempt waits a whole election timeout, about syncLimit ticks (10 s with
/// the sample zoo.cfg); ZooKeeper's first election takes well under a second.
async fn first_election_in_turn(raft: &Raft, me: NodeId, tick_ms: u64) {
    let mut metrics = raft.server_metrics();
    let voters: Vec<NodeId> = loop {
        let voters: Vec<NodeId> = {
            let m = metrics.borrow_watched();
            if m.current_leader.is_some() {
                break Vec::new();
            }
            m.membership_config.membership().voter_ids().collect()
        };
        if !voters.is_empty() {
            break voters;
        }
        // No membership yet: the server initializes it right after start.
        if metrics.changed().await.is_err() {
            return;
        }
    };
    // A learner never campaigns, and a server that knows a leader has no
    // turn to wait for; the others wait theirs unless a leader appears
    // first (no server is dead here: every voter takes its place).
    if voters.contains(&me) {
        let turn = tokio::time::sleep(stagger(me, NodeId::MAX, &voters, tick_ms));
        tokio::pin!(turn);
        loop {
            tokio::select! {
                _ = &mut turn => break,
                changed = metrics.changed() => {
                    if changed.is_err() {
                        raft.runtime_config().elect(true);
                        return; // raft has stopped
                    }
                    if metrics.borrow_watched().current_leader.is_some() {
                        break;
                    }
                }
            }
        }
    }
    raft.runtime_config().elect(true);
    // Raft's own timer would wait an election timeout after the vote the
    // initialization recorded; a voter's turn is now.
    let has_leader = metrics.borrow_watched().current_leader.is_some();
    if voters.contains(&me) && !has_leader {
        if let Err(e) = raft.trigger().elect(true).await {
            tracing::warn!("Cannot start the first election: {e}");
        }
    }
}

/// Watches the leader until `shutdown` turns true (or its sender goes):
/// woken when a peer connection closes, and every half tick (at most
/// [`CHECK_INTERVAL_MS_MAX`]), it probes the leader's peer port only while no
/// connection from the leader is open, so a healthy ensemble (whose leader
/// keeps connections to every follower for its heartbeats) sees no probes.
/// Checking again on the timer, not only on the closing, also covers a
/// leader whose connections were already gone when it died and a probe that
/// reached a process still in the middle of dying.
pub async fn run(
    raft: Raft,
    me: NodeId,
    tick_ms: u64,
    watch: LeaderWatch,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = first_election_in_turn(&raft, me, tick_ms) => {}
        _ = shutdown.changed() => return,
    }
    // The dead reign acted on, how often, and when last.
    let mut handled: Option<(Era, u32, Instant)> = None;
    let period = Duration::from_millis((tick_ms / 2).clamp(1, CHECK_INTERVAL_MS_MAX));
    let mut timer = tokio::time::interval(period);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
                continue;
            }
            _ = watch.inner.closed.notified() => {}
            _ = timer.tick() => {}
        }
        let Some(Following {
            reign,
            vote,
            addr,
            voters,
        }) = following(&raft, me)
        else {
            continue;
        };
        // Every survivor has had its turn by then.
        let retry_after = stagger_step(tick_ms) * u32::try_from(voters.len()).unwrap_or(u32::MAX);
        let attempts = match handled {
            Some((r, n, last)) if r == reign => {
                if n >= ELECTION_ATTEMPTS_MAX || last.elapsed() < retry_after {
                    continue;
                }
                n
            }
            _ => 0,
        };
        if watch.open_from(reign.leader) > 0 {
            continue;
        }
        if !refuses_connections(&addr).await {
            continue;
        }
        if still_following(&raft, me) != Some(reign) || watch.open_from(reign.leader) > 0 {
            continue; // a new reign began, or the leader connected, while we probed
        }
        handled = Some((reign, attempts + 1, Instant::now()));
        let wait = stagger(me, reign.leader, &voters, tick_ms);
        tracing::warn!(
            "Leader {} (term {}) is down: its connection closed and its peer port {addr} refuses connections; electing a new leader now (this server tries in {} ms) instead of waiting out raft's timeouts",
            reign.leader,
            reign.term,
            wait.as_millis()
        );
        // Addressed to the dead leader, the transfer only ends this server's
        // lease on it, so that it grants the new candidate's vote.
        let release = TransferLeaderRequest::new(vote, reign.leader, None);
        if let Err(e) = raft.handle_transfer_leader(release).await {
            tracing::warn!("Cannot release the dead leader's lease: {e}");
            continue;
        }
        tokio::time::sleep(wait).await;
        if still_following(&raft, me) != Some(reign) {
            continue; // someone else already won
        }
        if let Err(e) = raft.trigger().elect(true).await {
            tracing::warn!("Cannot start an election: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survivors_take_turns_in_id_order_half_a_tick_apart_at_most_200_ms() {
        let voters = [1, 2, 3, 4, 5];
        let ms = |me, dead, tick| stagger(me, dead, &voters, tick).as_millis();
        assert_eq!(ms(1, 3, 100), 0);
        assert_eq!(ms(2, 3, 100), 50);
        assert_eq!(ms(4, 3, 100), 100);
        assert_eq!(ms(5, 3, 100), 150);
        assert_eq!(ms(2, 1, 100), 0, "the dead leader takes no place");
        assert_eq!(ms(5, 1, 2000), 600, "steps are capped at 200 ms");
    }
}
