//! The binary form of what is logged: [`Entry`] and [`Txn`].
//!
//! The durable log (and raft's replication of it) stores these bytes, so the
//! layout is a promise to every log written before an upgrade: it starts with a
//! format version byte, and a change of layout means a new version that the
//! decoder accepts alongside the old ones.
//!
//! Layout (version 1). Integers are big-endian; strings, buffers and vectors
//! are jute's (an `i32` length, then the bytes or elements), reusing
//! `rzk_proto`'s record encodings where a record fits:
//!
//! ```text
//! Entry   = version:u8 zxid:i64 time_ms:i64 TxnBody
//! Txn     = version:u8 TxnBody
//! TxnBody = tag:u8, then by tag
//!   1 CreateSession    session_id:i64 timeout_ms:i32 password:buffer
//!   2 CloseSession     session_id:i64
//!   3 ExpireSession    session_id:i64
//!   4 Write            session_id:i64 auth:vector<Id> WriteOp
//!   5 Error            session_id:i64 err:i32 (a known ErrorCode)
//!   6 DeleteContainer  path:string
//!   7 SetConfig        servers:string
//! WriteOp = tag:u8, then by tag
//!   1 Create    op:i32 (a known OpCode) CreateTTLRequest (path data acl flags ttl)
//!   2 Delete    DeleteRequest
//!   3 SetData   SetDataRequest
//!   4 SetAcl    SetACLRequest
//!   5 Check     CheckVersionRequest
//!   6 Multi     count:i32, then count × MultiOp
//!   7 Reconfig  ReconfigRequest (three nullable strings, curConfigId)
//! MultiOp = tag:u8 (1 Create, 2 Delete, 3 SetData, 5 Check, as in WriteOp)
//! ```
//!
//! Decoding never panics on any bytes and allocates only in proportion to the
//! input: every length is checked against the bytes that remain before
//! anything is allocated (the jute [`Reader`] does this), and every count of
//! elements is bounded by the remaining bytes over the element's smallest
//! encoding. Bytes after a complete value are an error, not ignored: a log
//! record is exactly one value.

use std::fmt;

use rzk_proto::jute::{self, DecodeError, Reader};
use rzk_proto::records::{
    CheckVersionRequest, CreateTtlRequest, DeleteRequest, ReconfigRequest, SetAclRequest,
    SetDataRequest,
};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Decode, Encode, ErrorCode, Id, OpCode};

use crate::entry::{Entry, Txn, WriteOp};

/// The starting capacity of an encoding buffer: a setData or create with a
/// 100-byte value and a short path fits without regrowing from empty.
const TXN_BYTES_TYPICAL: usize = 192;

/// The layout [`Entry::encode`] and [`Txn::encode`] write.
pub const FORMAT_VERSION: u8 = 1;

/// The smallest encoding of one multi op (tag, an empty path's length, a
/// version): a multi's op count is bounded by the remaining bytes over this.
const MIN_MULTI_OP_BYTES: usize = 1 + 4 + 4;

mod tag {
    pub const CREATE_SESSION: u8 = 1;
    pub const CLOSE_SESSION: u8 = 2;
    pub const EXPIRE_SESSION: u8 = 3;
    pub const WRITE: u8 = 4;
    pub const ERROR: u8 = 5;
    pub const DELETE_CONTAINER: u8 = 6;
    pub const SET_CONFIG: u8 = 7;

    pub const CREATE: u8 = 1;
    pub const DELETE: u8 = 2;
    pub const SET_DATA: u8 = 3;
    pub const SET_ACL: u8 = 4;
    pub const CHECK: u8 = 5;
    pub const MULTI: u8 = 6;
    pub const RECONFIG: u8 = 7;
}

/// Why bytes are not a logged value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The format version byte is one this build does not know (written by a
    /// newer rzk, or not a log record at all).
    UnsupportedVersion(u8),
    /// A variant tag that names no variant.
    BadTag { what: &'static str, tag: u8 },
    /// A numeric code (opcode, error code) this build does not know.
    UnknownCode { what: &'static str, code: i32 },
    /// The jute layer failed: truncated input, a bad length, bad UTF-8, a
    /// null where a value is required, or trailing bytes.
    Jute(DecodeError),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::UnsupportedVersion(v) => {
                write!(f, "unsupported log record format version {v}")
            }
            CodecError::BadTag { what, tag } => write!(f, "bad {what} tag {tag}"),
            CodecError::UnknownCode { what, code } => write!(f, "unknown {what} {code}"),
            CodecError::Jute(e) => write!(f, "malformed log record: {e}"),
        }
    }
}

impl std::error::Error for CodecError {}

impl From<DecodeError> for CodecError {
    fn from(e: DecodeError) -> Self {
        CodecError::Jute(e)
    }
}

type Result<T> = std::result::Result<T, CodecError>;

impl Entry {
    /// Appends this entry's encoding (version 1) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_VERSION);
        jute::write_i64(out, self.zxid);
        jute::write_i64(out, self.time_ms);
        encode_txn_body(&self.txn, out);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TXN_BYTES_TYPICAL);
        self.encode(&mut out);
        out
    }

    /// Decodes exactly one entry: `bytes` must hold nothing else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry> {
        let mut d = Dec::new(bytes);
        read_version(&mut d)?;
        let zxid = d.r.read_i64()?;
        let time_ms = d.r.read_i64()?;
        let txn = decode_txn_body(&mut d)?;
        d.r.finish()?;
        Ok(Entry { zxid, time_ms, txn })
    }
}

impl Txn {
    /// Appends this transaction's encoding (version 1) to `out`: for a log
    /// that stamps the zxid and time itself.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_VERSION);
        encode_txn_body(self, out);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TXN_BYTES_TYPICAL);
        self.encode(&mut out);
        out
    }

    /// Decodes exactly one transaction: `bytes` must hold nothing else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Txn> {
        let mut d = Dec::new(bytes);
        read_version(&mut d)?;
        let txn = decode_txn_body(&mut d)?;
        d.r.finish()?;
        Ok(txn)
    }
}

/// The jute reader plus the bytes it reads, for the one thing the reader does
/// not offer: a raw byte (tags and the version).
struct Dec<'a> {
    bytes: &'a [u8],
    r: Reader<'a>,
}

impl<'a> Dec<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Dec {
            bytes,
            r: Reader::new(bytes),
        }
    }

    fn u8(&mut self) -> Result<u8> {
        let pos = self.bytes.len() - self.r.remaining();
        // read_bool consumes exactly one byte (or fails as truncated).
        self.r.read_bool()?;
        Ok(self.bytes[pos])
    }
}

fn read_version(d: &mut Dec<'_>) -> Result<()> {
    match d.u8()? {
        FORMAT_VERSION => Ok(()),
        v => Err(CodecError::UnsupportedVersion(v)),
    }
}

fn encode_txn_body(txn: &Txn, out: &mut Vec<u8>) {
    match txn {
        Txn::CreateSession {
            session_id,
            timeout_ms,
            password,
        } => {
            out.push(tag::CREATE_SESSION);
            jute::write_i64(out, *session_id);
            jute::write_i32(out, *timeout_ms);
            jute::write_buffer(out, password);
        }
        Txn::CloseSession { session_id } => {
            out.push(tag::CLOSE_SESSION);
            jute::write_i64(out, *session_id);
        }
        Txn::ExpireSession { session_id } => {
            out.push(tag::EXPIRE_SESSION);
            jute::write_i64(out, *session_id);
        }
        Txn::Write {
            session_id,
            auth,
            op,
        } => {
            out.push(tag::WRITE);
            jute::write_i64(out, *session_id);
            jute::write_vec(out, auth);
            encode_write_op(op, out);
        }
        Txn::Error { session_id, err } => {
            out.push(tag::ERROR);
            jute::write_i64(out, *session_id);
            jute::write_i32(out, err.code());
        }
        Txn::DeleteContainer { path } => {
            out.push(tag::DELETE_CONTAINER);
            jute::write_string(out, path);
        }
        Txn::SetConfig { servers } => {
            out.push(tag::SET_CONFIG);
            jute::write_string(out, servers);
        }
    }
}

fn decode_txn_body(d: &mut Dec<'_>) -> Result<Txn> {
    let t = d.u8()?;
    let r = &mut d.r;
    Ok(match t {
        tag::CREATE_SESSION => Txn::CreateSession {
            session_id: r.read_i64()?,
            timeout_ms: r.read_i32()?,
            password: read_buffer(r)?,
        },
        tag::CLOSE_SESSION => Txn::CloseSession {
            session_id: r.read_i64()?,
        },
        tag::EXPIRE_SESSION => Txn::ExpireSession {
            session_id: r.read_i64()?,
        },
        tag::WRITE => Txn::Write {
            session_id: r.read_i64()?,
            auth: r
                .read_vec_opt::<Id>()?
                .ok_or(DecodeError::UnexpectedNull)?
                .into(),
            op: decode_write_op(d)?,
        },
        tag::ERROR => Txn::Error {
            session_id: r.read_i64()?,
            err: error_code(r.read_i32()?)?,
        },
        tag::DELETE_CONTAINER => Txn::DeleteContainer {
            path: r.read_string()?,
        },
        tag::SET_CONFIG => Txn::SetConfig {
            servers: r.read_string()?,
        },
        tag => return Err(CodecError::BadTag { what: "txn", tag }),
    })
}

/// A buffer that must not be null (the encoder never writes null).
fn read_buffer(r: &mut Reader<'_>) -> Result<Vec<u8>> {
    Ok(r.read_buffer_opt()?.ok_or(DecodeError::UnexpectedNull)?)
}

fn error_code(code: i32) -> Result<ErrorCode> {
    ErrorCode::from_code(code).ok_or(CodecError::UnknownCode {
        what: "error code",
        code,
    })
}

fn op_code(code: i32) -> Result<OpCode> {
    OpCode::from_code(code).ok_or(CodecError::UnknownCode {
        what: "opcode",
        code,
    })
}

fn encode_create(op: OpCode, c: &CreateOp, out: &mut Vec<u8>) {
    jute::write_i32(out, op.code());
    // CreateTTLRequest's layout: path, data, acl, flags, ttl.
    jute::write_string(out, &c.path);
    jute::write_buffer(out, &c.data);
    jute::write_vec(out, &c.acl);
    jute::write_i32(out, c.flags);
    jute::write_i64(out, c.ttl);
}

fn decode_create(r: &mut Reader<'_>) -> Result<(OpCode, CreateOp)> {
    let op = op_code(r.read_i32()?)?;
    let c = CreateTtlRequest::decode(r)?;
    Ok((
        op,
        CreateOp {
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: c.ttl,
        },
    ))
}

fn encode_write_op(op: &WriteOp, out: &mut Vec<u8>) {
    match op {
        WriteOp::Create { op, create } => {
            out.push(tag::CREATE);
            encode_create(*op, create, out);
        }
        WriteOp::Delete(x) => {
            out.push(tag::DELETE);
            x.encode(out);
        }
        WriteOp::SetData(x) => {
            out.push(tag::SET_DATA);
            x.encode(out);
        }
        WriteOp::SetAcl(x) => {
            out.push(tag::SET_ACL);
            x.encode(out);
        }
        WriteOp::Check(x) => {
            out.push(tag::CHECK);
            x.encode(out);
        }
        WriteOp::Multi(ops) => {
            out.push(tag::MULTI);
            // A client's multi fits in one frame, far below i32::MAX ops.
            jute::write_i32(out, i32::try_from(ops.len()).unwrap_or(i32::MAX));
            for op in ops.iter().take(i32::MAX as usize) {
                encode_multi_op(op, out);
            }
        }
        WriteOp::Reconfig(x) => {
            out.push(tag::RECONFIG);
            x.encode(out);
        }
    }
}

fn decode_write_op(d: &mut Dec<'_>) -> Result<WriteOp> {
    let t = d.u8()?;
    let r = &mut d.r;
    Ok(match t {
        tag::CREATE => {
            let (op, create) = decode_create(r)?;
            WriteOp::Create { op, create }
        }
        tag::DELETE => WriteOp::Delete(DeleteRequest::decode(r)?),
        tag::SET_DATA => WriteOp::SetData(SetDataRequest::decode(r)?),
        tag::SET_ACL => WriteOp::SetAcl(SetAclRequest::decode(r)?),
        tag::CHECK => WriteOp::Check(CheckVersionRequest::decode(r)?),
        tag::MULTI => {
            let n = r.read_i32()?;
            let count = usize::try_from(n).map_err(|_| DecodeError::BadLength(n))?;
            if count.saturating_mul(MIN_MULTI_OP_BYTES) > r.remaining() {
                return Err(DecodeError::BadLength(n).into());
            }
            let mut ops = Vec::with_capacity(count);
            for _ in 0..count {
                ops.push(decode_multi_op(d)?);
            }
            WriteOp::Multi(ops)
        }
        tag::RECONFIG => WriteOp::Reconfig(ReconfigRequest::decode(r)?),
        tag => {
            return Err(CodecError::BadTag {
                what: "write op",
                tag,
            })
        }
    })
}

fn encode_multi_op(op: &MultiOp, out: &mut Vec<u8>) {
    match op {
        MultiOp::Create { op, create } => {
            out.push(tag::CREATE);
            encode_create(*op, create, out);
        }
        MultiOp::Delete(x) => {
            out.push(tag::DELETE);
            x.encode(out);
        }
        MultiOp::SetData(x) => {
            out.push(tag::SET_DATA);
            x.encode(out);
        }
        MultiOp::Check(x) => {
            out.push(tag::CHECK);
            x.encode(out);
        }
    }
}

fn decode_multi_op(d: &mut Dec<'_>) -> Result<MultiOp> {
    let t = d.u8()?;
    let r = &mut d.r;
    Ok(match t {
        tag::CREATE => {
            let (op, create) = decode_create(r)?;
            MultiOp::Create { op, create }
        }
        tag::DELETE => MultiOp::Delete(DeleteRequest::decode(r)?),
        tag::SET_DATA => MultiOp::SetData(SetDataRequest::decode(r)?),
        tag::CHECK => MultiOp::Check(CheckVersionRequest::decode(r)?),
        tag => {
            return Err(CodecError::BadTag {
                what: "multi op",
                tag,
            })
        }
    })
}
