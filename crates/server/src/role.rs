//! Follows the replica's role and acts on its changes: a log line on every
//! role change and election (with how long the server was without a
//! leader), fresh session deadlines when this server becomes the leader, the
//! "serving" gate, and stopping the server when raft stops.
//!
//! Serving: like ZooKeeper, a server accepts client sessions only while it is
//! part of a working ensemble (it knows a leader) and, after a start, once it
//! has applied what its own log already held: a restarted server must not
//! answer reads from a tree that is still missing entries it had
//! acknowledged before the crash.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use rzk_replica::status::{Role, Status, StatusHandle};

use crate::shared::Shared;

/// Whether a status lets this server serve clients, given the log index it
/// must have applied first (its log's end when it started).
pub fn can_serve(status: &Status, catch_up_to: Option<u64>) -> bool {
    has_leader(status) && status.last_applied_index >= catch_up_to
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

/// Runs until raft stops; returns why it stopped. `observers` (id -> peer
/// address) are added as learners whenever this server becomes the leader.
pub async fn follow(
    shared: Arc<Shared>,
    handle: StatusHandle,
    observers: BTreeMap<u64, rzk_replica::Member>,
) -> String {
    let start = handle.status();
    let catch_up_to = start.last_log_index;
    let mut watch = handle.watch();
    let mut role = start.role;
    let mut leader = start.leader;
    let mut leaderless_since = Some(Instant::now());
    tracing::info!(
        "Replica {} starting as {role}; it will serve clients once it has a leader and has applied its log up to index {}",
        start.node_id,
        catch_up_to.map_or("-".to_string(), |i| i.to_string())
    );
    apply(&shared, &start, catch_up_to, None, &mut leaderless_since);
    // Time alone changes the status too (a leader that has gone silent):
    // re-read it every tick as well as on every change of raft's metrics.
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(u64::from(
        shared.config.tick_time_ms.max(10),
    )));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Ends when raft stops (the watch closes).
    loop {
        let status = tokio::select! {
            changed = watch.next() => match changed {
                Some(status) => status,
                None => break,
            },
            _ = tick.tick() => handle.status(),
        };
        if let Some(fatal) = &status.fatal {
            shared.serving.store(false, Ordering::Release);
            return format!("replication stopped: {fatal}");
        }
        if status.role != role || status.leader != leader {
            let previous = role;
            apply(
                &shared,
                &status,
                catch_up_to,
                Some(previous),
                &mut leaderless_since,
            );
            if status.role == Role::Leader && !observers.is_empty() {
                tokio::spawn(add_observers(
                    handle.clone(),
                    observers.clone(),
                    shared.config.tick_time_ms,
                ));
            }
            role = status.role;
            leader = status.leader;
        } else {
            update_serving(&shared, &status, catch_up_to);
        }
    }
    shared.serving.store(false, Ordering::Release);
    "replication stopped".to_string()
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

fn apply(
    shared: &Shared,
    status: &Status,
    catch_up_to: Option<u64>,
    previous: Option<Role>,
    leaderless_since: &mut Option<Instant>,
) {
    if has_leader(status) {
        if let Some(since) = leaderless_since.take() {
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
        if leaderless_since.is_none() {
            *leaderless_since = Some(Instant::now());
        }
        if previous.is_some_and(|p| p != Role::Looking) {
            tracing::warn!(
                "Server {} was removed from the ensemble by a reconfig; not serving clients",
                status.node_id
            );
        }
    } else if leaderless_since.is_none() {
        *leaderless_since = Some(Instant::now());
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
    update_serving(shared, status, catch_up_to);
}

fn update_serving(shared: &Shared, status: &Status, catch_up_to: Option<u64>) {
    let serve = can_serve(status, catch_up_to);
    let was = shared.serving.swap(serve, Ordering::AcqRel);
    if serve != was {
        if serve {
            tracing::info!(
                "Serving clients (applied through index {})",
                status.last_applied_index.map_or(0, |i| i)
            );
        } else {
            tracing::warn!(
                "Not serving clients until a leader is known; closing {} client connections",
                shared.conns().len()
            );
            shared
                .conns()
                .close_all(&crate::control::CloseReason::LostLeader);
        }
    }
}
