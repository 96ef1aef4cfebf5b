//! Memory and restart benchmark: rzk and Apache ZooKeeper side by side.
//!
//! For each server (rzk first, then Debian's ZooKeeper 3.8 with its packaged
//! JVM defaults): start it on a fresh data directory with default settings
//! (fsync on, snapCount 100,000), create `--znodes` znodes with
//! `--value-bytes`-byte values spread over `--parents` parents, record its
//! resident memory (right after creating, again after `--settle-seconds`
//! idle, and its peak), kill it with SIGKILL, start it again on the same
//! directories and time how long until a read of the last znode created
//! succeeds (the restart includes loading the newest snapshot and replaying
//! the log after it). Timings are wall-clock on a shared machine: compare
//! the two columns of one run, not runs on different days.
//!
//! ```text
//! cargo bench -p rzk --bench restart -- [--znodes 1000000] [--parents 1000]
//!     [--value-bytes 100] [--sessions 16] [--inflight 64] [--settle-seconds 10]
//!     [--only rzk|zookeeper]
//!
//! `RZK_BIN=path` measures that rzk binary instead of this build's.
//! ```
//!
//! Not a test: nothing here asserts a speed (see docs/PERFORMANCE.md).

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use rzk_client::{ConnectOptions, RawClient};
use rzk_proto::records::GetDataRequest;
use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, CreateMode, ErrorCode, OpCode, Request};
use rzk_testkit::{ApacheZk, Rzk};

/// How long a restarted server may take before the run gives up on it.
const RESTART_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
struct Options {
    znodes: usize,
    parents: usize,
    value_bytes: usize,
    sessions: usize,
    inflight: usize,
    /// Idle seconds after creating before "at rest" memory is read.
    settle_seconds: u64,
    only: Option<String>,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut o = Options {
            znodes: 1_000_000,
            parents: 1_000,
            value_bytes: 100,
            sessions: 16,
            inflight: 64,
            settle_seconds: 10,
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            // `cargo bench` passes `--bench` to every bench binary.
            if arg == "--bench" {
                continue;
            }
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            let number = |v: String| {
                v.replace('_', "")
                    .parse::<usize>()
                    .map_err(|e| format!("{arg}: {e}"))
            };
            match arg.as_str() {
                "--znodes" => o.znodes = number(value()?)?,
                "--parents" => o.parents = number(value()?)?.max(1),
                "--value-bytes" => o.value_bytes = number(value()?)?,
                "--sessions" => o.sessions = number(value()?)?.max(1),
                "--inflight" => o.inflight = number(value()?)?.max(1),
                "--only" => o.only = Some(value()?),
                "--settle-seconds" => o.settle_seconds = number(value()?)? as u64,
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(o)
    }

    fn runs(&self, server: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == server)
    }
}

/// What one server measured.
#[derive(Debug, Default)]
struct Measured {
    populate: Duration,
    rss_after_create_bytes: u64,
    /// After `--settle-seconds` without load (background work such as a
    /// snapshot build finished, its memory freed).
    rss_at_rest_bytes: u64,
    /// The process's peak resident memory up to then (VmHWM).
    rss_peak_bytes: u64,
    restart_to_serving: Duration,
    rss_after_restart_bytes: u64,
    /// The server's own account of loading its snapshot, from its log.
    snapshot_load_line: Option<String>,
}

fn parent_path(p: usize) -> String {
    format!("/bench/p{p:04}")
}

fn child_path(o: &Options, i: usize) -> String {
    format!("{}/n{i:07}", parent_path(i % o.parents))
}

fn create_request(path: String, data: Vec<u8>) -> (OpCode, Request) {
    let op = CreateOp {
        path,
        data,
        acl: Acl::open_unsafe(),
        flags: CreateMode::Persistent.code(),
        ttl: 0,
    };
    (OpCode::Create, Request::Create(op))
}

fn session(addr: &str) -> Result<RawClient, String> {
    let (client, _) = RawClient::connect(addr, ConnectOptions::default())
        .map_err(|e| format!("connect {addr}: {e}"))?;
    Ok(client)
}

/// Sends `requests` with up to `inflight` unanswered; fails on the first
/// reply that is not Ok.
fn pipeline(
    client: &mut RawClient,
    inflight: usize,
    requests: impl Iterator<Item = (OpCode, Request)>,
) -> Result<(), String> {
    let mut waiting = VecDeque::with_capacity(inflight);
    let check = |client: &mut RawClient, xid: i32| -> Result<(), String> {
        let reply = client.recv(xid).map_err(|e| format!("reply: {e}"))?;
        match reply.err {
            ErrorCode::Ok => Ok(()),
            err => Err(format!("create failed: {err:?}")),
        }
    };
    for (op, request) in requests {
        if waiting.len() == inflight {
            if let Some(xid) = waiting.pop_front() {
                check(client, xid)?;
            }
        }
        let xid = client.send(op, request).map_err(|e| format!("send: {e}"))?;
        waiting.push_back(xid);
    }
    while let Some(xid) = waiting.pop_front() {
        check(client, xid)?;
    }
    Ok(())
}

/// Creates `/bench`, the parents, then the znodes from `sessions` sessions
/// in parallel, each pipelining `inflight` creates.
fn populate(addr: &str, o: &Options) -> Result<Duration, String> {
    let started = Instant::now();
    let mut client = session(addr)?;
    let parents = std::iter::once(create_request("/bench".to_string(), Vec::new()))
        .chain((0..o.parents).map(|p| create_request(parent_path(p), Vec::new())));
    pipeline(&mut client, o.inflight, parents)?;
    let value = vec![b'v'; o.value_bytes];
    let progress = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..o.sessions)
            .map(|s| {
                let value = &value;
                let progress = &progress;
                scope.spawn(move || -> Result<(), String> {
                    let mut client = session(addr)?;
                    // Chunks, so that progress can be reported.
                    let mine: Vec<usize> = (s..o.znodes).step_by(o.sessions).collect();
                    for chunk in mine.chunks(10_000) {
                        let requests = chunk
                            .iter()
                            .map(|i| create_request(child_path(o, *i), value.clone()));
                        pipeline(&mut client, o.inflight, requests)?;
                        let done = progress
                            .fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed)
                            + chunk.len();
                        if done / 100_000 != (done - chunk.len()) / 100_000 {
                            eprintln!(
                                "  {done} znodes in {:.1} s",
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| "a populate thread panicked".to_string())??;
        }
        Ok::<(), String>(())
    })?;
    Ok(started.elapsed())
}

/// Whether a fresh session can read `path` right now. Asks `srvr` first:
/// a server that accepts connections before it serves may leave a connect
/// request unanswered, and the client's read timeout would then be counted
/// as restart time.
fn reads(addr: &str, path: &str) -> bool {
    if !rzk_testkit::is_serving(addr) {
        return false;
    }
    let Ok((mut client, _)) = RawClient::connect(addr, ConnectOptions::default()) else {
        return false;
    };
    let request = Request::GetData(GetDataRequest {
        path: path.to_string(),
        watch: false,
    });
    client
        .call(OpCode::GetData, request)
        .is_ok_and(|reply| reply.is_ok())
}

/// Polls until `path` reads; the time since `since`.
fn wait_reads(addr: &str, path: &str, since: Instant) -> Result<Duration, String> {
    loop {
        if reads(addr, path) {
            return Ok(since.elapsed());
        }
        if since.elapsed() > RESTART_TIMEOUT {
            return Err(format!(
                "{addr} did not serve {path} within {RESTART_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// VmRSS of a process, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// A kB field of /proc/<pid>/status (VmRSS, VmHWM), in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The last line of a log that contains `needle`.
fn last_line_with(log: &Path, needle: &str) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find(|l| l.contains(needle))
        .map(|l| l.trim().to_string())
}

fn last_path(o: &Options) -> String {
    if o.znodes == 0 {
        "/bench".to_string()
    } else {
        child_path(o, o.znodes - 1)
    }
}

/// What the benchmark does to a server process.
trait Restartable {
    fn addr(&self) -> String;
    fn pid(&self) -> Option<u32>;
    fn kill(&mut self);
    fn spawn(&mut self) -> std::io::Result<()>;
    fn log_path(&self) -> &Path;
}

impl Restartable for Rzk {
    fn addr(&self) -> String {
        Rzk::addr(self)
    }
    fn pid(&self) -> Option<u32> {
        Rzk::pid(self)
    }
    fn kill(&mut self) {
        Rzk::kill(self)
    }
    fn spawn(&mut self) -> std::io::Result<()> {
        Rzk::spawn(self)
    }
    fn log_path(&self) -> &Path {
        Rzk::log_path(self)
    }
}

impl Restartable for ApacheZk {
    fn addr(&self) -> String {
        ApacheZk::addr(self)
    }
    fn pid(&self) -> Option<u32> {
        ApacheZk::pid(self)
    }
    fn kill(&mut self) {
        ApacheZk::kill(self)
    }
    fn spawn(&mut self) -> std::io::Result<()> {
        ApacheZk::spawn(self)
    }
    fn log_path(&self) -> &Path {
        ApacheZk::log_path(self)
    }
}

/// Populates a started server, kills it, restarts it; `snapshot_line` is
/// what its log says when it has loaded its snapshot.
fn measure(
    server: &mut impl Restartable,
    o: &Options,
    snapshot_line: &str,
) -> Result<Measured, String> {
    let addr = server.addr();
    let mut m = Measured {
        populate: populate(&addr, o)?,
        ..Measured::default()
    };
    let pid = server.pid().ok_or("the server is not running")?;
    m.rss_after_create_bytes = rss_bytes(pid);
    std::thread::sleep(Duration::from_secs(o.settle_seconds));
    m.rss_at_rest_bytes = rss_bytes(pid);
    m.rss_peak_bytes = status_bytes(pid, "VmHWM:");
    server.kill();
    let restarted = Instant::now();
    server.spawn().map_err(|e| e.to_string())?;
    m.restart_to_serving = wait_reads(&addr, &last_path(o), restarted)?;
    m.rss_after_restart_bytes = server.pid().map_or(0, rss_bytes);
    m.snapshot_load_line = last_line_with(server.log_path(), snapshot_line);
    Ok(m)
}

fn bench_rzk(o: &Options) -> Result<Measured, String> {
    // `RZK_BIN` measures another build (an A/B against an older commit).
    let bin = match std::env::var_os("RZK_BIN") {
        Some(bin) => std::path::PathBuf::from(bin),
        None => Path::new(env!("CARGO_BIN_EXE_rzk")).to_path_buf(),
    };
    let mut server = Rzk::start(&bin).map_err(|e| e.to_string())?;
    measure(&mut server, o, "Restored ")
}

fn bench_zookeeper(o: &Options) -> Result<Measured, String> {
    // The JVM's defaults, as Debian's zkServer.sh runs the server.
    let mut server = ApacheZk::start_with_jvm(&[], &[]).map_err(|e| e.to_string())?;
    measure(&mut server, o, "Snapshot loaded in")
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let o = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("restart bench: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "{} znodes with {}-byte values in {} parents; {} sessions x {} in flight",
        o.znodes, o.value_bytes, o.parents, o.sessions, o.inflight
    );
    let mut results: Vec<(&str, Measured)> = Vec::new();
    if o.runs("rzk") {
        eprintln!("rzk: populating");
        match bench_rzk(&o) {
            Ok(m) => results.push(("rzk", m)),
            Err(e) => {
                eprintln!("rzk: {e}");
                std::process::exit(1);
            }
        }
    }
    if o.runs("zookeeper") {
        if ApacheZk::available() {
            eprintln!("zookeeper: populating");
            match bench_zookeeper(&o) {
                Ok(m) => results.push(("zookeeper", m)),
                Err(e) => {
                    eprintln!("zookeeper: {e}");
                    std::process::exit(1);
                }
            }
        } else {
            eprintln!("Apache ZooKeeper is not installed (apt-get install zookeeper): skipped");
        }
    }
    println!();
    println!(
        "| server | create all | RSS after create | at rest ({} s later) | bytes/znode beyond values, at rest | peak RSS | restart to serving | RSS after restart |",
        o.settle_seconds
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, m) in &results {
        let values = (o.znodes * o.value_bytes) as u64;
        let per_znode = m
            .rss_at_rest_bytes
            .saturating_sub(values)
            .checked_div(o.znodes as u64)
            .unwrap_or(0);
        println!(
            "| {name} | {:.1} s ({:.0}/s) | {} | {} | {per_znode} | {} | {:.2} s | {} |",
            m.populate.as_secs_f64(),
            o.znodes as f64 / m.populate.as_secs_f64().max(1e-9),
            mib(m.rss_after_create_bytes),
            mib(m.rss_at_rest_bytes),
            mib(m.rss_peak_bytes),
            m.restart_to_serving.as_secs_f64(),
            mib(m.rss_after_restart_bytes),
        );
    }
    if let [(_, r), (_, z)] = results.as_slice() {
        println!();
        println!(
            "ratios rzk/zookeeper: RSS after create {:.3}, at rest {:.3}, peak {:.3}, restart to serving {:.3}",
            r.rss_after_create_bytes as f64 / z.rss_after_create_bytes.max(1) as f64,
            r.rss_at_rest_bytes as f64 / z.rss_at_rest_bytes.max(1) as f64,
            r.rss_peak_bytes as f64 / z.rss_peak_bytes.max(1) as f64,
            r.restart_to_serving.as_secs_f64() / z.restart_to_serving.as_secs_f64().max(1e-9),
        );
    }
    for (name, m) in &results {
        if let Some(line) = &m.snapshot_load_line {
            println!("{name} log: {line}");
        }
    }
}
