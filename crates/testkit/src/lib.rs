//! Test harness shared by rzk's integration tests.
//!
//! * [`ApacheZk`] runs the Debian-packaged Apache ZooKeeper 3.8 as a
//!   standalone server on a free loopback port — the oracle that tests compare
//!   rzk against.
//! * [`Rzk`] runs an rzk binary (`rzk server --config <zoo.cfg>`) the same
//!   way, and can kill and restart it on the same port and data directory.
//! * [`four_letter`] sends a four-letter-word command (`ruok`, `srvr`, ...).
//! * [`python_with_kazoo`] finds the Python interpreter that has kazoo.
//! * [`rzk_binary`], [`interop_dir`]: where the built server and the interop
//!   scripts (`tests/interop/*`, each taking `HOST:PORT`) are.
//!
//! Both servers get a fresh temporary directory holding `zoo.cfg`, the data
//! directory and a log file (the child's stdout and stderr). Dropping the
//! handle kills the process (SIGKILL) and removes the directory, unless the
//! environment variable `RZK_TESTKIT_KEEP` is set (then the directory is kept
//! and its path printed, for post-mortems). The children stay in the test's
//! process group, so a Ctrl-C on `cargo test` stops them too.
//!
//! Only `std` is used.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Debian package `zookeeper` installs the server and client jar here.
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
/// Debian's ZooKeeper configuration directory (provides `log4j.properties`).
pub const ZOOKEEPER_CONF_DIR: &str = "/etc/zookeeper/conf";
/// Jars added to [`ZOOKEEPER_JAR`] on the classpath. `zookeeper.jar`'s
/// manifest `Class-Path` already names every runtime dependency in
/// `/usr/share/java` (zookeeper-jute, netty, jackson, jetty9, commons-*,
/// metrics-core, snappy, slf4j-api, ...); only an SLF4J binding is missing,
/// so the log4j 1.2 binding is added to get a readable server log.
pub const ZOOKEEPER_LOGGING_JARS: &[&str] = &[
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];
/// JVM flags that make a small test server start fast (~0.5 s to `imok`).
pub const ZOOKEEPER_JVM_FLAGS: &[&str] = &[
    "-Xms32m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-Dzookeeper.jmx.log4j.disable=true",
];
/// `zkCli.sh` (Java client shell) from the Debian package `zookeeper`.
pub const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
/// `cli_mt` (C client shell) from the Debian package `zookeeper-bin`.
pub const CLI_MT: &str = "/usr/lib/zookeeper/bin/cli_mt";

const APACHE_START_TIMEOUT: Duration = Duration::from_secs(60);
const RZK_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Ports handed out by [`free_port`]: below Linux's default ephemeral range
/// (32768-60999), so that no outgoing connection of any process on the
/// machine is given one between the moment it is chosen and the moment a
/// server binds it. (Asking the kernel for port 0 returns an ephemeral port,
/// and under load another server's outgoing peer connection took exactly
/// that port before the server under test could listen on it.)
const TEST_PORTS: std::ops::Range<u16> = 12_000..32_000;

/// The next candidate port of this process; starts at a place derived from
/// the process id so that test processes running at once use different
/// stretches of [`TEST_PORTS`].
static NEXT_TEST_PORT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A port on 127.0.0.1 that is free now and outside the ephemeral range:
/// each call returns a different port of [`TEST_PORTS`] that this process
/// has not handed out before (until the range wraps) and that could be
/// bound a moment ago.
pub fn free_port() -> u16 {
    use std::sync::atomic::Ordering;
    let span = u32::from(TEST_PORTS.end - TEST_PORTS.start);
    let start = (std::process::id().wrapping_mul(7_919)) % span;
    for _ in 0..span {
        let step = NEXT_TEST_PORT.fetch_add(1, Ordering::Relaxed);
        let offset = (start + step) % span;
        let port = TEST_PORTS.start + offset as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {TEST_PORTS:?} on 127.0.0.1");
}

/// Send a four-letter-word command (`ruok`, `srvr`, `stat`, `conf`, `mntr`,
/// ...) to `addr` ("host:port") and return the whole reply (the server
/// closes the connection after answering).
pub fn four_letter(addr: &str, cmd: &str) -> io::Result<String> {
    let sockaddr = resolve(addr)?;
    let mut stream = TcpStream::connect_timeout(&sockaddr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(cmd.as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    String::from_utf8(reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot resolve {addr}"),
        )
    })
}

/// A short-timeout four-letter word for readiness polling: returns whatever
/// arrived, even if the server did not close the connection. (Apache
/// ZooKeeper 3.8 answers `ruok` while still starting but may then fail to
/// close the socket — a NullPointerException on its side — which would make a
/// read-to-EOF hang.)
fn probe(addr: &str, cmd: &str, timeout: Duration) -> Option<String> {
    let sockaddr = resolve(addr).ok()?;
    let mut stream = TcpStream::connect_timeout(&sockaddr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    stream.write_all(cmd.as_bytes()).ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break, // timeout or reset: keep what we have
        }
    }
    if reply.is_empty() {
        None
    } else {
        Some(String::from_utf8_lossy(&reply).into_owned())
    }
}

/// Does `ruok` on `addr` answer `imok`?
pub fn is_ok(addr: &str) -> bool {
    probe(addr, "ruok", Duration::from_millis(1000)).as_deref() == Some("imok")
}

/// The Python interpreter that can `import kazoo`. Debian's python3-kazoo is
/// installed for `/usr/bin/python3`, which is not necessarily the `python3`
/// first on PATH (e.g. pyenv). Candidates, in order: `$PYTHON_KAZOO`,
/// `/usr/bin/python3`, `python3`.
pub fn python_with_kazoo() -> Option<String> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("PYTHON_KAZOO") {
        if !p.is_empty() {
            candidates.push(p);
        }
    }
    candidates.push("/usr/bin/python3".to_string());
    candidates.push("python3".to_string());
    candidates.into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import kazoo"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}

/// `tests/interop` in the workspace (kazoo_test.py, zkcli_test.sh,
/// cli_mt_test.sh, run.sh — each takes the server address as argument).
pub fn interop_dir() -> PathBuf {
    workspace_root().join("tests").join("interop")
}

/// Locate a built rzk binary for tests outside the `rzk` package (inside it,
/// use `env!("CARGO_BIN_EXE_rzk")`). Order: `$RZK_BIN`, then
/// `$CARGO_TARGET_DIR` or `<workspace>/target`, `release/rzk` before
/// `debug/rzk`. Returns `None` if none exists.
pub fn rzk_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RZK_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("rzk"))
        .find(|p| p.is_file())
}

/// What both server handles offer.
pub trait Server {
    /// "127.0.0.1:PORT".
    fn addr(&self) -> String;
    /// The client port.
    fn port(&self) -> u16;
}

// ---------------------------------------------------------------------------
// Temporary directory (std only)
// ---------------------------------------------------------------------------

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(prefix: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("RZK_TESTKIT_KEEP").is_some() {
            eprintln!("rzk-testkit: keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------
// Shared process plumbing
// ---------------------------------------------------------------------------

/// Write zoo.cfg with the keys both servers get.
fn write_config(cfg: &Path, data_dir: &Path, port: u16, extra: &[&str]) -> io::Result<()> {
    let mut text = String::new();
    text.push_str("tickTime=2000\n");
    text.push_str(&format!("dataDir={}\n", data_dir.display()));
    text.push_str(&format!("clientPort={port}\n"));
    text.push_str("clientPortAddress=127.0.0.1\n");
    text.push_str("4lw.commands.whitelist=*\n");
    text.push_str("admin.enableServer=false\n");
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    fs::write(cfg, text)
}

/// Open the log file for appending (a restarted server appends to it).
fn log_stdio(log: &Path) -> io::Result<(Stdio, Stdio)> {
    let f = OpenOptions::new().create(true).append(true).open(log)?;
    let f2 = f.try_clone()?;
    Ok((Stdio::from(f), Stdio::from(f2)))
}

/// The last `n` lines of a file, for error messages.
fn tail(path: &Path, n: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        s = String::from_utf8_lossy(&buf).into_owned();
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

enum WaitError {
    Exited(std::process::ExitStatus),
    TimedOut,
    Io(io::Error),
}

/// Is Apache ZooKeeper actually serving? Its `ruok` answers `imok` as soon
/// as the listener is up, while `srvr` still says "This ZooKeeper instance is
/// not currently serving requests" until the database is loaded; requests
/// sent in between get the connection closed.
pub fn is_serving(addr: &str) -> bool {
    is_ok(addr)
        && probe(addr, "srvr", Duration::from_millis(1000))
            .is_some_and(|reply| reply.contains("Mode: "))
}

/// Poll `ready` until it holds, the child exits, or the timeout passes.
fn wait_until(
    child: &mut Child,
    addr: &str,
    timeout: Duration,
    ready: fn(&str) -> bool,
) -> Result<(), WaitError> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready(addr) {
            return Ok(());
        }
        match child.try_wait() {
            Ok(Some(status)) => return Err(WaitError::Exited(status)),
            Ok(None) => {}
            Err(e) => return Err(WaitError::Io(e)),
        }
        if Instant::now() >= deadline {
            return Err(WaitError::TimedOut);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a spawned server (`None`: not started) serves clients.
fn wait_child_serving(
    child: Option<&mut Child>,
    what: &str,
    addr: &str,
    timeout: Duration,
    log: &Path,
) -> io::Result<()> {
    let Some(child) = child else {
        return Err(io::Error::other(format!("{addr}: not started")));
    };
    wait_until(child, addr, timeout, is_serving)
        .map_err(|e| start_error(what, addr, e, log, timeout))
}

fn kill_child(child: &mut Child) {
    // SIGKILL; ignore "already exited".
    let _ = child.kill();
    let _ = child.wait();
}

fn start_error(what: &str, addr: &str, err: WaitError, log: &Path, timeout: Duration) -> io::Error {
    let reason = match err {
        WaitError::Exited(status) => format!("exited with {status} before answering ruok"),
        WaitError::TimedOut => format!("no imok on {addr} within {}s", timeout.as_secs()),
        WaitError::Io(e) => format!("wait failed: {e}"),
    };
    io::Error::other(format!(
        "{what} on {addr}: {reason}; log {}:\n{}",
        log.display(),
        tail(log, 40)
    ))
}

// ---------------------------------------------------------------------------
// Apache ZooKeeper (the oracle)
// ---------------------------------------------------------------------------

/// A standalone Apache ZooKeeper server (Debian package `zookeeper`) running
/// on 127.0.0.1 in its own temporary directory. Killed on drop.
pub struct ApacheZk {
    child: Option<Child>,
    /// JVM flags of every start of this server (see [`ZOOKEEPER_JVM_FLAGS`]).
    jvm_flags: Vec<String>,
    port: u16,
    log: PathBuf,
    cfg: PathBuf,
    data_dir: PathBuf,
    dir: TempDir,
}

impl fmt::Debug for ApacheZk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApacheZk")
            .field("pid", &self.pid())
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl ApacheZk {
    /// Is the Debian ZooKeeper jar installed?
    pub fn available() -> bool {
        Path::new(ZOOKEEPER_JAR).is_file()
    }

    /// The `-cp` argument used to launch the server.
    pub fn classpath() -> String {
        let mut cp = vec![ZOOKEEPER_JAR];
        cp.extend(
            ZOOKEEPER_LOGGING_JARS
                .iter()
                .copied()
                .filter(|j| Path::new(j).is_file()),
        );
        cp.push(ZOOKEEPER_CONF_DIR);
        cp.join(":")
    }

    /// Start with the default configuration.
    pub fn start() -> io::Result<ApacheZk> {
        Self::start_with(&[])
    }

    /// Start with extra zoo.cfg lines appended (e.g. `"maxClientCnxns=5"`).
    /// Waits up to 60 s for `ruok` → `imok` and `srvr` reporting a mode (see
    /// [`is_serving`]).
    pub fn start_with(extra_cfg_lines: &[&str]) -> io::Result<ApacheZk> {
        Self::start_with_jvm(extra_cfg_lines, ZOOKEEPER_JVM_FLAGS)
    }

    /// Start with extra zoo.cfg lines and these JVM flags instead of
    /// [`ZOOKEEPER_JVM_FLAGS`]: `&[]` is the JVM's own defaults, what
    /// Debian's packaged `zkServer.sh` runs (its `JAVA_OPTS` is empty), for
    /// benchmarks.
    pub fn start_with_jvm(extra_cfg_lines: &[&str], jvm_flags: &[&str]) -> io::Result<ApacheZk> {
        if !Self::available() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{ZOOKEEPER_JAR} not found: apt-get install zookeeper"),
            ));
        }
        // The port is picked before the JVM binds it; if another process
        // grabs it in between, try again with a new one.
        let mut last_err = None;
        for _ in 0..3 {
            match Self::try_start(extra_cfg_lines, jvm_flags) {
                Ok(zk) => return Ok(zk),
                Err((e, retry)) => {
                    if !retry {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    fn try_start(extra: &[&str], jvm_flags: &[&str]) -> Result<ApacheZk, (io::Error, bool)> {
        let no_retry = |e: io::Error| (e, false);
        let dir = TempDir::new("rzk-apache-zk").map_err(no_retry)?;
        let data_dir = dir.path().join("data");
        fs::create_dir(&data_dir).map_err(no_retry)?;
        let cfg = dir.path().join("zoo.cfg");
        let log = dir.path().join("zookeeper.log");
        let port = free_port();
        write_config(&cfg, &data_dir, port, extra).map_err(no_retry)?;
        let mut zk = ApacheZk {
            child: None,
            jvm_flags: jvm_flags.iter().map(|f| f.to_string()).collect(),
            port,
            log,
            cfg,
            data_dir,
            dir,
        };
        zk.spawn().map_err(no_retry)?;
        match zk.wait_serving(APACHE_START_TIMEOUT) {
            Ok(()) => Ok(zk),
            Err(e) => {
                zk.kill();
                let retry = fs::read_to_string(&zk.log)
                    .map(|s| s.contains("Address already in use"))
                    .unwrap_or(false);
                Err((e, retry))
            }
        }
    }

    /// Start the JVM on this server's config and dataDir without waiting
    /// for it to serve. No-op if running. The log file is appended to.
    pub fn spawn(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let (out, err) = log_stdio(&self.log)?;
        let java = std::env::var("JAVA").unwrap_or_else(|_| {
            if Path::new("/usr/bin/java").exists() {
                "/usr/bin/java".to_string()
            } else {
                "java".to_string()
            }
        });
        let child = Command::new(&java)
            .args(&self.jvm_flags)
            .arg("-Djava.net.preferIPv4Stack=true")
            .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
            .arg(format!("-Dzookeeper.log.dir={}", self.dir.path().display()))
            .arg("-cp")
            .arg(Self::classpath())
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&self.cfg)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {java}: {e}")))?;
        self.child = Some(child);
        Ok(())
    }

    /// Wait until the spawned server serves clients (`srvr` reports a mode).
    pub fn wait_serving(&mut self, timeout: Duration) -> io::Result<()> {
        let addr = self.addr();
        wait_child_serving(
            self.child.as_mut(),
            "Apache ZooKeeper",
            &addr,
            timeout,
            &self.log,
        )
    }

    /// Kill the JVM (SIGKILL) and wait for it; no-op if not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_child(&mut child);
        }
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// "127.0.0.1:PORT".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's log (stdout + stderr of the JVM).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The generated zoo.cfg.
    pub fn config_path(&self) -> &Path {
        &self.cfg
    }

    /// The server's dataDir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The JVM's process id, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Send a four-letter word to this server.
    pub fn four_letter(&self, cmd: &str) -> io::Result<String> {
        four_letter(&self.addr(), cmd)
    }
}

impl Server for ApacheZk {
    fn addr(&self) -> String {
        ApacheZk::addr(self)
    }
    fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for ApacheZk {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// rzk
// ---------------------------------------------------------------------------

/// An rzk server (`<bin> server --config <zoo.cfg>`) on 127.0.0.1 in its own
/// temporary directory. Can be killed and restarted on the same port and
/// dataDir. Killed on drop.
pub struct Rzk {
    bin: PathBuf,
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    cfg: PathBuf,
    data_dir: PathBuf,
    dir: TempDir,
}

impl fmt::Debug for Rzk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rzk")
            .field("bin", &self.bin)
            .field("pid", &self.child.as_ref().map(Child::id))
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Rzk {
    /// Start `bin` with the default configuration.
    pub fn start(bin: &Path) -> io::Result<Rzk> {
        Self::start_with(bin, &[])
    }

    /// Start `bin` with extra zoo.cfg lines appended. Waits up to 30 s for
    /// `ruok` → `imok`.
    pub fn start_with(bin: &Path, extra_cfg_lines: &[&str]) -> io::Result<Rzk> {
        if !bin.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "rzk binary {} not found (cargo build --release?)",
                    bin.display()
                ),
            ));
        }
        let mut last_err = None;
        for _ in 0..3 {
            let dir = TempDir::new("rzk-test")?;
            let data_dir = dir.path().join("data");
            fs::create_dir(&data_dir)?;
            let cfg = dir.path().join("zoo.cfg");
            let log = dir.path().join("rzk.log");
            let port = free_port();
            write_config(&cfg, &data_dir, port, extra_cfg_lines)?;
            let mut rzk = Rzk {
                bin: bin.to_path_buf(),
                child: None,
                port,
                log,
                cfg,
                data_dir,
                dir,
            };
            match rzk.spawn_and_wait() {
                Ok(()) => return Ok(rzk),
                Err(e) => {
                    let retry = fs::read_to_string(&rzk.log)
                        .map(|s| s.contains("Address already in use") || s.contains("AddrInUse"))
                        .unwrap_or(false);
                    if !retry {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    fn spawn_and_wait(&mut self) -> io::Result<()> {
        self.spawn()?;
        let waited = self.wait_serving(RZK_START_TIMEOUT);
        if waited.is_err() {
            self.kill();
        }
        waited
    }

    /// Prepare (do not start) a server on `port` with extra zoo.cfg lines and,
    /// for an ensemble member, a `myid` file. Start it with [`Rzk::spawn`].
    pub fn prepare(
        bin: &Path,
        port: u16,
        extra_cfg_lines: &[&str],
        my_id: Option<u64>,
    ) -> io::Result<Rzk> {
        let dir = TempDir::new("rzk-test")?;
        let data_dir = dir.path().join("data");
        fs::create_dir(&data_dir)?;
        if let Some(id) = my_id {
            fs::write(data_dir.join("myid"), format!("{id}\n"))?;
        }
        let cfg = dir.path().join("zoo.cfg");
        let log = dir.path().join("rzk.log");
        write_config(&cfg, &data_dir, port, extra_cfg_lines)?;
        Ok(Rzk {
            bin: bin.to_path_buf(),
            child: None,
            port,
            log,
            cfg,
            data_dir,
            dir,
        })
    }

    /// Start the process without waiting for it to serve (ensemble members
    /// serve only once a quorum is up). No-op if running.
    pub fn spawn(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let (out, err) = log_stdio(&self.log)?;
        let child = Command::new(&self.bin)
            .arg("server")
            .arg("--config")
            .arg(&self.cfg)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        Ok(())
    }

    /// Wait until the spawned server serves clients (`srvr` reports a mode).
    pub fn wait_serving(&mut self, timeout: Duration) -> io::Result<()> {
        let addr = self.addr();
        wait_child_serving(self.child.as_mut(), "rzk", &addr, timeout, &self.log)
    }

    /// Kill the server (SIGKILL) and wait for it; no-op if not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_child(&mut child);
        }
    }

    /// Kill (if running) and start again with the same binary, port, config
    /// and dataDir; waits for `imok`. The log file is appended to.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        // The port was just released; give bind a few tries.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let in_use = tail(&self.log, 20).contains("Address already in use")
                        || tail(&self.log, 20).contains("AddrInUse");
                    if !in_use || Instant::now() >= deadline {
                        return Err(e);
                    }
                    thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Is the process alive (started and not exited)?
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The process id, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// "127.0.0.1:PORT".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's log (stdout + stderr, appended across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The generated zoo.cfg.
    pub fn config_path(&self) -> &Path {
        &self.cfg
    }

    /// The server's dataDir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Send a four-letter word to this server.
    pub fn four_letter(&self, cmd: &str) -> io::Result<String> {
        four_letter(&self.addr(), cmd)
    }
}

impl Server for Rzk {
    fn addr(&self) -> String {
        Rzk::addr(self)
    }
    fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Rzk {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable_distinct_and_not_ephemeral() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        for port in &ports {
            assert!(TEST_PORTS.contains(port), "{port} outside {TEST_PORTS:?}");
            TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).expect("port should be free");
        }
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    }

    #[test]
    fn config_has_required_keys() {
        let dir = TempDir::new("rzk-testkit-unit").unwrap();
        let cfg = dir.path().join("zoo.cfg");
        write_config(&cfg, Path::new("/x/data"), 1234, &["maxClientCnxns=7"]).unwrap();
        let text = fs::read_to_string(&cfg).unwrap();
        for key in [
            "tickTime=2000",
            "dataDir=/x/data",
            "clientPort=1234",
            "clientPortAddress=127.0.0.1",
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
            "maxClientCnxns=7",
        ] {
            assert!(text.lines().any(|l| l == key), "missing {key} in\n{text}");
        }
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists(), "temp dir removed on drop");
    }

    #[test]
    fn four_letter_on_closed_port_errors() {
        let port = free_port();
        assert!(four_letter(&format!("127.0.0.1:{port}"), "ruok").is_err());
        assert!(!is_ok(&format!("127.0.0.1:{port}")));
    }

    #[test]
    fn interop_dir_exists() {
        assert!(
            interop_dir().join("run.sh").is_file(),
            "{}",
            interop_dir().display()
        );
    }
}
