//! A test server on a kernel-chosen port and a raw client that speaks the wire
//! protocol frame by frame with rzk-proto, so tests see exactly what a client
//! receives and in which order.

#![allow(dead_code)]

pub mod http;

use rzk_proto::frame::{frame, parse_frame_len, DEFAULT_MAX_FRAME_BYTES};
use rzk_proto::records::{ConnectRequest, ConnectResponse, ReplyHeader, WatcherEvent};
use rzk_proto::{Decode, Encode, OpCode, Reader, Request, RequestFrame, Response};
use rzk_server::{Server, ServerConfig};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    /// The admin server's address, when the test turned it on.
    pub admin_addr: Option<SocketAddr>,
    /// Prometheus' `/metrics` address, when the test turned it on.
    pub metrics_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The data directory, removed on drop.
    dir: std::path::PathBuf,
}

impl TestServer {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(WAIT, task).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// Starts a server on 127.0.0.1, port 0, every 4lw enabled, after `tweak`.
pub async fn start(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let dir = std::env::temp_dir().join(format!(
        "rzk-server-test-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    // A directory left by an earlier process with the same pid would be
    // restored as this server's tree.
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = ServerConfig {
        client_port: 0,
        client_port_address: Some("127.0.0.1".parse().expect("ip")),
        data_dir: dir.clone(),
        data_log_dir: dir.clone(),
        four_letter_words: rzk_server::config::FOUR_LETTER_WORDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        // Tests that want the admin server pick a free port; the rest must
        // not race each other (or anything else) for 8080.
        admin: rzk_server::config::AdminConfig {
            enable_server: false,
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    tweak(&mut config);
    let server = Server::bind(config).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    let admin_addr = server.admin_addr();
    let metrics_addr = server.metrics_addr();
    let shared = server.shared().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    // Over raft, sessions are accepted once the replica has elected itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !shared.is_serving() {
        assert!(
            std::time::Instant::now() < deadline,
            "server not serving after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    TestServer {
        addr,
        admin_addr,
        metrics_addr,
        stop: Some(stop),
        task: Some(task),
        dir,
    }
}

/// What arrives on a client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Reply { header: ReplyHeader, body: Vec<u8> },
    Event(WatcherEvent),
}

impl Incoming {
    pub fn reply(self) -> (ReplyHeader, Vec<u8>) {
        match self {
            Incoming::Reply { header, body } => (header, body),
            other => panic!("expected a reply, got {other:?}"),
        }
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    next_xid: i32,
    pub session_id: i64,
    pub password: Vec<u8>,
    pub timeout_ms: i32,
}

pub fn connect_request(session_id: i64, password: Vec<u8>, timeout_ms: i32) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms,
        session_id,
        password,
        read_only: Some(false),
    }
}

impl Client {
    pub async fn raw(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Client {
            stream,
            buf: Vec::new(),
            next_xid: 1,
            session_id: 0,
            password: Vec::new(),
            timeout_ms: 0,
        }
    }

    /// A new session with a 30 s timeout.
    pub async fn connect(addr: SocketAddr) -> Client {
        let (client, resp) = Client::handshake(addr, connect_request(0, vec![0; 16], 30_000)).await;
        assert_ne!(resp.session_id, 0, "a new session gets an id");
        client
    }

    pub async fn handshake(addr: SocketAddr, req: ConnectRequest) -> (Client, ConnectResponse) {
        let mut client = Client::raw(addr).await;
        let mut body = Vec::new();
        req.encode(&mut body);
        client.send_bytes(&frame(&body)).await;
        let resp_body = client.read_frame().await.expect("connect response");
        let resp =
            ConnectResponse::decode(&mut Reader::new(&resp_body)).expect("decodable response");
        client.session_id = resp.session_id;
        client.password = resp.password.clone();
        client.timeout_ms = resp.timeout_ms;
        (client, resp)
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends a request without waiting; returns its xid.
    pub async fn send(&mut self, op: OpCode, request: Request) -> i32 {
        let xid = match op {
            OpCode::Ping => -2,
            OpCode::Auth => -4,
            OpCode::SetWatches | OpCode::SetWatches2 => -8,
            _ => {
                let x = self.next_xid;
                self.next_xid += 1;
                x
            }
        };
        let mut body = Vec::new();
        RequestFrame { xid, op, request }.encode(&mut body);
        self.send_bytes(&frame(&body)).await;
        xid
    }

    /// The next frame body, or `None` when the server closed the connection.
    pub async fn read_frame(&mut self) -> Option<Vec<u8>> {
        let read = async {
            loop {
                if let Ok(Some(len)) = parse_frame_len(&self.buf, DEFAULT_MAX_FRAME_BYTES) {
                    let body = self.buf[4..4 + len].to_vec();
                    self.buf.drain(..4 + len);
                    return Some(body);
                }
                let mut chunk = [0u8; 8192];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("server answered in time")
    }

    pub async fn next(&mut self) -> Option<Incoming> {
        let body = self.read_frame().await?;
        let mut r = Reader::new(&body);
        let header = ReplyHeader::decode(&mut r).expect("reply header");
        if header.xid == -1 {
            let event = WatcherEvent::decode(&mut r).expect("event");
            return Some(Incoming::Event(event));
        }
        Some(Incoming::Reply {
            header,
            body: body[16..].to_vec(),
        })
    }

    /// Sends and waits for the reply; panics if an event comes first.
    pub async fn call(&mut self, op: OpCode, request: Request) -> (ReplyHeader, Response) {
        let xid = self.send(op, request).await;
        let (header, body) = self.next().await.expect("reply").reply();
        assert_eq!(header.xid, xid, "replies in order");
        let resp = if header.err == 0 {
            Response::decode(op, &body).expect("decodable body")
        } else {
            Response::Empty
        };
        (header, resp)
    }

    /// Asserts the server closes the connection with nothing more to say.
    pub async fn expect_closed(&mut self) {
        if let Some(frame) = self.next().await {
            panic!("expected the connection to close, got {frame:?}");
        }
    }
}

pub async fn four_letter(addr: SocketAddr, word: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(word.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("4lw in time")
        .expect("read");
    String::from_utf8(out).expect("utf8")
}

pub mod req {
    //! Request builders.
    use rzk_proto::records::*;
    use rzk_proto::request::CreateOp;
    use rzk_proto::{Acl, CreateMode, Request};

    pub fn create(path: &str, data: &[u8], mode: CreateMode) -> Request {
        Request::Create(CreateOp {
            path: path.to_string(),
            data: data.to_vec(),
            acl: Acl::open_unsafe(),
            flags: mode.code(),
            ttl: 0,
        })
    }

    pub fn get_data(path: &str, watch: bool) -> Request {
        Request::GetData(GetDataRequest {
            path: path.to_string(),
            watch,
        })
    }

    pub fn exists(path: &str, watch: bool) -> Request {
        Request::Exists(ExistsRequest {
            path: path.to_string(),
            watch,
        })
    }

    pub fn children(path: &str, watch: bool) -> Request {
        Request::GetChildren(GetChildrenRequest {
            path: path.to_string(),
            watch,
        })
    }

    pub fn set_data(path: &str, data: &[u8]) -> Request {
        Request::SetData(SetDataRequest {
            path: path.to_string(),
            data: data.to_vec(),
            version: -1,
        })
    }

    pub fn delete(path: &str) -> Request {
        Request::Delete(DeleteRequest {
            path: path.to_string(),
            version: -1,
        })
    }
}
