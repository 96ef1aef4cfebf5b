//! The data types shared by many records: `Stat`, `Id` and `Acl`.

use crate::jute::{self, Decode, Encode, Reader, Result};

/// Znode metadata, field for field as ZooKeeper's `Stat` record (and in its order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

impl Decode for Stat {
    const MIN_ENCODED_BYTES: usize = 68;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Stat {
            czxid: r.read_i64()?,
            mzxid: r.read_i64()?,
            ctime: r.read_i64()?,
            mtime: r.read_i64()?,
            version: r.read_i32()?,
            cversion: r.read_i32()?,
            aversion: r.read_i32()?,
            ephemeral_owner: r.read_i64()?,
            data_length: r.read_i32()?,
            num_children: r.read_i32()?,
            pzxid: r.read_i64()?,
        })
    }
}

impl Encode for Stat {
    fn encode(&self, out: &mut Vec<u8>) {
        jute::write_i64(out, self.czxid);
        jute::write_i64(out, self.mzxid);
        jute::write_i64(out, self.ctime);
        jute::write_i64(out, self.mtime);
        jute::write_i32(out, self.version);
        jute::write_i32(out, self.cversion);
        jute::write_i32(out, self.aversion);
        jute::write_i64(out, self.ephemeral_owner);
        jute::write_i32(out, self.data_length);
        jute::write_i32(out, self.num_children);
        jute::write_i64(out, self.pzxid);
    }
}

/// An identity in an auth scheme: `world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }
}

impl Decode for Id {
    const MIN_ENCODED_BYTES: usize = 8;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        // Java reads a null string as null, and ZooKeeper ignores the id of an
        // `auth` ACL entry; kazoo sends `auth:` with a null id. Reading null as
        // empty keeps those requests working (an empty scheme is still refused
        // later, as an unknown scheme: InvalidACL).
        Ok(Id {
            scheme: r.read_string_opt()?.unwrap_or_default(),
            id: r.read_string_opt()?.unwrap_or_default(),
        })
    }
}

impl Encode for Id {
    fn encode(&self, out: &mut Vec<u8>) {
        jute::write_string(out, &self.scheme);
        jute::write_string(out, &self.id);
    }
}

/// One access-control entry: permission bits granted to an identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    pub fn new(perms: i32, id: Id) -> Self {
        Acl { perms, id }
    }

    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(crate::Perms::ALL, Id::anyone())]
    }

    /// `ZooDefs.Ids.READ_ACL_UNSAFE`.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(crate::Perms::READ, Id::anyone())]
    }
}

impl Decode for Acl {
    const MIN_ENCODED_BYTES: usize = 12;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Acl {
            perms: r.read_i32()?,
            id: Id::decode(r)?,
        })
    }
}

impl Encode for Acl {
    fn encode(&self, out: &mut Vec<u8>) {
        jute::write_i32(out, self.perms);
        self.id.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_id_strings_read_as_empty() {
        // perms, scheme "auth", id null: what kazoo sends for make_acl("auth", "").
        let mut bytes = Vec::new();
        jute::write_i32(&mut bytes, crate::Perms::ALL);
        jute::write_string(&mut bytes, "auth");
        jute::write_i32(&mut bytes, -1);
        let acl = Acl::decode_all(&bytes).unwrap();
        assert_eq!(acl.id, Id::new("auth", ""));
    }
}
