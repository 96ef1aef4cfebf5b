//! The leader's guard on the order of forwarded proposals.
//!
//! A follower's leader link numbers its `Forward` batches. When it gives up on
//! a connection (deadline, leader change) the leader may still be working
//! through the batch it sent last, while the follower already sends the next
//! one on a new connection. If both reached raft interleaved, a client's
//! later write could be logged before its earlier one. So the leader takes
//! batches from one follower run strictly in increasing number, under one
//! lock held for the whole batch: a stale batch is either logged entirely
//! before the newer one or refused entirely.

use std::collections::HashMap;

use tokio::sync::{Mutex, MutexGuard};

use crate::types::NodeId;

/// Followers whose batch numbers the leader remembers; a server id beyond it
/// is refused (an ensemble has a handful of servers; ids come from peers).
pub const FORWARDING_PEERS_MAX: usize = 1024;

/// The newest batch taken from each follower's current run.
#[derive(Debug, Default)]
pub(crate) struct ForwardOrder {
    newest: Mutex<Newest>,
}

#[derive(Debug, Default)]
pub(crate) struct Newest {
    /// Server id → (incarnation, newest batch number taken).
    by_peer: HashMap<NodeId, (u64, u64)>,
}

impl ForwardOrder {
    /// Held while a batch is appended, so batches never interleave.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, Newest> {
        self.newest.lock().await
    }
}

impl Newest {
    /// Records batch `batch` of run `incarnation` of server `from` as taken,
    /// or says why it must not be.
    pub(crate) fn admit(
        &mut self,
        from: NodeId,
        incarnation: u64,
        batch: u64,
    ) -> Result<(), String> {
        if !self.by_peer.contains_key(&from) && self.by_peer.len() >= FORWARDING_PEERS_MAX {
            return Err(format!(
                "forwards from more than {FORWARDING_PEERS_MAX} servers"
            ));
        }
        let entry = self.by_peer.entry(from).or_insert((incarnation, 0));
        let (known_incarnation, newest) = *entry;
        // Another incarnation is a restarted follower (its number is a start
        // time, but a clock set back must not lock a follower out): it starts
        // afresh; the previous run's connections died with it.
        if incarnation == known_incarnation && batch <= newest {
            return Err(format!(
                "stale forward batch {batch} from server {from} (newest taken: {newest})"
            ));
        }
        *entry = (incarnation, batch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_taken_in_increasing_order_per_follower_run() {
        let mut n = Newest::default();
        assert!(n.admit(2, 10, 1).is_ok());
        assert!(n.admit(2, 10, 3).is_ok());
        assert!(n.admit(2, 10, 2).is_err(), "older than one taken");
        assert!(n.admit(2, 10, 3).is_err(), "taken already");
        assert!(n.admit(3, 10, 1).is_ok(), "another follower");
        assert!(n.admit(2, 11, 1).is_ok(), "the follower restarted");
        assert!(n.admit(2, 11, 1).is_err(), "the new run's order holds");
        assert!(
            n.admit(2, 9, 1).is_ok(),
            "restarted with its clock set back"
        );
    }
}
