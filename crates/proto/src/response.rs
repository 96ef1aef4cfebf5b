//! Reply bodies: what follows the `ReplyHeader` for each request type. A reply whose
//! header carries a non-zero error has no body, as in Apache ZooKeeper.

use crate::codes::{ErrorCode, OpCode};
use crate::jute::{self, Decode, DecodeError, Encode, Reader, Result};
use crate::records::*;
use crate::types::{Acl, Stat};

/// The result of one operation of a `multi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    /// Failed op, or an op rolled back because another failed (Ok for ops before
    /// the failure, RuntimeInconsistency after it, as ZooKeeper reports them).
    Error(ErrorCode),
}

/// The result of one operation of a `multiRead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiReadResult {
    Children(Vec<String>),
    Data { data: Vec<u8>, stat: Stat },
    Error(ErrorCode),
}

/// A reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// delete, check, auth, setWatches, removeWatches, checkWatches, addWatch,
    /// closeSession, ping, and every error reply.
    Empty,
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData and reconfig.
    Data {
        data: Vec<u8>,
        stat: Stat,
    },
    Acl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    Children(Vec<String>),
    Children2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    Multi(Vec<MultiResult>),
    MultiRead(Vec<MultiReadResult>),
    Ephemerals(Vec<String>),
    AllChildrenNumber(i32),
    WhoAmI(Vec<ClientInfo>),
}

impl Response {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Empty => {}
            Response::Create { path } => jute::write_string(out, path),
            Response::Create2 { path, stat } => {
                jute::write_string(out, path);
                stat.encode(out);
            }
            Response::Stat(stat) => stat.encode(out),
            Response::Data { data, stat } => {
                jute::write_buffer(out, data);
                stat.encode(out);
            }
            Response::Acl { acl, stat } => {
                jute::write_vec(out, acl);
                stat.encode(out);
            }
            Response::Children(c) => jute::write_vec(out, c),
            Response::Children2 { children, stat } => {
                jute::write_vec(out, children);
                stat.encode(out);
            }
            Response::Sync { path } => jute::write_string(out, path),
            Response::Multi(results) => encode_multi_results(results, out),
            Response::MultiRead(results) => encode_multi_read_results(results, out),
            Response::Ephemerals(e) => jute::write_vec(out, e),
            Response::AllChildrenNumber(n) => jute::write_i32(out, *n),
            Response::WhoAmI(infos) => jute::write_vec(out, infos),
        }
    }

    /// Decodes the body of a successful reply to `op`. Used by clients and tests.
    pub fn decode(op: OpCode, body: &[u8]) -> Result<Response> {
        let mut r = Reader::new(body);
        let resp = match op {
            OpCode::Create => Response::Create {
                path: r.read_string()?,
            },
            // ZooKeeper answers createContainer and createTTL with a
            // Create2Response (path and stat), as it does create2.
            OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => Response::Create2 {
                path: r.read_string()?,
                stat: Stat::decode(&mut r)?,
            },
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
                Response::Stat(Stat::decode(&mut r)?)
            }
            OpCode::GetData | OpCode::Reconfig => Response::Data {
                data: r.read_buffer()?,
                stat: Stat::decode(&mut r)?,
            },
            OpCode::GetAcl => Response::Acl {
                acl: r.read_vec()?,
                stat: Stat::decode(&mut r)?,
            },
            OpCode::GetChildren => Response::Children(r.read_vec()?),
            OpCode::GetChildren2 => Response::Children2 {
                children: r.read_vec()?,
                stat: Stat::decode(&mut r)?,
            },
            OpCode::Sync => Response::Sync {
                path: r.read_string()?,
            },
            OpCode::Multi => Response::Multi(decode_multi_results(&mut r)?),
            OpCode::MultiRead => Response::MultiRead(decode_multi_read_results(&mut r)?),
            OpCode::GetEphemerals => Response::Ephemerals(r.read_vec()?),
            OpCode::GetAllChildrenNumber => Response::AllChildrenNumber(r.read_i32()?),
            OpCode::WhoAmI => Response::WhoAmI(r.read_vec()?),
            _ => Response::Empty,
        };
        Ok(resp)
    }
}

fn error_code(code: i32) -> Result<ErrorCode> {
    ErrorCode::from_code(code).ok_or(DecodeError::BadValue("error code", i64::from(code)))
}

fn encode_multi_results(results: &[MultiResult], out: &mut Vec<u8>) {
    for res in results {
        let (op, err) = match res {
            MultiResult::Create { .. } => (OpCode::Create, 0),
            MultiResult::Create2 { .. } => (OpCode::Create2, 0),
            MultiResult::Delete => (OpCode::Delete, 0),
            MultiResult::SetData { .. } => (OpCode::SetData, 0),
            MultiResult::Check => (OpCode::Check, 0),
            MultiResult::Error(e) => (OpCode::Error, e.code()),
        };
        MultiHeader {
            op: op.code(),
            done: false,
            err,
        }
        .encode(out);
        match res {
            MultiResult::Create { path } => jute::write_string(out, path),
            MultiResult::Create2 { path, stat } => {
                jute::write_string(out, path);
                stat.encode(out);
            }
            MultiResult::SetData { stat } => stat.encode(out),
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::Error(e) => jute::write_i32(out, e.code()),
        }
    }
    MultiHeader::END.encode(out);
}

fn decode_multi_results(r: &mut Reader<'_>) -> Result<Vec<MultiResult>> {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::decode(r)?;
        if h.done {
            return Ok(out);
        }
        out.push(match OpCode::from_code(h.op) {
            Some(OpCode::Create) | Some(OpCode::CreateContainer) => MultiResult::Create {
                path: r.read_string()?,
            },
            Some(OpCode::Create2) | Some(OpCode::CreateTtl) => MultiResult::Create2 {
                path: r.read_string()?,
                stat: Stat::decode(r)?,
            },
            Some(OpCode::Delete) => MultiResult::Delete,
            Some(OpCode::SetData) => MultiResult::SetData {
                stat: Stat::decode(r)?,
            },
            Some(OpCode::Check) => MultiResult::Check,
            Some(OpCode::Error) => MultiResult::Error(error_code(r.read_i32()?)?),
            _ => return Err(DecodeError::BadValue("multi result type", i64::from(h.op))),
        });
    }
}

fn encode_multi_read_results(results: &[MultiReadResult], out: &mut Vec<u8>) {
    for res in results {
        match res {
            MultiReadResult::Children(c) => {
                MultiHeader {
                    op: OpCode::GetChildren.code(),
                    done: false,
                    err: 0,
                }
                .encode(out);
                jute::write_vec(out, c);
            }
            MultiReadResult::Data { data, stat } => {
                MultiHeader {
                    op: OpCode::GetData.code(),
                    done: false,
                    err: 0,
                }
                .encode(out);
                jute::write_buffer(out, data);
                stat.encode(out);
            }
            MultiReadResult::Error(e) => {
                MultiHeader {
                    op: OpCode::Error.code(),
                    done: false,
                    err: e.code(),
                }
                .encode(out);
                jute::write_i32(out, e.code());
            }
        }
    }
    MultiHeader::END.encode(out);
}

fn decode_multi_read_results(r: &mut Reader<'_>) -> Result<Vec<MultiReadResult>> {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::decode(r)?;
        if h.done {
            return Ok(out);
        }
        out.push(match OpCode::from_code(h.op) {
            Some(OpCode::GetChildren) => MultiReadResult::Children(r.read_vec()?),
            Some(OpCode::GetData) => MultiReadResult::Data {
                data: r.read_buffer()?,
                stat: Stat::decode(r)?,
            },
            Some(OpCode::Error) => MultiReadResult::Error(error_code(r.read_i32()?)?),
            _ => {
                return Err(DecodeError::BadValue(
                    "multiRead result type",
                    i64::from(h.op),
                ))
            }
        });
    }
}

/// Encodes a whole reply frame (length prefix, header, body) into `out`.
pub fn encode_reply(out: &mut Vec<u8>, xid: i32, zxid: i64, err: ErrorCode, body: &Response) {
    let start = crate::frame::begin_frame(out);
    ReplyHeader {
        xid,
        zxid,
        err: err.code(),
    }
    .encode(out);
    if err == ErrorCode::Ok {
        body.encode(out);
    }
    crate::frame::finish_frame(out, start);
}

/// Encodes a watch notification frame.
pub fn encode_notification(out: &mut Vec<u8>, event: &WatcherEvent) {
    let start = crate::frame::begin_frame(out);
    ReplyHeader {
        xid: crate::codes::xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    }
    .encode(out);
    event.encode(out);
    crate::frame::finish_frame(out, start);
}
