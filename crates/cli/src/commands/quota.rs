//! setquota, listquota, delquota: zkCli's client-side procedures over the
//! nodes under `/zookeeper/quota` (see `crate::quota`).

use rzk_proto::{Acl, CreateMode, ErrorCode};

use super::{malformed, on, say, CliError, CmdResult, Ctx};
use crate::args::{flag, parse_flags, valued, Parsed};
use crate::ops::OpError;
use crate::quota::{self as q, StatsTrack};

/// The four quota flags: soft and hard limits on the node count and bytes.
const KINDS: [(char, &str); 4] = [
    ('n', q::COUNT),
    ('b', q::BYTES),
    ('N', q::COUNT_HARD),
    ('B', q::BYTES_HARD),
];

/// commons-cli's `OptionGroup`: at most one of the four flags.
fn one_kind(p: &Parsed) -> Result<Option<(char, &'static str)>, CliError> {
    let given: Vec<(char, &str)> = KINDS.iter().copied().filter(|(c, _)| p.has(*c)).collect();
    if let [first, second, ..] = given.as_slice() {
        return Err(CliError::new(format!(
            "org.apache.commons.cli.AlreadySelectedException: The option '{}' was specified \
             but an option from this group has already been selected: '{}'",
            second.0, first.0
        )));
    }
    Ok(given.first().copied())
}

pub fn set_quota(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &KINDS.map(|(c, _)| valued(c))).map_err(CliError::new)?;
    let Some((kind, key)) = one_kind(&p)? else {
        return Err(CliError::new(
            "org.apache.commons.cli.MissingOptionException: Missing required option: \
             [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]",
        ));
    };
    let path = p.arg(1).ok_or_else(|| malformed("setquota"))?.to_string();
    if path.starts_with(q::QUOTA_ROOT) {
        say!(
            ctx.err,
            "cannot set a quota under the path: {}\n",
            q::QUOTA_ROOT
        );
        return Ok(());
    }
    let raw = p.value(kind).unwrap_or_default();
    let counts = kind == 'n' || kind == 'N';
    // Integer.parseInt for counts, Long.parseLong for bytes.
    let parsed = if counts {
        raw.parse::<i32>().map(i64::from)
    } else {
        raw.parse::<i64>()
    };
    let value = match parsed {
        Ok(v) => v,
        Err(_) => {
            say!(
                ctx.err,
                "NumberFormatException happens when parsing the option value\n"
            );
            return Ok(());
        }
    };
    if counts && value <= 0 {
        say!(ctx.err, "the num quota must be greater than zero\n");
        return Ok(());
    }
    if !counts && value < 0 {
        say!(
            ctx.err,
            "the bytes quota must be greater than or equal to zero\n"
        );
        return Ok(());
    }
    let mut quota = StatsTrack::default();
    for (_, k) in KINDS {
        quota.set(k, -1);
    }
    quota.set(key, value);
    create_quota(ctx, &path, &quota)
}

/// `SetQuotaCommand.createQuota`.
fn create_quota(ctx: &mut Ctx<'_>, path: &str, quota: &StatsTrack) -> CmdResult {
    if ctx.session.exists(path, false).map_err(on(path))?.is_none() {
        return Err(CliError::new(format!("{path} does not exist.")));
    }
    check_no_quota_below(ctx, path)?;
    check_no_quota_above(ctx, path)?;
    let open = Acl::open_unsafe();
    let create = |ctx: &mut Ctx<'_>, p: &str, data: Option<&[u8]>| -> CmdResult {
        match ctx
            .session
            .create(p, data, &open, CreateMode::Persistent, None)
        {
            Ok(_) | Err(OpError::Keeper(ErrorCode::NodeExists)) => Ok(()),
            Err(e) => Err(on(p)(e)),
        }
    };
    if ctx
        .session
        .exists(q::QUOTA_ROOT, false)
        .map_err(on(q::QUOTA_ROOT))?
        .is_none()
    {
        create(ctx, q::PROC_ROOT, None)?;
        create(ctx, q::QUOTA_ROOT, None)?;
    }
    let mut node = q::QUOTA_ROOT.to_string();
    for part in path.split('/').filter(|s| !s.is_empty()) {
        node.push('/');
        node.push_str(part);
        if ctx
            .session
            .exists(&node, false)
            .map_err(on(&node))?
            .is_none()
        {
            create(ctx, &node, None)?;
        }
    }
    let limit_path = q::limit_path(path);
    let stat_path = q::stat_path(path);
    let exists = ctx
        .session
        .exists(&limit_path, false)
        .map_err(on(&limit_path))?;
    let limits = if exists.is_none() {
        let text = quota.to_text();
        let fresh = |ctx: &mut Ctx<'_>, p: &str, t: &str| {
            ctx.session
                .create(p, Some(t.as_bytes()), &open, CreateMode::Persistent, None)
                .map_err(on(p))
        };
        fresh(ctx, &limit_path, &text)?;
        let mut usage = StatsTrack::default();
        usage.set(q::COUNT, 0);
        usage.set(q::BYTES, 0);
        fresh(ctx, &stat_path, &usage.to_text())?;
        read_track(ctx, &limit_path)?
    } else {
        let mut limits = read_track(ctx, &limit_path)?;
        for (_, k) in KINDS {
            if quota.get(k) > -1 {
                limits.set(k, quota.get(k));
            }
        }
        limits
    };
    let usage = read_track(ctx, &stat_path)?;
    for warning in q::below_usage_warnings(&limits, &usage) {
        say!(ctx.out, "{warning}\n");
    }
    if exists.is_some() {
        ctx.session
            .set_data(&limit_path, limits.to_text().as_bytes(), -1)
            .map_err(on(&limit_path))?;
    }
    Ok(())
}

fn read_track(ctx: &mut Ctx<'_>, path: &str) -> Result<StatsTrack, CliError> {
    let (data, _) = ctx.session.get_data(path, false).map_err(on(path))?;
    StatsTrack::parse(&data.unwrap_or_default()).map_err(CliError::new)
}

/// `checkIfChildQuota`: no node below `path` may have a quota.
fn check_no_quota_below(ctx: &mut Ctx<'_>, path: &str) -> CmdResult {
    let own = q::quota_path(path);
    let mut stack = vec![own.clone()];
    let mut visited = 0usize;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > super::nodes::SUBTREE_NODES_MAX {
            break;
        }
        let children = match ctx.session.get_children(&node, false, false) {
            Ok((children, _)) => children,
            Err(OpError::Keeper(ErrorCode::NoNode)) => continue,
            Err(e) => return Err(on(&node)(e)),
        };
        for child in &children {
            if node != own && child == q::LIMIT_NODE {
                return Err(CliError::new(format!(
                    "{path} has a child {} which has a quota",
                    &node[q::QUOTA_ROOT.len()..]
                )));
            }
            stack.push(format!("{node}/{child}"));
        }
    }
    Ok(())
}

/// `checkIfParentQuota`: no node above `path` may have a quota.
fn check_no_quota_above(ctx: &mut Ctx<'_>, path: &str) -> CmdResult {
    let parts: Vec<&str> = path.split('/').collect();
    let mut node = q::QUOTA_ROOT.to_string();
    for part in parts.iter().take(parts.len().saturating_sub(1)).skip(1) {
        node.push('/');
        node.push_str(part);
        let children = match ctx.session.get_children(&node, false, false) {
            Ok((children, _)) => children,
            Err(OpError::Keeper(ErrorCode::NoNode)) => return Ok(()),
            Err(e) => return Err(on(&node)(e)),
        };
        if children.iter().any(|c| c == q::LIMIT_NODE) {
            return Err(CliError::new(format!(
                "{path} has a parent {} which has a quota",
                &node[q::QUOTA_ROOT.len()..]
            )));
        }
    }
    Ok(())
}

pub fn list_quota(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &[]).map_err(CliError::new)?;
    let path = p.arg(1).ok_or_else(|| malformed("listquota"))?;
    say!(ctx.err, "absolute path is {}\n", q::limit_path(path));
    let mut lines = Vec::new();
    for (label, node) in [("quota", q::limit_path(path)), ("stat", q::stat_path(path))] {
        match ctx.session.get_data(&node, false) {
            Ok((data, _)) => {
                let track = StatsTrack::parse(&data.unwrap_or_default()).map_err(CliError::new)?;
                lines.push(format!("Output {label} for {path} {}\n", track.to_text()));
            }
            Err(OpError::Keeper(ErrorCode::NoNode)) => {
                say!(ctx.err, "quota for {path} does not exist.\n");
                return Ok(());
            }
            Err(e) => return Err(on(&node)(e)),
        }
    }
    for line in lines {
        say!(ctx.out, "{line}");
    }
    Ok(())
}

pub fn del_quota(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &KINDS.map(|(c, _)| flag(c))).map_err(CliError::new)?;
    let kind = one_kind(&p)?;
    let path = p.arg(1).ok_or_else(|| malformed("delquota"))?.to_string();
    let limit_path = q::limit_path(&path);
    if ctx
        .session
        .exists(&limit_path, false)
        .map_err(on(&limit_path))?
        .is_none()
    {
        say!(ctx.out, "Quota does not exist for {path}\n");
        return Ok(());
    }
    let result = match kind {
        Some((_, key)) => (|| {
            let mut limits = read_track(ctx, &limit_path)?;
            limits.set(key, -1);
            ctx.session
                .set_data(&limit_path, limits.to_text().as_bytes(), -1)
                .map_err(on(&limit_path))?;
            Ok(())
        })(),
        None => delete_quota_nodes(ctx, &path),
    };
    match result {
        Err(e) if e.message.starts_with("Node does not exist: ") => {
            say!(ctx.err, "quota for {path} does not exist.\n");
            Ok(())
        }
        other => other,
    }
}

/// Deletes the quota's two nodes, then every quota directory left empty up
/// to `/zookeeper/quota` (`trimProcQuotas`).
fn delete_quota_nodes(ctx: &mut Ctx<'_>, path: &str) -> CmdResult {
    let dir = q::quota_path(path);
    let (children, _) = ctx
        .session
        .get_children(&dir, false, false)
        .map_err(on(&dir))?;
    for child in children {
        let node = format!("{dir}/{child}");
        ctx.session.delete(&node, -1).map_err(on(&node))?;
    }
    let mut node = dir;
    while node != q::QUOTA_ROOT && node.starts_with(q::QUOTA_ROOT) {
        let (children, _) = ctx
            .session
            .get_children(&node, false, false)
            .map_err(on(&node))?;
        if !children.is_empty() {
            break;
        }
        ctx.session.delete(&node, -1).map_err(on(&node))?;
        match node.rfind('/') {
            Some(i) => node.truncate(i),
            None => break,
        }
    }
    Ok(())
}
