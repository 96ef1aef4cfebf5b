//! Runs a workload: sessions as tasks on one runtime, a warmup whose
//! operations are not counted, then the measured phase (a duration or a
//! number of operations), and the counts merged at the end.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rzk_proto::records::{GetDataRequest, SetDataRequest};
use rzk_proto::{CreateMode, ErrorCode, EventType, OpCode, Request};
use tokio::sync::Barrier;

use crate::conn::{Conn, Incoming};
use crate::options::{BenchArgs, Workload};
use crate::procfs;
use crate::workload::{self, Generator, Layout};

/// Latencies recorded up to this many microseconds (one minute); longer
/// ones are recorded as this.
pub const LATENCY_US_MAX: u64 = 60_000_000;

/// Extra time a watch round may take beyond the run before it is
/// declared stuck.
const WATCH_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Error code counted for requests lost with their connection.
const CONNECTION_LOSS: i32 = -4;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("static histogram bounds are valid")
}

/// When to send and whether what is sent counts.
#[derive(Debug)]
pub struct Phase {
    pub start: Instant,
    pub measure_from: Instant,
    end: Option<Instant>,
    ops_limit: Option<u64>,
    taken: AtomicU64,
    /// Measured replies so far (for the progress line).
    pub done: AtomicU64,
}

impl Phase {
    fn new(args: &BenchArgs) -> Phase {
        let start = Instant::now();
        let measure_from = start + args.warmup;
        Phase {
            start,
            measure_from,
            end: match args.ops {
                Some(_) => None,
                None => Some(measure_from + args.duration),
            },
            ops_limit: args.ops,
            taken: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    /// Whether `n` operations may start now: `None` when the run is over,
    /// else whether they are measured (false during the warmup).
    fn admit(&self, now: Instant, n: u64) -> Option<bool> {
        if now < self.measure_from {
            return Some(false);
        }
        if let Some(end) = self.end {
            return (now < end).then_some(true);
        }
        let limit = self.ops_limit.unwrap_or(0);
        (self.taken.fetch_add(n, Relaxed) < limit).then_some(true)
    }
}

/// What one session counted.
pub struct Tally {
    pub latency_us: Histogram<u64>,
    /// Error code -> count (Ok not included).
    pub errors: BTreeMap<i32, u64>,
    pub ops: u64,
    pub last_reply: Option<Instant>,
    /// Why the session ended early, if it did.
    pub failure: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency_us: histogram(),
            errors: BTreeMap::new(),
            ops: 0,
            last_reply: None,
            failure: None,
        }
    }

    /// Counts one operation sent at `sent` whose outcome was seen at `now`.
    fn record(&mut self, phase: &Phase, sent: Instant, now: Instant, err: i32) {
        let us = u64::try_from(now.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, LATENCY_US_MAX));
        if err != 0 {
            *self.errors.entry(err).or_default() += 1;
        }
        self.ops += 1;
        self.last_reply = Some(now);
        phase.done.fetch_add(1, Relaxed);
    }

    fn merge(&mut self, other: Tally) {
        // Same bounds everywhere, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.ops += other.ops;
        self.last_reply = self.last_reply.max(other.last_reply);
        if self.failure.is_none() {
            self.failure = other.failure;
        }
    }
}

/// CPU and memory of a server process over the measured phase.
#[derive(Debug, Clone)]
pub struct ServerUsage {
    pub pid: u32,
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

/// The whole run's result.
pub struct Outcome {
    pub tally: Tally,
    pub seconds: f64,
    pub bench_cpu_seconds: f64,
    pub servers: Vec<ServerUsage>,
}

/// A pipelined session: keeps `inflight` requests outstanding.
async fn pipelined(addr: String, args: Arc<BenchArgs>, index: usize, phase: Arc<Phase>) -> Tally {
    let mut tally = Tally::new();
    let mut sent: VecDeque<(Instant, bool)> = VecDeque::with_capacity(args.inflight);
    let result: io::Result<()> = async {
        let mut conn = Conn::connect(&addr, args.session_timeout_ms).await?;
        let mut generator = Generator::new(&args, index);
        let mut stopping = false;
        loop {
            if !stopping {
                let now = Instant::now();
                while sent.len() < args.inflight.max(1) {
                    match phase.admit(now, 1) {
                        Some(measured) => {
                            let (op, request) = generator.next_request();
                            conn.push(op, request);
                            sent.push_back((now, measured));
                        }
                        None => {
                            stopping = true;
                            break;
                        }
                    }
                }
                conn.flush().await?;
            }
            if sent.is_empty() {
                return Ok(());
            }
            // At least one reply, then whatever is already buffered. Replies
            // taken from one read arrived together, so they share the time
            // taken after the read (one clock read per read, not per reply).
            let mut seen_at = None;
            loop {
                if let Incoming::Reply { err } = conn.next().await? {
                    let now = *seen_at.get_or_insert_with(Instant::now);
                    if let Some((at, measured)) = sent.pop_front() {
                        if measured {
                            tally.record(&phase, at, now, err);
                        }
                    }
                }
                if sent.is_empty() || !conn.has_buffered_frame() {
                    break;
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        let lost = sent.iter().filter(|(_, measured)| *measured).count() as u64;
        if lost > 0 {
            *tally.errors.entry(CONNECTION_LOSS).or_default() += lost;
        }
        tally.failure = Some(format!("session {index} on {addr}: {e}"));
    }
    tally
}

/// Ephemeral churn: one cycle (connect, create an ephemeral, close) after
/// another; a cycle is one operation, its latency the whole cycle's.
async fn churn(addr: String, args: Arc<BenchArgs>, index: usize, phase: Arc<Phase>) -> Tally {
    let mut tally = Tally::new();
    let layout = Layout::new(&args.root);
    let value = vec![b'x'; args.value_size];
    let mut cycle = 0u64;
    while let Some(measured) = phase.admit(Instant::now(), 1) {
        let at = Instant::now();
        cycle += 1;
        let path = format!("{}/s{index}-{cycle}", layout.churn_parent());
        let result: io::Result<i32> = async {
            let mut conn = Conn::connect(&addr, args.session_timeout_ms).await?;
            let (op, request) =
                workload::create_request(path, value.clone(), CreateMode::Ephemeral);
            conn.push(op, request);
            conn.flush().await?;
            let created = loop {
                if let Incoming::Reply { err } = conn.next().await? {
                    break err;
                }
            };
            let closed = conn.close().await?;
            Ok(if created != 0 { created } else { closed })
        }
        .await;
        match result {
            Ok(err) => {
                if measured {
                    tally.record(&phase, at, Instant::now(), err);
                }
            }
            Err(e) => {
                if measured {
                    tally.record(&phase, at, Instant::now(), CONNECTION_LOSS);
                }
                tally.failure = Some(format!("churn {index} on {addr}: {e}"));
                // A server that refuses connections would spin this loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

/// Shared state of the watch workload's rounds.
struct Rounds {
    /// Arrival barrier of watchers and the writer.
    barrier: Barrier,
    /// When this round's setData was sent, in ns since the phase start.
    set_at_ns: AtomicU64,
    measured: AtomicBool,
    finished: AtomicBool,
}

async fn watcher(
    addr: String,
    args: Arc<BenchArgs>,
    rounds: Arc<Rounds>,
    phase: Arc<Phase>,
) -> io::Result<Tally> {
    let mut tally = Tally::new();
    let path = Layout::new(&args.root).watched();
    let mut conn = Conn::connect(&addr, args.session_timeout_ms).await?;
    loop {
        conn.push(
            OpCode::GetData,
            Request::GetData(GetDataRequest {
                path: path.clone(),
                watch: true,
            }),
        );
        conn.flush().await?;
        let err = loop {
            if let Incoming::Reply { err } = conn.next().await? {
                break err;
            }
        };
        if err != 0 {
            return Err(io::Error::other(format!(
                "getData {path} with a watch: error {err}"
            )));
        }
        rounds.barrier.wait().await;
        loop {
            if let Incoming::Event(event) = conn.next().await? {
                if event.path == path && event.event_type == EventType::NodeDataChanged.code() {
                    break;
                }
            }
        }
        if rounds.measured.load(Relaxed) {
            let sent = phase.start + Duration::from_nanos(rounds.set_at_ns.load(Relaxed));
            tally.record(&phase, sent, Instant::now(), 0);
        }
        rounds.barrier.wait().await;
        if rounds.finished.load(Relaxed) {
            return Ok(tally);
        }
    }
}

async fn writer(
    addr: String,
    args: Arc<BenchArgs>,
    rounds: Arc<Rounds>,
    phase: Arc<Phase>,
) -> io::Result<()> {
    let path = Layout::new(&args.root).watched();
    let mut conn = Conn::connect(&addr, args.session_timeout_ms).await?;
    let value = vec![b'x'; args.value_size];
    let watchers = args.sessions.max(1) as u64;
    loop {
        rounds.barrier.wait().await;
        let admitted = phase.admit(Instant::now(), watchers);
        rounds.measured.store(admitted == Some(true), Relaxed);
        rounds.finished.store(admitted.is_none(), Relaxed);
        let now_ns = u64::try_from(phase.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        rounds.set_at_ns.store(now_ns, Relaxed);
        conn.push(
            OpCode::SetData,
            Request::SetData(SetDataRequest {
                path: path.clone(),
                data: value.clone(),
                version: -1,
            }),
        );
        conn.flush().await?;
        loop {
            if let Incoming::Reply { err } = conn.next().await? {
                if err != 0 {
                    return Err(io::Error::other(format!("setData {path}: error {err}")));
                }
                break;
            }
        }
        rounds.barrier.wait().await;
        if admitted.is_none() {
            return Ok(());
        }
    }
}

async fn watch_fan_out(hosts: &[String], args: Arc<BenchArgs>, phase: Arc<Phase>) -> Tally {
    let watchers = args.sessions.max(1);
    let rounds = Arc::new(Rounds {
        barrier: Barrier::new(watchers + 1),
        set_at_ns: AtomicU64::new(0),
        measured: AtomicBool::new(false),
        finished: AtomicBool::new(false),
    });
    let mut tasks = Vec::new();
    for i in 0..watchers {
        let addr = hosts[i % hosts.len()].clone();
        tasks.push(tokio::spawn(watcher(
            addr,
            args.clone(),
            rounds.clone(),
            phase.clone(),
        )));
    }
    let writer_task = tokio::spawn(writer(
        hosts[0].clone(),
        args.clone(),
        rounds,
        phase.clone(),
    ));
    let limit = args.warmup + args.duration + WATCH_STALL_TIMEOUT;
    let mut total = Tally::new();
    let joined = tokio::time::timeout(limit, async {
        for task in tasks {
            match task.await {
                Ok(Ok(tally)) => total.merge(tally),
                Ok(Err(e)) => return Err(format!("watcher: {e}")),
                Err(e) => return Err(format!("watcher task: {e}")),
            }
        }
        match writer_task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("writer: {e}")),
            Err(e) => Err(format!("writer task: {e}")),
        }
    })
    .await;
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(e)) => total.failure = Some(e),
        Err(_) => total.failure = Some(format!("the watch rounds stalled for {limit:?}")),
    }
    total
}

/// Prints a progress line every few seconds on long runs.
async fn progress(phase: Arc<Phase>, total: Duration) {
    if total < Duration::from_secs(10) {
        return;
    }
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = Instant::now();
        let done = phase.done.load(Relaxed);
        let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-9);
        let state = if now < phase.measure_from {
            "warmup"
        } else {
            "measuring"
        };
        eprintln!(
            "[{:6.1} s] {state}: {done} ops measured, {rate:.0} ops/s",
            now.duration_since(phase.start).as_secs_f64()
        );
        last = (now, done);
    }
}

/// Runs the benchmark described by `args`.
pub async fn run(args: BenchArgs) -> Result<Outcome, String> {
    let hosts = args.host_list();
    if hosts.is_empty() {
        return Err("--hosts names no server".to_string());
    }
    let mut setup_conn = Conn::connect(&hosts[0], args.session_timeout_ms)
        .await
        .map_err(|e| format!("connect to {}: {e}", hosts[0]))?;
    workload::setup(&mut setup_conn, &args)
        .await
        .map_err(|e| format!("setup on {}: {e}", hosts[0]))?;
    let _ = setup_conn.close().await;

    let args = Arc::new(args);
    let phase = Arc::new(Phase::new(&args));
    let ticker = tokio::spawn(progress(
        phase.clone(),
        args.warmup
            + args
                .duration
                .max(Duration::from_secs(if args.ops.is_some() { 10 } else { 0 })),
    ));
    let baseline = {
        let phase = phase.clone();
        let pids = args.server_pid.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(phase.measure_from.into()).await;
            let bench = procfs::cpu_seconds("self").unwrap_or(0.0);
            let servers: Vec<f64> = pids
                .iter()
                .map(|p| procfs::cpu_seconds(&p.to_string()).unwrap_or(0.0))
                .collect();
            (bench, servers)
        })
    };
    let tally = match args.workload {
        Workload::Watch => watch_fan_out(&hosts, args.clone(), phase.clone()).await,
        workload => {
            let mut tasks = Vec::new();
            for i in 0..args.sessions.max(1) {
                let addr = hosts[i % hosts.len()].clone();
                let task = if workload == Workload::EphemeralChurn {
                    tokio::spawn(churn(addr, args.clone(), i, phase.clone()))
                } else {
                    tokio::spawn(pipelined(addr, args.clone(), i, phase.clone()))
                };
                tasks.push(task);
            }
            let mut total = Tally::new();
            for task in tasks {
                match task.await {
                    Ok(tally) => total.merge(tally),
                    Err(e) => total.failure = Some(format!("session task: {e}")),
                }
            }
            total
        }
    };
    ticker.abort();
    let (bench_before, servers_before) = baseline.await.map_err(|e| format!("baseline: {e}"))?;
    let bench_cpu_seconds = procfs::cpu_seconds("self").unwrap_or(0.0) - bench_before;
    let servers = args
        .server_pid
        .iter()
        .zip(servers_before)
        .map(|(pid, before)| {
            let p = pid.to_string();
            ServerUsage {
                pid: *pid,
                cpu_seconds: procfs::cpu_seconds(&p).unwrap_or(0.0) - before,
                rss_bytes: procfs::status_bytes(&p, "VmRSS").unwrap_or(0),
                peak_rss_bytes: procfs::status_bytes(&p, "VmHWM").unwrap_or(0),
            }
        })
        .collect();
    let seconds = tally.last_reply.map_or(0.0, |last| {
        last.saturating_duration_since(phase.measure_from)
            .as_secs_f64()
    });
    Ok(Outcome {
        tally,
        seconds,
        bench_cpu_seconds,
        servers,
    })
}

/// An error code's name as ZooKeeper spells it.
pub fn error_name(code: i32) -> String {
    ErrorCode::from_code(code).map_or_else(|| format!("error {code}"), |c| c.name().to_string())
}
