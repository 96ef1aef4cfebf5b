//! `rzk cli`, the zkCli.sh-compatible shell, run as a real process against a
//! real rzk server: one-command mode (output, zkCli's error text, exit
//! codes), a piped script, the interactive shell through a pseudo-terminal
//! (tab completion, a watch fired by another process), and, where Debian's
//! `zkCli.sh` is installed, the same read commands through both shells
//! compared line for line.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rzk_testkit::{free_port, Rzk, ZKCLI};

fn rzk_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rzk"))
}

fn server() -> Rzk {
    Rzk::start(rzk_bin()).expect("start rzk server")
}

/// What a finished `rzk cli` printed and returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `rzk cli -server <addr> <args>`, one command.
fn cli(addr: &str, args: &[&str]) -> Run {
    let out = Command::new(rzk_bin())
        .args(["cli", "-server", addr])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rzk cli");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `rzk cli` (or another program) with `script` on its standard input.
fn piped(program: &Path, args: &[&str], envs: &[(&str, &str)], script: &str) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shell");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("wait for shell");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts a successful command and returns its standard output.
fn ok(addr: &str, args: &[&str]) -> String {
    let r = cli(addr, args);
    assert_eq!(r.code, 0, "rzk cli {args:?} failed: {r:?}");
    r.stdout
}

/// Asserts a failed command with zkCli's message on standard error.
fn fails(addr: &str, args: &[&str], message: &str) {
    let r = cli(addr, args);
    assert_ne!(r.code, 0, "rzk cli {args:?} should fail: {r:?}");
    assert_eq!(r.stderr, format!("{message}\n"), "rzk cli {args:?}");
}

/// The value of `name = value` in a printed Stat.
fn stat_field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

const STAT_NAMES: [&str; 11] = [
    "cZxid",
    "ctime",
    "mZxid",
    "mtime",
    "pZxid",
    "cversion",
    "dataVersion",
    "aclVersion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
];

/// Asserts `text` ends with the eleven Stat lines of zkCli's StatPrinter.
fn assert_stat_tail(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 11, "{text}");
    for (line, name) in lines[lines.len() - 11..].iter().zip(STAT_NAMES) {
        assert!(line.starts_with(&format!("{name} = ")), "{line} in {text}");
    }
    let ctime = stat_field(text, "ctime");
    assert!(
        ctime.contains(" UTC ") && ctime.len() == "Thu Jan 01 00:00:00 UTC 1970".len(),
        "Java Date.toString in UTC: {ctime}"
    );
}

#[test]
fn one_command_prints_zkcli_output_and_exits_with_its_status() {
    let zk = server();
    let addr = zk.addr();

    let r = cli(&addr, &["create", "/x", "hello"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:?}");
    assert_eq!(r.stderr, "Created /x\n", "zkCli prints Created on stderr");
    assert_eq!(ok(&addr, &["get", "/x"]), "hello\n");

    let set = ok(&addr, &["set", "-s", "/x", "world"]);
    assert_stat_tail(&set);
    assert_eq!(stat_field(&set, "dataVersion"), "1");
    let got = ok(&addr, &["get", "-s", "/x"]);
    assert!(got.starts_with("world\ncZxid = 0x"), "{got}");
    assert_eq!(stat_field(&got, "dataLength"), "5");
    assert_eq!(stat_field(&got, "ephemeralOwner"), "0x0");
    let stat = ok(&addr, &["stat", "/x"]);
    assert_eq!(stat, got["world\n".len()..]);

    ok(&addr, &["create", "/x/b"]);
    ok(&addr, &["create", "/x/a", "1"]);
    ok(&addr, &["create", "/x/a/deep"]);
    let ls = ok(&addr, &["ls", "-s", "/"]);
    assert!(ls.starts_with("[x, zookeeper]\ncZxid = 0x0\n"), "{ls}");
    assert_stat_tail(&ls);
    assert_eq!(ok(&addr, &["ls", "/x"]), "[a, b]\n");
    assert_eq!(
        ok(&addr, &["ls", "-R", "/x"]),
        "/x\n/x/a\n/x/b\n/x/a/deep\n",
        "each level's children, sorted, before going deeper"
    );
    assert_eq!(ok(&addr, &["getAllChildrenNumber", "/x"]), "3\n");
    // zkCli sends a null buffer for "no data"; rzk's server answers an empty
    // one (ZooKeeper answers null, which zkCli and rzk cli print as "null").
    assert_eq!(ok(&addr, &["get", "/x/b"]), "\n");

    fails(
        &addr,
        &["delete", "-v", "7", "/x/b"],
        "version No is not valid : /x/b",
    );
    fails(&addr, &["get", "/nope"], "Node does not exist: /nope");
    fails(&addr, &["stat", "/nope"], "Node does not exist: /nope");
    fails(&addr, &["create", "/x"], "Node already exists: /x");
    fails(&addr, &["delete", "/x"], "Node not empty: /x");
    fails(&addr, &["get", "x"], "Path must start with / character");
    fails(&addr, &["get"], "get [-s] [-w] path");
    fails(
        &addr,
        &["get", "-q", "/x"],
        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -q",
    );
    ok(&addr, &["delete", "-v", "0", "/x/b"]);
    fails(&addr, &["get", "/x/b"], "Node does not exist: /x/b");

    let r = cli(&addr, &["nosuchcommand"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(
        r.stderr
            .ends_with("Command not found: Command not found nosuchcommand\n"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("\tls [-s] [-w] [-R] path\n"),
        "usage listed"
    );

    assert_eq!(ok(&addr, &["whoami"]), "Auth scheme: User\nip: 127.0.0.1\n");
    assert_eq!(ok(&addr, &["sync", "/x"]), "Sync is OK\n");
    let r = Command::new(rzk_bin())
        .args(["cli", "4lw", &addr, "ruok"])
        .output()
        .expect("4lw");
    assert!(r.status.success());
    assert_eq!(String::from_utf8_lossy(&r.stdout), "imok\n");
    assert!(ok(&addr, &["4lw", "srvr"]).contains("Mode: standalone"));
}

#[test]
fn quotas_and_acls_as_zkcli_manages_them() {
    let zk = server();
    let addr = zk.addr();
    ok(&addr, &["create", "/q"]);
    ok(&addr, &["create", "/q/a", "12345"]);
    assert_eq!(ok(&addr, &["setquota", "-n", "10", "/q"]), "");
    let r = cli(&addr, &["listquota", "/q"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stderr,
        "absolute path is /zookeeper/quota/q/zookeeper_limits\n"
    );
    assert_eq!(
        r.stdout,
        "Output quota for /q count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1\n\
         Output stat for /q count=2,bytes=5\n",
        "limits as setquota wrote them, usage as the server keeps it"
    );
    // A second limit merges into the first; a quota below a quota is refused.
    ok(&addr, &["setquota", "-B", "100", "/q"]);
    assert!(ok(&addr, &["listquota", "/q"]).starts_with(
        "Output quota for /q count=10,bytes=-1=;byteHardLimit=100;countHardLimit=-1\n"
    ));
    fails(
        &addr,
        &["setquota", "-n", "3", "/q/a"],
        "/q/a has a parent /q which has a quota",
    );
    ok(&addr, &["delquota", "-n", "/q"]);
    assert!(ok(&addr, &["listquota", "/q"]).starts_with("Output quota for /q count=-1,"));
    ok(&addr, &["delquota", "/q"]);
    let r = cli(&addr, &["listquota", "/q"]);
    assert!(
        r.stderr.ends_with("quota for /q does not exist.\n"),
        "{r:?}"
    );
    assert_eq!(ok(&addr, &["ls", "/zookeeper/quota"]), "[]\n");

    assert_eq!(ok(&addr, &["getAcl", "/q"]), "'world,'anyone\n: cdrwa\n");
    let acl = ok(&addr, &["getAcl", "-s", "/q"]);
    assert!(
        acl.starts_with("'world,'anyone\n: cdrwa\ncZxid = 0x"),
        "{acl}"
    );
    ok(
        &addr,
        &["setAcl", "/q/a", "world:anyone:r,ip:127.0.0.1:cdrwa"],
    );
    assert_eq!(
        ok(&addr, &["getAcl", "/q/a"]),
        "'world,'anyone\n: r\n'ip,'127.0.0.1\n: cdrwa\n"
    );
    fails(
        &addr,
        &["setAcl", "-v", "5", "/q/a", "world:anyone:cdrwa"],
        "version No is not valid : /q/a",
    );

    // addauth digest: a node only u:p may read, then whoami shows both ids.
    let digest = "digest:u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=:cdrwa";
    let r = piped(
        rzk_bin(),
        &["cli", "-server", &addr],
        &[],
        &format!("addauth digest u:p\ncreate /q/secret s3 {digest}\nget /q/secret\nwhoami\ngetAcl /q/secret\n"),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("\ns3\n"), "{r:?}");
    assert!(
        r.stdout
            .contains("Auth scheme: User\nip: 127.0.0.1\ndigest: u\n"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("'digest,'u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=\n: cdrwa\n"),
        "{r:?}"
    );
    fails(
        &addr,
        &["get", "/q/secret"],
        "Insufficient permission : /q/secret",
    );
}

/// Removes zkCli's connection event, which the Java client prints whenever
/// its event thread gets to it (before or after the first command's output).
fn without_connect_event(text: &str) -> String {
    text.replace(
        "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n",
        "",
    )
}

#[test]
fn a_piped_script_runs_line_by_line() {
    let zk = server();
    let addr = zk.addr();
    let script = "create /p\ncreate -e /p/e1\ncreate -s -e /p/s-\ngetEphemerals /p\n\
                  get -w /p\nset /p changed\nls -w /p\ncreate /p/c\n\
                  printwatches off\nget -w /p\nset /p again\nprintwatches\n\
                  history\nredo 5\ndelete /p\nnosuch\n";
    let r = piped(rzk_bin(), &["cli", "-server", &addr], &[], script);
    assert_eq!(r.code, 127, "the last command's status: {r:?}");
    let out = without_connect_event(&r.stdout);
    let expected = format!(
        "Connecting to {addr}\nWelcome to ZooKeeper!\nJLine support is disabled\n\
         [/p/e1, /p/s-0000000001]\n\
         \n\
         \nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/p\n\
         [e1, s-0000000001]\n\
         \nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeChildrenChanged path:/p\n\
         changed\n\
         printwatches is off\n\
         2 - create -s -e /p/s-\n3 - getEphemerals /p\n\
         4 - get -w /p\n5 - set /p changed\n6 - ls -w /p\n7 - create /p/c\n8 - printwatches off\n\
         9 - get -w /p\n10 - set /p again\n11 - printwatches\n12 - history\n"
    );
    assert_eq!(out, expected, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(
        r.stderr.starts_with(
            "Created /p\nCreated /p/e1\nCreated /p/s-0000000001\nCreated /p/c\nNode not empty: /p\n"
        ),
        "{r:?}"
    );
    // `redo 5` set the data again: version 3 after set, set, redo.
    assert_eq!(stat_field(&ok(&addr, &["stat", "/p"]), "dataVersion"), "3");
    // The script's session closed at the end of input: its ephemerals are gone.
    assert_eq!(ok(&addr, &["ls", "/p"]), "[c]\n");
}

/// A pseudo-terminal with `rzk cli` on its slave side; everything the shell
/// writes is collected by a thread reading the master side.
struct Pty {
    master: File,
    seen: Arc<Mutex<Vec<u8>>>,
    child: std::process::Child,
}

impl Pty {
    fn spawn(args: &[&str]) -> Pty {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 40,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two new descriptors into `master` and
        // `slave` and only reads the window size; the name and termios
        // pointers may be null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened by openpty and are owned
        // by nothing else.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let child = Command::new(rzk_bin())
            .args(args)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().expect("dup slave")))
            .stdout(Stdio::from(slave.try_clone().expect("dup slave")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("spawn rzk cli on a pty");
        let master = File::from(master);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("clone master");
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the child has exited and the slave is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("pty buffer")
                    .extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            master,
            seen,
            child,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("pty buffer")).into_owned()
    }

    fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("type");
    }

    /// Waits until the output since byte `from` contains `needle`; returns
    /// where the first such `needle` ends.
    fn expect(&self, from: usize, needle: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text();
            if let Some(i) = text.get(from..).and_then(|t| t.find(needle)) {
                return from + i + needle.len();
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on the terminal after byte {from}; it shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn interactive_shell_completes_and_prints_watch_events() {
    let zk = server();
    let addr = zk.addr();
    ok(&addr, &["create", "/watched", "v0"]);
    ok(&addr, &["create", "/watched/kid"]);

    let mut pty = Pty::spawn(&["cli", "-server", &addr]);
    let prompt0 = format!("[zk: {addr}(CONNECTED) 0] ");
    let at = pty.expect(0, &prompt0);
    assert!(pty.text().contains("JLine support is enabled"));

    // A command name completes from its start; a path from the server.
    pty.send("getAllC\t");
    let at = pty.expect(at, "getAllChildrenNumber");
    pty.send(" /wat\t");
    let at = pty.expect(at, "/watched");
    pty.send("\r");
    let at = pty.expect(at, "\r\n1\r\n");
    let at = pty.expect(at, &format!("[zk: {addr}(CONNECTED) 1] "));

    // Two candidates: a second tab lists both.
    pty.send("getA\t\t");
    let at = pty.expect(at, "getAllChildrenNumber");
    pty.send("\x15"); // Ctrl-U: clear the line.

    pty.send("get -w /watched\r");
    let at = pty.expect(at, "v0\r\n");
    pty.expect(at, "(CONNECTED) 2] ");

    // Another process changes the node; the watch fires in this shell.
    ok(&addr, &["set", "/watched", "v1"]);
    let at = pty.expect(
        at,
        "WatchedEvent state:SyncConnected type:NodeDataChanged path:/watched",
    );

    // Up arrow: the previous line from the editor's history, run again.
    pty.send("\x1b[A");
    let at = pty.expect(at, "get -w /watched");
    pty.send("\r");
    let at = pty.expect(at, "v1\r\n");
    let at = pty.expect(at, "(CONNECTED) 3] ");

    pty.send("quit\r");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = pty.child.try_wait().expect("wait") {
            assert!(status.success(), "{status:?}: {}", pty.text());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "quit did not end the shell: {}",
            &pty.text()[at..]
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `script` through Debian's zkCli.sh (TZ=UTC, so its dates are
/// comparable) and through `rzk cli`, both against `addr`.
fn both_shells(addr: &str, script: &str) -> (Run, Run) {
    let java = piped(zkcli(), &["-server", addr], &[("TZ", "UTC")], script);
    let ours = piped(rzk_bin(), &["cli", "-server", addr], &[], script);
    (java, ours)
}

/// Debian's zkCli.sh. Like the differential test's Apache ZooKeeper, it is
/// required (scripts/test-all installs it): a comparison that silently
/// passes without its oracle would hide that nothing was compared.
fn zkcli() -> &'static Path {
    let path = Path::new(ZKCLI);
    assert!(
        path.is_file(),
        "{ZKCLI} not found: apt-get install zookeeper (scripts/test-all does)"
    );
    path
}

/// zkCli's standard error without the JVM's logging noise.
fn java_stderr(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("SLF4J:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn read_commands_print_what_zkcli_prints() {
    zkcli();
    let zk = server();
    let addr = zk.addr();
    ok(&addr, &["create", "/d", "some data"]);
    ok(&addr, &["create", "/d/child", ""]);
    ok(&addr, &["create", "/d/empty"]);
    ok(
        &addr,
        &[
            "create",
            "/d/acl",
            "x",
            "world:anyone:rw,ip:127.0.0.1:cdrwa",
        ],
    );
    ok(&addr, &["set", "/d", "more data"]);
    ok(&addr, &["setquota", "-b", "1000", "/d"]);
    // Only reads and failing writes: both shells see the same tree.
    let script = "stat /d\nget -s /d\nget /d/empty\nget /d/child\nls -s /d\nls /\n\
                  ls -R /d\ngetAcl /d/acl\ngetAcl -s /d\nlistquota /d\nlistquota /d/child\n\
                  getAllChildrenNumber /d\nstat /nope\nget /nope\ncreate /d\ndelete /d\n\
                  delete -v 9 /d/empty\nset -v 9 /d x\nget noslash\nwhoami\n";
    let (java, ours) = both_shells(&addr, script);
    assert_eq!(java.code, 0, "zkCli.sh failed: {java:?}");
    assert_eq!(
        without_connect_event(&ours.stdout),
        without_connect_event(&java.stdout),
        "standard output differs"
    );
    assert_eq!(
        ours.stderr,
        java_stderr(&java.stderr),
        "standard error differs"
    );
    assert!(ours.stdout.contains("dataVersion = 1\n"), "{ours:?}");
}

/// A shell's standard output split into everything but watch events, and
/// the events' `WatchedEvent` lines in order. The Java client prints an
/// event from its own thread as two lines, each after an empty line, and a
/// command's output can land between the two; so each of those lines is
/// taken out with the empty line before it, wherever it is.
fn split_events(text: &str) -> (String, Vec<String>) {
    let mut rest: Vec<&str> = Vec::new();
    let mut events = Vec::new();
    for line in text.lines() {
        let event = line.starts_with("WatchedEvent ");
        if (event || line == "WATCHER::") && rest.last() == Some(&"") {
            rest.pop();
            if event {
                events.push(line.to_string());
            }
        } else {
            rest.push(line);
        }
    }
    (rest.iter().map(|l| format!("{l}\n")).collect(), events)
}

/// `text` with `addr` as `ADDR` and the dates of printed Stats as `<time>`
/// (two servers, one per shell, create the same znodes at different times).
fn comparable(text: &str, addr: &str) -> String {
    text.replace(addr, "ADDR")
        .lines()
        .map(|l| match l.get(..8) {
            Some(name @ ("ctime = " | "mtime = ")) => format!("{name}<time>\n"),
            _ => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn write_and_watch_commands_print_what_zkcli_prints() {
    let java_zk = Rzk::start_with(rzk_bin(), &["extendedTypesEnabled=true"]).expect("rzk");
    let our_zk = Rzk::start_with(rzk_bin(), &["extendedTypesEnabled=true"]).expect("rzk");
    // Each shell on its own fresh server: the same writes give the same
    // zxids, versions and sequence numbers on both.
    let script = "create /w\ncreate /w/a 1\ncreate -c /w/cont\ncreate -c /w/cont/kid\n\
                  create -t 100000 /w/ttl x\ncreate -t 100000 -s /w/ttls- x\n\
                  create -c -e /w/bad\ncreate -t 5 -e /w/bad\ncreate -t 5 -c /w/bad\n\
                  create -t abc /w/bad\ncreate -t 0 /w/bad\n\
                  stat -w /w/a\nset -v 0 /w/a two\nset -v 0 /w/a three\nset -s -v 1 /w/a x\n\
                  get -w /w/a\nls -w /w\n\
                  addWatch /w\naddWatch -m PERSISTENT /w/a\naddWatch -m bogus /w/a\n\
                  create /w/b\nset /w/a four\nremovewatches /w\nremovewatches /w/a -d\n\
                  removewatches /w/nope\nset /w/a five\n\
                  setAcl -s /w/b world:anyone:cdrwa\nsetAcl -R /w world:anyone:cdrw\n\
                  getAcl /w/cont/kid\nsetAcl /w/a world:anyone:qq\ngetAcl /w/a\n\
                  setquota -N 4 /w\nsetquota -b 100 /w/b\nlistquota /w\nlistquota /w/b\n\
                  delquota -N /w\nlistquota /w\ndelquota /w\nlistquota /w\n\
                  config\nconfig -c\ndeleteall /w/cont\ndeleteall /w -b 2\nls -R /w\n\
                  getAllChildrenNumber /\nclose\nls /\nconnect ADDR\nls /\nwhoami\n\
                  getAllChildrenNumber /zookeeper\n";
    let java = piped(
        zkcli(),
        &["-server", &java_zk.addr()],
        &[("TZ", "UTC")],
        &script.replace("ADDR", &java_zk.addr()),
    );
    let ours = piped(
        rzk_bin(),
        &["cli", "-server", &our_zk.addr()],
        &[],
        &script.replace("ADDR", &our_zk.addr()),
    );
    assert_eq!(java.code, 0, "zkCli.sh failed: {java:?}");
    assert_eq!(ours.code, 0, "{ours:?}");
    let (java_out, java_events) = split_events(&comparable(&java.stdout, &java_zk.addr()));
    let (our_out, our_events) = split_events(&comparable(&ours.stdout, &our_zk.addr()));
    assert_eq!(our_out, java_out, "standard output differs");
    assert_eq!(our_events, java_events, "watch events differ");
    assert_eq!(
        comparable(&ours.stderr, &our_zk.addr()),
        comparable(&java_stderr(&java.stderr), &java_zk.addr()),
        "standard error differs"
    );
    // What the comparison covered, seen on our side.
    for text in [
        "type:NodeDataChanged path:/w/a",
        "type:NodeChildrenChanged path:/w",
        "type:NodeCreated path:/w/b",
        "type:PersistentWatchRemoved path:/w",
        "state:Closed type:None",
    ] {
        assert!(
            our_events.iter().any(|e| e.contains(text)),
            "{text}: {our_events:?}"
        );
    }
    assert!(
        ours.stderr.contains("Created /w/ttls-0000000003\n"),
        "{ours:?}"
    );
    assert!(our_out.contains("Not connected\n"), "{our_out}");
    assert_eq!(
        our_out.matches("dataVersion = ").count(),
        3,
        "stat -w, set -s, setAcl -s: {our_out}"
    );
    assert_eq!(ok(&our_zk.addr(), &["ls", "/"]), "[zookeeper]\n");
}

#[test]
fn ls2_and_version_which_zkcli_3_8_no_longer_has() {
    let zk = server();
    let addr = zk.addr();
    ok(&addr, &["create", "/l"]);
    ok(&addr, &["create", "/l/k"]);
    // ls2 is zkCli 3.4's `ls -s`; with a second word it also watches.
    assert_eq!(ok(&addr, &["ls2", "/l"]), ok(&addr, &["ls", "-s", "/l"]));
    fails(&addr, &["ls2"], "ls2 path [watch]");
    let r = piped(
        rzk_bin(),
        &["cli", "-server", &addr],
        &[],
        "ls2 /l watch\ncreate /l/k2\nversion\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let (out, events) = split_events(&r.stdout);
    assert_eq!(
        events,
        [
            "WatchedEvent state:SyncConnected type:None path:null",
            "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/l",
        ]
    );
    assert!(out.contains("[k]\ncZxid = 0x"), "{out}");
    assert!(
        out.ends_with(&format!(
            "ZooKeeper CLI version: rzk {}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
}

/// One member of a three-server ensemble with `readonlymode.enabled`, alone:
/// after the grace period it serves read-only sessions only.
fn read_only_server() -> Rzk {
    let client_port = free_port();
    let mut lines = vec!["readonlymode.enabled=true".to_string()];
    for id in 1..=3 {
        let client = if id == 1 { client_port } else { free_port() };
        lines.push(format!(
            "server.{id}=127.0.0.1:{}:{}:participant;127.0.0.1:{client}",
            free_port(),
            free_port()
        ));
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut zk = Rzk::prepare(rzk_bin(), client_port, &refs, Some(1)).expect("prepare rzk");
    zk.spawn().expect("spawn rzk");
    let deadline = Instant::now() + Duration::from_secs(30);
    while zk.four_letter("isro").ok().as_deref() != Some("ro") {
        assert!(Instant::now() < deadline, "the server never went read-only");
        std::thread::sleep(Duration::from_millis(100));
    }
    zk
}

#[test]
fn r_asks_for_a_read_only_session_as_zkcli_does() {
    let zk = read_only_server();
    let addr = zk.addr();
    // Without -r the server refuses the session: connection loss once the
    // (one second) timeout has passed, and a failed command.
    let r = cli(&addr, &["-timeout", "1000", "ls", "/"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(r.stderr, "KeeperErrorCode = ConnectionLoss for /\n");
    // With -r: reads work, writes fail; the first server of the list is
    // down, so the second one answers.
    let dead = format!("127.0.0.1:{}", free_port());
    let servers = format!("{dead},{addr}");
    let r = cli(&servers, &["-r", "ls", "/"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "[zookeeper]\n"), "{r:?}");
    fails(&addr, &["-r", "create", "/y"], "Not a read-only call: /y");

    let script = "ls /\nget /zookeeper\nstat /zookeeper/quota\ncreate /y\n\
                  set /zookeeper x\ndelete /zookeeper/quota\nsync /\nwhoami\n";
    let java = piped(zkcli(), &["-r", "-server", &addr], &[("TZ", "UTC")], script);
    let ours = piped(rzk_bin(), &["cli", "-r", "-server", &addr], &[], script);
    assert_eq!(java.code, 0, "zkCli.sh failed: {java:?}");
    let (java_out, java_events) = split_events(&java.stdout);
    let (our_out, our_events) = split_events(&ours.stdout);
    assert_eq!(our_out, java_out, "standard output differs");
    assert_eq!(our_events, java_events, "watch events differ");
    assert_eq!(
        our_events,
        ["WatchedEvent state:ConnectedReadOnly type:None path:null"]
    );
    assert_eq!(
        ours.stderr,
        java_stderr(&java.stderr),
        "standard error differs"
    );
    assert!(our_out.contains("Sync has failed. rc=-119\n"), "{our_out}");
}
