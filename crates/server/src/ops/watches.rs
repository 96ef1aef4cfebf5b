//! Watch management requests: setWatches / setWatches2 (re-arming after a
//! reconnect), addWatch, checkWatches, removeWatches.
//!
//! ZooKeeper sends no event when a watch is removed: the client library makes
//! its DataWatchRemoved / ChildWatchRemoved events itself once the server says
//! OK. So removeWatches here only removes, and answers NoWatcher when there
//! was nothing to remove.

use super::{LocalCtx, LocalReply};
use crate::reply::Body;
use crate::watch::WatchKind;
use rzk_proto::codes::AddWatchMode;
use rzk_proto::records::{AddWatchRequest, SetWatches2, WatchesRequest};
use rzk_proto::{ErrorCode, EventType, WatcherType};

/// `DataTree.setWatches`: a watch whose change the client missed while away
/// fires now instead of being re-armed, judged by `relative_zxid` (the last
/// zxid the client saw):
/// - data watch: node gone -> NodeDeleted; mzxid > relative -> NodeDataChanged;
/// - exist watch: node there -> NodeCreated;
/// - child watch: node gone -> NodeDeleted; pzxid > relative -> NodeChildrenChanged;
/// - persistent and persistent-recursive watches are re-added as they are.
///
/// Events for an existing node respect READ, as every other event does.
pub fn set_watches(ctx: &mut LocalCtx<'_>, w: &SetWatches2) {
    for path in &w.data_watches {
        match ctx.core.tree.exists(path) {
            None => fire(ctx, EventType::NodeDeleted, path),
            Some(stat) if stat.mzxid > w.relative_zxid => {
                fire(ctx, EventType::NodeDataChanged, path)
            }
            Some(_) => add(ctx, path, WatchKind::Data),
        }
    }
    for path in &w.exist_watches {
        match ctx.core.tree.exists(path) {
            Some(_) => fire(ctx, EventType::NodeCreated, path),
            None => add(ctx, path, WatchKind::Data),
        }
    }
    for path in &w.child_watches {
        match ctx.core.tree.exists(path) {
            None => fire(ctx, EventType::NodeDeleted, path),
            Some(stat) if stat.pzxid > w.relative_zxid => {
                fire(ctx, EventType::NodeChildrenChanged, path)
            }
            Some(_) => add(ctx, path, WatchKind::Child),
        }
    }
    for path in &w.persistent_watches {
        add(ctx, path, WatchKind::Persistent);
    }
    for path in &w.persistent_recursive_watches {
        add(ctx, path, WatchKind::PersistentRecursive);
    }
}

fn fire(ctx: &mut LocalCtx<'_>, event: EventType, path: &str) {
    let acl = ctx.core.tree.acl_of(path);
    ctx.core
        .watches
        .send_now(ctx.conn, event, path, acl.as_deref());
}

fn add(ctx: &mut LocalCtx<'_>, path: &str, kind: WatchKind) {
    let _ = ctx.core.watches.add(ctx.conn, path, kind);
}

/// addWatch. ZooKeeper registers without an ACL check (events are filtered
/// by READ when they fire) and answers an unknown mode with MarshallingError.
/// The reply carries an int 0 body.
pub fn add_watch(ctx: &mut LocalCtx<'_>, r: &AddWatchRequest) -> LocalReply {
    let kind = match AddWatchMode::from_code(r.mode) {
        Some(AddWatchMode::Persistent) => WatchKind::Persistent,
        Some(AddWatchMode::PersistentRecursive) => WatchKind::PersistentRecursive,
        None => return LocalReply::error(ErrorCode::MarshallingError),
    };
    add(ctx, &r.path, kind);
    LocalReply::ok(Body::AddWatchOk)
}

fn watcher_type(code: i32) -> Result<WatcherType, ErrorCode> {
    WatcherType::from_code(code).ok_or(ErrorCode::MarshallingError)
}

pub fn check_watches(ctx: &mut LocalCtx<'_>, r: &WatchesRequest) -> LocalReply {
    match watcher_type(r.watcher_type) {
        Err(e) => LocalReply::error(e),
        Ok(kind) if ctx.core.watches.contains(ctx.conn, &r.path, kind) => {
            LocalReply::ok(rzk_proto::Response::Empty)
        }
        Ok(_) => LocalReply::error(ErrorCode::NoWatcher),
    }
}

pub fn remove_watches(ctx: &mut LocalCtx<'_>, r: &WatchesRequest) -> LocalReply {
    match watcher_type(r.watcher_type) {
        Err(e) => LocalReply::error(e),
        Ok(kind) if ctx.core.watches.remove(ctx.conn, &r.path, kind) => {
            LocalReply::ok(rzk_proto::Response::Empty)
        }
        Ok(_) => LocalReply::error(ErrorCode::NoWatcher),
    }
}
