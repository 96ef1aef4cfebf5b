//! The simulated network: openraft's `RaftNetworkFactory`/`RaftNetworkV2`
//! delivering each RPC by calling the target server's `Raft` handle, through
//! faults the driver sets and the seeded generator decides.
//!
//! Each RPC has two legs (request, response). For each leg, in this order:
//! - the target (or, for the response, the caller) is crashed or on the
//!   other side of a partition: the RPC fails as `Unreachable`;
//! - the leg is lost (drop rate): the caller learns nothing until its RPC
//!   deadline passes, then sees a `Timeout` (a lost response means the
//!   target did act on the request, as on a real network);
//! - otherwise the leg takes a random delay in `[0, delay_ms_max]`.
//!
//! Delays are independent per RPC, so messages of different replication
//! streams reorder; within one stream openraft waits for each response.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openraft::alias::{SnapshotOf, VoteOf};
use openraft::errors::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use rzk_replica::network::client::streaming_error;
use rzk_replica::types::{Raft, SnapshotData};
use rzk_replica::{NodeId, TypeConfig};

use super::rng::SimRng;
use super::world::World;

/// The wait after a failed leg before the caller hears of it, so that a
/// retry loop always moves virtual time forward.
const FAILURE_NOTICE_MS: u64 = 1;

/// A lost leg is noticed after the RPC's deadline, but never later than this
/// (openraft's deadlines for snapshots are long).
const LOST_NOTICE_MS_MAX: u64 = 500;

#[derive(Debug)]
pub struct NetState {
    /// Seeds each link's generator.
    seed: u64,
    /// One generator per directed link, so that the k-th message on a link
    /// meets the same fate however the runtime interleaves the links (the
    /// wake order of tasks in the same virtual millisecond is not fully
    /// deterministic, see the crate's WIRING.md).
    links: BTreeMap<(NodeId, NodeId), SimRng>,
    /// Running servers' handles; absent while crashed.
    handles: BTreeMap<NodeId, Raft>,
    /// Partition side of each server: servers talk only within a side.
    side: BTreeMap<NodeId, u8>,
    pub drop_per_mille: u64,
    pub delay_ms_max: u64,
    pub delivered: u64,
    pub lost: u64,
    pub refused: u64,
}

/// Shared by every server's network factory and by the driver.
#[derive(Debug, Clone)]
pub struct SimNet {
    state: Arc<Mutex<NetState>>,
    world: World,
}

/// What happens to one leg.
enum Leg {
    Deliver(Duration),
    Lost,
    Refused,
}

impl SimNet {
    pub fn new(seed: u64, world: World) -> Self {
        SimNet {
            state: Arc::new(Mutex::new(NetState {
                seed,
                links: BTreeMap::new(),
                handles: BTreeMap::new(),
                side: BTreeMap::new(),
                drop_per_mille: 0,
                delay_ms_max: 2,
                delivered: 0,
                lost: 0,
                refused: 0,
            })),
            world,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_handle(&self, node: NodeId, raft: Option<Raft>) {
        let mut s = self.lock();
        match raft {
            Some(r) => s.handles.insert(node, r),
            None => s.handles.remove(&node),
        };
    }

    /// Puts each server on a side; servers on different sides cannot talk.
    pub fn partition(&self, sides: BTreeMap<NodeId, u8>) {
        self.lock().side = sides;
    }

    pub fn heal(&self) {
        self.lock().side.clear();
    }

    fn decide(&self, from: NodeId, to: NodeId, what: &str) -> Leg {
        let leg = self.decide_leg(from, to);
        let outcome = match &leg {
            Leg::Deliver(d) => format!("+{}ms", d.as_millis()),
            Leg::Lost => "lost".to_string(),
            Leg::Refused => "refused".to_string(),
        };
        self.world
            .lock()
            .event(format!("net {from}->{to} {what} {outcome}"));
        leg
    }

    fn decide_leg(&self, from: NodeId, to: NodeId) -> Leg {
        let mut s = self.lock();
        let side = |n: NodeId| s.side.get(&n).copied().unwrap_or(0);
        if !s.handles.contains_key(&to) || side(from) != side(to) {
            s.refused += 1;
            return Leg::Refused;
        }
        let (drop, max, seed) = (s.drop_per_mille, s.delay_ms_max, s.seed);
        let rng = s
            .links
            .entry((from, to))
            .or_insert_with(|| SimRng::new(seed ^ (from << 32) ^ (to << 48)));
        let lost = rng.chance(drop);
        let delay = rng.between(0, max);
        if lost {
            s.lost += 1;
            return Leg::Lost;
        }
        s.delivered += 1;
        Leg::Deliver(Duration::from_millis(delay))
    }

    fn handle(&self, node: NodeId) -> Option<Raft> {
        self.lock().handles.get(&node).cloned()
    }
}

/// Creates one [`SimClient`] per (target, stream), as the TCP network does.
#[derive(Debug, Clone)]
pub struct SimNetworkFactory {
    pub me: NodeId,
    pub net: SimNet,
}

impl RaftNetworkFactory<TypeConfig> for SimNetworkFactory {
    type Network = SimClient;

    async fn new_client(&mut self, target: NodeId, _node: &rzk_replica::Member) -> SimClient {
        SimClient {
            me: self.me,
            target,
            net: self.net.clone(),
        }
    }
}

pub struct SimClient {
    me: NodeId,
    target: NodeId,
    net: SimNet,
}

/// Why an RPC failed, before it becomes openraft's error type.
enum Failure {
    Refused,
    Lost(Duration),
    /// The target's raft stopped while handling it.
    Stopped(String),
}

impl SimClient {
    /// Carries one RPC through the network to the target's raft and its
    /// answer back.
    async fn call<R, F, Fut>(&self, what: &str, ttl: Duration, handle: F) -> Result<R, Failure>
    where
        F: FnOnce(Raft) -> Fut,
        Fut: Future<Output = Result<R, String>>,
    {
        let notice = Duration::from_millis(FAILURE_NOTICE_MS);
        let lost_after = ttl
            .min(Duration::from_millis(LOST_NOTICE_MS_MAX))
            .max(notice);
        match self.net.decide(self.me, self.target, what) {
            Leg::Refused => {
                tokio::time::sleep(notice).await;
                return Err(Failure::Refused);
            }
            Leg::Lost => {
                tokio::time::sleep(lost_after).await;
                return Err(Failure::Lost(ttl));
            }
            Leg::Deliver(delay) => tokio::time::sleep(delay).await,
        }
        // The target may have crashed while the request travelled.
        let Some(raft) = self.net.handle(self.target) else {
            tokio::time::sleep(notice).await;
            return Err(Failure::Refused);
        };
        let response = handle(raft).await.map_err(Failure::Stopped)?;
        match self.net.decide(self.target, self.me, what) {
            Leg::Refused => {
                tokio::time::sleep(notice).await;
                Err(Failure::Refused)
            }
            Leg::Lost => {
                tokio::time::sleep(lost_after).await;
                Err(Failure::Lost(ttl))
            }
            Leg::Deliver(delay) => {
                tokio::time::sleep(delay).await;
                Ok(response)
            }
        }
    }

    fn rpc_error(&self, failure: Failure, action: RPCTypes) -> RPCError<TypeConfig> {
        match failure {
            Failure::Refused => RPCError::Unreachable(Unreachable::from_string(format!(
                "server {} cannot reach server {}",
                self.me, self.target
            ))),
            Failure::Stopped(why) => RPCError::Network(NetworkError::new(&io::Error::other(why))),
            Failure::Lost(timeout) => RPCError::Timeout(Timeout {
                action,
                id: self.me,
                target: self.target,
                timeout,
            }),
        }
    }
}

impl RaftNetworkV2<TypeConfig> for SimClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // Only a leader sends AppendEntries, with its committed vote: the
        // most direct view of who leads in which term.
        if rpc.vote.is_committed() {
            let leader = rpc.vote.leader_id();
            self.net.world.lock().leader(leader.term, leader.voted_for);
        }
        self.call("append", option.hard_ttl(), |raft| async move {
            raft.append_entries(rpc).await.map_err(|e| e.to_string())
        })
        .await
        .map_err(|f| self.rpc_error(f, RPCTypes::AppendEntries))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call("vote", option.hard_ttl(), |raft| async move {
            raft.vote(rpc).await.map_err(|e| e.to_string())
        })
        .await
        .map_err(|f| self.rpc_error(f, RPCTypes::Vote))
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call("pre-vote", option.hard_ttl(), |raft| async move {
            raft.pre_vote(rpc).await.map_err(|e| e.to_string())
        })
        .await
        .map_err(|f| self.rpc_error(f, RPCTypes::Vote))
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let index = snapshot.meta.last_log_id.map(|l| l.index);
        let send = self.call("snapshot", option.hard_ttl(), |raft| async move {
            raft.install_full_snapshot(vote, snapshot)
                .await
                .map_err(|e| e.to_string())
        });
        // Biased: tokio's unbiased select draws from a runtime RNG the seed
        // does not control.
        let outcome = tokio::select! {
            biased;
            closed = cancel => return Err(StreamingError::Closed(closed)),
            outcome = send => outcome,
        };
        let ok = outcome.is_ok();
        self.net.world.lock().event(format!(
            "snapshot {}->{} index={index:?} ok={ok}",
            self.me, self.target
        ));
        outcome.map_err(|f| streaming_error(self.rpc_error(f, RPCTypes::InstallSnapshot)))
    }
}
