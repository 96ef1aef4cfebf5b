//! Reads served from the local tree: exists, getData, getChildren(2), getACL,
//! getEphemerals, getAllChildrenNumber, multiRead.
//!
//! The tree does the ACL checks. A watch is registered only when the read
//! succeeds, except that exists on a missing node registers an exist watch
//! (so the client hears of the node's creation), as in ZooKeeper. Reads do not
//! validate path syntax: ZooKeeper looks the path up and answers NoNode.

use super::LocalCtx;
use crate::watch::WatchKind;
use rzk_proto::records::{
    ExistsRequest, GetAclRequest, GetAllChildrenNumberRequest, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest,
};
use rzk_proto::request::ReadOp;
use rzk_proto::{ErrorCode, MultiReadResult, Perms, Response};

fn watch(ctx: &mut LocalCtx<'_>, path: &str, kind: WatchKind) {
    // At the limit the registry has already asked the connection to close.
    let _ = ctx.core.watches.add(ctx.conn, path, kind);
}

/// exists. Since ZooKeeper 3.8.4 an existing node needs READ (NoAuth
/// otherwise, and no watch); a path containing NUL is BadArguments.
pub fn exists(ctx: &mut LocalCtx<'_>, r: &ExistsRequest) -> Result<Response, ErrorCode> {
    if r.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    match ctx.core.tree.exists(&r.path) {
        Some(stat) => {
            ctx.core.tree.check_acl(&r.path, Perms::READ, ctx.auth)?;
            if r.watch {
                watch(ctx, &r.path, WatchKind::Data);
            }
            Ok(Response::Stat(stat))
        }
        None => {
            if r.watch {
                watch(ctx, &r.path, WatchKind::Data);
            }
            Err(ErrorCode::NoNode)
        }
    }
}

pub fn get_data(ctx: &mut LocalCtx<'_>, r: &GetDataRequest) -> Result<Response, ErrorCode> {
    let (data, stat) = ctx.core.tree.get_data(&r.path, ctx.auth)?;
    if r.watch {
        watch(ctx, &r.path, WatchKind::Data);
    }
    Ok(Response::Data { data, stat })
}

pub fn get_children(
    ctx: &mut LocalCtx<'_>,
    r: &GetChildrenRequest,
    with_stat: bool,
) -> Result<Response, ErrorCode> {
    let (children, stat) = ctx.core.tree.get_children(&r.path, ctx.auth)?;
    if r.watch {
        watch(ctx, &r.path, WatchKind::Child);
    }
    Ok(if with_stat {
        Response::Children2 { children, stat }
    } else {
        Response::Children(children)
    })
}

pub fn get_acl(ctx: &mut LocalCtx<'_>, r: &GetAclRequest) -> Result<Response, ErrorCode> {
    let (acl, stat) = ctx.core.tree.get_acl(&r.path, ctx.auth)?;
    Ok(Response::Acl { acl, stat })
}

pub fn get_ephemerals(
    ctx: &mut LocalCtx<'_>,
    r: &GetEphemeralsRequest,
) -> Result<Response, ErrorCode> {
    Ok(Response::Ephemerals(
        ctx.core.tree.get_ephemerals(ctx.session_id, &r.prefix_path),
    ))
}

pub fn get_all_children_number(
    ctx: &mut LocalCtx<'_>,
    r: &GetAllChildrenNumberRequest,
) -> Result<Response, ErrorCode> {
    let n = ctx.core.tree.get_all_children_number(&r.path, ctx.auth)?;
    Ok(Response::AllChildrenNumber(n))
}

/// multiRead: each op answered on its own; a failed op is an error entry, not
/// a failed request. The ops' watch flags are ignored, as ZooKeeper does (its
/// `Op.getData` / `Op.getChildren` carry no watch).
pub fn multi_read(ctx: &mut LocalCtx<'_>, ops: &[ReadOp]) -> Response {
    let results = ops
        .iter()
        .map(|op| match op {
            ReadOp::GetChildren(r) => match get_children(ctx, &unwatched_children(r), false) {
                Ok(Response::Children(c)) => MultiReadResult::Children(c),
                Ok(_) => MultiReadResult::Error(ErrorCode::SystemError),
                Err(e) => MultiReadResult::Error(e),
            },
            ReadOp::GetData(r) => match get_data(ctx, &unwatched_data(r)) {
                Ok(Response::Data { data, stat }) => MultiReadResult::Data { data, stat },
                Ok(_) => MultiReadResult::Error(ErrorCode::SystemError),
                Err(e) => MultiReadResult::Error(e),
            },
        })
        .collect();
    Response::MultiRead(results)
}

fn unwatched_children(r: &GetChildrenRequest) -> GetChildrenRequest {
    GetChildrenRequest {
        path: r.path.clone(),
        watch: false,
    }
}

fn unwatched_data(r: &GetDataRequest) -> GetDataRequest {
    GetDataRequest {
        path: r.path.clone(),
        watch: false,
    }
}
