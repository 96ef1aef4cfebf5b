//! The oracle harness itself: Apache ZooKeeper (Debian package) must start,
//! answer four-letter words, honour extra config lines, and be cleaned up.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use rzk_testkit::{four_letter, ApacheZk, Server};

#[test]
fn apache_zk_starts_and_answers_four_letter_words() {
    let t0 = Instant::now();
    let zk = ApacheZk::start().expect("start Apache ZooKeeper");
    eprintln!(
        "Apache ZooKeeper ready on {} after {:?}",
        zk.addr(),
        t0.elapsed()
    );

    assert_eq!(zk.addr(), format!("127.0.0.1:{}", zk.port()));
    assert_eq!(Server::addr(&zk), zk.addr());
    assert_eq!(Server::port(&zk), zk.port());

    assert_eq!(zk.four_letter("ruok").unwrap(), "imok");
    let srvr = four_letter(&zk.addr(), "srvr").unwrap();
    assert!(srvr.contains("Zookeeper version: 3.8"), "srvr: {srvr}");
    assert!(srvr.contains("Mode: standalone"), "srvr: {srvr}");

    let log = std::fs::read_to_string(zk.log_path()).unwrap();
    assert!(
        log.contains("binding to port"),
        "server log should be readable:\n{log}"
    );
}

#[test]
fn apache_zk_extra_config_lines_and_cleanup() {
    let zk = ApacheZk::start_with(&["maxClientCnxns=7", "minSessionTimeout=5000"]).expect("start");
    let conf = zk.four_letter("conf").unwrap();
    assert!(conf.contains("maxClientCnxns=7"), "conf: {conf}");
    assert!(conf.contains("minSessionTimeout=5000"), "conf: {conf}");
    assert!(
        conf.contains(&format!("clientPort={}", zk.port())),
        "conf: {conf}"
    );
    let cfg = std::fs::read_to_string(zk.config_path()).unwrap();
    assert!(cfg.contains("4lw.commands.whitelist=*"), "{cfg}");
    assert!(zk.data_dir().is_dir());

    let addr = zk.addr();
    let dir = zk.config_path().parent().unwrap().to_path_buf();
    drop(zk);
    assert!(
        !dir.exists(),
        "temp dir {} should be removed",
        dir.display()
    );
    // the process is gone: nothing listens on the port any more
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepting after drop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_apache_zk_instances_side_by_side() {
    let a = ApacheZk::start().expect("start a");
    let b = ApacheZk::start().expect("start b");
    assert_ne!(a.port(), b.port());
    assert_eq!(a.four_letter("ruok").unwrap(), "imok");
    assert_eq!(b.four_letter("ruok").unwrap(), "imok");
}

#[test]
fn python_with_kazoo_is_found() {
    let py = rzk_testkit::python_with_kazoo()
        .expect("an interpreter with kazoo (apt-get install python3-kazoo)");
    eprintln!("kazoo interpreter: {py}");
}
