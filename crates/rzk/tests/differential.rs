//! Differential test: the same scenarios against Apache ZooKeeper (the oracle)
//! and rzk, transcripts compared after normalization.
//!
//! A scenario drives named clients through the DSL in `differential/dsl.rs`
//! under its own root (`/d<index>`); every reply (opcode, error code, decoded
//! body) and every watch notification each client receives is recorded. zxids,
//! times and session ids are normalized per scenario (see `docs/DIFFERENTIAL.md`).
//!
//! Environment:
//! - `RZK_DIFF_TARGET`: `zk-vs-rzk` (default) or `zk-vs-zk` (two Apache
//!   ZooKeepers; validates the harness and its normalization: must give 0 mismatches).
//! - `RZK_DIFF_FILTER`: only scenarios whose name contains this substring.
//! - `RZK_DIFF_DUMP`: a directory; both sides' transcripts are written there.
//! - `RZK_DIFF_SETTLE_MS`: extra wait before the final event collection of each
//!   scenario (default 10).
//!
//! The test fails when a scenario's transcripts differ, unless the scenario is
//! listed in [`DEVIATIONS`] (and in `docs/DIFFERENTIAL.md`) with the reason.

#[path = "differential/dsl.rs"]
mod dsl;
#[path = "differential/launcher.rs"]
mod launcher;
#[path = "differential/sc_acl.rs"]
mod sc_acl;
#[path = "differential/sc_basic.rs"]
mod sc_basic;
#[path = "differential/sc_misc.rs"]
mod sc_misc;
#[path = "differential/sc_multi.rs"]
mod sc_multi;
#[path = "differential/sc_paths.rs"]
mod sc_paths;
#[path = "differential/sc_session.rs"]
mod sc_session;
#[path = "differential/sc_watch.rs"]
mod sc_watch;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use dsl::Cx;
use launcher::{AnyServer, Config};
use rzk_client::{ConnectOptions, RawClient};
use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, ErrorCode, OpCode, Request};

/// Scenarios where rzk knowingly differs from Apache ZooKeeper: name → reason.
/// Keep in sync with the table in `docs/DIFFERENTIAL.md`.
const DEVIATIONS: &[(&str, &str)] = &[
    (
        "check/standalone_opcode",
        "ZooKeeper 3.8.0 never answers a successful standalone `check` (opcode 13), leaving the client waiting until its session times out; rzk answers Ok and, like every write, the check consumes a zxid.",
    ),
    (
        "paths/relative",
        "checkWatches on a relative path: ZooKeeper 3.8.0's path-parent iterator fails on it and the request answers MarshallingError; rzk looks the path up in the session's watch table like any other path.",
    ),
    (
        "paths/empty",
        "checkWatches on the empty path after watches were set on it: ZooKeeper 3.8.0's path-parent iterator yields nothing for \"\" and answers NoWatcher though the session holds a watch there; rzk finds the watch.",
    ),
    (
        "acl/world_write_only",
        "exists on a node the caller may not READ answers NoAuth, as ZooKeeper 3.8.4+ and 3.9 do (FinalRequestProcessor checks READ since the 3.8.4 security fix); 3.8.0 returned the Stat.",
    ),
    (
        "acl/world_create_only",
        "exists needs READ, as in ZooKeeper 3.8.4+ (see acl/world_write_only).",
    ),
    (
        "acl/world_delete_only",
        "exists needs READ, as in ZooKeeper 3.8.4+ (see acl/world_write_only).",
    ),
    (
        "acl/world_admin_only",
        "exists needs READ, as in ZooKeeper 3.8.4+ (see acl/world_write_only).",
    ),
    (
        "acl/world_none",
        "exists needs READ, as in ZooKeeper 3.8.4+ (see acl/world_write_only).",
    ),
    (
        "watch/persistent_on_node",
        "checkWatches/removeWatches accept the Persistent (4) and PersistentRecursive (5) watcher types as ZooKeeper 3.9 does; 3.8.0 answers MarshallingError for them, so a client cannot check or remove a persistent watch by type.",
    ),
    (
        "watch/persistent_recursive",
        "Watcher types 4 and 5 accepted by checkWatches/removeWatches, as in ZooKeeper 3.9 (see watch/persistent_on_node).",
    ),
    (
        "watch/persistent_plus_standard_same_node",
        "A one-shot watch firing on a path does not remove the same session's persistent watch there (ZooKeeper 3.8.0 bug: the persistent watch silently vanishes and later changes are missed; fixed in 3.9).",
    ),
    (
        "watch/addwatch_twice_and_mode_switch",
        "Watch modes on one path coexist per session as in ZooKeeper 3.9; in 3.8.0 adding a one-shot watch downgrades an existing persistent one.",
    ),
    (
        "removewatches/persistent",
        "removeWatches with type Persistent (4) works, as in ZooKeeper 3.9; 3.8.0 answers MarshallingError and Data-type removal drops persistent watches.",
    ),
    (
        "removewatches/persistent_recursive",
        "removeWatches with type PersistentRecursive (5) works, as in ZooKeeper 3.9 (see removewatches/persistent).",
    ),
    (
        "removewatches/any_with_persistent",
        "removeWatches Any removes persistent watches too and Data/Children touch only one-shot watches, as in ZooKeeper 3.9.",
    ),
    (
        "removewatches/other_sessions_watch",
        "checkWatches answers for the calling session's own watches only; ZooKeeper 3.8.0 answers Ok when any other session watches the path.",
    ),
    (
        "setwatches2/persistent_lists",
        "Persistent watches re-sent by setWatches2 keep their mode alongside one-shot watches on the same path, as in ZooKeeper 3.9 (see watch/addwatch_twice_and_mode_switch).",
    ),
    (
        "session/resume_wrong_password",
        "A reconnect with the right session id but a wrong password is refused without touching the session's live connection; ZooKeeper 3.8.0 first cuts the live connection, so anyone who knows a session id can disconnect its owner.",
    ),
    (
        "raw/opcode_create_session_-10",
        "A createSession opcode (-10) sent after the handshake answers Unimplemented and closes the connection; ZooKeeper 3.8.0 answers with a second connect response for the same session, which no client sends or expects.",
    ),
];

/// One scenario: a name (`area/what`), the server configuration it needs, and
/// the steps.
pub struct Scenario {
    pub name: &'static str,
    pub config: Config,
    pub run: fn(&mut Cx),
}

/// A scenario on the main configuration.
pub fn sc(name: &'static str, run: fn(&mut Cx)) -> Scenario {
    Scenario {
        name,
        config: Config::Main,
        run,
    }
}

/// A scenario on a server without `extendedTypesEnabled`.
pub fn sc_noext(name: &'static str, run: fn(&mut Cx)) -> Scenario {
    Scenario {
        name,
        config: Config::NoExtendedTypes,
        run,
    }
}

fn all_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(sc_basic::scenarios());
    v.extend(sc_paths::scenarios());
    v.extend(sc_acl::scenarios());
    v.extend(sc_watch::scenarios());
    v.extend(sc_multi::scenarios());
    v.extend(sc_session::scenarios());
    v.extend(sc_misc::scenarios());
    v
}

#[derive(Debug, Clone)]
enum SideKind {
    Zk,
    Rzk(PathBuf),
}

struct SideResult {
    label: String,
    /// Per scenario: transcript lines and whether it panicked.
    transcripts: Vec<(Vec<String>, bool)>,
    elapsed_ms: u128,
}

fn start(kind: &SideKind, config: Config) -> AnyServer {
    match kind {
        SideKind::Zk => AnyServer::start_zk(config),
        SideKind::Rzk(bin) => AnyServer::start_rzk(bin, config),
    }
}

/// Creates the scenario roots through a session that is never recorded.
struct Admin {
    conn: RawClient,
}

impl Admin {
    fn new(addr: &str) -> Admin {
        let (conn, _) = RawClient::connect(
            addr,
            ConnectOptions {
                timeout_ms: 60_000,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("admin session on {addr}: {e}"));
        Admin { conn }
    }

    fn create_root(&mut self, root: &str) {
        let reply = self
            .conn
            .call(
                OpCode::Create,
                Request::Create(CreateOp {
                    path: root.to_string(),
                    data: Vec::new(),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                    ttl: 0,
                }),
            )
            .unwrap_or_else(|e| panic!("create scenario root {root}: {e}"));
        assert_eq!(reply.err, ErrorCode::Ok, "create scenario root {root}");
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}

fn run_side(
    kind: SideKind,
    label: String,
    scenarios: &[(usize, &Scenario)],
    settle_ms: u64,
) -> SideResult {
    let t0 = Instant::now();
    let mut configs: Vec<Config> = scenarios.iter().map(|(_, s)| s.config).collect();
    configs.sort_by_key(|c| *c as u8);
    configs.dedup();
    // Start this side's servers in parallel.
    let servers: HashMap<Config, AnyServer> = std::thread::scope(|scope| {
        let handles: Vec<_> = configs
            .iter()
            .map(|&cfg| {
                let kind = kind.clone();
                (cfg, scope.spawn(move || start(&kind, cfg)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(cfg, h)| (cfg, h.join().expect("server start panicked")))
            .collect()
    });
    let mut admins: HashMap<Config, Admin> = servers
        .iter()
        .map(|(cfg, s)| (*cfg, Admin::new(&s.addr())))
        .collect();
    let mut transcripts = Vec::new();
    for (index, scenario) in scenarios {
        let root = format!("/d{index}");
        let addr = servers[&scenario.config].addr();
        admins
            .get_mut(&scenario.config)
            .expect("admin per config")
            .create_root(&root);
        let mut cx = Cx::new(root, addr);
        let outcome = catch_unwind(AssertUnwindSafe(|| (scenario.run)(&mut cx)));
        let panicked = match outcome {
            Ok(()) => {
                cx.finish(settle_ms);
                false
            }
            Err(p) => {
                cx.note(format!("PANIC in scenario code: {}", panic_message(&*p)));
                cx.abandon();
                true
            }
        };
        transcripts.push((cx.transcript(), panicked));
    }
    drop(admins);
    drop(servers);
    SideResult {
        label,
        transcripts,
        elapsed_ms: t0.elapsed().as_millis(),
    }
}

/// A line diff (longest common subsequence), `-` for the oracle, `+` for the
/// other side, two lines of context.
fn diff(a: &[String], b: &[String]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', &a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', &b[j]));
            j += 1;
        } else {
            ops.push(('-', &a[i]));
            i += 1;
        }
    }
    let context = 2;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.0 != ' ')
        .map(|(k, _)| k)
        .collect();
    let mut out = String::new();
    let mut last_printed: Option<usize> = None;
    for (k, (tag, line)) in ops.iter().enumerate() {
        let near = changed.iter().any(|&c| c.abs_diff(k) <= context);
        if !near {
            continue;
        }
        if let Some(lp) = last_printed {
            if k > lp + 1 {
                out.push_str("    ...\n");
            }
        } else if k > 0 {
            out.push_str("    ...\n");
        }
        out.push_str(&format!("  {tag} {line}\n"));
        last_printed = Some(k);
    }
    out
}

fn dump(dir: &str, side: &SideResult, selected: &[(usize, &Scenario)]) {
    let _ = std::fs::create_dir_all(dir);
    let mut text = String::new();
    for ((index, s), (lines, _)) in selected.iter().zip(&side.transcripts) {
        text.push_str(&format!("=== {} (/d{index})\n", s.name));
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
    }
    let file = format!("{dir}/{}.txt", side.label.replace(['/', ' '], "_"));
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("write {file}: {e}"));
    eprintln!("differential: wrote {file}");
}

#[test]
fn differential() {
    let scenarios = all_scenarios();
    {
        let mut names: Vec<&str> = scenarios.iter().map(|s| s.name).collect();
        names.sort_unstable();
        for w in names.windows(2) {
            assert_ne!(w[0], w[1], "duplicate scenario name");
        }
        for (name, _) in DEVIATIONS {
            assert!(
                names.contains(name),
                "DEVIATIONS names unknown scenario {name}"
            );
        }
    }
    let filter = std::env::var("RZK_DIFF_FILTER").unwrap_or_default();
    let selected: Vec<(usize, &Scenario)> = scenarios
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name.contains(filter.as_str()))
        .collect();
    assert!(
        !selected.is_empty(),
        "RZK_DIFF_FILTER={filter:?} selects no scenario"
    );
    let target = std::env::var("RZK_DIFF_TARGET").unwrap_or_else(|_| "zk-vs-rzk".into());
    let other = match target.as_str() {
        "zk-vs-zk" => SideKind::Zk,
        "zk-vs-rzk" | "" => SideKind::Rzk(PathBuf::from(env!("CARGO_BIN_EXE_rzk"))),
        t => panic!("RZK_DIFF_TARGET={t:?}: expected zk-vs-rzk or zk-vs-zk"),
    };
    let settle_ms: u64 = std::env::var("RZK_DIFF_SETTLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let strict = matches!(other, SideKind::Zk);
    let other_label = if strict {
        "zookeeper-b".to_string()
    } else {
        "rzk".to_string()
    };

    let t0 = Instant::now();
    let (oracle, tested) = std::thread::scope(|scope| {
        let sel = &selected;
        let a = scope.spawn(move || run_side(SideKind::Zk, "zookeeper".into(), sel, settle_ms));
        let b = scope.spawn(move || run_side(other, other_label, sel, settle_ms));
        (
            a.join().expect("oracle side"),
            b.join().expect("tested side"),
        )
    });
    if let Ok(dir) = std::env::var("RZK_DIFF_DUMP") {
        dump(&dir, &oracle, &selected);
        dump(&dir, &tested, &selected);
    }

    let mut mismatches = Vec::new();
    let mut allowed = Vec::new();
    let mut harness_bugs = Vec::new();
    let mut stale = Vec::new();
    for (k, (_, s)) in selected.iter().enumerate() {
        let (a, a_panicked) = &oracle.transcripts[k];
        let (b, _) = &tested.transcripts[k];
        if *a_panicked {
            harness_bugs.push(s.name);
        }
        let listed = DEVIATIONS.iter().find(|(n, _)| *n == s.name);
        if a != b {
            match listed {
                Some((_, reason)) if !strict => allowed.push((s.name, *reason, diff(a, b))),
                _ => mismatches.push((s.name, diff(a, b))),
            }
        } else if listed.is_some() && !strict {
            // A deviation that no longer differs must leave the list, so the list
            // (and docs/DIFFERENTIAL.md) always says exactly where rzk differs.
            stale.push(s.name);
        }
    }
    for (name, d) in &mismatches {
        println!(
            "--- MISMATCH {name} (- {}, + {})\n{d}",
            oracle.label, tested.label
        );
    }
    for (name, reason, d) in &allowed {
        println!("--- deviation {name}: {reason}\n{d}");
    }
    println!(
        "differential: {} scenarios, {} mismatches ({} {} vs {}; {} documented deviations; {:.1}s: {} {:.1}s, {} {:.1}s)",
        selected.len(),
        mismatches.len(),
        target,
        oracle.label,
        tested.label,
        allowed.len(),
        t0.elapsed().as_secs_f64(),
        oracle.label,
        oracle.elapsed_ms as f64 / 1000.0,
        tested.label,
        tested.elapsed_ms as f64 / 1000.0,
    );
    assert!(
        harness_bugs.is_empty(),
        "scenario code panicked against Apache ZooKeeper (harness bug): {harness_bugs:?}"
    );
    assert!(
        stale.is_empty(),
        "listed in DEVIATIONS but no longer differing (remove them here and in docs/DIFFERENTIAL.md): {stale:?}"
    );
    assert!(
        mismatches.is_empty(),
        "differential: {} scenarios, {} mismatches: {:?}",
        selected.len(),
        mismatches.len(),
        mismatches.iter().map(|m| m.0).collect::<Vec<_>>()
    );
}
