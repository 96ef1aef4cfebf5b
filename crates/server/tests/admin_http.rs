//! The admin HTTP server, asked over a real socket by a plain HTTP/1.1
//! client (std::net): every command's JSON, checked against what the
//! server really holds (znodes, ephemerals, watches, connections), the
//! command list, `/ready`, unknown commands and bad requests.
//!
//! Method: an in-process server with the admin port on a kernel-chosen
//! port (so tests never race for 8080), a raw protocol client to create
//! state, then GETs whose JSON is parsed with serde_json.

mod common;

use common::http::{exchange, get};
use common::{req, Client};
use rzk_proto::{CreateMode, OpCode};
use serde_json::Value;
use std::net::SocketAddr;

/// GETs a command and parses its JSON; checks the fields every answer has.
fn command(addr: SocketAddr, name: &str) -> Value {
    let reply = get(addr, &format!("/commands/{name}"));
    assert_eq!(reply.status, 200, "{name}: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let json: Value = serde_json::from_str(&reply.body).expect("JSON");
    assert!(json.get("command").is_some_and(Value::is_string), "{json}");
    assert!(json.get("error").is_some(), "{json}");
    json
}

fn int(json: &Value, key: &str) -> i64 {
    json.get(key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{key} is not an integer in {json}"))
}

async fn start_with_admin() -> common::TestServer {
    common::start(|c| {
        c.admin.enable_server = true;
        c.admin.server_address = "127.0.0.1".to_string();
        c.admin.server_port = 0;
    })
    .await
}

/// Runs blocking HTTP calls off the runtime that serves them.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_json_with_real_values() {
    let server = start_with_admin().await;
    let admin = server.admin_addr.expect("admin server running");

    let before = blocking(move || command(admin, "mntr")).await;
    assert_eq!(before["command"], "monitor");
    assert_eq!(before["error"], Value::Null);
    assert_eq!(before["server_state"], "standalone");
    let znodes_before = int(&before, "znode_count");
    assert_eq!(znodes_before, 5, "a fresh server reports ZooKeeper's 5");

    // State to report: N znodes, one ephemeral, two watches, one session.
    const CREATED: i64 = 7;
    let mut client = Client::connect(server.addr).await;
    for i in 0..CREATED - 1 {
        let path = format!("/n{i}");
        client
            .call(
                OpCode::Create,
                req::create(&path, b"data", CreateMode::Persistent),
            )
            .await;
    }
    client
        .call(
            OpCode::Create,
            req::create("/eph", b"", CreateMode::Ephemeral),
        )
        .await;
    client
        .call(OpCode::GetData, req::get_data("/n0", true))
        .await;
    client.call(OpCode::Exists, req::exists("/eph", true)).await;

    let checks = blocking(move || {
        let mntr = command(admin, "monitor");
        assert_eq!(int(&mntr, "znode_count"), znodes_before + CREATED);
        assert_eq!(int(&mntr, "ephemerals_count"), 1);
        assert_eq!(int(&mntr, "watch_count"), 2);
        assert_eq!(int(&mntr, "num_alive_connections"), 1);
        assert_eq!(int(&mntr, "global_sessions"), 1);
        assert!(mntr["avg_latency"].is_f64(), "{mntr}");
        assert!(mntr["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.8.0-rzk-")));

        let srvr = command(admin, "srvr");
        assert_eq!(srvr["command"], "server_stats");
        assert_eq!(srvr["read_only"], false);
        assert_eq!(int(&srvr, "node_count"), znodes_before + CREATED);
        let stats = &srvr["server_stats"];
        assert_eq!(stats["server_state"], "standalone");
        assert_eq!(int(stats, "num_alive_client_connections"), 1);
        assert!(int(stats, "packets_received") >= CREATED + 2);
        assert!(int(stats, "last_processed_zxid") >= CREATED);
        assert_eq!(int(&stats["client_response_stats"], "last_buffer_size"), -1);

        let stat = command(admin, "stat");
        assert_eq!(stat["command"], "stats");
        assert_eq!(stat["connections"].as_array().map(Vec::len), Some(1));
        assert!(stat["connections"][0].get("session_id").is_none(), "brief");

        let cons = command(admin, "cons");
        assert_eq!(cons["command"], "connections");
        let conn = &cons["connections"][0];
        assert!(conn["remote_socket_address"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")));
        assert_eq!(int(conn, "interest_ops"), 1);
        assert_eq!(conn["last_operation"], "EXIS");
        // Xids count from 1: CREATED creates, a getData and an exists.
        assert_eq!(int(conn, "last_cxid"), CREATED + 2);
        let session = int(conn, "session_id");
        assert_ne!(session, 0);

        let dump = command(admin, "dump");
        let ephemerals = &dump["session_id_to_ephemeral_paths"][session.to_string()];
        assert_eq!(ephemerals, &serde_json::json!(["/eph"]), "{dump}");
        let expiry = dump["expiry_time_to_session_ids"]
            .as_object()
            .expect("expiry map");
        assert_eq!(expiry.len(), 1, "{dump}");
        assert!(expiry
            .values()
            .all(|ids| ids == &serde_json::json!([session])));

        let wchs = command(admin, "wchs");
        assert_eq!(wchs["command"], "watch_summary");
        assert_eq!(int(&wchs, "num_connections"), 1);
        assert_eq!(int(&wchs, "num_paths"), 2);
        assert_eq!(int(&wchs, "num_total_watches"), 2);
        let wchc = command(admin, "wchc");
        assert_eq!(
            wchc["session_id_to_watched_paths"][session.to_string()],
            serde_json::json!(["/eph", "/n0"])
        );
        let wchp = command(admin, "wchp");
        assert_eq!(
            wchp["path_to_session_ids"]["/n0"],
            serde_json::json!([session])
        );

        let conf = command(admin, "conf");
        assert_eq!(conf["command"], "configuration");
        assert_eq!(int(&conf, "tick_time"), 2000);
        assert_eq!(int(&conf, "max_client_cnxns"), 60);
        assert!(int(&conf, "client_port") > 0);

        let envi = command(admin, "envi");
        assert_eq!(envi["command"], "environment");
        assert_eq!(envi["os.name"], "Linux");

        let isro = command(admin, "isro");
        assert_eq!(
            (isro["command"].clone(), isro["read_only"].clone()),
            ("is_read_only".into(), false.into())
        );
        let dirs = command(admin, "dirs");
        assert!(int(&dirs, "datadir_size") > 0, "the WAL is on disk: {dirs}");
        let lead = command(admin, "lead");
        assert_eq!(lead["error"], "server is not initialized");
        let lsnp = command(admin, "lsnp");
        assert_eq!(lsnp["command"], "last_snapshot");
        assert!(lsnp["zxid"].is_string() && lsnp["timestamp"].is_i64());
        let view = command(admin, "voting_view");
        assert_eq!(view["current_config"], serde_json::json!({}));
        assert_eq!(command(admin, "ruok")["error"], Value::Null);
        assert_eq!(int(&command(admin, "gtmk"), "tracemask"), 306);
        int(&cons["connections"][0], "packets_sent")
    })
    .await;
    assert!(checks > 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_ready_unknown_and_bad_requests() {
    let server = start_with_admin().await;
    let admin = server.admin_addr.expect("admin server running");
    blocking(move || {
        let list = get(admin, "/commands");
        assert_eq!(list.status, 200);
        for name in ["monitor", "server_stats", "watches_by_path", "voting_view"] {
            let link = format!("<a href=\"/commands/{name}\">{name}</a>\n<br/>\n");
            assert!(list.body.contains(&link), "{}", list.body);
        }
        assert_eq!(get(admin, "/commands/").body, list.body);

        let ready = get(admin, "/ready");
        assert_eq!(ready.status, 200, "{}", ready.body);
        let ready: Value = serde_json::from_str(&ready.body).expect("JSON");
        assert_eq!(ready["ready"], true);

        // ZooKeeper 3.8: an unknown command is a 200 with an error field.
        let unknown = command(admin, "nosuch");
        assert_eq!(unknown["command"], "nosuch");
        assert_eq!(unknown["error"], "Unknown command: nosuch");
        assert_eq!(command(admin, "SRVR")["error"], "Unknown command: SRVR");
        assert_eq!(command(admin, "ruok?x=1")["command"], "ruok");
        // rzk's own log_level: embedded, there is no rzk subscriber to change.
        for target in ["log_level", "log_level?level=debug"] {
            let answer = command(admin, target);
            assert_eq!(answer["command"], "log_level", "{answer}");
            assert_eq!(answer["level"], Value::Null, "{answer}");
            assert!(
                answer["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not installed")),
                "{answer}"
            );
        }

        assert_eq!(get(admin, "/").status, 404);
        assert_eq!(get(admin, "/commandsx").status, 404);
        assert_eq!(get(admin, "/metrics").status, 404);
        let post = exchange(admin, b"POST /commands/ruok HTTP/1.1\r\n\r\n");
        assert_eq!(post.status, 405);
        assert_eq!(exchange(admin, b"NONSENSE\r\n\r\n").status, 400);
        let huge = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000));
        assert_eq!(exchange(admin, huge.as_bytes()).status, 431);
        let head = exchange(admin, b"HEAD /commands/ruok HTTP/1.1\r\n\r\n");
        assert_eq!(head.status, 200);
    })
    .await;
    // Still answering after the bad requests.
    blocking(move || assert_eq!(command(admin, "ruok")["error"], Value::Null)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_admin_port_fails_a_standalone_start_as_zookeeper() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = std::env::temp_dir().join(format!("rzk-admin-busy-{}", std::process::id()));
    let config = rzk_server::ServerConfig {
        client_port: 0,
        client_port_address: Some("127.0.0.1".parse().expect("ip")),
        data_dir: dir.clone(),
        data_log_dir: dir.clone(),
        admin: rzk_server::config::AdminConfig {
            enable_server: true,
            server_address: "127.0.0.1".to_string(),
            server_port: port,
            command_url: "/commands".to_string(),
        },
        ..rzk_server::ServerConfig::default()
    };
    let err = rzk_server::Server::bind(config)
        .await
        .err()
        .expect("a standalone server does not start without its admin port");
    assert!(
        err.to_string().contains("Unable to start AdminServer"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
