//! `rzk import` and `rzk export`: the command-line side of the
//! `rzk-migrate` crate. Parses the options, reads zoo.cfg when given (for
//! the data directories, the ensemble and `extendedTypesEnabled`), and
//! prints what was done.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use rzk_migrate::progress::Progress;
use rzk_migrate::to_rzk::{build_tree, check_empty_target, seed_data_dir};
use rzk_migrate::zk_dir::{self, Loaded};
use rzk_migrate::zk_export::write_zookeeper_snapshot;
use rzk_migrate::zk_snapshot::read_snapshot;
use rzk_replica::Member;
use rzk_server::ServerConfig;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apache ZooKeeper's dataDir (its snapshots, in version-2/).
    #[arg(long, value_name = "DIR", required_unless_present = "dump")]
    zookeeper_data_dir: Option<PathBuf>,
    /// Apache ZooKeeper's dataLogDir (its transaction logs); defaults to
    /// --zookeeper-data-dir.
    #[arg(long, value_name = "DIR")]
    zookeeper_log_dir: Option<PathBuf>,
    /// Instead of a ZooKeeper data directory, one ZooKeeper snapshot file,
    /// such as `rzk export` writes.
    #[arg(long, value_name = "FILE", conflicts_with = "zookeeper_data_dir")]
    dump: Option<PathBuf>,
    /// rzk's dataDir to create the snapshot in (default: dataDir of --config).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The zoo.cfg rzk will run with: its server.N lines become the
    /// ensemble (standalone without them), extendedTypesEnabled decides
    /// whether TTL nodes are recognised, dataDir is the default output.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The stopped rzk server's dataDir (default: dataDir of --config).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Its dataLogDir (default: --data-dir).
    #[arg(long, value_name = "DIR")]
    data_log_dir: Option<PathBuf>,
    /// The server's zoo.cfg (data directories, extendedTypesEnabled).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to write the ZooKeeper snapshot: <DIR>/version-2/snapshot.<zxid>.
    #[arg(long, value_name = "DIR")]
    zookeeper_data_dir: PathBuf,
}

fn load_config(path: Option<&Path>) -> Result<ServerConfig, String> {
    match path {
        None => Ok(ServerConfig::default()),
        Some(p) => ServerConfig::from_file(p)
            .map(|parsed| parsed.config)
            .map_err(|e| format!("{}: {e}", p.display())),
    }
}

pub fn import(args: ImportArgs) -> Result<(), String> {
    let config = load_config(args.config.as_deref())?;
    let data_dir = match (&args.data_dir, &args.config) {
        (Some(d), _) => d.clone(),
        (None, Some(_)) => config.data_dir.clone(),
        (None, None) => return Err("--data-dir (or --config) is required".into()),
    };
    let data_log_dir = if args.config.is_some() && args.data_dir.is_none() {
        config.data_log_dir.clone()
    } else {
        data_dir.clone()
    };
    let state_config = rzk_server::replicated::state_config(&config);
    check_empty_target(&data_dir, &data_log_dir).map_err(|e| e.to_string())?;

    let loaded = match &args.dump {
        Some(file) => load_dump(file, state_config.extended_types_enabled)?,
        None => {
            let zk_data = args.zookeeper_data_dir.clone().unwrap_or_default();
            let zk_log = args.zookeeper_log_dir.clone().unwrap_or(zk_data.clone());
            zk_dir::load(&zk_data, &zk_log, state_config.extended_types_enabled, true)
                .map_err(|e| e.to_string())?
        }
    };
    if let Some(snap) = &loaded.snapshot {
        eprintln!("read {}", snap.display());
    }
    for (log, applied) in &loaded.logs {
        eprintln!("read {} ({applied} transactions applied)", log.display());
    }
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let tree =
        build_tree(&loaded.tree, loaded.last_zxid, state_config).map_err(|e| e.to_string())?;
    let voters = voters(&config);
    let written = seed_data_dir(&tree, &data_dir, voters).map_err(|e| e.to_string())?;
    println!(
        "imported {} znodes, {} sessions, {} ephemerals at zxid 0x{:x} into {}",
        tree.node_count(),
        tree.sessions().len(),
        tree.ephemeral_count(),
        tree.last_zxid(),
        written.display()
    );
    Ok(())
}

/// A single snapshot file: its zxid from its name (`snapshot.<hex>`), or
/// the largest zxid its nodes carry.
fn load_dump(file: &Path, extended_types: bool) -> Result<Loaded, String> {
    let named = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("snapshot."))
        .and_then(|hex| i64::from_str_radix(hex, 16).ok());
    let mut progress = Progress::new(
        format!("reading {}", file.display()),
        std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        true,
    );
    let snap = read_snapshot(file, named.unwrap_or(0), extended_types, &mut progress)
        .map_err(|e| e.to_string())?;
    let last_zxid = named.unwrap_or_else(|| {
        snap.tree
            .nodes
            .values()
            .map(|n| n.stat.czxid.max(n.stat.mzxid).max(n.stat.pzxid))
            .max()
            .unwrap_or(0)
    });
    Ok(Loaded {
        tree: snap.tree,
        last_zxid,
        snapshot: Some(file.to_path_buf()),
        logs: Vec::new(),
        notes: Vec::new(),
    })
}

/// The ensemble the imported snapshot records: zoo.cfg's voters, or this
/// server alone (standalone), as `rzk server` would initialise it.
fn voters(config: &ServerConfig) -> BTreeMap<u64, Member> {
    if config.ensemble.is_empty() {
        BTreeMap::from([(config.my_id, Member::at(""))])
    } else {
        config.ensemble.voters()
    }
}

pub fn export(args: ExportArgs) -> Result<(), String> {
    let config = load_config(args.config.as_deref())?;
    let data_dir = match (&args.data_dir, &args.config) {
        (Some(d), _) => d.clone(),
        (None, Some(_)) => config.data_dir.clone(),
        (None, None) => return Err("--data-dir (or --config) is required".into()),
    };
    let data_log_dir = match (&args.data_log_dir, &args.data_dir, &args.config) {
        (Some(d), _, _) => d.clone(),
        (None, None, Some(_)) => config.data_log_dir.clone(),
        _ => data_dir.clone(),
    };
    let state_config = rzk_server::replicated::state_config(&config);
    let tree = rzk_replica::offline::current_tree(
        &data_dir.join(rzk_server::replicated::SNAPSHOT_DIR_NAME),
        &data_log_dir.join(rzk_server::replicated::LOG_DIR_NAME),
        &state_config,
    )
    .map_err(|e| format!("reading {}: {e}", data_dir.display()))?;
    let path =
        write_zookeeper_snapshot(&tree, &args.zookeeper_data_dir).map_err(|e| e.to_string())?;
    println!(
        "exported {} znodes, {} sessions at zxid 0x{:x} to {}",
        tree.node_count(),
        tree.sessions().len(),
        tree.last_zxid(),
        path.display()
    );
    Ok(())
}
