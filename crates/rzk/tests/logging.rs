//! The server's log, end to end: the real `rzk` binary's stderr, a real
//! client (`zookeeper-client`) over TCP, the admin server over HTTP.
//!
//! - JSON lines (`rzk.log.format=json`): every line on stderr parses as a
//!   JSON object, and the session's open, close and expiry each have their
//!   INFO line with the session id in ZooKeeper's `0x...` form and the
//!   client's address.
//! - The level changes at runtime through `/commands/log_level`: debug lines
//!   appear after `?level=debug` and stop after `?level=warn`.
//! - Precedence: `--log-format` over `rzk.log.format`; `rzk.log.level` is
//!   used; a bad level stops the start with a message.
//!
//! The binary is `$RZK_BIN` when set (a release build), else the one cargo
//! built for this test. `RUST_LOG` is removed from the server's environment
//! (it would override `rzk.log.level`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rzk_testkit::free_port;
use serde_json::Value as Json;
use tokio::time::timeout;
use zookeeper_client as zk;

const WAIT: Duration = Duration::from_secs(20);

fn rzk_bin() -> PathBuf {
    std::env::var_os("RZK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rzk")))
}

/// A server process with its stderr and stdout in files; killed on drop.
struct Server {
    child: Child,
    dir: PathBuf,
    port: u16,
    admin_port: u16,
}

impl Server {
    /// Starts `rzk server` on a zoo.cfg with `extra` lines and waits until
    /// it answers `ruok`.
    fn start(name: &str, extra: &[&str], args: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("rzk-logging-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("scratch dir");
        let port = free_port();
        let admin_port = free_port();
        let mut cfg = format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=ruok\nadmin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n",
            dir.join("data").display()
        );
        for line in extra {
            cfg.push_str(line);
            cfg.push('\n');
        }
        std::fs::write(dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
        let child = Command::new(rzk_bin())
            .arg("server")
            .arg("--config")
            .arg(dir.join("zoo.cfg"))
            .args(args)
            .env_remove("RUST_LOG")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout")).expect("stdout"))
            .stderr(std::fs::File::create(dir.join("stderr")).expect("stderr"))
            .spawn()
            .expect("spawn rzk");
        let mut server = Server {
            child,
            dir,
            port,
            admin_port,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(answer) = rzk_testkit::four_letter(&server.addr(), "ruok") {
                if answer == "imok" {
                    break;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("rzk exited with {status}: {}", server.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "rzk did not start: {}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout")).unwrap_or_default()
    }

    /// GET on the admin port; the JSON body.
    fn admin(&self, target: &str) -> Json {
        let mut s = TcpStream::connect(("127.0.0.1", self.admin_port)).expect("admin port");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("response");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 200"), "{text}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// Waits until stderr has a line `matches` accepts; returns it.
    fn wait_for_line(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.stderr().lines().find(|l| matches(l)) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {what} in:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Server {
    /// Waits until `holds` accepts the whole of stderr.
    fn wait_for_text(&self, what: &str, holds: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !holds(&self.stderr()) {
            assert!(
                Instant::now() < deadline,
                "never saw {what} in:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn connect(addr: &str, session_timeout: Duration, detached: bool) -> zk::Client {
    let connector = zk::Client::connector()
        .with_session_timeout(session_timeout)
        .with_connection_timeout(Duration::from_secs(5));
    let connector = if detached {
        connector.with_detached()
    } else {
        connector
    };
    timeout(WAIT, connector.connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// Every stderr line parsed as a JSON object with ZooKeeper-log essentials.
fn json_lines(text: &str) -> Vec<Json> {
    text.lines()
        .map(|line| {
            let value: Json =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            for key in ["timestamp", "level", "target", "message"] {
                assert!(value.get(key).is_some(), "no {key:?} in {line}");
            }
            value
        })
        .collect()
}

fn info_message<'a>(lines: &'a [Json], starts_with: &str) -> Option<&'a str> {
    lines
        .iter()
        .filter(|l| l["level"] == "INFO")
        .filter_map(|l| l["message"].as_str())
        .find(|m| m.starts_with(starts_with))
}

#[test]
fn json_lines_for_session_open_close_and_expiry() {
    let server = Server::start("json", &["rzk.log.format=json"], &[]);
    let rt = runtime();
    let (closed, expired) = rt.block_on(async {
        // Opened and closed by the client.
        let client = connect(&server.addr(), Duration::from_secs(4), false).await;
        client
            .create(
                "/logged",
                b"",
                &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
            )
            .await
            .expect("create");
        let closed = client.session_id().0;
        drop(client);
        let wanted = format!("Session 0x{closed:x} closed by client 127.0.0.1:");
        server.wait_for_line("the close", |l| l.contains(&wanted));
        // Opened, then left without closing: it expires (timeout 1 s,
        // within tickTime 200's bounds of 400..4000 ms).
        let client = connect(&server.addr(), Duration::from_secs(1), true).await;
        let expired = client.session_id().0;
        drop(client);
        (closed, expired)
    });
    let wanted = format!("Expiring session 0x{expired:x}");
    server.wait_for_line("the expiry", |l| l.contains(&wanted));

    assert_eq!(server.stdout(), "", "nothing but log lines, all on stderr");
    let lines = json_lines(&server.stderr());
    for id in [closed, expired] {
        let open = info_message(&lines, &format!("Session 0x{id:x} established"))
            .unwrap_or_else(|| panic!("no open line for 0x{id:x}: {lines:#?}"));
        assert!(open.contains("for client 127.0.0.1:"), "{open}");
    }
    let close = info_message(&lines, &format!("Session 0x{closed:x} closed by client"))
        .expect("close line");
    assert!(close.contains("127.0.0.1:"), "{close}");
    let expiry =
        info_message(&lines, &format!("Expiring session 0x{expired:x}")).expect("expiry line");
    assert!(
        expiry.contains("timeout of 1000ms exceeded")
            && expiry.contains("client 127.0.0.1:")
            && expiry.ends_with("(disconnected)"),
        "{expiry}"
    );
    assert!(
        info_message(&lines, "Election done: server 0 is standalone").is_some(),
        "{lines:#?}"
    );
    // No DEBUG at the default level.
    assert!(lines.iter().all(|l| l["level"] != "DEBUG"), "{lines:#?}");
}

#[test]
fn the_admin_server_changes_the_level_at_runtime() {
    let server = Server::start("level", &["rzk.log.level=info"], &[]);
    let answer = server.admin("/commands/log_level");
    assert_eq!(answer["level"], "info", "{answer}");
    assert_eq!(answer["format"], "text", "{answer}");
    assert_eq!(answer["error"], Json::Null, "{answer}");
    let listed = {
        let mut s = TcpStream::connect(("127.0.0.1", server.admin_port)).expect("admin");
        s.write_all(b"GET /commands HTTP/1.1\r\n\r\n")
            .expect("request");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("response");
        text
    };
    assert!(listed.contains("/commands/log_level"), "{listed}");

    let rt = runtime();
    rt.block_on(async {
        let client = connect(&server.addr(), Duration::from_secs(4), false).await;
        let session = client.session_id().0;
        let request_line = format!("Processing request:: sessionid:0x{session:x} type:");
        let debug_lines = |text: &str| {
            text.lines()
                .filter(|l| l.contains(" DEBUG ") && l.contains(&request_line))
                .count()
        };
        client.check_stat("/").await.expect("exists at info");
        assert_eq!(debug_lines(&server.stderr()), 0, "{}", server.stderr());

        let answer = server.admin("/commands/log_level?level=debug");
        assert_eq!(answer["level"], "debug", "{answer}");
        assert_eq!(answer["previous"], "info", "{answer}");
        client
            .create(
                "/at-debug",
                b"",
                &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
            )
            .await
            .expect("create at debug");
        let line = server.wait_for_line("a DEBUG request line", |l| {
            l.contains(" DEBUG ") && l.contains(&request_line) && l.contains("type:Create")
        });
        assert!(line.contains("from 127.0.0.1:"), "{line}");
        server.wait_for_line("the level change", |l| {
            l.contains(" INFO ") && l.contains("Log level set to \"debug\" (was \"info\")")
        });

        // A bad filter changes nothing.
        let answer = server.admin("/commands/log_level?level=verbose");
        assert_eq!(answer["level"], "debug", "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("verbose")),
            "{answer}"
        );

        // Directives, URL-encoded: debug for the connection module only.
        let answer =
            server.admin("/commands/log_level?level=warn%2Crzk_server%3A%3Aconnection%3Ddebug");
        assert_eq!(answer["level"], "warn,rzk_server::connection=debug");
        let before = debug_lines(&server.stderr());
        client.check_stat("/at-debug").await.expect("exists");
        server.wait_for_text("a second DEBUG request line", |text| {
            debug_lines(text) > before
        });

        let answer = server.admin("/commands/log_level?level=warn");
        assert_eq!(answer["previous"], "warn,rzk_server::connection=debug");
        let before = debug_lines(&server.stderr());
        client
            .check_stat("/at-debug")
            .await
            .expect("exists at warn");
        client.get_data("/at-debug").await.expect("get at warn");
        // The change is in force before the HTTP answer; give stray writes
        // a moment anyway.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(debug_lines(&server.stderr()), before, "{}", server.stderr());
        drop(client);
    });
}

#[test]
fn command_line_format_wins_and_config_level_applies() {
    let server = Server::start(
        "precedence",
        &["rzk.log.format=text", "rzk.log.level=debug"],
        &["--log-format", "json"],
    );
    let rt = runtime();
    rt.block_on(async {
        let client = connect(&server.addr(), Duration::from_secs(4), false).await;
        client.check_stat("/").await.expect("exists");
        let wanted = format!(
            "Processing request:: sessionid:0x{:x}",
            client.session_id().0
        );
        server.wait_for_line("a DEBUG request line", |l| l.contains(&wanted));
    });
    let lines = json_lines(&server.stderr());
    assert!(lines.iter().any(|l| l["level"] == "DEBUG"), "{lines:#?}");
    let answer = server.admin("/commands/log_level");
    assert_eq!(answer["level"], "debug", "{answer}");
    assert_eq!(answer["format"], "json", "{answer}");
}

#[test]
fn a_bad_log_setting_stops_the_start() {
    for (line, says) in [
        ("rzk.log.level=verbose", "rzk.log.level"),
        ("rzk.log.format=xml", "rzk.log.format"),
    ] {
        let dir = std::env::temp_dir().join(format!("rzk-logging-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={}\nadmin.enableServer=false\n{line}\n",
                dir.join("data").display(),
                free_port()
            ),
        )
        .expect("cfg");
        let out = run_briefly(&cfg);
        assert!(!out.0, "{line}: rzk started");
        assert!(out.1.contains(says), "{line}: {}", out.1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Runs `rzk server --config cfg`, expecting it to exit within 20 s:
/// (succeeded, stderr).
fn run_briefly(cfg: &Path) -> (bool, String) {
    let mut child = Command::new(rzk_bin())
        .args(["server", "--config"])
        .arg(cfg)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (true, "still running".to_string());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.success(), err)
}
