//! What each workload sends, and the znodes it needs first.

use std::io;

use rzk_proto::records::{GetChildrenRequest, GetDataRequest, SetDataRequest};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Acl, CreateMode, ErrorCode, OpCode, Request};

use crate::conn::{Conn, Incoming};
use crate::options::{BenchArgs, Workload};

/// Requests in flight while creating the keys.
const SETUP_INFLIGHT_REQUESTS: usize = 256;

/// A small, fast, seeded generator (xorshift64*): the key choice only
/// needs to be spread and repeatable, not unpredictable.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for `n` far below 2^64.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The paths a workload uses under `--root`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: String,
}

impl Layout {
    pub fn new(root: &str) -> Layout {
        let root = root.trim_end_matches('/');
        Layout {
            root: if root.is_empty() {
                "/rzk-bench".to_string()
            } else {
                root.to_string()
            },
        }
    }
    pub fn keys(&self) -> String {
        format!("{}/keys", self.root)
    }
    /// `<root>/keys/k` and `i` in at least seven digits. Built by hand, as
    /// it runs once per request: `format!` was a twentieth of the
    /// benchmark's own CPU under get 16x8.
    pub fn key(&self, i: usize) -> String {
        const SUFFIX: &str = "/keys/k";
        const DIGITS_MIN: usize = 7;
        let mut digits = [b'0'; 20]; // usize::MAX has 20 digits
        let mut at = digits.len();
        let mut rest = i;
        while rest > 0 || digits.len() - at < DIGITS_MIN {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let mut path = String::with_capacity(self.root.len() + SUFFIX.len() + digits.len() - at);
        path.push_str(&self.root);
        path.push_str(SUFFIX);
        for &digit in &digits[at..] {
            path.push(char::from(digit));
        }
        path
    }
    pub fn create_parent(&self) -> String {
        format!("{}/create", self.root)
    }
    pub fn list_parent(&self) -> String {
        format!("{}/list", self.root)
    }
    pub fn list_child(&self, i: usize) -> String {
        format!("{}/list/c{i:07}", self.root)
    }
    pub fn churn_parent(&self) -> String {
        format!("{}/churn", self.root)
    }
    pub fn watched(&self) -> String {
        format!("{}/watched", self.root)
    }
}

pub fn create_request(path: String, data: Vec<u8>, mode: CreateMode) -> (OpCode, Request) {
    let create = CreateOp {
        path,
        data,
        acl: Acl::open_unsafe(),
        flags: mode.code(),
        ttl: 0,
    };
    (OpCode::Create, Request::Create(create))
}

fn set_data(path: String, data: Vec<u8>) -> SetDataRequest {
    SetDataRequest {
        path,
        data,
        version: -1,
    }
}

/// Makes the next request of a pipelined workload.
#[derive(Debug, Clone)]
pub struct Generator {
    workload: Workload,
    layout: Layout,
    value: Vec<u8>,
    keys: usize,
    read_percent: u8,
    multi_ops: usize,
    rng: Rng,
}

impl Generator {
    pub fn new(args: &BenchArgs, session: usize) -> Generator {
        Generator {
            workload: args.workload,
            layout: Layout::new(&args.root),
            value: vec![b'x'; args.value_size],
            keys: args.keys.max(1),
            read_percent: args.read_percent.min(100),
            multi_ops: args.multi_ops.max(1),
            rng: Rng::new(args.seed.wrapping_add(session as u64 * 7919)),
        }
    }

    fn get(&mut self) -> (OpCode, Request) {
        let path = self.layout.key(self.rng.below(self.keys));
        (
            OpCode::GetData,
            Request::GetData(GetDataRequest { path, watch: false }),
        )
    }

    fn set(&mut self) -> (OpCode, Request) {
        let path = self.layout.key(self.rng.below(self.keys));
        (
            OpCode::SetData,
            Request::SetData(set_data(path, self.value.clone())),
        )
    }

    /// The next request (pipelined workloads only).
    pub fn next_request(&mut self) -> (OpCode, Request) {
        match self.workload {
            Workload::Create => create_request(
                format!("{}/n-", self.layout.create_parent()),
                self.value.clone(),
                CreateMode::PersistentSequential,
            ),
            Workload::Set => self.set(),
            Workload::Get => self.get(),
            Workload::Mixed => {
                if self.rng.below(100) < usize::from(self.read_percent) {
                    self.get()
                } else {
                    self.set()
                }
            }
            Workload::Multi => {
                let ops = (0..self.multi_ops)
                    .map(|_| {
                        let path = self.layout.key(self.rng.below(self.keys));
                        MultiOp::SetData(set_data(path, self.value.clone()))
                    })
                    .collect();
                (OpCode::Multi, Request::Multi(ops))
            }
            Workload::List => (
                OpCode::GetChildren,
                Request::GetChildren(GetChildrenRequest {
                    path: self.layout.list_parent(),
                    watch: false,
                }),
            ),
            // Not pipelined: see `run`.
            Workload::EphemeralChurn | Workload::Watch => self.get(),
        }
    }
}

/// Sends `requests` with a window of [`SETUP_INFLIGHT_REQUESTS`]; Ok and
/// NodeExists count as done, anything else fails the setup.
async fn create_all(
    conn: &mut Conn,
    requests: impl Iterator<Item = (OpCode, Request)>,
) -> io::Result<()> {
    let mut waiting = 0usize;
    let check = |err: i32| -> io::Result<()> {
        match ErrorCode::from_code(err) {
            Some(ErrorCode::Ok | ErrorCode::NodeExists) => Ok(()),
            other => Err(io::Error::other(format!(
                "setup create failed: {}",
                other.map_or_else(|| err.to_string(), |c| c.name().to_string())
            ))),
        }
    };
    for (op, request) in requests {
        conn.push(op, request);
        waiting += 1;
        if waiting == SETUP_INFLIGHT_REQUESTS {
            conn.flush().await?;
            while waiting > SETUP_INFLIGHT_REQUESTS / 2 {
                if let Incoming::Reply { err } = conn.next().await? {
                    check(err)?;
                    waiting -= 1;
                }
            }
        }
    }
    conn.flush().await?;
    while waiting > 0 {
        if let Incoming::Reply { err } = conn.next().await? {
            check(err)?;
            waiting -= 1;
        }
    }
    Ok(())
}

/// Creates what the workload needs (existing znodes are kept).
pub async fn setup(conn: &mut Conn, args: &BenchArgs) -> io::Result<()> {
    let layout = Layout::new(&args.root);
    // Every ancestor of the root, then the root.
    let mut paths = Vec::new();
    let mut prefix = String::new();
    for part in layout.root.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        paths.push(prefix.clone());
    }
    let parent = match args.workload {
        Workload::Set | Workload::Get | Workload::Mixed | Workload::Multi => layout.keys(),
        Workload::Create => layout.create_parent(),
        Workload::List => layout.list_parent(),
        Workload::EphemeralChurn => layout.churn_parent(),
        Workload::Watch => layout.watched(),
    };
    paths.push(parent);
    let dirs = paths
        .into_iter()
        .map(|p| create_request(p, Vec::new(), CreateMode::Persistent));
    create_all(conn, dirs).await?;
    if args.no_setup {
        return Ok(());
    }
    let value = vec![b'x'; args.value_size];
    match args.workload {
        Workload::Set | Workload::Get | Workload::Mixed | Workload::Multi => {
            let keys = (0..args.keys.max(1))
                .map(|i| create_request(layout.key(i), value.clone(), CreateMode::Persistent));
            create_all(conn, keys).await
        }
        Workload::List => {
            let children = (0..args.keys)
                .map(|i| create_request(layout.list_child(i), Vec::new(), CreateMode::Persistent));
            create_all(conn, children).await
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_seeded_and_spread() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        let xs: Vec<usize> = (0..1000).map(|_| a.below(10)).collect();
        let ys: Vec<usize> = (0..1000).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        for k in 0..10 {
            let n = xs.iter().filter(|x| **x == k).count();
            assert!((50..150).contains(&n), "{k}: {n}");
        }
    }

    #[test]
    fn layout_paths() {
        let l = Layout::new("/b/");
        assert_eq!(l.key(3), "/b/keys/k0000003");
        for i in [
            0,
            9,
            10,
            1_234_567,
            9_999_999,
            10_000_000,
            123_456_789,
            usize::MAX,
        ] {
            assert_eq!(l.key(i), format!("/b/keys/k{i:07}"), "key {i}");
        }
        assert_eq!(Layout::new("").root, "/rzk-bench");
    }
}
