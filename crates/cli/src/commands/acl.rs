//! Access control: getAcl, setAcl, addauth, whoami.

use super::{malformed, on, say, CliError, CmdResult, Ctx};
use crate::args::{flag, parse_flags, valued};
use crate::format;

pub fn get_acl(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &[flag('s')]).map_err(CliError::new)?;
    let path = p.arg(1).ok_or_else(|| malformed("getAcl"))?;
    let (acl, stat) = ctx.session.get_acl(path).map_err(on(path))?;
    for entry in &acl {
        say!(ctx.out, "{}", format::acl_entry(entry));
    }
    if p.has('s') {
        say!(ctx.out, "{}", format::stat(&stat));
    }
    Ok(())
}

pub fn set_acl(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &[flag('s'), valued('v'), flag('R')]).map_err(CliError::new)?;
    let (Some(path), Some(text)) = (p.arg(1), p.arg(2)) else {
        return Err(malformed("setAcl"));
    };
    let mut warnings = Vec::new();
    let acl = format::parse_acl(text, &mut warnings);
    for w in warnings {
        say!(ctx.err, "{w}\n");
    }
    let version = match p.value('v') {
        None => -1,
        Some(v) => v
            .parse()
            .map_err(|_| CliError::new(format!("For input string: \"{v}\"")))?,
    };
    if !p.has('R') {
        let stat = ctx.session.set_acl(path, &acl, version).map_err(on(path))?;
        if p.has('s') {
            say!(ctx.out, "{}", format::stat(&stat));
        }
        return Ok(());
    }
    // -R: the node and every node below it, depth first; a node that fails
    // gets its message printed (without a newline, as zkCli does) and the
    // walk goes on.
    crate::ops::validate_path(path, false).map_err(CliError::new)?;
    ctx.session.get_data(path, false).map_err(on(path))?;
    let mut stack = vec![path.to_string()];
    let mut visited = 0usize;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > super::nodes::SUBTREE_NODES_MAX {
            return Err(CliError::new(format!(
                "{path} has more than {} nodes",
                super::nodes::SUBTREE_NODES_MAX
            )));
        }
        if let Err(crate::ops::OpError::Keeper(code)) = ctx.session.set_acl(&node, &acl, version) {
            say!(ctx.out, "{}", format::keeper_message(code, &node));
        }
        let mut children = match ctx.session.get_children(&node, false, false) {
            Ok((children, _)) => children,
            Err(_) => continue,
        };
        children.sort();
        let base = if node == "/" { "" } else { node.as_str() };
        stack.extend(children.iter().rev().map(|c| format!("{base}/{c}")));
    }
    Ok(())
}

pub fn add_auth(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &[]).map_err(CliError::new)?;
    let scheme = p.arg(1).ok_or_else(|| malformed("addauth"))?;
    let auth = p.arg(2).unwrap_or("").as_bytes().to_vec();
    match ctx.session.add_auth(scheme, &auth) {
        Ok(()) => Ok(()),
        // zkCli does not wait for the answer; the AuthFailed event (printed
        // by the watcher) is all the user sees.
        Err(rzk_proto::ErrorCode::AuthFailed) => Ok(()),
        Err(code) => Err(CliError::new(format::keeper_message(code, ""))),
    }
}

pub fn who_am_i(ctx: &mut Ctx<'_>, _words: &[String]) -> CmdResult {
    let infos = ctx.session.who_am_i().map_err(on(""))?;
    say!(ctx.out, "Auth scheme: User\n");
    for info in infos {
        say!(ctx.out, "{}: {}\n", info.auth_scheme, info.user);
    }
    Ok(())
}
