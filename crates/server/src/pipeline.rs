//! A session's requests in arrival order: the data structure behind per-session
//! FIFO.
//!
//! Each request becomes an item at the back of the queue; replies leave from
//! the front only, so they go out in request order. Three kinds:
//!
//! - `Submitted`: a write already placed in the log; its outcome arrives on a
//!   oneshot. Consecutive writes are submitted at once, so a session can
//!   pipeline many and they apply in its order.
//! - `Local`: a read or other local request. It runs when it reaches the front,
//!   that is once every earlier write of the session has been applied.
//! - `Held`: a write that arrived behind a local item. It is not submitted
//!   until every local item ahead of it has run; otherwise it could be applied
//!   before an earlier read executes, and that read would see a later write.

use crate::ops::Route;
use crate::reply::Body;
use rzk_proto::records::AuthPacket;
use rzk_proto::{ErrorCode, OpCode, Request};
use rzk_state::{Applied, WriteOp};
use std::collections::VecDeque;
use tokio::sync::oneshot;

use crate::control::CloseReason;

/// Request facts every item keeps for its reply and for the counters.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub xid: i32,
    pub op: OpCode,
    pub received_ms: u64,
}

/// A write waiting for its turn in the log.
#[derive(Debug)]
pub enum PendingWrite {
    Write(WriteOp),
    CloseSession,
    /// Not a write, but ordered like one: `sync` (its path is echoed back).
    Sync(String),
    /// A write request that failed before reaching the state machine (its
    /// body did not decode). ZooKeeper still logs an error transaction for it,
    /// consuming a zxid, and answers `err` with that zxid; so does rzk.
    Failed {
        err: ErrorCode,
        body: Body,
    },
}

/// The answer a [`PendingWrite::Failed`] gets instead of the entry's own.
pub type Failure = Option<(ErrorCode, Body)>;

impl PendingWrite {
    pub fn failure(&self) -> Failure {
        match self {
            PendingWrite::Failed { err, body } => Some((*err, body.clone())),
            _ => None,
        }
    }
}

/// A finished write: its request, its entry's outcome, and the failure that
/// replaces that outcome in the reply, if any.
#[derive(Debug)]
pub struct Done {
    pub meta: Meta,
    pub failure: Failure,
    pub applied: Applied,
}

/// Work done at the front of the queue.
#[derive(Debug)]
pub enum LocalWork {
    Request(Request),
    Auth(AuthPacket),
    Sasl,
    /// Answer `err` (with `zxid`, or the last zxid when `None`), then close
    /// if `close` says why: an undecodable request, an unknown opcode, or
    /// a read-only session's refused write or local closeSession.
    Fail {
        err: ErrorCode,
        zxid: Option<i64>,
        body: Body,
        close: Option<CloseReason>,
    },
}

impl LocalWork {
    pub fn from_route(route: Route) -> Result<LocalWork, PendingWrite> {
        match route {
            Route::Write(w) => Err(PendingWrite::Write(w)),
            Route::CloseSession => Err(PendingWrite::CloseSession),
            Route::Sync(path) => Err(PendingWrite::Sync(path)),
            Route::Auth(p) => Ok(LocalWork::Auth(p)),
            Route::Sasl => Ok(LocalWork::Sasl),
            Route::Local(r) => Ok(LocalWork::Request(r)),
        }
    }
}

#[derive(Debug)]
enum Item {
    Submitted {
        meta: Meta,
        rx: oneshot::Receiver<Applied>,
        failure: Failure,
    },
    Held {
        meta: Meta,
        write: Option<PendingWrite>,
    },
    Local {
        meta: Meta,
        work: LocalWork,
    },
}

/// What is at the front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Empty,
    /// A submitted write (its outcome may or may not be there yet).
    Submitted,
    /// A held write whose turn to be submitted has come.
    Held,
    Local,
}

#[derive(Debug, Default)]
pub struct Pipeline {
    items: VecDeque<Item>,
    /// Held plus Local items: while non-zero, a new write must be held.
    unsubmitted: usize,
}

impl Pipeline {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether a newly arrived write may go to the log right away.
    pub fn may_submit_now(&self) -> bool {
        self.unsubmitted == 0
    }

    pub fn push_submitted(&mut self, meta: Meta, rx: oneshot::Receiver<Applied>, failure: Failure) {
        self.items.push_back(Item::Submitted { meta, rx, failure });
    }

    pub fn push_held(&mut self, meta: Meta, write: PendingWrite) {
        self.unsubmitted += 1;
        self.items.push_back(Item::Held {
            meta,
            write: Some(write),
        });
    }

    pub fn push_local(&mut self, meta: Meta, work: LocalWork) {
        self.unsubmitted += 1;
        self.items.push_back(Item::Local { meta, work });
    }

    pub fn front(&self) -> Front {
        match self.items.front() {
            None => Front::Empty,
            Some(Item::Submitted { .. }) => Front::Submitted,
            Some(Item::Held { .. }) => Front::Held,
            Some(Item::Local { .. }) => Front::Local,
        }
    }

    /// The front write's outcome if it has arrived: `Some(Ok)` pops it.
    /// `Some(Err(()))` means the log dropped it (shutting down).
    pub fn try_take_front_outcome(&mut self) -> Option<Result<Done, ()>> {
        let Some(Item::Submitted { rx, .. }) = self.items.front_mut() else {
            return None;
        };
        match rx.try_recv() {
            Ok(applied) => self.pop_front_with(applied).map(Ok),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(())),
        }
    }

    /// Waits for the front write's outcome; pending forever when the front is
    /// not a submitted write (so it can sit in a `select!`). Does not pop:
    /// pass the outcome to [`Pipeline::pop_front_with`].
    pub async fn front_outcome(&mut self) -> Result<Applied, ()> {
        match self.items.front_mut() {
            Some(Item::Submitted { rx, .. }) => rx.await.map_err(|_| ()),
            _ => std::future::pending().await,
        }
    }

    /// Pops the submitted front item whose outcome [`Pipeline::front_outcome`]
    /// returned.
    pub fn pop_front_with(&mut self, applied: Applied) -> Option<Done> {
        if !matches!(self.items.front(), Some(Item::Submitted { .. })) {
            return None;
        }
        match self.items.pop_front() {
            Some(Item::Submitted { meta, failure, .. }) => Some(Done {
                meta,
                failure,
                applied,
            }),
            _ => None,
        }
    }

    pub fn pop_local(&mut self) -> Option<(Meta, LocalWork)> {
        if !matches!(self.items.front(), Some(Item::Local { .. })) {
            return None;
        }
        match self.items.pop_front() {
            Some(Item::Local { meta, work }) => {
                self.unsubmitted -= 1;
                Some((meta, work))
            }
            _ => None,
        }
    }

    /// The first held write with only submitted writes ahead of it: its turn
    /// has come. Takes the write out; call [`Pipeline::mark_submitted`] with
    /// the same index once it is in the log.
    pub fn next_releasable(&mut self) -> Option<(usize, Meta, PendingWrite)> {
        for (index, item) in self.items.iter_mut().enumerate() {
            match item {
                Item::Submitted { .. } => continue,
                Item::Local { .. } => return None,
                Item::Held { meta, write } => {
                    let write = write.take()?;
                    return Some((index, *meta, write));
                }
            }
        }
        None
    }

    pub fn mark_submitted(
        &mut self,
        index: usize,
        rx: oneshot::Receiver<Applied>,
        failure: Failure,
    ) {
        if let Some(item) = self.items.get_mut(index) {
            if let Item::Held { meta, .. } = item {
                let meta = *meta;
                *item = Item::Submitted { meta, rx, failure };
                self.unsubmitted -= 1;
            }
        }
    }
}
