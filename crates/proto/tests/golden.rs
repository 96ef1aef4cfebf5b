//! Golden bytes made by Apache ZooKeeper 3.8.0's own jute classes
//! (`golden/GenGolden.java`, output in `golden/zookeeper-3.8.0.txt`).
//!
//! A round trip cannot see a mistake made the same way in encode and decode (two
//! fields swapped, an int where Java writes a long); these can. Each golden value
//! is both encoded (must equal Java's bytes) and decoded (must equal the value).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use rzk_proto::records::*;
use rzk_proto::request::{CreateOp, MultiOp, ReadOp};
use rzk_proto::response::encode_notification;
use rzk_proto::{
    Acl, Decode, Encode, ErrorCode, Id, MultiReadResult, MultiResult, OpCode, Request,
    RequestFrame, Response, Stat,
};

const GOLDEN: &str = include_str!("golden/zookeeper-3.8.0.txt");

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn golden_table() -> BTreeMap<String, Vec<u8>> {
    GOLDEN
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("`name hex` line");
            (name.to_string(), unhex(hex.trim()))
        })
        .collect()
}

/// Checks golden values and remembers which names were checked.
struct Golden {
    table: BTreeMap<String, Vec<u8>>,
    checked: Vec<String>,
}

impl Golden {
    fn bytes(&mut self, name: &str) -> Vec<u8> {
        self.checked.push(name.to_string());
        self.table
            .get(name)
            .unwrap_or_else(|| panic!("no golden {name}"))
            .clone()
    }

    fn record<T: Encode + Decode + PartialEq + std::fmt::Debug>(&mut self, name: &str, v: T) {
        let want = self.bytes(name);
        assert_eq!(hex(&v.to_bytes()), hex(&want), "{name}: encode");
        assert_eq!(T::decode_all(&want).expect(name), v, "{name}: decode");
    }

    fn request(&mut self, name: &str, xid: i32, op: OpCode, request: Request) {
        let frame = RequestFrame { xid, op, request };
        let want = self.bytes(name);
        let mut got = Vec::new();
        frame.encode(&mut got);
        assert_eq!(hex(&got), hex(&want), "{name}: encode");
        assert_eq!(
            RequestFrame::decode(&want).expect(name),
            frame,
            "{name}: decode"
        );
    }

    fn response(&mut self, name: &str, ops: &[OpCode], resp: Response) {
        let want = self.bytes(name);
        let mut got = Vec::new();
        resp.encode(&mut got);
        assert_eq!(hex(&got), hex(&want), "{name}: encode");
        for &op in ops {
            assert_eq!(
                Response::decode(op, &want).expect(name),
                resp,
                "{name}: decode as {op:?}"
            );
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn stat() -> Stat {
    Stat {
        czxid: 0x0101010101010101,
        mzxid: 0x0202020202020202,
        ctime: 1700000000123,
        mtime: 1700000000456,
        version: 5,
        cversion: 6,
        aversion: 7,
        ephemeral_owner: 0x0808080808080808,
        data_length: 9,
        num_children: 10,
        pzxid: 0x0b0b0b0b0b0b0b0b,
    }
}

fn acls() -> Vec<Acl> {
    vec![
        Acl::new(31, Id::anyone()),
        Acl::new(1 | 16, Id::new("digest", "u:h")),
    ]
}

fn passwd() -> Vec<u8> {
    (0..16).collect()
}

fn s(v: &str) -> String {
    v.to_string()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn create(path: &str, data: &[u8], acl: Vec<Acl>, flags: i32, ttl: i64) -> CreateOp {
    CreateOp {
        path: s(path),
        data: data.to_vec(),
        acl,
        flags,
        ttl,
    }
}

#[test]
fn golden_bytes_match_apache_zookeeper() {
    let mut g = Golden {
        table: golden_table(),
        checked: Vec::new(),
    };

    g.record("stat", stat());
    g.record("id", Id::new("digest", "user:hash="));
    g.record("acl", Acl::new(31, Id::anyone()));

    g.record(
        "connect_request_v0",
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0x1122334455667788,
            timeout_ms: 30000,
            session_id: 0,
            password: passwd(),
            read_only: None,
        },
    );
    g.record(
        "connect_request_ro",
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0x1122334455667788,
            timeout_ms: 30000,
            session_id: 0x0123456789abcdef,
            password: passwd(),
            read_only: Some(true),
        },
    );
    g.record(
        "connect_response_v0",
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 0x0123456789abcdef,
            password: passwd(),
            read_only: None,
        },
    );
    g.record(
        "connect_response_ro",
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 0x0123456789abcdef,
            password: passwd(),
            read_only: Some(false),
        },
    );

    g.record("request_header", RequestHeader { xid: 7, op: 1 });
    g.record(
        "reply_header",
        ReplyHeader {
            xid: 7,
            zxid: 0x100000002,
            err: ErrorCode::NoNode.code(),
        },
    );
    g.record(
        "watcher_event",
        WatcherEvent {
            event_type: 4,
            state: 3,
            path: s("/a/b"),
        },
    );
    {
        let want = g.bytes("notification");
        let mut framed = Vec::new();
        encode_notification(
            &mut framed,
            &WatcherEvent {
                event_type: 1,
                state: 3,
                path: s("/n"),
            },
        );
        assert_eq!(hex(&framed[4..]), hex(&want), "notification");
        assert_eq!(framed[..4], (want.len() as i32).to_be_bytes());
    }

    g.request(
        "create_request",
        7,
        OpCode::Create,
        Request::Create(create("/a", b"hi", acls(), 3, 0)),
    );
    g.request(
        "create_ttl_request",
        8,
        OpCode::CreateTtl,
        Request::Create(create("/t", b"x", acls(), 5, 60000)),
    );
    g.record(
        "create_response",
        CreateResponse {
            path: s("/a0000000001"),
        },
    );
    g.response(
        "create_response",
        &[OpCode::Create],
        Response::Create {
            path: s("/a0000000001"),
        },
    );
    g.record(
        "create2_response",
        Create2Response {
            path: s("/a0000000001"),
            stat: stat(),
        },
    );
    g.response(
        "create2_response",
        &[OpCode::Create2, OpCode::CreateTtl, OpCode::CreateContainer],
        Response::Create2 {
            path: s("/a0000000001"),
            stat: stat(),
        },
    );
    g.request(
        "delete_request",
        9,
        OpCode::Delete,
        Request::Delete(DeleteRequest {
            path: s("/d"),
            version: -1,
        }),
    );
    g.request(
        "exists_request",
        10,
        OpCode::Exists,
        Request::Exists(ExistsRequest {
            path: s("/e"),
            watch: true,
        }),
    );
    g.record("exists_response", ExistsResponse { stat: stat() });
    g.response(
        "exists_response",
        &[OpCode::Exists, OpCode::SetData, OpCode::SetAcl],
        Response::Stat(stat()),
    );
    g.request(
        "get_data_request",
        11,
        OpCode::GetData,
        Request::GetData(GetDataRequest {
            path: s("/g"),
            watch: true,
        }),
    );
    g.record(
        "get_data_response",
        GetDataResponse {
            data: b"data".to_vec(),
            stat: stat(),
        },
    );
    g.response(
        "get_data_response",
        &[OpCode::GetData, OpCode::Reconfig],
        Response::Data {
            data: b"data".to_vec(),
            stat: stat(),
        },
    );
    g.request(
        "set_data_request",
        12,
        OpCode::SetData,
        Request::SetData(SetDataRequest {
            path: s("/s"),
            data: b"new".to_vec(),
            version: 3,
        }),
    );
    g.record("set_data_response", SetDataResponse { stat: stat() });
    g.request(
        "get_acl_request",
        13,
        OpCode::GetAcl,
        Request::GetAcl(GetAclRequest { path: s("/acl") }),
    );
    g.record(
        "get_acl_response",
        GetAclResponse {
            acl: acls(),
            stat: stat(),
        },
    );
    g.response(
        "get_acl_response",
        &[OpCode::GetAcl],
        Response::Acl {
            acl: acls(),
            stat: stat(),
        },
    );
    g.request(
        "set_acl_request",
        14,
        OpCode::SetAcl,
        Request::SetAcl(SetAclRequest {
            path: s("/acl"),
            acl: acls(),
            version: 2,
        }),
    );
    g.record("set_acl_response", SetAclResponse { stat: stat() });
    g.request(
        "get_children_request",
        15,
        OpCode::GetChildren,
        Request::GetChildren(GetChildrenRequest {
            path: s("/c"),
            watch: false,
        }),
    );
    g.request(
        "get_children2_request",
        16,
        OpCode::GetChildren2,
        Request::GetChildren(GetChildrenRequest {
            path: s("/c"),
            watch: true,
        }),
    );
    g.record(
        "get_children_response",
        GetChildrenResponse {
            children: strs(&["x", "yy"]),
        },
    );
    g.response(
        "get_children_response",
        &[OpCode::GetChildren],
        Response::Children(strs(&["x", "yy"])),
    );
    g.record(
        "get_children2_response",
        GetChildren2Response {
            children: strs(&["x", "yy"]),
            stat: stat(),
        },
    );
    g.response(
        "get_children2_response",
        &[OpCode::GetChildren2],
        Response::Children2 {
            children: strs(&["x", "yy"]),
            stat: stat(),
        },
    );
    g.request(
        "sync_request",
        17,
        OpCode::Sync,
        Request::Sync(SyncRequest { path: s("/") }),
    );
    g.record("sync_response", SyncResponse { path: s("/") });
    g.response(
        "sync_response",
        &[OpCode::Sync],
        Response::Sync { path: s("/") },
    );
    g.request(
        "check_request",
        18,
        OpCode::Check,
        Request::Check(CheckVersionRequest {
            path: s("/k"),
            version: 4,
        }),
    );
    g.request("ping_request", -2, OpCode::Ping, Request::Ping);
    g.request(
        "close_request",
        19,
        OpCode::CloseSession,
        Request::CloseSession,
    );
    g.request(
        "reconfig_request",
        20,
        OpCode::Reconfig,
        Request::Reconfig(ReconfigRequest {
            joining_servers: Some(s("server.4=h:1:2")),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
    );
    g.request(
        "check_watches_request",
        21,
        OpCode::CheckWatches,
        Request::CheckWatches(WatchesRequest {
            path: s("/w"),
            watcher_type: 1,
        }),
    );
    g.request(
        "remove_watches_request",
        22,
        OpCode::RemoveWatches,
        Request::RemoveWatches(WatchesRequest {
            path: s("/w"),
            watcher_type: 3,
        }),
    );
    g.request(
        "auth_request",
        -4,
        OpCode::Auth,
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: s("digest"),
            auth: b"user:pw".to_vec(),
        }),
    );
    g.request(
        "set_watches_request",
        -8,
        OpCode::SetWatches,
        Request::SetWatches(SetWatches2 {
            relative_zxid: 0x10,
            data_watches: strs(&["/d"]),
            exist_watches: strs(&["/e1", "/e2"]),
            child_watches: Vec::new(),
            persistent_watches: Vec::new(),
            persistent_recursive_watches: Vec::new(),
        }),
    );
    g.request(
        "set_watches2_request",
        -8,
        OpCode::SetWatches2,
        Request::SetWatches(SetWatches2 {
            relative_zxid: 0x10,
            data_watches: strs(&["/d"]),
            exist_watches: strs(&["/e"]),
            child_watches: strs(&["/c"]),
            persistent_watches: strs(&["/p"]),
            persistent_recursive_watches: strs(&["/r"]),
        }),
    );
    g.request(
        "sasl_request",
        23,
        OpCode::Sasl,
        Request::Sasl(SetSaslRequest {
            token: vec![1, 2, 3],
        }),
    );
    g.request(
        "get_ephemerals_request",
        24,
        OpCode::GetEphemerals,
        Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: s("/"),
        }),
    );
    g.record(
        "get_ephemerals_response",
        GetEphemeralsResponse {
            ephemerals: strs(&["/a", "/b/c"]),
        },
    );
    g.response(
        "get_ephemerals_response",
        &[OpCode::GetEphemerals],
        Response::Ephemerals(strs(&["/a", "/b/c"])),
    );
    g.request(
        "get_all_children_number_request",
        25,
        OpCode::GetAllChildrenNumber,
        Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: s("/") }),
    );
    g.record(
        "get_all_children_number_response",
        GetAllChildrenNumberResponse { total_number: 42 },
    );
    g.response(
        "get_all_children_number_response",
        &[OpCode::GetAllChildrenNumber],
        Response::AllChildrenNumber(42),
    );
    g.request(
        "add_watch_request",
        26,
        OpCode::AddWatch,
        Request::AddWatch(AddWatchRequest {
            path: s("/w"),
            mode: 1,
        }),
    );
    g.request("who_am_i_request", 27, OpCode::WhoAmI, Request::WhoAmI);
    let who = vec![
        ClientInfo {
            auth_scheme: s("ip"),
            user: s("127.0.0.1"),
        },
        ClientInfo {
            auth_scheme: s("digest"),
            user: s("user"),
        },
    ];
    g.record("who_am_i_response", WhoAmIResponse(who.clone()));
    g.response(
        "who_am_i_response",
        &[OpCode::WhoAmI],
        Response::WhoAmI(who),
    );
    g.record("error_response", ErrorResponse { err: -101 });
    g.record("multi_header", MultiHeader::END);

    let open = Acl::open_unsafe();
    g.request(
        "multi_request",
        28,
        OpCode::Multi,
        Request::Multi(vec![
            MultiOp::Create {
                op: OpCode::Create,
                create: create("/m1", b"a", open.clone(), 0, 0),
            },
            MultiOp::Create {
                op: OpCode::CreateContainer,
                create: create("/m2", b"b", open.clone(), 4, 0),
            },
            MultiOp::Create {
                op: OpCode::CreateTtl,
                create: create("/m3", b"c", open, 5, 5000),
            },
            MultiOp::Delete(DeleteRequest {
                path: s("/m4"),
                version: 2,
            }),
            MultiOp::SetData(SetDataRequest {
                path: s("/m5"),
                data: b"d".to_vec(),
                version: -1,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: s("/m6"),
                version: 7,
            }),
        ]),
    );
    g.request(
        "multi_read_request",
        29,
        OpCode::MultiRead,
        Request::MultiRead(vec![
            ReadOp::GetChildren(GetChildrenRequest {
                path: s("/r1"),
                watch: false,
            }),
            ReadOp::GetData(GetDataRequest {
                path: s("/r2"),
                watch: false,
            }),
        ]),
    );
    g.response(
        "multi_response",
        &[OpCode::Multi],
        Response::Multi(vec![
            MultiResult::Create { path: s("/m1") },
            MultiResult::Create2 {
                path: s("/m2"),
                stat: stat(),
            },
            MultiResult::Delete,
            MultiResult::SetData { stat: stat() },
            MultiResult::Check,
            MultiResult::Error(ErrorCode::NoNode),
        ]),
    );
    g.response(
        "multi_read_response",
        &[OpCode::MultiRead],
        Response::MultiRead(vec![
            MultiReadResult::Children(strs(&["a", "b"])),
            MultiReadResult::Data {
                data: b"v".to_vec(),
                stat: stat(),
            },
            MultiReadResult::Error(ErrorCode::NoNode),
        ]),
    );

    let unchecked: Vec<_> = g.table.keys().filter(|k| !g.checked.contains(k)).collect();
    assert!(
        unchecked.is_empty(),
        "golden entries not checked: {unchecked:?}"
    );
}

/// Re-runs the Java generator when Java and the Debian `zookeeper` jars are
/// installed, so the embedded bytes cannot drift from what ZooKeeper writes.
#[test]
fn embedded_golden_matches_java_output() {
    let jars = [
        "/usr/share/java/zookeeper.jar",
        "/usr/share/java/zookeeper-jute.jar",
    ];
    let have_java = Command::new("java").arg("-version").output().is_ok();
    if !have_java || !jars.iter().all(|j| Path::new(j).exists()) {
        eprintln!("skipping: java or the zookeeper jars are not installed");
        return;
    }
    let mut cp = jars.join(":");
    if Path::new("/usr/share/java/slf4j-nop.jar").exists() {
        cp.push_str(":/usr/share/java/slf4j-nop.jar");
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/GenGolden.java");
    let out = Command::new("java")
        .args(["-cp", &cp])
        .arg(src)
        .output()
        .expect("run java");
    assert!(
        out.status.success(),
        "GenGolden.java failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), GOLDEN);
}
