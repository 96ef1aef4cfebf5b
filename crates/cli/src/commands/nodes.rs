//! Commands on znodes: create, delete, deleteall, set, get, stat, ls, ls2,
//! sync, getEphemerals, getAllChildrenNumber; and close, version.

use rzk_proto::records::DeleteRequest;
use rzk_proto::request::MultiOp;
use rzk_proto::{Acl, CreateMode};
use std::collections::VecDeque;

use super::{malformed, on, say, CliError, CmdResult, Ctx};
use crate::args::{flag, parse_flags, valued, Parsed};
use crate::format;
use crate::ops::validate_path;

/// Nodes `ls -R` and `deleteall` visit at most: a bound on the memory of
/// one command. Beyond it the command stops with an error.
pub const SUBTREE_NODES_MAX: usize = 1_000_000;

fn parse(words: &[String], flags: &[crate::args::Flag]) -> Result<Parsed, CliError> {
    parse_flags(words, flags).map_err(CliError::new)
}

/// A `-v` style integer option (Java's `Integer.parseInt`; zkCli lets the
/// exception escape, rzk cli reports it).
fn int_option(p: &Parsed, name: char, default: i32) -> Result<i32, CliError> {
    match p.value(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| CliError::new(format!("For input string: \"{v}\""))),
    }
}

/// The word at `index`, or the command's usage as the error.
fn required<'p>(p: &'p Parsed, index: usize, command: &str) -> Result<&'p str, CliError> {
    p.arg(index).ok_or_else(|| malformed(command))
}

pub fn create(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[flag('e'), flag('s'), flag('c'), valued('t')])?;
    let path = required(&p, 1, "create")?;
    let (e, s, c, t) = (p.has('e'), p.has('s'), p.has('c'), p.has('t'));
    if c && (e || s) {
        return Err(CliError::new(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
        ));
    }
    let ttl_ms = match p.value('t') {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| CliError::new("-t argument must be a long value"))?,
        ),
    };
    if t && e {
        return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
    }
    if t && c {
        return Err(CliError::new("TTLs cannot be used with Container znodes"));
    }
    let mode = match (e, s, c, t) {
        (true, true, _, _) => CreateMode::EphemeralSequential,
        (true, false, _, _) => CreateMode::Ephemeral,
        (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, true, _, false) => CreateMode::PersistentSequential,
        (false, false, true, _) => CreateMode::Container,
        (false, false, false, true) => CreateMode::PersistentWithTtl,
        (false, false, false, false) => CreateMode::Persistent,
    };
    if let Some(ttl) = ttl_ms {
        // EphemeralType.TTL.toEphemeralOwner: 1 ..= 2^40 - 1 milliseconds.
        const TTL_MAX_MS: i64 = (1 << 40) - 1;
        if !(1..=TTL_MAX_MS).contains(&ttl) {
            return Err(CliError::new(format!(
                "ttl must be positive and cannot be larger than: {TTL_MAX_MS}"
            )));
        }
    }
    let data = p.arg(2).map(str::as_bytes);
    let acl = match p.arg(3) {
        Some(text) => {
            let mut warnings = Vec::new();
            let acl = format::parse_acl(text, &mut warnings);
            for w in warnings {
                say!(ctx.err, "{w}\n");
            }
            acl
        }
        None => Acl::open_unsafe(),
    };
    let created = ctx
        .session
        .create(path, data, &acl, mode, ttl_ms)
        .map_err(|e| {
            if e == crate::ops::OpError::Keeper(rzk_proto::ErrorCode::EphemeralOnLocalSession) {
                say!(
                    ctx.err,
                    "Unable to create ephemeral node on a local session\n"
                );
            }
            on(path)(e)
        })?;
    say!(ctx.err, "Created {created}\n");
    Ok(())
}

pub fn delete(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[valued('v')])?;
    let path = required(&p, 1, "delete")?;
    if p.args.len() > 2 {
        say!(
            ctx.err,
            "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.\n"
        );
    }
    let version = int_option(&p, 'v', -1)?;
    ctx.session.delete(path, version).map_err(on(path))
}

/// Every path of the subtree at `root`, breadth first, root first
/// (`ZKUtil.listSubTreeBFS`).
fn subtree_bfs(ctx: &mut Ctx<'_>, root: &str) -> Result<Vec<String>, CliError> {
    let mut tree = vec![root.to_string()];
    let mut queue = VecDeque::from([root.to_string()]);
    while let Some(node) = queue.pop_front() {
        let (children, _) = ctx
            .session
            .get_children(&node, false, false)
            .map_err(on(&node))?;
        for child in children {
            let path = child_path(&node, &child);
            if tree.len() >= SUBTREE_NODES_MAX {
                return Err(CliError::new(format!(
                    "{root} has more than {SUBTREE_NODES_MAX} nodes"
                )));
            }
            queue.push_back(path.clone());
            tree.push(path);
        }
    }
    Ok(tree)
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

pub fn delete_all(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[valued('b')])?;
    let path = required(&p, 1, "deleteall")?;
    let batch = match p.value('b') {
        None => 1000,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| CliError::new("-b argument must be an int value"))?,
    };
    validate_path(path, false).map_err(CliError::new)?;
    let tree = subtree_bfs(ctx, path)?;
    // Leaves first, the root last, in multis of `batch` deletes; stop at the
    // first failed batch (ZKUtil.deleteInBatch).
    let mut ok = true;
    let ops: Vec<MultiOp> = tree
        .iter()
        .rev()
        .map(|p| {
            MultiOp::Delete(DeleteRequest {
                path: p.clone(),
                version: -1,
            })
        })
        .collect();
    for chunk in ops.chunks(batch) {
        if ctx.session.multi(chunk.to_vec()).is_err() {
            ok = false;
            break;
        }
    }
    if !ok {
        say!(ctx.err, "Failed to delete some node(s) in the subtree!\n");
    }
    Ok(())
}

pub fn set(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[flag('s'), valued('v')])?;
    let (Some(path), Some(data)) = (p.arg(1), p.arg(2)) else {
        return Err(malformed("set"));
    };
    let version = int_option(&p, 'v', -1)?;
    let stat = ctx
        .session
        .set_data(path, data.as_bytes(), version)
        .map_err(on(path))?;
    if p.has('s') {
        say!(ctx.out, "{}", format::stat(&stat));
    }
    Ok(())
}

/// `get path [watch]` and friends: zkCli turns a third word into `-w`.
fn deprecated_watch(ctx: &mut Ctx<'_>, p: &mut Parsed, old: &str, new: &str) {
    if p.args.len() > 2 {
        say!(
            ctx.err,
            "'{old}' has been deprecated. Please use '{new}' instead.\n"
        );
        p.args.truncate(2);
        p.set_flag('w');
    }
}

pub fn get(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let mut p = parse(words, &[flag('s'), flag('w')])?;
    let path = required(&p, 1, "get")?.to_string();
    deprecated_watch(ctx, &mut p, "get path [watch]", "get [-s] [-w] path");
    let (data, stat) = ctx.session.get_data(&path, p.has('w')).map_err(on(&path))?;
    match data {
        Some(d) => say!(ctx.out, "{}\n", String::from_utf8_lossy(&d)),
        None => say!(ctx.out, "null\n"),
    }
    if p.has('s') {
        say!(ctx.out, "{}", format::stat(&stat));
    }
    Ok(())
}

pub fn stat(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let mut p = parse(words, &[flag('w')])?;
    let path = required(&p, 1, "stat")?.to_string();
    deprecated_watch(ctx, &mut p, "stat path [watch]", "stat [-w] path");
    match ctx.session.exists(&path, p.has('w')).map_err(on(&path))? {
        Some(stat) => {
            say!(ctx.out, "{}", format::stat(&stat));
            Ok(())
        }
        None => Err(CliError::new(format::error_message(
            rzk_proto::ErrorCode::NoNode,
            &path,
        ))),
    }
}

pub fn ls(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let mut p = parse(words, &[flag('?'), flag('s'), flag('w'), flag('R')])?;
    deprecated_watch(ctx, &mut p, "ls path [watch]", "ls [-w] path");
    let path = required(&p, 1, "ls")?.to_string();
    let watch = p.has('w');
    if p.has('R') {
        return ls_recursive(ctx, &path, watch);
    }
    let (mut children, stat) = ctx
        .session
        .get_children(&path, watch, p.has('s'))
        .map_err(on(&path))?;
    children.sort();
    say!(ctx.out, "{}\n", format::list(&children));
    if let Some(stat) = stat {
        say!(ctx.out, "{}", format::stat(&stat));
    }
    Ok(())
}

/// `ls -R`: the path, then each level's children in sorted order before
/// descending into them (`ZKUtil.visitSubTreeDFS`), one path a line. Written
/// with an explicit stack: znode trees can be deeper than a thread's stack.
fn ls_recursive(ctx: &mut Ctx<'_>, root: &str, watch: bool) -> CmdResult {
    validate_path(root, false).map_err(CliError::new)?;
    ctx.session.get_data(root, watch).map_err(on(root))?;
    say!(ctx.out, "{root}\n");
    let mut stack = vec![root.to_string()];
    let mut visited = 0usize;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > SUBTREE_NODES_MAX {
            return Err(CliError::new(format!(
                "{root} has more than {SUBTREE_NODES_MAX} nodes"
            )));
        }
        let mut children = match ctx.session.get_children(&node, watch, false) {
            Ok((children, _)) => children,
            // Deleted since its parent was listed: skipped, as ZKUtil does.
            Err(crate::ops::OpError::Keeper(rzk_proto::ErrorCode::NoNode)) => continue,
            Err(e) => return Err(on(&node)(e)),
        };
        children.sort();
        let paths: Vec<String> = children.iter().map(|c| child_path(&node, c)).collect();
        for path in &paths {
            say!(ctx.out, "{path}\n");
        }
        stack.extend(paths.into_iter().rev());
    }
    Ok(())
}

/// `ls2 path [watch]`: zkCli 3.4's command, `ls -s` today.
pub fn ls2(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[])?;
    let path = required(&p, 1, "ls2")?.to_string();
    let watch = p.args.len() > 2;
    let (mut children, stat) = ctx
        .session
        .get_children(&path, watch, true)
        .map_err(on(&path))?;
    children.sort();
    say!(ctx.out, "{}\n", format::list(&children));
    if let Some(stat) = stat {
        say!(ctx.out, "{}", format::stat(&stat));
    }
    Ok(())
}

pub fn sync(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[])?;
    let path = required(&p, 1, "sync")?;
    match ctx.session.sync(path) {
        Ok(()) => say!(ctx.out, "Sync is OK\n"),
        Err(crate::ops::OpError::Keeper(code)) => {
            say!(ctx.out, "Sync has failed. rc={}\n", code.code())
        }
        Err(e) => return Err(on(path)(e)),
    }
    Ok(())
}

pub fn get_ephemerals(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[])?;
    let path = p.arg(1).unwrap_or("/");
    let list = ctx.session.get_ephemerals(path).map_err(on(path))?;
    say!(ctx.out, "{}\n", format::list(&list));
    Ok(())
}

pub fn all_children_number(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse(words, &[])?;
    let path = required(&p, 1, "getAllChildrenNumber")?;
    let n = ctx.session.all_children_number(path).map_err(on(path))?;
    say!(ctx.out, "{n}\n");
    Ok(())
}

pub fn close(ctx: &mut Ctx<'_>, _words: &[String]) -> CmdResult {
    ctx.session.close();
    Ok(())
}

pub fn version(ctx: &mut Ctx<'_>, _words: &[String]) -> CmdResult {
    say!(
        ctx.out,
        "ZooKeeper CLI version: rzk {}\n",
        env!("CARGO_PKG_VERSION")
    );
    Ok(())
}
