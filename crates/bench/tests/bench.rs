//! `rzk bench` counts what it claims: each workload run against a real rzk
//! server (and once against Apache ZooKeeper), and the server's tree
//! checked afterwards by an independent client.

use clap::Parser;
use rzk_bench::run::{run, Outcome};
use rzk_bench::BenchArgs;
use rzk_client::{ConnectOptions, RawClient};
use rzk_proto::records::{ExistsRequest, GetChildrenRequest};
use rzk_proto::{ErrorCode, OpCode, Request, Response};
use rzk_testkit::{rzk_binary, ApacheZk, Rzk};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn args(addr: &str, extra: &str) -> BenchArgs {
    let mut argv = vec!["bench".to_string(), "--hosts".to_string(), addr.to_string()];
    argv.extend(extra.split_whitespace().map(str::to_string));
    Cli::try_parse_from(argv).expect("valid arguments").args
}

fn bench(addr: &str, extra: &str) -> Outcome {
    let args = args(addr, extra);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(args)).expect("bench runs")
}

fn server() -> Rzk {
    let bin = rzk_binary().expect("the rzk binary is not built (cargo build --release -p rzk)");
    Rzk::start(&bin).expect("rzk starts")
}

fn client(addr: &str) -> RawClient {
    RawClient::connect(addr, ConnectOptions::default())
        .expect("connect")
        .0
}

fn children(addr: &str, path: &str) -> Vec<String> {
    let reply = client(addr)
        .call(
            OpCode::GetChildren,
            Request::GetChildren(GetChildrenRequest {
                path: path.to_string(),
                watch: false,
            }),
        )
        .expect("getChildren");
    match reply.response {
        Some(Response::Children(children)) => children,
        other => panic!("getChildren {path}: {:?} {other:?}", reply.err),
    }
}

/// Sum of the data versions of `<root>/keys/*`: one per successful setData.
fn version_sum(addr: &str, root: &str) -> i64 {
    let mut c = client(addr);
    children(addr, &format!("{root}/keys"))
        .iter()
        .map(|k| {
            let reply = c
                .call(
                    OpCode::Exists,
                    Request::Exists(ExistsRequest {
                        path: format!("{root}/keys/{k}"),
                        watch: false,
                    }),
                )
                .expect("exists");
            match reply.response {
                Some(Response::Stat(stat)) => i64::from(stat.version),
                other => panic!("exists {k}: {other:?}"),
            }
        })
        .sum()
}

fn no_errors(o: &Outcome) {
    assert!(o.tally.errors.is_empty(), "errors: {:?}", o.tally.errors);
    assert!(o.tally.failure.is_none(), "{:?}", o.tally.failure);
}

#[test]
fn create_counts_every_znode_it_made() {
    let s = server();
    let o = bench(&s.addr(), "-w create --ops 500 --sessions 4 --inflight 8");
    no_errors(&o);
    assert_eq!(o.tally.ops, 500);
    assert_eq!(o.tally.latency_us.len(), 500);
    assert!(o.seconds > 0.0);
    assert_eq!(children(&s.addr(), "/rzk-bench/create").len(), 500);
}

#[test]
fn set_and_multi_versions_add_up() {
    let s = server();
    let o = bench(
        &s.addr(),
        "-w set --ops 400 --keys 10 --sessions 3 --inflight 5",
    );
    no_errors(&o);
    assert_eq!(o.tally.ops, 400);
    assert_eq!(version_sum(&s.addr(), "/rzk-bench"), 400);
    let o = bench(
        &s.addr(),
        "-w multi --ops 50 --multi-ops 3 --keys 10 --sessions 2 --inflight 4",
    );
    no_errors(&o);
    assert_eq!(o.tally.ops, 50);
    assert_eq!(version_sum(&s.addr(), "/rzk-bench"), 400 + 150);
}

#[test]
fn errors_are_counted_by_code() {
    let s = server();
    let o = bench(
        &s.addr(),
        "-w get --no-setup --ops 300 --keys 50 --root /missing",
    );
    assert_eq!(o.tally.ops, 300);
    let no_node = ErrorCode::NoNode.code();
    assert_eq!(
        o.tally.errors.get(&no_node),
        Some(&300),
        "{:?}",
        o.tally.errors
    );
    let text = rzk_bench::report::table(&args(&s.addr(), "-w get"), &o);
    assert!(text.contains("NoNode 300"), "{text}");
    let json = rzk_bench::report::json(&args(&s.addr(), "-w get"), &o);
    assert!(json.contains("\"errors\":{\"NoNode\":300}"), "{json}");
}

#[test]
fn reads_lists_and_mixes_run_without_errors() {
    let s = server();
    let o = bench(&s.addr(), "-w get --ops 1000 --keys 100");
    no_errors(&o);
    assert_eq!(o.tally.ops, 1000);
    let o = bench(&s.addr(), "-w list --ops 100 --keys 300");
    no_errors(&o);
    assert_eq!(children(&s.addr(), "/rzk-bench/list").len(), 300);
    let before = version_sum(&s.addr(), "/rzk-bench");
    let o = bench(
        &s.addr(),
        "-w mixed --ops 1000 --keys 100 --read-percent 50",
    );
    no_errors(&o);
    let sets = version_sum(&s.addr(), "/rzk-bench") - before;
    assert!(
        (300..=700).contains(&sets),
        "{sets} sets of 1000 at 50% reads"
    );
}

#[test]
fn duration_and_warmup() {
    let s = server();
    let o = bench(&s.addr(), "-w get --duration 1s --warmup 300ms --keys 10");
    no_errors(&o);
    assert!(o.tally.ops > 0);
    assert!(
        (0.8..3.0).contains(&o.seconds),
        "measured for {} s",
        o.seconds
    );
}

#[test]
fn ephemeral_churn_leaves_nothing_behind() {
    let s = server();
    let o = bench(&s.addr(), "-w ephemeral-churn --ops 40 --sessions 4");
    no_errors(&o);
    assert_eq!(o.tally.ops, 40);
    assert!(children(&s.addr(), "/rzk-bench/churn").is_empty());
    let mntr = s.four_letter("mntr").expect("mntr");
    assert!(mntr.contains("zk_ephemerals_count\t0"), "{mntr}");
}

#[test]
fn watch_fan_out_counts_notifications() {
    let s = server();
    let o = bench(&s.addr(), "-w watch --ops 30 --sessions 3");
    no_errors(&o);
    assert!(o.tally.ops >= 30, "{}", o.tally.ops);
    assert_eq!(o.tally.ops % 3, 0, "whole rounds of 3 watchers");
    assert!(o.tally.latency_us.min() >= 1);
}

#[test]
fn works_against_apache_zookeeper() {
    if !ApacheZk::available() {
        eprintln!("Apache ZooKeeper not installed: skipped");
        return;
    }
    let zk = ApacheZk::start().expect("ZooKeeper starts");
    let pid = zk.pid().expect("running");
    let o = bench(
        &zk.addr(),
        &format!("-w set --ops 200 --keys 10 --server-pid {pid}"),
    );
    no_errors(&o);
    assert_eq!(version_sum(&zk.addr(), "/rzk-bench"), 200);
    assert_eq!(o.servers.len(), 1);
    assert!(o.servers[0].rss_bytes > 0 && o.servers[0].peak_rss_bytes >= o.servers[0].rss_bytes);
}
