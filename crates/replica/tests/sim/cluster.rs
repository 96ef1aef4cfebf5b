//! Simulated servers: each an openraft `Raft` built the way
//! `Replica::build` builds one (rzk's `StateMachine` over `Pending` and
//! `Snapshots` in a snapshot directory), over a [`SimLogStore`] and the
//! [`SimNet`], with a [`SimTree`] behind the hooks. Crashing drops the raft;
//! restarting builds a new one over the same log store and snapshot
//! directory, restoring the tree from the newest snapshot there, as the
//! server does on start.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use openraft::async_runtime::WatchReceiver;
use openraft::raft::ClientWriteResult;
use openraft::{Config, ServerState};
use rzk_replica::pending::{CallbackResponder, Pending};
use rzk_replica::types::Raft;
use rzk_replica::Member;
use rzk_replica::{NodeId, Request, SnapshotStore, Snapshots, StateMachine, TypeConfig};
use rzk_state::{Entry, StateConfig, Txn};

use super::net::{SimNet, SimNetworkFactory};
use super::store::SimLogStore;
use super::tree::SimTree;
use super::world::{Ack, World};

/// Snapshot files kept per server (ZooKeeper's minimum retain count).
pub const SNAPSHOT_RETAIN_COUNT: usize = 3;

struct Running {
    raft: Raft,
    pending: Arc<Pending>,
    tree: Arc<SimTree>,
}

pub struct SimNode {
    pub id: NodeId,
    config: Arc<Config>,
    store: SimLogStore,
    snapshot_dir: PathBuf,
    /// Starts so far: the `Pending` incarnation, so an entry proposed before
    /// a restart never answers a proposal made after it.
    starts: u64,
    running: Option<Running>,
}

impl SimNode {
    pub fn new(
        id: NodeId,
        config: Config,
        forget_last_append: bool,
        snapshot_dir: PathBuf,
    ) -> Self {
        SimNode {
            id,
            config: Arc::new(config),
            store: SimLogStore::new(forget_last_append),
            snapshot_dir,
            starts: 0,
            running: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    pub fn raft(&self) -> Option<&Raft> {
        self.running.as_ref().map(|r| &r.raft)
    }

    pub fn tree(&self) -> Option<&Arc<SimTree>> {
        self.running.as_ref().map(|r| &r.tree)
    }

    /// Builds and runs raft: from the newest snapshot in the directory and
    /// whatever the log store holds.
    pub async fn start(&mut self, net: &SimNet, world: &World) -> io::Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        self.starts += 1;
        let store = SnapshotStore::open(&self.snapshot_dir)?;
        let restored = store.load_newest()?;
        let tree = SimTree::new(
            self.id,
            restored.as_ref().map(|s| &s.bytes[..]),
            Arc::new(self.store.clone()),
            world.clone(),
        )?;
        let snapshots = Arc::new(Snapshots::new(
            store,
            Arc::new(self.store.clone()),
            StateConfig::default(),
            Some(SNAPSHOT_RETAIN_COUNT),
            restored.map(|s| s.meta),
        ));
        let pending = Arc::new(Pending::new(self.id, self.starts));
        let state_machine =
            StateMachine::new(tree.clone(), tree.clone(), pending.clone(), snapshots);
        let network = SimNetworkFactory {
            me: self.id,
            net: net.clone(),
        };
        let raft = Raft::build(
            self.id,
            self.config.clone(),
            network,
            self.store.clone(),
            state_machine,
        )
        .await
        .map_err(|e| io::Error::other(format!("raft of server {} did not start: {e}", self.id)))?;
        net.set_handle(self.id, Some(raft.clone()));
        raft.run();
        self.running = Some(Running {
            raft,
            pending,
            tree,
        });
        Ok(())
    }

    /// Stops raft abruptly as far as the others can tell: it is unreachable
    /// from now on, its proposals lose their clients. Returns how many log
    /// entries the (buggy) store forgot.
    pub async fn crash(&mut self, net: &SimNet) -> io::Result<u64> {
        let Some(running) = self.running.take() else {
            return Ok(0);
        };
        net.set_handle(self.id, None);
        if let Err(e) = running.raft.shutdown().await {
            return Err(io::Error::other(format!("raft shutdown: {e}")));
        }
        running.pending.abandon_all();
        drop(running);
        self.store.crash().await
    }

    /// Proposes `txn` as the replica's proposer does on the leader
    /// (`Proposer::submit_local`): register a pending slot, stamp, hand to
    /// raft; the outcome arrives from this server's own apply. Returns false
    /// if this server does not believe it is the leader.
    pub async fn propose(&self, txn: Txn, path: String, time_ms: i64, world: &World) -> bool {
        let Some(running) = &self.running else {
            return false;
        };
        if running.raft.as_leader().is_err() {
            return false;
        }
        let (origin, outcome) = running.pending.register().await;
        let seq = origin.seq;
        let pending = running.pending.clone();
        let responder =
            CallbackResponder::new(move |result: Option<ClientWriteResult<TypeConfig>>| {
                if !matches!(result, Some(Ok(_))) {
                    pending.abandon(seq);
                }
            });
        let request = Request {
            time_ms,
            origin: Some(origin),
            txn: Box::new(txn.clone()),
        };
        if running
            .raft
            .client_write_ff(request, Some(responder))
            .await
            .is_err()
        {
            running.pending.abandon(seq);
            return false;
        }
        let node = self.id;
        let world = world.clone();
        tokio::spawn(async move {
            // A closed channel: outcome unknown (not acknowledged).
            if let Ok(applied) = outcome.await {
                let proposed = Entry {
                    zxid: applied.zxid,
                    time_ms,
                    txn,
                };
                let ok = applied.reply.err == rzk_proto::ErrorCode::Ok;
                world.lock().acked(
                    Ack {
                        zxid: applied.zxid,
                        node,
                        path,
                        ok,
                    },
                    &proposed,
                );
            }
        });
        true
    }
    /// Records the term this server leads in, if it reports itself leader.
    ///
    /// Polled by the driver rather than watched: a task waiting on the
    /// metrics channel would make runs irreproducible (tokio's watch channel
    /// spreads its waiters over notifiers chosen by the runtime's RNG, so
    /// the order it wakes several waiters in differs between runs).
    pub fn observe_leadership(&self, world: &World) {
        let Some(running) = &self.running else {
            return;
        };
        let (state, term) = {
            let m = running.raft.metrics();
            let m = m.borrow_watched();
            (m.state, m.current_term)
        };
        if state == ServerState::Leader {
            world.lock().leader(term, self.id);
        }
    }
}

/// The initial membership every server is initialised with.
pub fn members(ids: &[NodeId]) -> BTreeMap<NodeId, Member> {
    ids.iter()
        .map(|&id| (id, Member::at(format!("sim-{id}"))))
        .collect()
}
