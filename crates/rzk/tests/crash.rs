//! Crash test: a standalone `rzk server` killed with SIGKILL at random
//! moments under concurrent write load, restarted on the same data
//! directory each time.
//!
//! After every restart:
//! - every write the server acknowledged is present (nothing acknowledged is
//!   lost, whatever the moment of the kill);
//! - every znode present has exactly the data its writer sent (no torn or
//!   half-applied create);
//! - every `multi` (two creates) is all or nothing, acknowledged or not.
//!
//! Kills: `RZK_CRASH_KILLS` (default 30, the Ensemble issue's minimum in CI).
//! Seed: `RZK_CRASH_SEED` (default: the clock), printed so a run can be
//! repeated with the same kill timings.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rzk_client::{ConnectOptions, RawClient};
use rzk_proto::records::{GetChildrenRequest, GetDataRequest};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Acl, CreateMode, OpCode, Request, Response};
use rzk_testkit::{rzk_binary, Rzk};

const WRITERS: usize = 4;
/// Requests each writer keeps in flight (pipelined), so a kill lands while
/// many writes are between "sent" and "acknowledged".
const IN_FLIGHT_PER_WRITER: usize = 8;
/// Every this-many-th write is a two-create multi.
const MULTI_EVERY: u64 = 5;
const KILL_AFTER_MS_MIN: u64 = 30;
const KILL_AFTER_MS_MAX: u64 = 400;
const ROOT: &str = "/crash";

/// A small deterministic generator (xorshift64*): kill timings from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The data a writer puts in znode `name`: derived from the name, so a
/// reader can tell a torn value from a whole one.
fn data_for(name: &str) -> Vec<u8> {
    name.repeat(3).into_bytes()
}

fn create(path: &str) -> CreateOp {
    let name = path.rsplit('/').next().unwrap_or(path);
    CreateOp {
        path: path.to_string(),
        data: data_for(name),
        acl: Acl::open_unsafe(),
        flags: CreateMode::Persistent.code(),
        ttl: 0,
    }
}

/// What one writer learned before its server died.
#[derive(Default)]
struct Outcome {
    /// Names acknowledged with Ok.
    acked: Vec<String>,
    /// Multi pairs (a, b) that were sent, acknowledged or not.
    pairs: Vec<(String, String)>,
    /// Names sent (acknowledged or not).
    sent: Vec<String>,
}

/// Writes until the connection dies. `round` and `writer` make names unique.
fn write_until_killed(
    addr: &str,
    round: u32,
    writer: usize,
    out: &Mutex<Outcome>,
    started: &AtomicBool,
) {
    let opts = ConnectOptions {
        timeout_ms: 4000,
        ..ConnectOptions::default()
    };
    let Ok((mut client, _)) = RawClient::connect(addr, opts) else {
        return;
    };
    client.set_read_timeout(Duration::from_secs(20));
    let mut in_flight = std::collections::VecDeque::new();
    let mut seq: u64 = 0;
    // Bounded by the kill: every send or receive fails once the server dies.
    loop {
        while in_flight.len() < IN_FLIGHT_PER_WRITER {
            seq += 1;
            let name = format!("w{writer}-{seq:07}");
            let path = format!("{}/{name}", round_dir(round));
            let sent = if seq.is_multiple_of(MULTI_EVERY) {
                let second = format!("{name}-b");
                let ops = vec![
                    MultiOp::Create {
                        op: OpCode::Create,
                        create: create(&path),
                    },
                    MultiOp::Create {
                        op: OpCode::Create,
                        create: create(&format!("{}/{second}", round_dir(round))),
                    },
                ];
                let xid = client.send(OpCode::Multi, Request::Multi(ops));
                if let Ok(mut o) = out.lock() {
                    o.pairs.push((name.clone(), second.clone()));
                    o.sent.push(name.clone());
                    o.sent.push(second.clone());
                }
                xid.map(|x| (x, vec![name, second]))
            } else {
                let xid = client.send(OpCode::Create, Request::Create(create(&path)));
                if let Ok(mut o) = out.lock() {
                    o.sent.push(name.clone());
                }
                xid.map(|x| (x, vec![name]))
            };
            match sent {
                Ok(entry) => in_flight.push_back(entry),
                Err(_) => return,
            }
        }
        started.store(true, Ordering::Relaxed);
        let Some((xid, names)) = in_flight.pop_front() else {
            return;
        };
        match client.recv(xid) {
            Ok(reply) if reply.is_ok() => {
                if let Ok(mut o) = out.lock() {
                    o.acked.extend(names);
                }
            }
            Ok(reply) => panic!(
                "write {names:?} failed with {:?} before any kill",
                reply.err
            ),
            Err(_) => return,
        }
    }
}

/// Each round writes under its own parent, so no child list outgrows a
/// reply frame.
fn round_dir(round: u32) -> String {
    format!("{ROOT}/r{round:03}")
}

fn session(addr: &str) -> RawClient {
    RawClient::connect(addr, ConnectOptions::default())
        .expect("connect")
        .0
}

fn children(client: &mut RawClient, path: &str) -> BTreeSet<String> {
    let reply = client
        .call(
            OpCode::GetChildren,
            Request::GetChildren(GetChildrenRequest {
                path: path.to_string(),
                watch: false,
            }),
        )
        .expect("getChildren after restart");
    assert!(reply.is_ok(), "getChildren {path}: {:?}", reply.err);
    match reply.response {
        Some(Response::Children(children)) => children.into_iter().collect(),
        other => panic!("unexpected getChildren reply {other:?}"),
    }
}

fn get_data(client: &mut RawClient, path: &str) -> Vec<u8> {
    let reply = client
        .call(
            OpCode::GetData,
            Request::GetData(GetDataRequest {
                path: path.to_string(),
                watch: false,
            }),
        )
        .expect("getData after restart");
    assert!(reply.is_ok(), "getData {path}: {:?}", reply.err);
    match reply.response {
        Some(Response::Data { data, .. }) => data,
        other => panic!("unexpected getData reply {other:?}"),
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let Some(bin) = rzk_binary() else {
        panic!("the rzk binary is not built (cargo build --release -p rzk)");
    };
    let kills: u32 = std::env::var("RZK_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("RZK_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("crash test: seed {seed} (RZK_CRASH_SEED={seed} repeats the kill timings)");
    let mut rng = Rng(seed);
    // A small snapCount so kills also land during snapshots and purges.
    let mut server = Rzk::start_with(&bin, &["snapCount=2000"]).expect("start rzk");
    {
        let mut c = session(&server.addr());
        let r = c
            .call(
                OpCode::Create,
                Request::Create(CreateOp {
                    data: vec![],
                    ..create(ROOT)
                }),
            )
            .expect("create root");
        assert!(r.is_ok(), "create {ROOT}: {:?}", r.err);
    }
    // Acknowledged names, per round.
    let mut all_acked: Vec<BTreeSet<String>> = Vec::new();
    let mut acked_total = 0usize;
    let mut unacked_present = 0usize;
    let started_at = Instant::now();
    for round in 0..kills {
        {
            let mut c = session(&server.addr());
            let r = c
                .call(
                    OpCode::Create,
                    Request::Create(CreateOp {
                        data: vec![],
                        ..create(&round_dir(round))
                    }),
                )
                .expect("create round parent");
            assert!(r.is_ok(), "create {}: {:?}", round_dir(round), r.err);
        }
        let out = Arc::new(Mutex::new(Outcome::default()));
        let started = Arc::new(AtomicBool::new(false));
        let addr = server.addr();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (out, started, addr) = (out.clone(), started.clone(), addr.clone());
                thread::spawn(move || write_until_killed(&addr, round, w, &out, &started))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !started.load(Ordering::Relaxed) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(
            rng.between(KILL_AFTER_MS_MIN, KILL_AFTER_MS_MAX),
        ));
        server.kill();
        for w in writers {
            w.join().expect("writer thread");
        }
        server.restart().expect("restart after SIGKILL");

        let out = std::mem::take(&mut *out.lock().expect("outcome"));
        acked_total += out.acked.len();
        all_acked.push(out.acked.iter().cloned().collect());
        let mut client = session(&server.addr());
        client.set_read_timeout(Duration::from_secs(30));
        for (r, acked) in all_acked.iter().enumerate() {
            let present = children(&mut client, &round_dir(r as u32));
            let lost: Vec<_> = acked.iter().filter(|n| !present.contains(*n)).collect();
            assert!(
                lost.is_empty(),
                "after kill {round}: {} writes acknowledged in round {r} lost, e.g. {:?} (log: {})",
                lost.len(),
                lost.iter().take(5).collect::<Vec<_>>(),
                server.log_path().display()
            );
        }
        let present = children(&mut client, &round_dir(round));
        for (a, b) in &out.pairs {
            assert_eq!(
                present.contains(a),
                present.contains(b),
                "round {round}: multi ({a}, {b}) half applied"
            );
        }
        let acked: BTreeSet<_> = out.acked.iter().collect();
        for name in out.sent.iter().filter(|n| present.contains(*n)) {
            if !acked.contains(name) {
                unacked_present += 1;
            }
            assert_eq!(
                get_data(&mut client, &format!("{}/{name}", round_dir(round))),
                data_for(name),
                "round {round}: {name} has torn data"
            );
        }
        let unexpected: Vec<_> = present.iter().filter(|n| !out.sent.contains(*n)).collect();
        assert!(
            unexpected.is_empty(),
            "round {round}: znodes nobody wrote: {unexpected:?}"
        );
    }
    eprintln!(
        "crash test: {kills} kills, {} acknowledged writes, all present after every restart; \
         {unacked_present} unacknowledged writes were also committed; no multi half applied; \
         {:.1} s",
        acked_total,
        started_at.elapsed().as_secs_f64()
    );
    assert!(
        acked_total as u32 >= kills,
        "too few writes were acknowledged ({acked_total}) for the test to mean anything"
    );
}
