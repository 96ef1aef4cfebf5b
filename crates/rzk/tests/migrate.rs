//! `rzk import` / `rzk export` against real files from Debian's Apache
//! ZooKeeper.
//!
//! Goal: a ZooKeeper data directory, imported, serves exactly the tree
//! ZooKeeper served (every Stat field, data, ACL, live ephemerals), keeps
//! working (writes get larger zxids, a restart keeps everything), and the
//! session ZooKeeper's client held can be resumed on rzk. Method: drive
//! ZooKeeper with a scripted kazoo workload (`migrate/zk_tree.py`) under a
//! small snapCount so that it writes snapshots and logs after them; read
//! the whole tree through the client protocol; kill ZooKeeper while the
//! workload's session is alive; import; start rzk on the result and read
//! the tree the same way; compare the two dumps line by line. Then export
//! the rzk tree, import the export into a second rzk and compare again,
//! and start ZooKeeper itself on the exported snapshot.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use rzk_testkit::{free_port, python_with_kazoo, ApacheZk, Rzk};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migrate/zk_tree.py")
}

fn rzk_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rzk"))
}

fn python(py: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "zk_tree.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn rzk(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(rzk_bin())
        .args(args)
        .output()
        .expect("run rzk")
}

/// Starts the workload and waits for its "READY <sid> <pw>" line; the
/// process keeps its session open until killed.
fn start_workload(py: &str, addr: &str) -> (Child, String, String) {
    let mut child = Command::new(py)
        .arg(script())
        .args(["workload", addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn workload");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read READY");
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts.first(), Some(&"READY"), "workload said {line:?}");
    (child, parts[1].to_owned(), parts[2].to_owned())
}

fn assert_same_tree(expected: &str, actual: &str, what: &str) {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    for (x, y) in e.iter().zip(a.iter()) {
        assert_eq!(x, y, "{what}: first differing znode");
    }
    assert_eq!(e.len(), a.len(), "{what}: znode counts differ");
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn zookeeper_data_dir_imports_serves_the_same_tree_and_round_trips() {
    let Some(py) = python_with_kazoo() else {
        eprintln!("SKIP: python3 with kazoo not found (apt-get install python3-kazoo)");
        return;
    };
    if !ApacheZk::available() {
        eprintln!("SKIP: Debian's zookeeper package is not installed");
        return;
    }

    eprintln!("=== ZooKeeper: scripted workload, snapshots every few transactions");
    let mut zk =
        ApacheZk::start_with(&["snapCount=20", "preAllocSize=1024"]).expect("start ZooKeeper");
    let (mut workload, sid, pw) = start_workload(&py, &zk.addr());
    let zk_dump = python(&py, &["dump", &zk.addr()]);
    assert!(zk_dump.contains("\"/live/eph\""), "{zk_dump}");
    // Killed with the workload's session alive, as a crash would leave it.
    zk.kill();
    let _ = workload.kill();
    let _ = workload.wait();
    let v2 = zk.data_dir().join("version-2");
    let names: Vec<String> = std::fs::read_dir(&v2)
        .expect("version-2")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().filter(|n| n.starts_with("snapshot.")).count() >= 2,
        "ZooKeeper wrote snapshots: {names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("log.")), "{names:?}");

    eprintln!("=== import into a fresh rzk data directory");
    let port = free_port();
    let mut server =
        Rzk::prepare(&rzk_bin(), port, &["maxSessionTimeout=60000"], None).expect("prepare rzk");
    let out = rzk(&[
        os("import"),
        os("--zookeeper-data-dir"),
        zk.data_dir().as_os_str(),
        os("--data-dir"),
        server.data_dir().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "import failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("imported "), "{stdout}");

    eprintln!("=== rzk serves exactly ZooKeeper's tree");
    server.spawn().expect("spawn rzk");
    server
        .wait_serving(Duration::from_secs(30))
        .expect("rzk serves");
    let rzk_dump = python(&py, &["dump", &server.addr()]);
    assert_same_tree(&zk_dump, &rzk_dump, "ZooKeeper vs imported rzk");

    eprintln!("=== ZooKeeper's client resumes its session on rzk");
    let resumed = python(&py, &["resume", &server.addr(), &sid, &pw]);
    assert!(resumed.starts_with("RESUMED eph eph-seq-"), "{resumed}");

    eprintln!("=== writes continue above ZooKeeper's zxids, and survive a restart");
    let last_zk_zxid = max_zxid(&zk_dump);
    let czxid: i64 = python(&py, &["write", &server.addr(), "/after-import"])
        .trim()
        .parse()
        .expect("czxid");
    assert!(czxid > last_zk_zxid, "{czxid:#x} after {last_zk_zxid:#x}");
    let before_restart = python(&py, &["dump", &server.addr()]);
    server.restart().expect("restart rzk");
    let after_restart = python(&py, &["dump", &server.addr()]);
    assert_same_tree(
        &before_restart,
        &after_restart,
        "rzk before vs after restart",
    );
    server.kill();

    eprintln!("=== export, import the export into a second rzk");
    let export_dir = server.data_dir().parent().expect("dir").join("exported");
    let out = rzk(&[
        os("export"),
        os("--data-dir"),
        server.data_dir().as_os_str(),
        os("--zookeeper-data-dir"),
        export_dir.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot = std::fs::read_dir(export_dir.join("version-2"))
        .expect("export dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("snapshot."))
        })
        .expect("exported snapshot");
    let mut second = Rzk::prepare(&rzk_bin(), free_port(), &["maxSessionTimeout=60000"], None)
        .expect("prepare rzk");
    let out = rzk(&[
        os("import"),
        os("--dump"),
        snapshot.as_os_str(),
        os("--data-dir"),
        second.data_dir().as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "import --dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    second.spawn().expect("spawn");
    second
        .wait_serving(Duration::from_secs(30))
        .expect("serves");
    let second_dump = python(&py, &["dump", &second.addr()]);
    assert_same_tree(&after_restart, &second_dump, "rzk vs rzk from its export");
    second.kill();

    eprintln!("=== ZooKeeper starts from the exported snapshot");
    let mut back = ApacheZk::start_with(&[]).expect("start ZooKeeper");
    back.kill();
    let back_v2 = back.data_dir().join("version-2");
    std::fs::remove_dir_all(&back_v2).expect("clear version-2");
    std::fs::create_dir_all(&back_v2).expect("version-2");
    std::fs::copy(&snapshot, back_v2.join(snapshot.file_name().expect("name"))).expect("copy");
    back.spawn().expect("spawn ZooKeeper");
    back.wait_serving(Duration::from_secs(60))
        .expect("ZooKeeper serves");
    let back_dump = python(&py, &["dump", &back.addr()]);
    assert_same_tree(&second_dump, &back_dump, "rzk vs ZooKeeper from the export");
    back.kill();

    eprintln!("=== an ensemble's zxids (epoch 5): the log starts far above index 1");
    // A standalone ZooKeeper's zxids have epoch 0; an ensemble's carry the
    // epoch in the high 32 bits, so rzk's first log index is in the billions.
    let epoch_dir = export_dir.join("epoch5");
    std::fs::create_dir_all(&epoch_dir).expect("dir");
    let high_zxid: i64 = 5 << 32;
    let high = epoch_dir.join(format!("snapshot.{high_zxid:x}"));
    std::fs::copy(&snapshot, &high).expect("copy");
    let mut third = Rzk::prepare(&rzk_bin(), free_port(), &[], None).expect("prepare rzk");
    let out = rzk(&[
        os("import"),
        os("--dump"),
        high.as_os_str(),
        os("--data-dir"),
        third.data_dir().as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    third.spawn().expect("spawn");
    third.wait_serving(Duration::from_secs(30)).expect("serves");
    let czxid: i64 = python(&py, &["write", &third.addr(), "/in-epoch-5"])
        .trim()
        .parse()
        .expect("czxid");
    assert!(czxid > high_zxid, "{czxid:#x} after {high_zxid:#x}");
    let before = python(&py, &["dump", &third.addr()]);
    third.restart().expect("restart");
    let czxid_2: i64 = python(&py, &["write", &third.addr(), "/in-epoch-5-again"])
        .trim()
        .parse()
        .expect("czxid");
    assert!(czxid_2 > czxid, "{czxid_2:#x} after {czxid:#x}");
    let after = python(&py, &["dump", &third.addr()]);
    assert!(after.contains("\"/in-epoch-5\""), "{after}");
    assert!(before.lines().count() + 1 == after.lines().count());
}

/// The largest zxid any Stat in a dump shows.
fn max_zxid(dump: &str) -> i64 {
    dump.lines()
        .flat_map(|l| {
            ["czxid", "mzxid", "pzxid"].map(|f| {
                l.split(&format!("\"{f}\": "))
                    .nth(1)
                    .and_then(|r| r.split([',', '}']).next())
                    .and_then(|n| n.trim().parse::<i64>().ok())
                    .unwrap_or(0)
            })
        })
        .max()
        .unwrap_or(0)
}
