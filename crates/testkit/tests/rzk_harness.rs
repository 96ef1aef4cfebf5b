//! The `Rzk` handle's process management (start, kill, restart, drop),
//! exercised with a stand-in "server" script so it can be tested before and
//! independently of the real rzk binary: the script reads clientPort from
//! the zoo.cfg it is given, answers `ruok` with `imok` and `srvr` with a
//! mode (the handle waits for both, as a real server serves only then).

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rzk_testkit::{python_with_kazoo, Rzk, Server};

const FAKE_SERVER: &str = r#"
import socket, sys
args = sys.argv[1:]
assert args[0] == "server" and args[1] == "--config", args
cfg = dict(l.split("=", 1) for l in open(args[2]).read().splitlines() if "=" in l)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((cfg["clientPortAddress"], int(cfg["clientPort"])))
s.listen(16)
print("fake rzk listening on", cfg["clientPort"], "dataDir", cfg["dataDir"], flush=True)
open(cfg["dataDir"] + "/starts", "a").write("x")
while True:
    c, _ = s.accept()
    cmd = c.recv(4)
    c.sendall({b"ruok": b"imok", b"srvr": b"Mode: standalone\n"}.get(cmd, b"unknown"))
    c.close()
"#;

fn fake_bin(dir: &std::path::Path) -> PathBuf {
    let py = python_with_kazoo().unwrap_or_else(|| "/usr/bin/python3".to_string());
    let script = dir.join("fake_server.py");
    fs::write(&script, FAKE_SERVER).unwrap();
    let bin = dir.join("fake-rzk");
    fs::write(
        &bin,
        format!("#!/bin/sh\nexec {py} {} \"$@\"\n", script.display()),
    )
    .unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rzk-harness-test-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn rzk_handle_start_kill_restart_drop() {
    let scratch = scratch();
    let bin = fake_bin(&scratch);
    let mut rzk = Rzk::start_with(&bin, &["maxClientCnxns=3"]).expect("start fake rzk");
    assert_eq!(rzk.four_letter("ruok").unwrap(), "imok");
    assert_eq!(Server::addr(&rzk), format!("127.0.0.1:{}", rzk.port()));
    assert!(rzk.is_running());
    let cfg = fs::read_to_string(rzk.config_path()).unwrap();
    assert!(
        cfg.contains("maxClientCnxns=3") && cfg.contains("admin.enableServer=false"),
        "{cfg}"
    );

    let port = rzk.port();
    rzk.kill();
    assert!(!rzk.is_running());
    assert!(
        TcpStream::connect(rzk.addr()).is_err(),
        "nothing listens after kill"
    );
    rzk.kill(); // idempotent

    rzk.restart().expect("restart");
    assert_eq!(rzk.port(), port, "same port after restart");
    assert_eq!(rzk.four_letter("ruok").unwrap(), "imok");
    rzk.restart().expect("restart while running");
    assert_eq!(
        fs::read_to_string(rzk.data_dir().join("starts")).unwrap(),
        "xxx",
        "same dataDir"
    );
    let log = fs::read_to_string(rzk.log_path()).unwrap();
    assert_eq!(
        log.matches("fake rzk listening").count(),
        3,
        "log appended across restarts:\n{log}"
    );

    let addr = rzk.addr();
    let dir = rzk.config_path().parent().unwrap().to_path_buf();
    drop(rzk);
    assert!(!dir.exists());
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepting after drop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    fs::remove_dir_all(&scratch).ok();
}

#[test]
fn rzk_start_fails_clearly() {
    let err = Rzk::start(std::path::Path::new("/nonexistent/rzk")).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");

    let scratch = scratch().join("failing");
    fs::create_dir_all(&scratch).unwrap();
    let bin = scratch.join("fails");
    fs::write(&bin, "#!/bin/sh\necho 'boom: bad config' >&2\nexit 3\n").unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let err = Rzk::start(&bin).unwrap_err().to_string();
    assert!(
        err.contains("exited") && err.contains("boom: bad config"),
        "{err}"
    );
    fs::remove_dir_all(&scratch).ok();
}
