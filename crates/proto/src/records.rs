//! Every record of the client protocol (`zookeeper.jute`), one struct each, with
//! field order and types exactly as Apache ZooKeeper serializes them.

use crate::jute::{self, Decode, DecodeError, Encode, Reader, Result};
use crate::types::{Acl, Stat};

/// Implements `Decode` and `Encode` for a struct whose fields are encoded in order.
/// Field kinds: `i32`, `i64`, `bool`, `string`, `nstring` (a string that may be
/// null on the wire), `buffer`, `acls`, `strings`, `stat`.
macro_rules! record {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $kind:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $(pub $field: record!(@ty $kind)),* }

        impl Decode for $name {
            const MIN_ENCODED_BYTES: usize = 0 $(+ record!(@min $kind))*;
            fn decode(r: &mut Reader<'_>) -> Result<Self> {
                Ok($name { $($field: record!(@read r, $kind)),* })
            }
        }

        impl Encode for $name {
            #[allow(unused_variables)]
            fn encode(&self, out: &mut Vec<u8>) {
                $(record!(@write out, &self.$field, $kind);)*
            }
        }
    };
    (@ty i32) => { i32 };
    (@ty i64) => { i64 };
    (@ty bool) => { bool };
    (@ty string) => { String };
    (@ty nstring) => { Option<String> };
    (@ty buffer) => { Vec<u8> };
    (@ty acls) => { Vec<Acl> };
    (@ty strings) => { Vec<String> };
    (@ty stat) => { Stat };
    (@min i32) => { 4 };
    (@min i64) => { 8 };
    (@min bool) => { 1 };
    (@min string) => { 4 };
    (@min nstring) => { 4 };
    (@min buffer) => { 4 };
    (@min acls) => { 4 };
    (@min strings) => { 4 };
    (@min stat) => { 68 };
    (@read $r:ident, i32) => { $r.read_i32()? };
    (@read $r:ident, i64) => { $r.read_i64()? };
    (@read $r:ident, bool) => { $r.read_bool()? };
    (@read $r:ident, string) => { $r.read_string()? };
    (@read $r:ident, nstring) => { $r.read_string_opt()? };
    (@read $r:ident, buffer) => { $r.read_buffer()? };
    (@read $r:ident, acls) => { $r.read_vec::<Acl>()? };
    (@read $r:ident, strings) => { $r.read_vec::<String>()? };
    (@read $r:ident, stat) => { Stat::decode($r)? };
    (@write $o:ident, $v:expr, i32) => { jute::write_i32($o, *$v) };
    (@write $o:ident, $v:expr, i64) => { jute::write_i64($o, *$v) };
    (@write $o:ident, $v:expr, bool) => { jute::write_bool($o, *$v) };
    (@write $o:ident, $v:expr, string) => { jute::write_string($o, $v) };
    (@write $o:ident, $v:expr, nstring) => { jute::write_string_opt($o, $v.as_deref()) };
    (@write $o:ident, $v:expr, buffer) => { jute::write_buffer($o, $v) };
    (@write $o:ident, $v:expr, acls) => { jute::write_vec($o, $v) };
    (@write $o:ident, $v:expr, strings) => { jute::write_vec($o, $v) };
    (@write $o:ident, $v:expr, stat) => { $v.encode($o) };
}

record!(RequestHeader { xid: i32, op: i32 });
record!(ReplyHeader {
    xid: i32,
    zxid: i64,
    err: i32
});
record!(
    /// A watch notification body (sent with xid -1).
    WatcherEvent { event_type: i32, state: i32, path: string }
);

record!(CreateRequest {
    path: string,
    data: buffer,
    acl: acls,
    flags: i32
});
record!(CreateTtlRequest {
    path: string,
    data: buffer,
    acl: acls,
    flags: i32,
    ttl: i64
});
record!(CreateResponse { path: string });
record!(Create2Response {
    path: string,
    stat: stat
});
record!(DeleteRequest {
    path: string,
    version: i32
});
record!(ExistsRequest {
    path: string,
    watch: bool
});
record!(ExistsResponse { stat: stat });
record!(GetDataRequest {
    path: string,
    watch: bool
});
record!(GetDataResponse {
    data: buffer,
    stat: stat
});
record!(SetDataRequest {
    path: string,
    data: buffer,
    version: i32
});
record!(SetDataResponse { stat: stat });
record!(GetAclRequest { path: string });
record!(GetAclResponse {
    acl: acls,
    stat: stat
});
record!(SetAclRequest {
    path: string,
    acl: acls,
    version: i32
});
record!(SetAclResponse { stat: stat });
record!(GetChildrenRequest {
    path: string,
    watch: bool
});
record!(GetChildrenResponse { children: strings });
record!(GetChildren2Response {
    children: strings,
    stat: stat
});
record!(SyncRequest { path: string });
record!(SyncResponse { path: string });
record!(CheckVersionRequest {
    path: string,
    version: i32
});
record!(MultiHeader {
    op: i32,
    done: bool,
    err: i32
});
record!(ErrorResponse { err: i32 });
record!(
    /// Each of the three server lists may be null: the Java client and zkCli send
    /// null for the lists a `reconfig` does not use (an incremental `-add` has no
    /// leaving servers and no new members), and ZooKeeper tells a null list
    /// ("unchanged") from an empty one.
    ReconfigRequest {
        joining_servers: nstring,
        leaving_servers: nstring,
        new_members: nstring,
        cur_config_id: i64,
    }
);
record!(
    /// checkWatches and removeWatches share this layout.
    WatchesRequest { path: string, watcher_type: i32 }
);
record!(AuthPacket {
    auth_type: i32,
    scheme: string,
    auth: buffer
});
record!(SetWatches {
    relative_zxid: i64,
    data_watches: strings,
    exist_watches: strings,
    child_watches: strings,
});
record!(SetWatches2 {
    relative_zxid: i64,
    data_watches: strings,
    exist_watches: strings,
    child_watches: strings,
    persistent_watches: strings,
    persistent_recursive_watches: strings,
});
record!(GetEphemeralsRequest {
    prefix_path: string
});
record!(GetEphemeralsResponse {
    ephemerals: strings
});
record!(GetAllChildrenNumberRequest { path: string });
record!(GetAllChildrenNumberResponse { total_number: i32 });
record!(AddWatchRequest {
    path: string,
    mode: i32
});
record!(ClientInfo {
    auth_scheme: string,
    user: string
});
record!(SetSaslRequest { token: buffer });

impl Decode for WhoAmIResponse {
    const MIN_ENCODED_BYTES: usize = 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(WhoAmIResponse(r.read_vec::<ClientInfo>()?))
    }
}

/// `WhoAmIResponse`: the identities the session is authenticated as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WhoAmIResponse(pub Vec<ClientInfo>);

impl Encode for WhoAmIResponse {
    fn encode(&self, out: &mut Vec<u8>) {
        jute::write_vec(out, &self.0);
    }
}

/// The connect handshake from the client. `read_only` is absent from old clients.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Vec<u8>,
    pub read_only: Option<bool>,
}

impl Decode for ConnectRequest {
    const MIN_ENCODED_BYTES: usize = 28;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let mut req = ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_buffer()?,
            read_only: None,
        };
        if !r.is_empty() {
            req.read_only = Some(r.read_bool()?);
        }
        Ok(req)
    }
}

impl Encode for ConnectRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        jute::write_i32(out, self.protocol_version);
        jute::write_i64(out, self.last_zxid_seen);
        jute::write_i32(out, self.timeout_ms);
        jute::write_i64(out, self.session_id);
        jute::write_buffer(out, &self.password);
        if let Some(ro) = self.read_only {
            jute::write_bool(out, ro);
        }
    }
}

/// The server's answer to the handshake. A timeout of 0 tells the client its
/// session is expired (or its password wrong).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Vec<u8>,
    pub read_only: Option<bool>,
}

impl Decode for ConnectResponse {
    const MIN_ENCODED_BYTES: usize = 20;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let mut resp = ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_buffer()?,
            read_only: None,
        };
        if !r.is_empty() {
            resp.read_only = Some(r.read_bool()?);
        }
        Ok(resp)
    }
}

impl Encode for ConnectResponse {
    fn encode(&self, out: &mut Vec<u8>) {
        jute::write_i32(out, self.protocol_version);
        jute::write_i32(out, self.timeout_ms);
        jute::write_i64(out, self.session_id);
        jute::write_buffer(out, &self.password);
        if let Some(ro) = self.read_only {
            jute::write_bool(out, ro);
        }
    }
}

impl MultiHeader {
    /// The header that ends a multi request or response: type -1, done, err -1.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };
}

/// Rejects a buffer with bytes left over after `decode`.
pub fn decode_exact<T: Decode>(buf: &[u8]) -> std::result::Result<T, DecodeError> {
    T::decode_all(buf)
}
