//! The `rzk` binary: starts from a zoo.cfg, answers on its port, warns about
//! unknown keys, refuses a broken config, and stops cleanly on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rzk-bin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

use rzk_testkit::{free_port, is_serving};

fn four_letter(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn serves_a_zoo_cfg_and_stops_on_sigterm() {
    let dir = scratch_dir("run");
    let port = free_port();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=ruok,conf\nsomeUnknownKey=1\nadmin.serverPort={}\n",
            dir.join("data").display(),
            free_port()
        ),
    )
    .expect("write cfg");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rzk"))
        .args(["server", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rzk");
    let deadline = Instant::now() + Duration::from_secs(10);
    // `ruok` answers as soon as the port is open, as ZooKeeper's does; `conf`
    // needs a serving server, which a standalone one is once it has elected
    // itself, milliseconds later.
    while !is_serving(&format!("127.0.0.1:{port}")) {
        assert!(Instant::now() < deadline, "rzk did not start serving");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(four_letter(port, "ruok").as_deref(), Some("imok"));
    assert!(dir.join("data").is_dir(), "dataDir is created");
    let conf = four_letter(port, "conf").expect("conf");
    assert!(conf.contains(&format!("clientPort={port}\n")), "{conf}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "rzk did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit: {exit:?}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("log");
    assert!(
        log.contains("someUnknownKey"),
        "unknown keys are warned about: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_config_is_refused_with_a_message() {
    let dir = scratch_dir("bad");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(&cfg, "tickTime=2000\nclientPort=2181\n").expect("write cfg");
    let out = Command::new(env!("CARGO_BIN_EXE_rzk"))
        .args(["server", "--config"])
        .arg(&cfg)
        .output()
        .expect("run rzk");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("dataDir is not set"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
