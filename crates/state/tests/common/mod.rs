//! A small driver for the state machine: builds entries with increasing zxids
//! and times, so tests read like client sessions.
#![allow(dead_code)]

use rzk_proto::records::{CheckVersionRequest, DeleteRequest, SetAclRequest, SetDataRequest};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Acl, CreateMode, ErrorCode, Id, OpCode, Response, Stat};
use rzk_state::{Applied, DataTree, Entry, StateConfig, Txn, WriteOp};

pub const S1: i64 = 0x100;
pub const S2: i64 = 0x200;

pub struct Zk {
    pub tree: DataTree,
    pub zxid: i64,
    pub time_ms: i64,
    pub auth: Vec<Id>,
}

impl Zk {
    pub fn new() -> Self {
        Self::with_config(StateConfig::default())
    }

    pub fn with_config(config: StateConfig) -> Self {
        let mut zk = Zk {
            tree: DataTree::new(config),
            zxid: 0,
            time_ms: 1_000_000,
            auth: Vec::new(),
        };
        zk.session(S1);
        zk.session(S2);
        zk
    }

    pub fn entry(&mut self, txn: Txn) -> Applied {
        self.zxid += 1;
        self.time_ms += 10;
        let e = Entry {
            zxid: self.zxid,
            time_ms: self.time_ms,
            txn,
        };
        let applied = self.tree.apply(&e);
        assert_eq!(applied.zxid, self.zxid);
        assert_eq!(self.tree.last_zxid(), self.zxid);
        applied
    }

    pub fn session(&mut self, id: i64) -> Applied {
        self.entry(Txn::CreateSession {
            session_id: id,
            timeout_ms: 30_000,
            password: vec![1; 16],
        })
    }

    pub fn write_as(&mut self, session_id: i64, op: WriteOp) -> Applied {
        let auth = self.auth.clone().into();
        self.entry(Txn::Write {
            session_id,
            auth,
            op,
        })
    }

    pub fn write(&mut self, op: WriteOp) -> Applied {
        self.write_as(S1, op)
    }

    pub fn create_full(
        &mut self,
        op: OpCode,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        mode: i32,
        ttl: i64,
    ) -> Applied {
        self.write(WriteOp::Create {
            op,
            create: CreateOp {
                path: path.into(),
                data: data.to_vec(),
                acl,
                flags: mode,
                ttl,
            },
        })
    }

    /// create2 with open ACL; returns (err, path).
    pub fn create_mode(&mut self, path: &str, mode: CreateMode) -> Result<String, ErrorCode> {
        let a = self.create_full(
            OpCode::Create2,
            path,
            b"",
            Acl::open_unsafe(),
            mode.code(),
            0,
        );
        match a.reply.response {
            Response::Create2 { path, .. } if a.reply.err == ErrorCode::Ok => Ok(path),
            _ => Err(a.reply.err),
        }
    }

    pub fn create(&mut self, path: &str) -> Result<String, ErrorCode> {
        self.create_mode(path, CreateMode::Persistent)
    }

    pub fn create_data(&mut self, path: &str, data: &[u8]) -> Result<String, ErrorCode> {
        let a = self.create_full(OpCode::Create, path, data, Acl::open_unsafe(), 0, 0);
        match a.reply.response {
            Response::Create { path } if a.reply.err == ErrorCode::Ok => Ok(path),
            _ => Err(a.reply.err),
        }
    }

    pub fn delete(&mut self, path: &str, version: i32) -> Result<(), ErrorCode> {
        let a = self.write(WriteOp::Delete(DeleteRequest {
            path: path.into(),
            version,
        }));
        err_or(a.reply.err, ())
    }

    pub fn set(&mut self, path: &str, data: &[u8], version: i32) -> Result<Stat, ErrorCode> {
        let a = self.write(WriteOp::SetData(SetDataRequest {
            path: path.into(),
            data: data.to_vec(),
            version,
        }));
        match a.reply.response {
            Response::Stat(s) if a.reply.err == ErrorCode::Ok => Ok(s),
            _ => Err(a.reply.err),
        }
    }

    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>, version: i32) -> Result<Stat, ErrorCode> {
        let a = self.write(WriteOp::SetAcl(SetAclRequest {
            path: path.into(),
            acl,
            version,
        }));
        match a.reply.response {
            Response::Stat(s) if a.reply.err == ErrorCode::Ok => Ok(s),
            _ => Err(a.reply.err),
        }
    }

    pub fn check(&mut self, path: &str, version: i32) -> Result<(), ErrorCode> {
        let a = self.write(WriteOp::Check(CheckVersionRequest {
            path: path.into(),
            version,
        }));
        err_or(a.reply.err, ())
    }

    pub fn multi(&mut self, ops: Vec<MultiOp>) -> Applied {
        self.write(WriteOp::Multi(ops))
    }

    pub fn stat(&self, path: &str) -> Stat {
        self.tree
            .exists(path)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    pub fn data(&self, path: &str) -> Vec<u8> {
        self.tree.get_data(path, &self.auth).unwrap().0
    }
}

fn err_or<T>(err: ErrorCode, v: T) -> Result<T, ErrorCode> {
    if err == ErrorCode::Ok {
        Ok(v)
    } else {
        Err(err)
    }
}

pub fn mcreate(path: &str, mode: CreateMode) -> MultiOp {
    MultiOp::Create {
        op: OpCode::Create,
        create: CreateOp {
            path: path.into(),
            data: Vec::new(),
            acl: Acl::open_unsafe(),
            flags: mode.code(),
            ttl: 0,
        },
    }
}

pub fn mdelete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

pub fn mset(path: &str, data: &[u8], version: i32) -> MultiOp {
    MultiOp::SetData(SetDataRequest {
        path: path.into(),
        data: data.to_vec(),
        version,
    })
}

pub fn mcheck(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}
