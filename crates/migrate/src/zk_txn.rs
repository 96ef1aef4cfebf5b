//! ZooKeeper's transaction records (`zookeeper.jute`, module
//! `org.apache.zookeeper.txn`) as its log stores them: a `TxnHeader`, then
//! the body its type calls for, then (3.6+) an optional `TxnDigest` that is
//! ignored here, as ZooKeeper ignores it when digests are off.
//!
//! Decoding goes through `rzk_proto::jute::Reader`, which bounds every
//! length by the record's own bytes.

use rzk_proto::jute::{DecodeError, Reader};
use rzk_proto::{Acl, OpCode};

/// `TxnHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time: i64,
    pub op: i32,
}

/// A transaction body, by what it does to the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// `CreateTxn` (create, create2; `ephemeral` makes the header's client
    /// the owner), `CreateContainerTxn` and `CreateTTLTxn` (owner given).
    Create {
        path: String,
        data: Vec<u8>,
        acl: Vec<Acl>,
        owner: CreateOwner,
        parent_cversion: i32,
    },
    Delete {
        path: String,
    },
    /// `SetDataTxn`; also what a reconfig logs (for `/zookeeper/config`).
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    CreateSession {
        timeout_ms: i32,
    },
    /// `CloseSessionTxn`'s paths (absent in logs before 3.6).
    CloseSession {
        paths: Vec<String>,
    },
    Error {
        err: i32,
    },
    Check,
    /// The parts of a `MultiTxn`, each with its own type.
    Multi(Vec<(i32, Txn)>),
}

/// Who owns a created node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOwner {
    /// `CreateTxn.ephemeral`: the creating session if true, nobody if false.
    Ephemeral(bool),
    /// A stored owner encoding (container, TTL).
    Encoded(i64),
}

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
const CONTAINER_OWNER: i64 = i64::MIN;
/// `EphemeralType.TTL`: top byte all ones, the TTL in the low 40 bits.
const TTL_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const TTL_MAX_MS: i64 = (1 << 40) - 1;

/// Decodes one log record's bytes: header and body.
pub fn decode_record(bytes: &[u8]) -> Result<(TxnHeader, Txn), String> {
    let mut r = Reader::new(bytes);
    let header = TxnHeader {
        client_id: r.read_i64().map_err(|e| why("header", e))?,
        cxid: r.read_i32().map_err(|e| why("header", e))?,
        zxid: r.read_i64().map_err(|e| why("header", e))?,
        time: r.read_i64().map_err(|e| why("header", e))?,
        op: r.read_i32().map_err(|e| why("header", e))?,
    };
    let txn = decode_body(header.op, &mut r, true)?;
    Ok((header, txn))
}

fn why(what: &str, e: DecodeError) -> String {
    format!("{what}: {e}")
}

fn name(op: i32) -> String {
    OpCode::from_code(op).map_or_else(|| format!("type {op}"), |o| o.name().to_owned())
}

/// The body of a transaction of type `op` (`SerializeUtils.deserializeTxn`
/// and `DataTree.processTxn`'s multi decoding). `top_level` allows the
/// bodies only a whole transaction can have (sessions, multi).
fn decode_body(op: i32, r: &mut Reader<'_>, top_level: bool) -> Result<Txn, String> {
    let e = |err: DecodeError| why(&name(op), err);
    let Some(code) = OpCode::from_code(op) else {
        return Err(format!("unsupported transaction type {op}"));
    };
    let txn = match code {
        OpCode::Create | OpCode::Create2 => {
            let path = r.read_string().map_err(e)?;
            let data = r.read_buffer().map_err(e)?;
            let acl = r.read_vec::<Acl>().map_err(e)?;
            let ephemeral = r.read_bool().map_err(e)?;
            // `CreateTxnV0` (before 3.3) has no parent cversion: -1 makes
            // the replay derive it, as ZooKeeper does.
            let parent_cversion = if r.remaining() >= 4 {
                r.read_i32().map_err(e)?
            } else {
                -1
            };
            Txn::Create {
                path,
                data,
                acl,
                owner: CreateOwner::Ephemeral(ephemeral),
                parent_cversion,
            }
        }
        OpCode::CreateContainer | OpCode::CreateTtl => {
            let path = r.read_string().map_err(e)?;
            let data = r.read_buffer().map_err(e)?;
            let acl = r.read_vec::<Acl>().map_err(e)?;
            let parent_cversion = r.read_i32().map_err(e)?;
            let owner = if code == OpCode::CreateTtl {
                let ttl = r.read_i64().map_err(e)?;
                if ttl <= 0 || ttl > TTL_MAX_MS {
                    return Err(format!("createTTL with ttl {ttl}"));
                }
                TTL_MASK | ttl
            } else {
                CONTAINER_OWNER
            };
            Txn::Create {
                path,
                data,
                acl,
                owner: CreateOwner::Encoded(owner),
                parent_cversion,
            }
        }
        OpCode::Delete | OpCode::DeleteContainer => Txn::Delete {
            path: r.read_string().map_err(e)?,
        },
        OpCode::SetData | OpCode::Reconfig => Txn::SetData {
            path: r.read_string().map_err(e)?,
            data: r.read_buffer().map_err(e)?,
            version: r.read_i32().map_err(e)?,
        },
        OpCode::SetAcl => Txn::SetAcl {
            path: r.read_string().map_err(e)?,
            acl: r.read_vec::<Acl>().map_err(e)?,
            version: r.read_i32().map_err(e)?,
        },
        OpCode::Error => Txn::Error {
            err: r.read_i32().map_err(e)?,
        },
        OpCode::Check => {
            r.read_string().map_err(e)?;
            r.read_i32().map_err(e)?;
            Txn::Check
        }
        OpCode::CreateSession if top_level => Txn::CreateSession {
            timeout_ms: r.read_i32().map_err(e)?,
        },
        OpCode::CloseSession if top_level => {
            // Before 3.6 a closeSession had no body; ZooKeeper reads the
            // paths if it can and otherwise takes none.
            let mut attempt = r.clone();
            match attempt.read_vec::<String>() {
                Ok(paths) => {
                    *r = attempt;
                    Txn::CloseSession { paths }
                }
                Err(_) => Txn::CloseSession { paths: Vec::new() },
            }
        }
        OpCode::Multi if top_level => {
            let count = r.read_i32().map_err(e)?;
            // Each part is at least a type and a buffer length.
            let fits = usize::try_from(count)
                .ok()
                .filter(|&n| n.saturating_mul(8) <= r.remaining());
            let Some(count) = fits else {
                return Err(format!("multi with {count} parts"));
            };
            let mut parts = Vec::with_capacity(count);
            for _ in 0..count {
                let part_op = r.read_i32().map_err(e)?;
                let bytes = r.read_buffer().map_err(e)?;
                let mut pr = Reader::new(&bytes);
                parts.push((part_op, decode_body(part_op, &mut pr, false)?));
            }
            Txn::Multi(parts)
        }
        _ => return Err(format!("unsupported transaction type {}", name(op))),
    };
    Ok(txn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::jute::{write_buffer, write_i32, write_i64, write_string};

    fn header(op: i32) -> Vec<u8> {
        let mut b = Vec::new();
        write_i64(&mut b, 0x77);
        write_i32(&mut b, 1);
        write_i64(&mut b, 0x1_0000_0005);
        write_i64(&mut b, 1000);
        write_i32(&mut b, op);
        b
    }

    #[test]
    fn create_and_multi_decode() {
        let mut b = header(1);
        write_string(&mut b, "/a");
        write_buffer(&mut b, b"x");
        write_i32(&mut b, 0);
        b.push(1);
        write_i32(&mut b, 3);
        // A digest trailer, ignored.
        write_i32(&mut b, 2);
        write_i64(&mut b, 99);
        let (h, t) = decode_record(&b).unwrap();
        assert_eq!(h.zxid, 0x1_0000_0005);
        assert!(matches!(
            t,
            Txn::Create {
                owner: CreateOwner::Ephemeral(true),
                parent_cversion: 3,
                ..
            }
        ));

        let mut part = Vec::new();
        write_string(&mut part, "/a");
        let mut m = header(14);
        write_i32(&mut m, 1);
        write_i32(&mut m, 2);
        write_buffer(&mut m, &part);
        let (_, t) = decode_record(&m).unwrap();
        assert_eq!(t, Txn::Multi(vec![(2, Txn::Delete { path: "/a".into() })]));
    }

    #[test]
    fn damaged_bodies_are_errors() {
        assert!(decode_record(&[0u8; 10]).is_err());
        let mut m = header(14);
        write_i32(&mut m, i32::MAX);
        assert!(decode_record(&m).unwrap_err().contains("parts"));
        assert!(decode_record(&header(4))
            .unwrap_err()
            .contains("unsupported"));
        // A session opcode inside a multi is not a multi part.
        let mut m = header(14);
        write_i32(&mut m, 1);
        write_i32(&mut m, -10);
        write_buffer(&mut m, &[0, 0, 0, 1]);
        assert!(decode_record(&m).is_err());
    }
}
