//! A stand-in binary encoding of [`Txn`], used until `rzk_state` has its own
//! codec (`state/src/codec.rs`). Everything that depends on the byte layout is
//! in this file, so swapping it out touches nothing else: the log entry's serde
//! impl calls [`encode_txn`] / [`decode_txn`] and nothing more.
//!
//! Layout: one tag byte, then the variant's fields in jute encoding
//! (big-endian integers, `i32`-length-prefixed buffers). A client write carries
//! its opcode and the request body exactly as the client sent it (jute, through
//! `rzk_proto`'s encoder), so every write op ZooKeeper has round-trips without a
//! second description of each record here.
//!
//! Decoding never panics and never allocates more than the input holds: every
//! length goes through `rzk_proto::Reader`, which checks it against the
//! remaining bytes first.
//!
//! Not a compatibility promise: this format is never written to disk by rzk
//! (the in-memory log keeps typed entries); it only crosses the peer network,
//! where every server runs the same build.

use rzk_proto::jute::{write_buffer, write_i32, write_i64, write_string, write_vec};
use rzk_proto::request::Request;
use rzk_proto::{DecodeError, ErrorCode, Id, OpCode, Reader, RequestFrame};
use rzk_state::{Txn, WriteOp};

const TAG_CREATE_SESSION: u8 = 1;
const TAG_CLOSE_SESSION: u8 = 2;
const TAG_EXPIRE_SESSION: u8 = 3;
const TAG_WRITE: u8 = 4;
const TAG_ERROR: u8 = 5;
const TAG_DELETE_CONTAINER: u8 = 6;

/// Why bytes could not be decoded into a [`Txn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnDecodeError {
    Empty,
    UnknownTag(u8),
    /// An error code or opcode outside ZooKeeper's set.
    BadCode(&'static str, i32),
    /// A write whose request body is not one of the write ops.
    NotAWrite(i32),
    Jute(DecodeError),
}

impl std::fmt::Display for TxnDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxnDecodeError::Empty => f.write_str("empty txn"),
            TxnDecodeError::UnknownTag(t) => write!(f, "unknown txn tag {t}"),
            TxnDecodeError::BadCode(what, c) => write!(f, "bad {what} {c}"),
            TxnDecodeError::NotAWrite(op) => write!(f, "opcode {op} is not a write"),
            TxnDecodeError::Jute(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TxnDecodeError {}

impl From<DecodeError> for TxnDecodeError {
    fn from(e: DecodeError) -> Self {
        TxnDecodeError::Jute(e)
    }
}

/// Appends the encoding of `txn` to `out`.
pub fn encode_txn(txn: &Txn, out: &mut Vec<u8>) {
    match txn {
        Txn::CreateSession {
            session_id,
            timeout_ms,
            password,
        } => {
            out.push(TAG_CREATE_SESSION);
            write_i64(out, *session_id);
            write_i32(out, *timeout_ms);
            write_buffer(out, password);
        }
        Txn::CloseSession { session_id } => {
            out.push(TAG_CLOSE_SESSION);
            write_i64(out, *session_id);
        }
        Txn::ExpireSession { session_id } => {
            out.push(TAG_EXPIRE_SESSION);
            write_i64(out, *session_id);
        }
        Txn::Write {
            session_id,
            auth,
            op,
        } => {
            out.push(TAG_WRITE);
            write_i64(out, *session_id);
            write_vec(out, auth);
            let mut frame = Vec::new();
            write_op_frame(op).encode(&mut frame);
            write_buffer(out, &frame);
        }
        Txn::Error { session_id, err } => {
            out.push(TAG_ERROR);
            write_i64(out, *session_id);
            write_i32(out, err.code());
        }
        Txn::DeleteContainer { path } => {
            out.push(TAG_DELETE_CONTAINER);
            write_string(out, path);
        }
    }
}

/// Decodes one [`Txn`]; the input must hold exactly one.
pub fn decode_txn(bytes: &[u8]) -> Result<Txn, TxnDecodeError> {
    let (&tag, rest) = bytes.split_first().ok_or(TxnDecodeError::Empty)?;
    let mut r = Reader::new(rest);
    let txn = match tag {
        TAG_CREATE_SESSION => Txn::CreateSession {
            session_id: r.read_i64()?,
            timeout_ms: r.read_i32()?,
            password: r.read_buffer()?,
        },
        TAG_CLOSE_SESSION => Txn::CloseSession {
            session_id: r.read_i64()?,
        },
        TAG_EXPIRE_SESSION => Txn::ExpireSession {
            session_id: r.read_i64()?,
        },
        TAG_WRITE => {
            let session_id = r.read_i64()?;
            let auth: Vec<Id> = r.read_vec()?;
            let frame = r.read_buffer()?;
            let op = read_op_frame(&frame)?;
            Txn::Write {
                session_id,
                auth,
                op,
            }
        }
        TAG_ERROR => {
            let session_id = r.read_i64()?;
            let code = r.read_i32()?;
            let err = ErrorCode::from_code(code).ok_or(TxnDecodeError::BadCode("error code", code))?;
            Txn::Error { session_id, err }
        }
        TAG_DELETE_CONTAINER => Txn::DeleteContainer {
            path: r.read_string()?,
        },
        other => return Err(TxnDecodeError::UnknownTag(other)),
    };
    r.finish()?;
    Ok(txn)
}

/// The client request a write op came from (xid is not replicated: 0).
fn write_op_frame(op: &WriteOp) -> RequestFrame {
    let (op, request) = match op {
        WriteOp::Create { op, create } => (*op, Request::Create(create.clone())),
        WriteOp::Delete(x) => (OpCode::Delete, Request::Delete(x.clone())),
        WriteOp::SetData(x) => (OpCode::SetData, Request::SetData(x.clone())),
        WriteOp::SetAcl(x) => (OpCode::SetAcl, Request::SetAcl(x.clone())),
        WriteOp::Check(x) => (OpCode::Check, Request::Check(x.clone())),
        WriteOp::Multi(ops) => (OpCode::Multi, Request::Multi(ops.clone())),
        WriteOp::Reconfig(x) => (OpCode::Reconfig, Request::Reconfig(x.clone())),
    };
    RequestFrame {
        xid: 0,
        op,
        request,
    }
}

fn read_op_frame(frame: &[u8]) -> Result<WriteOp, TxnDecodeError> {
    let frame = RequestFrame::decode(frame)?;
    let code = frame.op.code();
    Ok(match (frame.op, frame.request) {
        (op, Request::Create(create)) => WriteOp::Create { op, create },
        (_, Request::Delete(x)) => WriteOp::Delete(x),
        (_, Request::SetData(x)) => WriteOp::SetData(x),
        (_, Request::SetAcl(x)) => WriteOp::SetAcl(x),
        (_, Request::Check(x)) => WriteOp::Check(x),
        (_, Request::Multi(ops)) => WriteOp::Multi(ops),
        (_, Request::Reconfig(x)) => WriteOp::Reconfig(x),
        _ => return Err(TxnDecodeError::NotAWrite(code)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::records::{
        CheckVersionRequest, DeleteRequest, ReconfigRequest, SetAclRequest, SetDataRequest,
    };
    use rzk_proto::request::{CreateOp, MultiOp};
    use rzk_proto::Acl;

    fn samples() -> Vec<Txn> {
        let create = CreateOp {
            path: "/a".into(),
            data: b"x".to_vec(),
            acl: Acl::open_unsafe(),
            flags: 2,
            ttl: 0,
        };
        let ttl = CreateOp {
            ttl: 5000,
            flags: 5,
            ..create.clone()
        };
        let write = |op| Txn::Write {
            session_id: 7,
            auth: vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:p")],
            op,
        };
        vec![
            Txn::CreateSession {
                session_id: -3,
                timeout_ms: 30_000,
                password: vec![1; 16],
            },
            Txn::CloseSession { session_id: 1 },
            Txn::ExpireSession { session_id: i64::MAX },
            Txn::Error {
                session_id: 2,
                err: ErrorCode::MarshallingError,
            },
            Txn::DeleteContainer { path: "/c".into() },
            write(WriteOp::Create {
                op: OpCode::Create2,
                create: create.clone(),
            }),
            write(WriteOp::Create {
                op: OpCode::CreateTtl,
                create: ttl,
            }),
            write(WriteOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            })),
            write(WriteOp::SetData(SetDataRequest {
                path: "/a".into(),
                data: vec![0; 100],
                version: 3,
            })),
            write(WriteOp::SetAcl(SetAclRequest {
                path: "/a".into(),
                acl: Acl::read_unsafe(),
                version: 0,
            })),
            write(WriteOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 9,
            })),
            write(WriteOp::Multi(vec![
                MultiOp::Create {
                    op: OpCode::Create,
                    create,
                },
                MultiOp::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 1,
                }),
            ])),
            write(WriteOp::Reconfig(ReconfigRequest {
                joining_servers: Some("server.4=h:1:2".into()),
                leaving_servers: None,
                new_members: None,
                cur_config_id: -1,
            })),
        ]
    }

    #[test]
    fn every_txn_kind_round_trips() {
        for txn in samples() {
            let mut bytes = Vec::new();
            encode_txn(&txn, &mut bytes);
            assert_eq!(decode_txn(&bytes), Ok(txn));
        }
    }

    #[test]
    fn truncated_or_extended_input_is_an_error_not_a_panic() {
        for txn in samples() {
            let mut bytes = Vec::new();
            encode_txn(&txn, &mut bytes);
            for cut in 0..bytes.len() {
                assert!(decode_txn(&bytes[..cut]).is_err(), "{txn:?} cut at {cut}");
            }
            bytes.push(0);
            assert!(decode_txn(&bytes).is_err());
        }
        assert_eq!(decode_txn(&[99]), Err(TxnDecodeError::UnknownTag(99)));
    }
}
