//! Four-letter words on the client port, compared line by line with the
//! formats of Apache ZooKeeper 3.8.0 (captured from the real server).

mod common;

use common::{four_letter, req, Client};
use rzk_proto::{CreateMode, OpCode};

#[tokio::test]
async fn whitelist_default_is_srvr_only_with_zookeepers_refusal() {
    let server = common::start(|c| c.four_letter_words = vec!["srvr".to_string()]).await;
    assert_eq!(
        four_letter(server.addr, "ruok").await,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    assert!(four_letter(server.addr, "srvr")
        .await
        .starts_with("Zookeeper version: 3.8.0-rzk-"));
    server.stop().await;
}

#[tokio::test]
async fn simple_words() {
    let server = common::start(|_| {}).await;
    assert_eq!(four_letter(server.addr, "ruok").await, "imok");
    assert_eq!(four_letter(server.addr, "isro").await, "rw");
    assert_eq!(four_letter(server.addr, "gtmk").await, "306");
    assert_eq!(
        four_letter(server.addr, "srst").await,
        "Server stats reset.\n"
    );
    assert_eq!(
        four_letter(server.addr, "crst").await,
        "Connection stats reset.\n"
    );
    let dirs = four_letter(server.addr, "dirs").await;
    assert!(dirs.starts_with("datadir_size: ") && dirs.contains("\nlogdir_size: "));
    let envi = four_letter(server.addr, "envi").await;
    assert!(envi.starts_with("Environment:\nzookeeper.version=3.8.0-rzk-"));
    server.stop().await;
}

#[tokio::test]
async fn srvr_stat_cons_shapes() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    c.call(
        OpCode::Create,
        req::create("/a", b"", CreateMode::Persistent),
    )
    .await;
    let srvr = four_letter(server.addr, "srvr").await;
    let lines: Vec<&str> = srvr.lines().collect();
    assert_eq!(lines.len(), 9, "{srvr}");
    assert!(lines[1].starts_with("Latency min/avg/max: "));
    assert!(lines[2].starts_with("Received: "));
    assert!(lines[3].starts_with("Sent: "));
    assert_eq!(lines[4], "Connections: 2");
    assert_eq!(lines[5], "Outstanding: 0");
    assert!(lines[6].starts_with("Zxid: 0x"));
    assert_eq!(lines[7], "Mode: standalone");
    assert!(lines[8].starts_with("Node count: "));
    let stat = four_letter(server.addr, "stat").await;
    assert!(stat.contains("\nClients:\n /127.0.0.1:"), "{stat}");
    let cons = four_letter(server.addr, "cons").await;
    let sid = format!(",sid=0x{:x},lop=CREA,", c.session_id);
    assert!(cons.contains(&sid), "{cons}");
    assert!(cons.ends_with(")\n\n"), "{cons}");
    server.stop().await;
}

#[tokio::test]
async fn watch_words() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    c.call(
        OpCode::Create,
        req::create("/a", b"", CreateMode::Persistent),
    )
    .await;
    c.call(OpCode::GetData, req::get_data("/a", true)).await;
    c.call(OpCode::Exists, req::exists("/b", true)).await;
    c.call(OpCode::GetChildren, req::children("/a", true)).await;
    assert_eq!(
        four_letter(server.addr, "wchs").await,
        "1 connections watching 2 paths\nTotal watches:2\n"
    );
    let sid = format!("0x{:x}", c.session_id);
    assert_eq!(
        four_letter(server.addr, "wchc").await,
        format!("{sid}\n\t/a\n\t/b\n\n")
    );
    assert_eq!(
        four_letter(server.addr, "wchp").await,
        format!("/a\n\t{sid}\n/b\n\t{sid}\n\n")
    );
    let mntr = four_letter(server.addr, "mntr").await;
    assert!(mntr.contains("zk_server_state\tstandalone\n"), "{mntr}");
    assert!(mntr.contains("zk_watch_count\t3\n"), "{mntr}");
    server.stop().await;
}

#[tokio::test]
async fn dump_and_conf() {
    let server = common::start(|_| {}).await;
    let mut c = Client::connect(server.addr).await;
    c.call(
        OpCode::Create,
        req::create("/e", b"", CreateMode::Ephemeral),
    )
    .await;
    let dump = four_letter(server.addr, "dump").await;
    let sid = format!("0x{:x}", c.session_id);
    assert!(dump.starts_with("SessionTracker dump:\nSession Sets (1)/(1):\n1 expire at "));
    assert!(dump.contains(&format!(
        "ephemeral nodes dump:\nSessions with Ephemerals (1):\n{sid}:\n\t/e\nConnections dump:\nConnections Sets ("
    )));
    assert!(dump.contains(&format!("sessionId: {sid}\n")));
    let conf = four_letter(server.addr, "conf").await;
    let keys: Vec<&str> = conf.lines().filter_map(|l| l.split('=').next()).collect();
    assert_eq!(
        keys,
        vec![
            "clientPort",
            "secureClientPort",
            "dataDir",
            "dataDirSize",
            "dataLogDir",
            "dataLogSize",
            "tickTime",
            "maxClientCnxns",
            "minSessionTimeout",
            "maxSessionTimeout",
            "clientPortListenBacklog",
            "serverId"
        ]
    );
    assert!(conf.starts_with(&format!("clientPort={}\n", server.addr.port())));
    server.stop().await;
}
