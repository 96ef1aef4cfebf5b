//! One simulated run: a seed decides the cluster (3 or 5 voters, timeouts,
//! snapshot threshold) and, step by step, the faults and writes; the safety
//! invariants are checked after every step and liveness at the end.
//!
//! Virtual time: the run owns a current-thread tokio runtime started paused,
//! so every timer (openraft's ticks, elections, heartbeats, the network's
//! delays) fires in virtual time, which jumps forward whenever all tasks are
//! idle. Many simulated seconds cost milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{InitializeError, RaftError};
use rzk_replica::{NodeId, Timing};
use rzk_state::{DataTree, StateConfig, Txn};
use tokio::time::Instant;

use crate::common::{create, SESSION_ID};

use super::cluster::{members, SimNode};
use super::net::SimNet;
use super::rng::SimRng;
use super::world::World;

/// zoo.cfg's `tickTime` for the simulation: heartbeats every 8 ms and an
/// openraft tick of 1 ms (heartbeat × 13/64, at least 1). A 1 ms tick is what
/// makes openraft's one random draw we cannot seed harmless: the tick's first
/// wait is random in `[tick, 2 × tick)`, and tokio's timer rounds deadlines
/// up to whole milliseconds, so with a 1 ms tick it always fires 2 ms after
/// start.
pub const TICK_TIME_MS: u32 = 16;
pub const SYNC_LIMIT_TICKS: u32 = 3;
pub const INIT_LIMIT_TICKS: u32 = 10;

/// Virtual time the end of a run waits for a leader to take a write and for
/// all servers to converge.
pub const SETTLE_MS: u64 = 30_000;

/// Virtual time a step advances, at most.
pub const STEP_ADVANCE_MS_MAX: u64 = 120;

/// Writes proposed in one step, at most.
pub const STEP_WRITES_MAX: u64 = 8;

/// What a run does besides what the seed decides.
#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    pub steps: u32,
    /// Injects the durability bug (see `store`).
    pub forget_last_append: bool,
    /// Chance per step that every server crashes at once and restarts
    /// (a power failure), in percent.
    pub power_failure_percent: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            steps: 80,
            forget_last_append: false,
            power_failure_percent: 2,
        }
    }
}

/// What a passing run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub seed: u64,
    pub voters: usize,
    pub trace_hash: u64,
    pub events: u64,
    pub acked: usize,
    pub entries: usize,
    pub installs: u64,
    pub crashes: u64,
    pub forgotten_entries: u64,
    pub virtual_ms: u64,
    pub net_delivered: u64,
    pub net_lost: u64,
    pub net_refused: u64,
}

/// Why a run failed: the invariant, the step and what led there.
#[derive(Debug, Clone)]
pub struct SimFailure {
    pub seed: u64,
    pub step: String,
    pub message: String,
    pub tail: Vec<String>,
    pub trace_hash: u64,
    /// The run had the durability bug injected.
    pub injected_bug: bool,
}

impl std::fmt::Display for SimFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} failed at {}: {}",
            self.seed, self.step, self.message
        )?;
        if self.injected_bug {
            writeln!(
                f,
                "  reproduce: cargo test -p rzk-replica --test simulation an_injected_durability_bug_is_caught -- --nocapture"
            )?;
        } else {
            writeln!(
                f,
                "  reproduce: RZK_SIM_SEED={} cargo test -p rzk-replica --test simulation sweep -- --nocapture",
                self.seed
            )?;
            writeln!(
                f,
                "  (RZK_SIM_TRACE_FILE=<path> also writes every event of the run there)"
            )?;
        }
        writeln!(f, "  last events (trace hash {:016x}):", self.trace_hash)?;
        for line in &self.tail {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// Runs `seed` on a fresh paused runtime.
pub fn run_seed(seed: u64, options: SimOptions) -> Result<RunSummary, SimFailure> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return Err(SimFailure {
                seed,
                step: "setup".into(),
                message: format!("runtime: {e}"),
                tail: Vec::new(),
                trace_hash: 0,
                injected_bug: options.forget_last_append,
            })
        }
    };
    let result = runtime.block_on(async move {
        let mut sim = Sim::new(seed, options)?;
        let outcome = sim.run().await;
        sim.stop_all().await;
        sim.write_trace_file();
        outcome
    });
    // Tasks still parked (watchers, replication) are dropped with the runtime.
    drop(runtime);
    result
}

struct Sim {
    seed: u64,
    options: SimOptions,
    rng: SimRng,
    world: World,
    net: SimNet,
    nodes: Vec<SimNode>,
    _dir: tempfile::TempDir,
    start: Instant,
    next_write: u64,
    step: String,
    crashes: u64,
    forgotten: u64,
}

impl Sim {
    fn new(seed: u64, options: SimOptions) -> Result<Sim, SimFailure> {
        let mut rng = SimRng::new(seed);
        let world = World::default();
        if let Ok(path) = std::env::var("RZK_SIM_TRACE_FILE") {
            // Not an event: the path must not change the trace hash.
            println!("seed {seed}: writing the trace to {path}");
            world.lock().all_events = Some(Vec::new());
        }
        let net = SimNet::new(rng.next_u64(), world.clone());
        let dir = tempfile::tempdir().map_err(|e| setup_failure(seed, format!("tempdir: {e}")))?;
        let voters: u64 = if rng.chance(500) { 3 } else { 5 };
        let snap_count = rng.between(4, 24);
        let timing = Timing {
            tick_time_ms: TICK_TIME_MS,
            init_limit_ticks: INIT_LIMIT_TICKS,
            sync_limit_ticks: SYNC_LIMIT_TICKS,
            snap_count,
        };
        // Distinct election timeouts, each fixed (max = min + 1, so
        // openraft's random draw in [min, max) has one value): 6 ms apart
        // in a seed-chosen order, plus a seed-chosen jitter below that.
        let mut order: Vec<u64> = (0..voters).collect();
        for i in (1..order.len()).rev() {
            let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
            order.swap(i, j);
        }
        let mut nodes = Vec::new();
        for (i, slot) in order.iter().enumerate() {
            let id = i as NodeId + 1;
            let mut config = timing
                .raft_config_rolled("sim", rng.next_u64())
                .map_err(|e| setup_failure(seed, format!("timing: {e}")))?;
            config.election_timeout_min += slot * 6 + rng.below(6);
            config.election_timeout_max = config.election_timeout_min + 1;
            let config = config
                .validate()
                .map_err(|e| setup_failure(seed, format!("config: {e}")))?;
            nodes.push(SimNode::new(
                id,
                config,
                options.forget_last_append,
                dir.path().join(format!("snapshots-{id}")),
            ));
        }
        world.lock().event(format!(
            "seed {seed} voters={voters} snap_count={snap_count}"
        ));
        Ok(Sim {
            seed,
            options,
            rng,
            world,
            net,
            nodes,
            _dir: dir,
            start: Instant::now(),
            next_write: 0,
            step: "setup".into(),
            crashes: 0,
            forgotten: 0,
        })
    }

    fn fail(&self, message: String) -> SimFailure {
        let mut w = self.world.lock();
        SimFailure {
            seed: self.seed,
            step: self.step.clone(),
            message,
            tail: w.tail(),
            trace_hash: w.final_trace_hash(),
            injected_bug: self.options.forget_last_append,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn event(&self, what: String) {
        let now = self.now_ms();
        self.world.lock().event(format!("t={now} {what}"));
    }

    /// The first violation recorded, as a failure of the current step.
    fn check(&self) -> Result<(), SimFailure> {
        let first = self.world.lock().violations.first().cloned();
        match first {
            Some(v) => Err(self.fail(format!("invariant violated: {v}"))),
            None => Ok(()),
        }
    }

    async fn run(&mut self) -> Result<RunSummary, SimFailure> {
        for i in 0..self.nodes.len() {
            self.start_node(i).await?;
        }
        let ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id).collect();
        for node in &self.nodes {
            let Some(raft) = node.raft() else { continue };
            match raft.initialize(members(&ids)).await {
                Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(self.fail(format!("initialize {}: {e}", node.id))),
            }
        }
        self.step = "opening the session".into();
        let session = Txn::CreateSession {
            session_id: SESSION_ID,
            timeout_ms: 30_000,
            password: vec![0; 16],
        };
        self.write_until_acked(session, "session").await?;
        for step in 0..self.options.steps {
            self.step = format!("step {step}");
            let action = self.act().await?;
            self.step = format!("step {step} ({action})");
            let advance = self.rng.between(1, STEP_ADVANCE_MS_MAX);
            tokio::time::sleep(Duration::from_millis(advance)).await;
            self.observe_leadership();
            self.check()?;
        }
        self.settle().await?;
        let mut w = self.world.lock();
        let net = self.net.lock();
        Ok(RunSummary {
            seed: self.seed,
            voters: self.nodes.len(),
            trace_hash: w.final_trace_hash(),
            events: w.trace_events,
            acked: w.acks.len(),
            entries: w.history_len(),
            installs: w.installs,
            crashes: self.crashes,
            forgotten_entries: self.forgotten,
            virtual_ms: self.now_ms(),
            net_delivered: net.delivered,
            net_lost: net.lost,
            net_refused: net.refused,
        })
    }

    async fn start_node(&mut self, i: usize) -> Result<(), SimFailure> {
        let (net, world) = (self.net.clone(), self.world.clone());
        let id = self.nodes[i].id;
        if let Err(e) = self.nodes[i].start(&net, &world).await {
            return Err(self.fail(format!("server {id} did not start: {e}")));
        }
        self.event(format!("started {id}"));
        Ok(())
    }

    async fn crash_node(&mut self, i: usize) -> Result<(), SimFailure> {
        let net = self.net.clone();
        let id = self.nodes[i].id;
        match self.nodes[i].crash(&net).await {
            Ok(forgotten) => {
                self.crashes += 1;
                self.forgotten += forgotten;
                self.event(format!("crashed {id} forgot={forgotten}"));
                Ok(())
            }
            Err(e) => Err(self.fail(format!("server {id} did not stop: {e}"))),
        }
    }

    /// One step's action, chosen by the seed; returns what it was.
    async fn act(&mut self) -> Result<String, SimFailure> {
        let n = self.nodes.len();
        let roll = self.rng.below(100);
        let power_failure = 100 - self.options.power_failure_percent.min(100);
        let action = if roll >= power_failure {
            for i in 0..n {
                self.crash_node(i).await?;
            }
            for i in 0..n {
                self.start_node(i).await?;
            }
            "power failure: all servers crashed and restarted".to_string()
        } else if roll < 40 {
            let count = self.rng.between(1, STEP_WRITES_MAX);
            let mut taken = 0;
            for _ in 0..count {
                if self.write_once().await {
                    taken += 1;
                }
            }
            format!("{taken} of {count} writes proposed")
        } else if roll < 50 {
            let mut sides = BTreeMap::new();
            if self.rng.chance(500) {
                let lone = self.nodes[self.rng.below(n as u64) as usize].id;
                sides.insert(lone, 1);
            } else {
                for node in &self.nodes {
                    sides.insert(node.id, self.rng.below(2) as u8);
                }
            }
            let what = format!("partition {sides:?}");
            self.net.partition(sides);
            what
        } else if roll < 60 {
            self.net.heal();
            "heal".to_string()
        } else if roll < 67 {
            let drop = [0, 0, 50, 150, 300][self.rng.below(5) as usize];
            let delay = [1, 2, 5, 20][self.rng.below(4) as usize];
            let mut s = self.net.lock();
            s.drop_per_mille = drop;
            s.delay_ms_max = delay;
            format!("drop {drop}‰, delay ≤ {delay} ms")
        } else if roll < 77 {
            let running: Vec<usize> = (0..n).filter(|&i| self.nodes[i].is_running()).collect();
            if running.is_empty() {
                "crash: none running".to_string()
            } else {
                let i = running[self.rng.below(running.len() as u64) as usize];
                self.crash_node(i).await?;
                format!("crash {}", self.nodes[i].id)
            }
        } else if roll < 89 {
            let down: Vec<usize> = (0..n).filter(|&i| !self.nodes[i].is_running()).collect();
            if down.is_empty() {
                "restart: none down".to_string()
            } else {
                let i = down[self.rng.below(down.len() as u64) as usize];
                self.start_node(i).await?;
                format!("restart {}", self.nodes[i].id)
            }
        } else {
            "idle".to_string()
        };
        self.event(format!("{}: {action}", self.step));
        Ok(action)
    }

    /// Proposes the next create on a server that believes it leads; false
    /// if none does.
    async fn write_once(&mut self) -> bool {
        let id = self.next_write;
        self.next_write += 1;
        let path = format!("/w{id}");
        let txn = create(&path, &id.to_be_bytes());
        self.propose(txn, path).await
    }

    async fn propose(&mut self, txn: Txn, path: String) -> bool {
        let time_ms = 1_000_000 + i64::try_from(self.now_ms()).unwrap_or(i64::MAX);
        for node in &self.nodes {
            if node.raft().is_some_and(|r| r.as_leader().is_ok()) {
                let taken = node.propose(txn, path.clone(), time_ms, &self.world).await;
                self.event(format!("propose {path} on {} taken={taken}", node.id));
                return taken;
            }
        }
        self.event(format!("propose {path}: no leader"));
        false
    }

    fn acked(&self, path_prefix: &str) -> bool {
        self.world
            .lock()
            .acks
            .iter()
            .any(|a| a.path.starts_with(path_prefix))
    }

    /// Proposes `txn` (again, under a fresh path tag, until one is
    /// answered) within [`SETTLE_MS`] of virtual time.
    async fn write_until_acked(&mut self, txn: Txn, tag: &str) -> Result<(), SimFailure> {
        let deadline = Instant::now() + Duration::from_millis(SETTLE_MS);
        let mut attempt = 0;
        while Instant::now() < deadline {
            if self.acked(tag) {
                return Ok(());
            }
            let txn = match &txn {
                Txn::Write { .. } => create(&format!("{tag}-{attempt}"), b"final"),
                other => other.clone(),
            };
            self.propose(txn, format!("{tag}-{attempt}")).await;
            attempt += 1;
            // Wait for this attempt's answer, a little.
            let wait_until = Instant::now() + Duration::from_millis(200);
            while Instant::now() < wait_until && !self.acked(tag) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.observe_leadership();
            }
        }
        if self.acked(tag) {
            return Ok(());
        }
        Err(self.fail(format!(
            "liveness: no write ({tag}) was acknowledged within {SETTLE_MS} ms of virtual time"
        )))
    }

    /// Heals every fault, restarts crashed servers, then checks liveness
    /// (a write is accepted, all servers converge) and the final states.
    async fn settle(&mut self) -> Result<(), SimFailure> {
        self.step = "settle".into();
        self.net.heal();
        {
            let mut s = self.net.lock();
            s.drop_per_mille = 0;
            s.delay_ms_max = 2;
        }
        for i in 0..self.nodes.len() {
            self.start_node(i).await?;
        }
        self.event("settle: healed, all running".into());
        self.write_until_acked(create("/final", b"final"), "/final")
            .await?;
        self.check()?;
        // Every server applies up to the same last index, at least the
        // final write's.
        let final_zxid = self
            .world
            .lock()
            .acks
            .iter()
            .filter(|a| a.path.starts_with("/final"))
            .map(|a| a.zxid)
            .max()
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(SETTLE_MS);
        let mut applied = self.applied_indexes();
        loop {
            let first = applied.first().copied().flatten();
            let converged = first.is_some_and(|f| {
                i64::try_from(f).unwrap_or(i64::MAX) >= final_zxid
                    && applied.iter().all(|a| *a == Some(f))
                    && self.nodes.iter().all(|n| {
                        n.raft()
                            .is_some_and(|r| r.metrics().borrow_watched().last_log_index == Some(f))
                    })
            });
            if converged {
                break;
            }
            if Instant::now() >= deadline {
                return Err(self.fail(format!(
                    "convergence: after {SETTLE_MS} ms healed, servers applied up to {applied:?} (final write at zxid {final_zxid})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            self.observe_leadership();
            applied = self.applied_indexes();
        }
        self.event(format!("converged at {applied:?}"));
        self.check()?;
        self.check_final_states()
    }

    fn observe_leadership(&self) {
        for node in &self.nodes {
            node.observe_leadership(&self.world);
        }
    }

    fn applied_indexes(&self) -> Vec<Option<u64>> {
        self.nodes
            .iter()
            .map(|n| {
                n.raft()
                    .and_then(|r| r.metrics().borrow_watched().last_applied.map(|l| l.index))
            })
            .collect()
    }

    /// All trees are identical, equal to replaying the common history from
    /// the empty tree, and hold every acknowledged create.
    fn check_final_states(&self) -> Result<(), SimFailure> {
        let (history, acks) = {
            let w = self.world.lock();
            (w.history(), w.acks.clone())
        };
        let mut reference = DataTree::new(StateConfig::default());
        for entry in &history {
            reference.apply(entry);
        }
        let mut expected = Vec::new();
        if let Err(e) = reference.write_snapshot(&mut expected) {
            return Err(self.fail(format!("reference snapshot: {e}")));
        }
        for node in &self.nodes {
            let Some(tree) = node.tree() else {
                return Err(self.fail(format!("server {} is not running at the end", node.id)));
            };
            let bytes = tree
                .snapshot_bytes()
                .map_err(|e| self.fail(format!("snapshot of server {}: {e}", node.id)))?;
            if bytes != expected {
                return Err(self.fail(format!(
                    "final state: server {}'s tree (last zxid {}) differs from the common history replayed ({} entries, last zxid {})",
                    node.id,
                    tree.last_zxid(),
                    history.len(),
                    reference.last_zxid()
                )));
            }
            // Znode paths start with a slash; the session's ack has a tag.
            for ack in acks.iter().filter(|a| a.ok && a.path.starts_with('/')) {
                if !tree.exists(&ack.path) {
                    return Err(self.fail(format!(
                        "acknowledged write lost: {} (zxid {}, answered on server {}) is not in server {}'s tree",
                        ack.path, ack.zxid, ack.node, node.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// With `RZK_SIM_TRACE_FILE` set, writes every event of the run there
    /// (one per line), to compare two runs of a seed.
    fn write_trace_file(&self) {
        let Ok(path) = std::env::var("RZK_SIM_TRACE_FILE") else {
            return;
        };
        let mut all = self.world.lock().all_events.take().unwrap_or_default();
        // As hashed: in time order, sorted within a millisecond.
        all.sort();
        let lines: Vec<String> = all.into_iter().map(|(t, e)| format!("{t} {e}")).collect();
        if let Err(e) = std::fs::write(&path, lines.join("\n")) {
            println!("cannot write the trace to {path}: {e}");
        }
    }

    async fn stop_all(&mut self) {
        let net = self.net.clone();
        for node in &mut self.nodes {
            let _ = node.crash(&net).await;
        }
    }
}

fn setup_failure(seed: u64, message: String) -> SimFailure {
    SimFailure {
        seed,
        step: "setup".into(),
        message,
        tail: Vec::new(),
        trace_hash: 0,
        injected_bug: false,
    }
}
