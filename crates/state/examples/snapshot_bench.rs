//! Measures snapshot cost on a big tree: time and bytes to write and read a
//! snapshot, the time to clone the tree (what a clone-then-write-in-the-
//! background snapshot would pause writes for), and the process's RSS.
//!
//! ```text
//! cargo run --release -p rzk-state --example snapshot_bench [parents] [children] [value_bytes]
//! ```
//!
//! Defaults: 1,000 parents × 1,000 children, 100-byte values (1,001,004
//! znodes with the system nodes). The snapshot file goes to the system temp
//! directory and is removed afterwards. Linux only for the RSS figures.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::time::Instant;

use rzk_proto::records::SetDataRequest;
use rzk_proto::request::CreateOp;
use rzk_proto::{Acl, ErrorCode, OpCode};
use rzk_state::snapshot_merge::merge_snapshot;
use rzk_state::{DataTree, Entry, StateConfig, Txn, WriteOp};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn rss_mib() -> f64 {
    status_kib("VmRSS:") as f64 / 1024.0
}

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let parents = arg(1, 1_000);
    let children = arg(2, 1_000);
    let value_bytes = arg(3, 100);
    let config = StateConfig::default();
    let rss_start = rss_mib();

    let mut tree = DataTree::new(config.clone());
    let mut zxid = 0i64;
    let time_ms = 1_700_000_000_000i64;
    let mut apply = |tree: &mut DataTree, txn: Txn| {
        zxid += 1;
        let applied = tree.apply(&Entry { zxid, time_ms, txn });
        assert_eq!(applied.reply.err, ErrorCode::Ok);
    };
    let session_id = 0x1234;
    apply(
        &mut tree,
        Txn::CreateSession {
            session_id,
            timeout_ms: 30_000,
            password: vec![7; 16],
        },
    );
    let create = |path: String, data: Vec<u8>| Txn::Write {
        session_id,
        auth: Vec::new().into(),
        op: WriteOp::Create {
            op: OpCode::Create,
            create: CreateOp {
                path,
                data,
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: 0,
            },
        },
    };
    let started = Instant::now();
    for p in 0..parents {
        apply(&mut tree, create(format!("/p{p:04}"), Vec::new()));
        for c in 0..children {
            let data: Vec<u8> = (0..value_bytes).map(|i| (i + c) as u8).collect();
            apply(&mut tree, create(format!("/p{p:04}/c{c:04}"), data));
        }
    }
    let build = started.elapsed();
    let rss_tree = rss_mib();
    println!(
        "tree: {} znodes ({parents} parents x {children} children, {value_bytes}-byte values), \
         built by apply in {:.2} s ({:.0} creates/s)",
        tree.node_count(),
        build.as_secs_f64(),
        (parents * (children + 1)) as f64 / build.as_secs_f64()
    );
    println!(
        "RSS: {rss_start:.0} MiB at start, {rss_tree:.0} MiB with the tree (+{:.0} MiB, {:.0} bytes/znode)",
        rss_tree - rss_start,
        (rss_tree - rss_start) * 1024.0 * 1024.0 / tree.node_count() as f64
    );

    let started = Instant::now();
    let copy = tree.clone();
    let clone_time = started.elapsed();
    let rss_clone = rss_mib();
    drop(copy);
    println!(
        "clone: {:.0} ms (+{:.0} MiB while it lives)",
        clone_time.as_secs_f64() * 1e3,
        rss_clone - rss_tree
    );

    let started = Instant::now();
    let meta = tree.write_snapshot(&mut std::io::sink())?;
    let encode = started.elapsed();
    println!(
        "write to io::sink: {:.0} ms, {} bytes ({:.1} MiB), {:.0} MiB/s",
        encode.as_secs_f64() * 1e3,
        meta.size_bytes,
        meta.size_bytes as f64 / (1024.0 * 1024.0),
        meta.size_bytes as f64 / (1024.0 * 1024.0) / encode.as_secs_f64()
    );

    let path = std::env::temp_dir().join(format!("rzk-snapshot-bench-{}.snap", std::process::id()));
    let started = Instant::now();
    let file = File::create(&path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let meta_file = tree.write_snapshot(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    let written = started.elapsed();
    file.sync_all()?;
    let synced = started.elapsed();
    assert_eq!(meta_file, meta);
    println!(
        "write to file: {:.0} ms, {:.0} ms with fsync",
        written.as_secs_f64() * 1e3,
        synced.as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let mut input = BufReader::with_capacity(1 << 20, File::open(&path)?);
    let (loaded, meta_read) =
        DataTree::read_snapshot(&mut input, config).map_err(std::io::Error::other)?;
    let read = started.elapsed();
    let rss_both = rss_mib();
    assert_eq!(meta_read, meta);
    println!(
        "read from file (page cache warm): {:.0} ms, {:.0} MiB/s; RSS with both trees {rss_both:.0} MiB",
        read.as_secs_f64() * 1e3,
        meta.size_bytes as f64 / (1024.0 * 1024.0) / read.as_secs_f64()
    );

    // A snapshot by merge: 50,000 creates and 50,000 sets after the file
    // above, kept as changes and merged onto it.
    let mut tree = tree;
    let mut changes = |tree: &mut DataTree, prefix: &str, value: u8| {
        for i in 0..50_000usize {
            let parent = i % parents;
            let data = vec![value; value_bytes];
            apply(tree, create(format!("/p{parent:04}/{prefix}{i:05}"), data));
            let set = Txn::Write {
                session_id,
                auth: Vec::new().into(),
                op: WriteOp::SetData(SetDataRequest {
                    path: format!("/p{:04}/c{:04}", (i * 7) % parents, i % children),
                    data: vec![value; value_bytes],
                    version: -1,
                }),
            };
            apply(tree, set);
        }
    };
    // The same changes untracked first, for what keeping them costs.
    let started = Instant::now();
    changes(&mut tree, "old", 2);
    let untracked = started.elapsed();
    tree.write_snapshot(&mut BufWriter::new(File::create(&path)?))?;
    tree.track_changes();
    let started = Instant::now();
    changes(&mut tree, "new", 3);
    let changed = started.elapsed();
    let started = Instant::now();
    let delta = tree.take_all_changes().expect("changes kept");
    let taken = started.elapsed();
    let paths = delta.changed_paths();
    let started = Instant::now();
    let mut base = BufReader::with_capacity(1 << 20, File::open(&path)?);
    let merged =
        merge_snapshot(&mut base, delta, &mut std::io::sink()).map_err(std::io::Error::other)?;
    let merge = started.elapsed();
    assert_eq!(merged, tree.write_snapshot(&mut std::io::sink())?);
    println!(
        "merge: 100,000 entries applied in {:.0} ms keeping their changes ({:.0} ms untracked); \
         changes of {paths} paths taken in {:.1} ms; merged onto the file in {:.0} ms \
         (the same bytes as writing the tree)",
        changed.as_secs_f64() * 1e3,
        untracked.as_secs_f64() * 1e3,
        taken.as_secs_f64() * 1e3,
        merge.as_secs_f64() * 1e3
    );
    std::fs::remove_file(&path)?;

    // The loaded tree snapshots to the same bytes (same CRC) as the original.
    let again = loaded.write_snapshot(&mut std::io::sink())?;
    assert_eq!(again, meta);
    assert_eq!(loaded.node_count() as u64, meta.node_count);
    drop(tree);
    println!(
        "loaded tree snapshots to identical bytes (crc32c {:#010x}); RSS after dropping the original {:.0} MiB; peak {:.0} MiB",
        meta.crc32c,
        rss_mib(),
        status_kib("VmHWM:") as f64 / 1024.0
    );
    Ok(())
}
