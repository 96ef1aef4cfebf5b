//! Finding ZooKeeper's files and loading the newest state they hold, as
//! `FileTxnSnapLog.restore` does: the newest snapshot that reads completely,
//! then every logged transaction after its zxid.
//!
//! Files live in `<dataDir>/version-2/snapshot.<hex zxid>` and
//! `<dataLogDir>/version-2/log.<hex first zxid>`; a directory given without
//! a `version-2` below it is searched itself.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{MigrateError, Result};
use crate::progress::Progress;
use crate::replay;
use crate::zk_snapshot::read_snapshot;
use crate::zk_tree::ZkTree;
use crate::zk_txnlog::{read_log, LogEnd};

/// ZooKeeper tries this many snapshots, newest first, before giving up.
const SNAPSHOTS_TRIED_MAX: usize = 100;

/// One of ZooKeeper's files, by the zxid in its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkFile {
    pub zxid: i64,
    pub path: PathBuf,
    /// What follows the zxid in the name (`gz`, `snappy`), if anything.
    pub suffix: Option<String>,
}

/// What was loaded and from where.
#[derive(Debug)]
pub struct Loaded {
    pub tree: ZkTree,
    /// The zxid of the last transaction in the state (the snapshot's if
    /// no logged transaction followed it).
    pub last_zxid: i64,
    /// The snapshot used, if there was one.
    pub snapshot: Option<PathBuf>,
    /// Logs read and how many of their transactions were applied.
    pub logs: Vec<(PathBuf, u64)>,
    /// Things the user should know (snapshots skipped, a torn tail).
    pub notes: Vec<String>,
}

/// `dir/version-2` if it exists, else `dir`.
pub fn version_dir(dir: &Path) -> PathBuf {
    let v2 = dir.join("version-2");
    if v2.is_dir() {
        v2
    } else {
        dir.to_path_buf()
    }
}

/// The files of `dir` named `<prefix>.<hex zxid>[.suffix]`, by zxid
/// ascending (`Util.getZxidFromName`, `Util.sortDataDir`).
pub fn list(dir: &Path, prefix: &str) -> Result<Vec<ZkFile>> {
    let entries = fs::read_dir(dir).map_err(|e| MigrateError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| MigrateError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let mut parts = name.split('.');
        if parts.next() != Some(prefix) {
            continue;
        }
        let Some(Ok(zxid)) = parts.next().map(|h| i64::from_str_radix(h, 16)) else {
            continue;
        };
        let rest: Vec<&str> = parts.collect();
        out.push(ZkFile {
            zxid,
            path: entry.path(),
            suffix: (!rest.is_empty()).then(|| rest.join(".")),
        });
    }
    out.sort_by(|a, b| a.zxid.cmp(&b.zxid).then_with(|| a.path.cmp(&b.path)));
    Ok(out)
}

/// Loads the state ZooKeeper would start with from `data_dir` (snapshots)
/// and `log_dir` (transaction logs).
pub fn load(
    data_dir: &Path,
    log_dir: &Path,
    extended_types: bool,
    show_progress: bool,
) -> Result<Loaded> {
    let snap_dir = version_dir(data_dir);
    let txn_dir = version_dir(log_dir);
    let snapshots = list(&snap_dir, "snapshot")?;
    let logs = list(&txn_dir, "log")?;
    if snapshots.is_empty() && logs.is_empty() {
        return Err(MigrateError::file(
            &snap_dir,
            "no ZooKeeper snapshot.* or log.* files here (is this ZooKeeper's dataDir?)",
        ));
    }
    let mut notes = Vec::new();
    let (mut tree, snap_zxid, snapshot) =
        newest_valid_snapshot(&snapshots, extended_types, show_progress, &mut notes)?;
    let (last_zxid, logs_read) =
        replay_logs(&logs, &mut tree, snap_zxid, show_progress, &mut notes)?;
    Ok(Loaded {
        tree,
        last_zxid: last_zxid.max(snap_zxid),
        snapshot,
        logs: logs_read,
        notes,
    })
}

/// The logs that may hold transactions after `snap_zxid`
/// (`FileTxnLog.FileTxnIterator.init`): every log starting after it, and
/// the newest one starting at or before it.
fn logs_after(logs: &[ZkFile], snap_zxid: i64) -> &[ZkFile] {
    let target = snap_zxid.saturating_add(1);
    let first = logs
        .iter()
        .rposition(|l| l.zxid < target)
        .unwrap_or_else(|| {
            logs.iter()
                .position(|l| l.zxid >= target)
                .unwrap_or(logs.len())
        });
    &logs[first..]
}

/// Applies every logged transaction after `snap_zxid` to `tree`, in order.
/// Returns the last zxid applied and, per log, how many were applied. A
/// torn tail ends the newest log; anywhere else it is an error.
fn replay_logs(
    logs: &[ZkFile],
    tree: &mut ZkTree,
    snap_zxid: i64,
    show_progress: bool,
    notes: &mut Vec<String>,
) -> Result<(i64, Vec<(PathBuf, u64)>)> {
    let chosen = logs_after(logs, snap_zxid);
    let mut last_zxid = snap_zxid;
    let mut read = Vec::new();
    for (i, file) in chosen.iter().enumerate() {
        let size = fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
        let mut progress = Progress::new(
            format!("reading {}", file.path.display()),
            size,
            show_progress,
        );
        let mut applied = 0u64;
        let end = read_log(&file.path, &mut progress, |record| {
            // Transactions the snapshot already covers are skipped, as
            // ZooKeeper's iterator skips them.
            if record.header.zxid <= snap_zxid {
                return Ok(());
            }
            if record.header.zxid <= last_zxid {
                return Err(MigrateError::at(
                    &file.path,
                    record.offset,
                    format!(
                        "zxid {:#x} does not follow {last_zxid:#x}: the logs overlap or are out of order",
                        record.header.zxid
                    ),
                ));
            }
            replay::apply(tree, &record.header, &record.txn);
            last_zxid = record.header.zxid;
            applied += 1;
            Ok(())
        })?;
        if let LogEnd::Torn { offset, why } = end {
            let what =
                format!("torn record at the end ({why}); reading stopped there, as ZooKeeper does");
            if i + 1 == chosen.len() {
                notes.push(format!("{}: at byte {offset}: {what}", file.path.display()));
            } else {
                return Err(MigrateError::at(
                    &file.path,
                    offset,
                    format!("{what}, but newer logs follow: this log is damaged"),
                ));
            }
        }
        read.push((file.path.clone(), applied));
    }
    Ok((last_zxid, read))
}

/// The newest snapshot that reads completely, trying older ones (at most
/// [`SNAPSHOTS_TRIED_MAX`]) as ZooKeeper does; a fresh tree at zxid 0 when
/// there is none. A compressed newest snapshot is refused.
fn newest_valid_snapshot(
    snapshots: &[ZkFile],
    extended_types: bool,
    show_progress: bool,
    notes: &mut Vec<String>,
) -> Result<(ZkTree, i64, Option<PathBuf>)> {
    let mut first_error = None;
    for file in snapshots.iter().rev().take(SNAPSHOTS_TRIED_MAX) {
        if let Some(suffix) = &file.suffix {
            return Err(MigrateError::file(
                &file.path,
                format!(
                    "a compressed snapshot (.{suffix}, zookeeper.snapshot.compression.method): \
                     rzk import reads uncompressed snapshots only; decompress it to {} \
                     (gzip -dc / snappy) or restart ZooKeeper without compression so it writes one",
                    file.path.with_extension("").display()
                ),
            ));
        }
        let size = fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
        let mut progress = Progress::new(
            format!("reading {}", file.path.display()),
            size,
            show_progress,
        );
        match read_snapshot(&file.path, file.zxid, extended_types, &mut progress) {
            Ok(snap) => return Ok((snap.tree, snap.zxid, Some(file.path.clone()))),
            Err(e) => {
                notes.push(format!("skipped an unreadable snapshot: {e}"));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(MigrateError {
            what: format!(
                "{} (the newest snapshot; no snapshot in the directory reads completely)",
                e.what
            ),
            ..e
        }),
        None => {
            notes.push("no snapshot: starting from an empty ZooKeeper tree".to_owned());
            Ok((
                ZkTree {
                    extended_types,
                    ..ZkTree::fresh()
                },
                0,
                None,
            ))
        }
    }
}
