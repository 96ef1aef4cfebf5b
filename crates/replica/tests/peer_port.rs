//! The peer port under bad input: garbage, an absurd frame length, a Hello for
//! the wrong server or cluster, a Forward with garbage in it or in another
//! server's name. Each closes only that connection (a refusal says why), and
//! the replica keeps committing writes, forwarded ones included.
//!
//! Method: a single-server ensemble with its peer port on 127.0.0.1:0; raw
//! TCP clients send the bad bytes; a write is proposed after each.

mod common;

use std::time::Duration;

use common::{create, create_session, replica_config, TreeState};
use rzk_replica::network::wire::{
    self, Hello, HelloAck, PeerRequest, PeerResponse, PEER_MAGIC, PROTOCOL_VERSION,
};
use rzk_replica::{ForwardedTxn, MemLogStore, Origin, Replica, Timing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The replica and its (unused: snapCount 0) snapshot directory.
async fn single() -> (Replica, tempfile::TempDir) {
    let tree = TreeState::new();
    let timing = Timing {
        tick_time_ms: 100,
        init_limit_ticks: 10,
        sync_limit_ticks: 3,
        snap_count: 0,
    };
    let dir = tempfile::tempdir().unwrap();
    let config = replica_config(1, timing, true, dir.path());
    let replica = Replica::start(config, MemLogStore::new(), tree.clone(), tree, None)
        .await
        .unwrap();
    replica.initialize_single().await.unwrap();
    assert_eq!(replica.wait_for_leader(TIMEOUT).await, Some(1));
    (replica, dir)
}

async fn still_writes(replica: &Replica, path: &str) {
    let p = replica.proposer();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match p.propose(create(path, b"")).await {
            Ok(_) => return,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "write failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .expect("read");
    out
}

async fn hello_answer(replica: &Replica, hello: &Hello) -> HelloAck {
    let mut s = TcpStream::connect(replica.peer_addr().unwrap())
        .await
        .unwrap();
    wire::send(&mut s, hello).await.unwrap();
    wire::recv(&mut s, 1024).await.expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_are_closed_and_the_server_carries_on() {
    let (replica, _snapshot_dir) = single().await;
    let addr = replica.peer_addr().unwrap();
    let p = replica.proposer();
    let mut tries = 0;
    while p.propose(create_session()).await.is_err() {
        tries += 1;
        assert!(tries < 100);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // === garbage instead of a Hello
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"\x00\x00\x00\x05hello world, not postcard")
        .await
        .unwrap();
    read_to_close(&mut s).await;
    still_writes(&replica, "/a").await;

    // === a 4 GiB length prefix: refused before any allocation
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .await
        .unwrap();
    read_to_close(&mut s).await;
    still_writes(&replica, "/b").await;

    // === a Hello for another server id, cluster or protocol: refused with a reason
    let good = Hello {
        magic: PEER_MAGIC,
        version: PROTOCOL_VERSION,
        cluster_name: "rzk".into(),
        from: 2,
        to: 1,
    };
    let cases = [
        (
            Hello {
                to: 3,
                ..good.clone()
            },
            "server.N",
        ),
        (
            Hello {
                cluster_name: "other".into(),
                ..good.clone()
            },
            "cluster",
        ),
        (
            Hello {
                version: 99,
                ..good.clone()
            },
            "version",
        ),
        (
            Hello {
                magic: 1,
                ..good.clone()
            },
            "magic",
        ),
    ];
    for (hello, why) in cases {
        match hello_answer(&replica, &hello).await {
            HelloAck::Refused { reason } => assert!(reason.contains(why), "{reason}"),
            other => panic!("{hello:?} was answered {other:?}"),
        }
    }
    assert_eq!(
        hello_answer(&replica, &good).await,
        HelloAck::Accepted { node_id: 1 }
    );

    // === a good Hello, then an undecodable request
    let mut s = TcpStream::connect(addr).await.unwrap();
    wire::send(&mut s, &good).await.unwrap();
    let _: HelloAck = wire::recv(&mut s, 1024).await.unwrap();
    wire::write_frame(&mut s, &[0xee; 32]).await.unwrap();
    s.flush().await.unwrap();
    read_to_close(&mut s).await;
    still_writes(&replica, "/c").await;

    forwards_with_garbage_are_closed(&replica, &good).await;
    replica.shutdown().await;
}

/// A connection from "server 2" that said a good Hello.
async fn greeted(replica: &Replica, hello: &Hello) -> TcpStream {
    let mut s = TcpStream::connect(replica.peer_addr().unwrap())
        .await
        .unwrap();
    wire::send(&mut s, hello).await.unwrap();
    let ack: HelloAck = wire::recv(&mut s, 1024).await.unwrap();
    assert_eq!(ack, HelloAck::Accepted { node_id: 1 });
    s
}

/// postcard's unsigned varint.
fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn forward(from: u64, batch: u64, origin_node: u64, path: &str) -> PeerRequest {
    PeerRequest::Forward {
        from,
        incarnation: 7,
        batch,
        requests: vec![ForwardedTxn {
            origin: Origin {
                node_id: origin_node,
                incarnation: 7,
                seq: batch,
            },
            txn: create(path, b""),
        }],
    }
}

async fn forwards_with_garbage_are_closed(replica: &Replica, hello: &Hello) {
    let applied = || {
        let r = replica.raft().metrics();
        let last = openraft::async_runtime::WatchReceiver::borrow_watched(&r)
            .last_applied
            .map(|l| l.index);
        last
    };

    // === a well-formed Forward from server 2 is logged and answered
    let mut s = greeted(replica, hello).await;
    let before = applied();
    wire::send(&mut s, &forward(2, 1, 2, "/fwd")).await.unwrap();
    let answer: PeerResponse = wire::recv(&mut s, 1 << 20).await.unwrap();
    assert!(matches!(answer, PeerResponse::Forwarded), "{answer:?}");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while applied() <= before {
        assert!(tokio::time::Instant::now() < deadline, "forward applied");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A stale batch number (not newer than one taken) is refused, not logged.
    wire::send(&mut s, &forward(2, 1, 2, "/stale"))
        .await
        .unwrap();
    let answer: PeerResponse = wire::recv(&mut s, 1 << 20).await.unwrap();
    assert!(matches!(answer, PeerResponse::Failed(_)), "{answer:?}");

    // === a Forward whose txn bytes are garbage
    let mut s = greeted(replica, hello).await;
    let mut body = Vec::new();
    varint(5, &mut body); // PeerRequest::Forward
    varint(2, &mut body); // from
    varint(7, &mut body); // incarnation
    varint(9, &mut body); // batch
    varint(1, &mut body); // one request
    for n in [2, 7, 9] {
        varint(n, &mut body); // origin
    }
    varint(6, &mut body);
    body.extend_from_slice(b"\xffjunk!");
    wire::write_frame(&mut s, &body).await.unwrap();
    s.flush().await.unwrap();
    read_to_close(&mut s).await;
    still_writes(replica, "/d").await;

    // === a Forward in another server's name, or of proposals of another
    // server, or of nothing: closed
    let empty = PeerRequest::Forward {
        from: 2,
        incarnation: 7,
        batch: 10,
        requests: Vec::new(),
    };
    for bad in [forward(3, 11, 3, "/e"), forward(2, 12, 3, "/e"), empty] {
        let mut s = greeted(replica, hello).await;
        wire::send(&mut s, &bad).await.unwrap();
        let rest = read_to_close(&mut s).await;
        assert!(rest.is_empty(), "no answer to {bad:?}");
    }
    still_writes(replica, "/e").await;

    // === the server still takes forwards
    let mut s = greeted(replica, hello).await;
    wire::send(&mut s, &forward(2, 20, 2, "/fwd2"))
        .await
        .unwrap();
    let answer: PeerResponse = wire::recv(&mut s, 1 << 20).await.unwrap();
    assert!(matches!(answer, PeerResponse::Forwarded), "{answer:?}");
}
