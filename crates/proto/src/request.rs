//! A client request as a typed value: the header's xid and opcode plus the body.
//!
//! Decoding follows Apache ZooKeeper: the opcode in the `RequestHeader` selects the
//! body record; an opcode we do not know is an error (the connection is closed).
//! Bytes after a complete body are ignored, as ZooKeeper's server ignores them.

use crate::codes::OpCode;
use crate::jute::{Decode, DecodeError, Encode, Reader, Result};
use crate::records::*;
use crate::types::Acl;

/// Any of create, create2, createContainer, createTTL. `ttl` is 0 unless the opcode
/// is createTTL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateOp {
    pub path: String,
    pub data: Vec<u8>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    pub ttl: i64,
}

/// One operation inside a `multi` (write) transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// `op` is one of Create, Create2, CreateContainer, CreateTtl.
    Create {
        op: OpCode,
        create: CreateOp,
    },
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
}

/// One operation inside a `multiRead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

/// A decoded request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create, create2, createContainer or createTTL (see the frame's opcode).
    Create(CreateOp),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    /// getChildren or getChildren2 (see the frame's opcode).
    GetChildren(GetChildrenRequest),
    Sync(SyncRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<ReadOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    /// setWatches (persistent lists empty) or setWatches2.
    SetWatches(SetWatches2),
    Sasl(SetSaslRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// A request with its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFrame {
    pub xid: i32,
    pub op: OpCode,
    pub request: Request,
}

impl RequestFrame {
    /// Decodes one frame body (after the 4-byte length).
    pub fn decode(body: &[u8]) -> Result<RequestFrame> {
        let mut r = Reader::new(body);
        let header = RequestHeader::decode(&mut r)?;
        let op = OpCode::from_code(header.op).ok_or(DecodeError::UnknownOpCode(header.op))?;
        let request = decode_body(op, &mut r)?;
        Ok(RequestFrame {
            xid: header.xid,
            op,
            request,
        })
    }

    /// Encodes header and body (without the length prefix). Used by clients and tests.
    pub fn encode(&self, out: &mut Vec<u8>) {
        RequestHeader {
            xid: self.xid,
            op: self.op.code(),
        }
        .encode(out);
        encode_body(self.op, &self.request, out);
    }
}

fn decode_create(op: OpCode, r: &mut Reader<'_>) -> Result<CreateOp> {
    if op == OpCode::CreateTtl {
        let c = CreateTtlRequest::decode(r)?;
        Ok(CreateOp {
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: c.ttl,
        })
    } else {
        let c = CreateRequest::decode(r)?;
        Ok(CreateOp {
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: 0,
        })
    }
}

fn encode_create(op: OpCode, c: &CreateOp, out: &mut Vec<u8>) {
    if op == OpCode::CreateTtl {
        CreateTtlRequest {
            path: c.path.clone(),
            data: c.data.clone(),
            acl: c.acl.clone(),
            flags: c.flags,
            ttl: c.ttl,
        }
        .encode(out)
    } else {
        CreateRequest {
            path: c.path.clone(),
            data: c.data.clone(),
            acl: c.acl.clone(),
            flags: c.flags,
        }
        .encode(out)
    }
}

fn decode_body(op: OpCode, r: &mut Reader<'_>) -> Result<Request> {
    Ok(match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            Request::Create(decode_create(op, r)?)
        }
        OpCode::Delete => Request::Delete(DeleteRequest::decode(r)?),
        OpCode::Exists => Request::Exists(ExistsRequest::decode(r)?),
        OpCode::GetData => Request::GetData(GetDataRequest::decode(r)?),
        OpCode::SetData => Request::SetData(SetDataRequest::decode(r)?),
        OpCode::GetAcl => Request::GetAcl(GetAclRequest::decode(r)?),
        OpCode::SetAcl => Request::SetAcl(SetAclRequest::decode(r)?),
        OpCode::GetChildren | OpCode::GetChildren2 => {
            Request::GetChildren(GetChildrenRequest::decode(r)?)
        }
        OpCode::Sync => Request::Sync(SyncRequest::decode(r)?),
        OpCode::Ping => Request::Ping,
        OpCode::Check => Request::Check(CheckVersionRequest::decode(r)?),
        OpCode::Multi => Request::Multi(decode_multi(r)?),
        OpCode::MultiRead => Request::MultiRead(decode_multi_read(r)?),
        OpCode::Reconfig => Request::Reconfig(ReconfigRequest::decode(r)?),
        OpCode::CheckWatches => Request::CheckWatches(WatchesRequest::decode(r)?),
        OpCode::RemoveWatches => Request::RemoveWatches(WatchesRequest::decode(r)?),
        OpCode::Auth => Request::Auth(AuthPacket::decode(r)?),
        OpCode::SetWatches => {
            let w = SetWatches::decode(r)?;
            Request::SetWatches(SetWatches2 {
                relative_zxid: w.relative_zxid,
                data_watches: w.data_watches,
                exist_watches: w.exist_watches,
                child_watches: w.child_watches,
                persistent_watches: Vec::new(),
                persistent_recursive_watches: Vec::new(),
            })
        }
        OpCode::SetWatches2 => Request::SetWatches(SetWatches2::decode(r)?),
        OpCode::Sasl => Request::Sasl(SetSaslRequest::decode(r)?),
        OpCode::GetEphemerals => Request::GetEphemerals(GetEphemeralsRequest::decode(r)?),
        OpCode::GetAllChildrenNumber => {
            Request::GetAllChildrenNumber(GetAllChildrenNumberRequest::decode(r)?)
        }
        OpCode::AddWatch => Request::AddWatch(AddWatchRequest::decode(r)?),
        OpCode::WhoAmI => Request::WhoAmI,
        OpCode::CloseSession => Request::CloseSession,
        OpCode::Notification | OpCode::DeleteContainer | OpCode::CreateSession | OpCode::Error => {
            return Err(DecodeError::UnknownOpCode(op.code()))
        }
    })
}

fn encode_body(op: OpCode, req: &Request, out: &mut Vec<u8>) {
    match req {
        Request::Create(c) => encode_create(op, c, out),
        Request::Delete(x) => x.encode(out),
        Request::Exists(x) => x.encode(out),
        Request::GetData(x) => x.encode(out),
        Request::SetData(x) => x.encode(out),
        Request::GetAcl(x) => x.encode(out),
        Request::SetAcl(x) => x.encode(out),
        Request::GetChildren(x) => x.encode(out),
        Request::Sync(x) => x.encode(out),
        Request::Check(x) => x.encode(out),
        Request::Multi(ops) => encode_multi(ops, out),
        Request::MultiRead(ops) => encode_multi_read(ops, out),
        Request::Reconfig(x) => x.encode(out),
        Request::CheckWatches(x) | Request::RemoveWatches(x) => x.encode(out),
        Request::Auth(x) => x.encode(out),
        Request::SetWatches(w) => {
            if op == OpCode::SetWatches {
                SetWatches {
                    relative_zxid: w.relative_zxid,
                    data_watches: w.data_watches.clone(),
                    exist_watches: w.exist_watches.clone(),
                    child_watches: w.child_watches.clone(),
                }
                .encode(out)
            } else {
                w.encode(out)
            }
        }
        Request::Sasl(x) => x.encode(out),
        Request::GetEphemerals(x) => x.encode(out),
        Request::GetAllChildrenNumber(x) => x.encode(out),
        Request::AddWatch(x) => x.encode(out),
        Request::Ping | Request::WhoAmI | Request::CloseSession => {}
    }
}

/// Upper bound on operations in one multi; each op needs at least a 9-byte header,
/// so the frame limit bounds this anyway; the loop below is bounded by the input.
fn decode_multi(r: &mut Reader<'_>) -> Result<Vec<MultiOp>> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::decode(r)?;
        if h.done {
            return Ok(ops);
        }
        let op = OpCode::from_code(h.op)
            .ok_or(DecodeError::BadValue("multi op type", i64::from(h.op)))?;
        ops.push(match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                MultiOp::Create {
                    op,
                    create: decode_create(op, r)?,
                }
            }
            OpCode::Delete => MultiOp::Delete(DeleteRequest::decode(r)?),
            OpCode::SetData => MultiOp::SetData(SetDataRequest::decode(r)?),
            OpCode::Check => MultiOp::Check(CheckVersionRequest::decode(r)?),
            _ => return Err(DecodeError::BadValue("multi op type", i64::from(h.op))),
        });
    }
}

fn decode_multi_read(r: &mut Reader<'_>) -> Result<Vec<ReadOp>> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::decode(r)?;
        if h.done {
            return Ok(ops);
        }
        ops.push(match OpCode::from_code(h.op) {
            Some(OpCode::GetChildren) => ReadOp::GetChildren(GetChildrenRequest::decode(r)?),
            Some(OpCode::GetData) => ReadOp::GetData(GetDataRequest::decode(r)?),
            _ => return Err(DecodeError::BadValue("multiRead op type", i64::from(h.op))),
        });
    }
}

fn encode_multi(ops: &[MultiOp], out: &mut Vec<u8>) {
    for op in ops {
        let code = match op {
            MultiOp::Create { op, .. } => *op,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
        };
        MultiHeader {
            op: code.code(),
            done: false,
            err: -1,
        }
        .encode(out);
        match op {
            MultiOp::Create { op, create } => encode_create(*op, create, out),
            MultiOp::Delete(x) => x.encode(out),
            MultiOp::SetData(x) => x.encode(out),
            MultiOp::Check(x) => x.encode(out),
        }
    }
    MultiHeader::END.encode(out);
}

fn encode_multi_read(ops: &[ReadOp], out: &mut Vec<u8>) {
    for op in ops {
        match op {
            ReadOp::GetChildren(x) => {
                MultiHeader {
                    op: OpCode::GetChildren.code(),
                    done: false,
                    err: -1,
                }
                .encode(out);
                x.encode(out);
            }
            ReadOp::GetData(x) => {
                MultiHeader {
                    op: OpCode::GetData.code(),
                    done: false,
                    err: -1,
                }
                .encode(out);
                x.encode(out);
            }
        }
    }
    MultiHeader::END.encode(out);
}
