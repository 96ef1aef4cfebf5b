//! Proptest strategies for every value `rzk-proto` encodes, shared by the
//! round-trip, robustness and allocation tests.
//!
//! Request and response strategies are driven by the opcode through exhaustive
//! `match`es, so a new `OpCode` variant does not compile until it has a strategy.

#![allow(dead_code)] // each test binary uses a different subset

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use rzk_proto::records::*;
use rzk_proto::request::{CreateOp, MultiOp, ReadOp};
use rzk_proto::{
    Acl, ErrorCode, Id, MultiReadResult, MultiResult, OpCode, Request, RequestFrame, Response, Stat,
};

/// Builds a struct strategy from one strategy per field.
macro_rules! record_strategy {
    ($name:ident { $($field:ident : $strat:expr),* $(,)? }) => {
        ($($strat,)*).prop_map(|($($field,)*)| $name { $($field),* })
    };
}

/// Strings: empty, path-like, and arbitrary unicode (multi-byte UTF-8 included).
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "/[a-z0-9/._-]{0,12}",
        "\\PC{0,8}",
        "[\u{80}-\u{10FFFF}]{1,4}",
    ]
}

pub fn nstring() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(string())
}

pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..24)
}

pub fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(string(), 0..4)
}

pub fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |(
                (czxid, mzxid, ctime, mtime),
                (version, cversion, aversion),
                (ephemeral_owner, data_length, num_children, pzxid),
            )| Stat {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length,
                num_children,
                pzxid,
            },
        )
}

pub fn id() -> impl Strategy<Value = Id> {
    record_strategy!(Id {
        scheme: string(),
        id: string()
    })
}

pub fn acl() -> impl Strategy<Value = Acl> {
    record_strategy!(Acl {
        perms: any::<i32>(),
        id: id()
    })
}

pub fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(acl(), 0..4)
}

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    select(ErrorCode::ALL)
}

// ---- records.rs, one strategy each ----

pub fn request_header() -> impl Strategy<Value = RequestHeader> {
    record_strategy!(RequestHeader {
        xid: any::<i32>(),
        op: any::<i32>()
    })
}

pub fn reply_header() -> impl Strategy<Value = ReplyHeader> {
    record_strategy!(ReplyHeader {
        xid: any::<i32>(),
        zxid: any::<i64>(),
        err: any::<i32>()
    })
}

pub fn watcher_event() -> impl Strategy<Value = WatcherEvent> {
    record_strategy!(WatcherEvent {
        event_type: any::<i32>(),
        state: any::<i32>(),
        path: string()
    })
}

pub fn create_request() -> impl Strategy<Value = CreateRequest> {
    record_strategy!(CreateRequest {
        path: string(),
        data: bytes(),
        acl: acls(),
        flags: any::<i32>()
    })
}

pub fn create_ttl_request() -> impl Strategy<Value = CreateTtlRequest> {
    record_strategy!(CreateTtlRequest {
        path: string(),
        data: bytes(),
        acl: acls(),
        flags: any::<i32>(),
        ttl: any::<i64>()
    })
}

pub fn create_response() -> impl Strategy<Value = CreateResponse> {
    record_strategy!(CreateResponse { path: string() })
}

pub fn create2_response() -> impl Strategy<Value = Create2Response> {
    record_strategy!(Create2Response {
        path: string(),
        stat: stat()
    })
}

pub fn delete_request() -> impl Strategy<Value = DeleteRequest> {
    record_strategy!(DeleteRequest {
        path: string(),
        version: any::<i32>()
    })
}

pub fn exists_request() -> impl Strategy<Value = ExistsRequest> {
    record_strategy!(ExistsRequest {
        path: string(),
        watch: any::<bool>()
    })
}

pub fn exists_response() -> impl Strategy<Value = ExistsResponse> {
    record_strategy!(ExistsResponse { stat: stat() })
}

pub fn get_data_request() -> impl Strategy<Value = GetDataRequest> {
    record_strategy!(GetDataRequest {
        path: string(),
        watch: any::<bool>()
    })
}

pub fn get_data_response() -> impl Strategy<Value = GetDataResponse> {
    record_strategy!(GetDataResponse {
        data: bytes(),
        stat: stat()
    })
}

pub fn set_data_request() -> impl Strategy<Value = SetDataRequest> {
    record_strategy!(SetDataRequest {
        path: string(),
        data: bytes(),
        version: any::<i32>()
    })
}

pub fn set_data_response() -> impl Strategy<Value = SetDataResponse> {
    record_strategy!(SetDataResponse { stat: stat() })
}

pub fn get_acl_request() -> impl Strategy<Value = GetAclRequest> {
    record_strategy!(GetAclRequest { path: string() })
}

pub fn get_acl_response() -> impl Strategy<Value = GetAclResponse> {
    record_strategy!(GetAclResponse {
        acl: acls(),
        stat: stat()
    })
}

pub fn set_acl_request() -> impl Strategy<Value = SetAclRequest> {
    record_strategy!(SetAclRequest {
        path: string(),
        acl: acls(),
        version: any::<i32>()
    })
}

pub fn set_acl_response() -> impl Strategy<Value = SetAclResponse> {
    record_strategy!(SetAclResponse { stat: stat() })
}

pub fn get_children_request() -> impl Strategy<Value = GetChildrenRequest> {
    record_strategy!(GetChildrenRequest {
        path: string(),
        watch: any::<bool>()
    })
}

pub fn get_children_response() -> impl Strategy<Value = GetChildrenResponse> {
    record_strategy!(GetChildrenResponse {
        children: strings()
    })
}

pub fn get_children2_response() -> impl Strategy<Value = GetChildren2Response> {
    record_strategy!(GetChildren2Response {
        children: strings(),
        stat: stat()
    })
}

pub fn sync_request() -> impl Strategy<Value = SyncRequest> {
    record_strategy!(SyncRequest { path: string() })
}

pub fn sync_response() -> impl Strategy<Value = SyncResponse> {
    record_strategy!(SyncResponse { path: string() })
}

pub fn check_version_request() -> impl Strategy<Value = CheckVersionRequest> {
    record_strategy!(CheckVersionRequest {
        path: string(),
        version: any::<i32>()
    })
}

pub fn multi_header() -> impl Strategy<Value = MultiHeader> {
    record_strategy!(MultiHeader {
        op: any::<i32>(),
        done: any::<bool>(),
        err: any::<i32>()
    })
}

pub fn error_response() -> impl Strategy<Value = ErrorResponse> {
    record_strategy!(ErrorResponse { err: any::<i32>() })
}

pub fn reconfig_request() -> impl Strategy<Value = ReconfigRequest> {
    record_strategy!(ReconfigRequest {
        joining_servers: nstring(),
        leaving_servers: nstring(),
        new_members: nstring(),
        cur_config_id: any::<i64>()
    })
}

pub fn watches_request() -> impl Strategy<Value = WatchesRequest> {
    record_strategy!(WatchesRequest {
        path: string(),
        watcher_type: any::<i32>()
    })
}

pub fn auth_packet() -> impl Strategy<Value = AuthPacket> {
    record_strategy!(AuthPacket {
        auth_type: any::<i32>(),
        scheme: string(),
        auth: bytes()
    })
}

pub fn set_watches() -> impl Strategy<Value = SetWatches> {
    record_strategy!(SetWatches {
        relative_zxid: any::<i64>(),
        data_watches: strings(),
        exist_watches: strings(),
        child_watches: strings()
    })
}

pub fn set_watches2() -> impl Strategy<Value = SetWatches2> {
    record_strategy!(SetWatches2 {
        relative_zxid: any::<i64>(),
        data_watches: strings(),
        exist_watches: strings(),
        child_watches: strings(),
        persistent_watches: strings(),
        persistent_recursive_watches: strings()
    })
}

pub fn get_ephemerals_request() -> impl Strategy<Value = GetEphemeralsRequest> {
    record_strategy!(GetEphemeralsRequest {
        prefix_path: string()
    })
}

pub fn get_ephemerals_response() -> impl Strategy<Value = GetEphemeralsResponse> {
    record_strategy!(GetEphemeralsResponse {
        ephemerals: strings()
    })
}

pub fn get_all_children_number_request() -> impl Strategy<Value = GetAllChildrenNumberRequest> {
    record_strategy!(GetAllChildrenNumberRequest { path: string() })
}

pub fn get_all_children_number_response() -> impl Strategy<Value = GetAllChildrenNumberResponse> {
    record_strategy!(GetAllChildrenNumberResponse {
        total_number: any::<i32>()
    })
}

pub fn add_watch_request() -> impl Strategy<Value = AddWatchRequest> {
    record_strategy!(AddWatchRequest {
        path: string(),
        mode: any::<i32>()
    })
}

pub fn client_info() -> impl Strategy<Value = ClientInfo> {
    record_strategy!(ClientInfo {
        auth_scheme: string(),
        user: string()
    })
}

pub fn set_sasl_request() -> impl Strategy<Value = SetSaslRequest> {
    record_strategy!(SetSaslRequest { token: bytes() })
}

pub fn who_am_i_response() -> impl Strategy<Value = WhoAmIResponse> {
    vec(client_info(), 0..4).prop_map(WhoAmIResponse)
}

/// With and without the trailing readOnly byte.
pub fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    record_strategy!(ConnectRequest {
        protocol_version: any::<i32>(),
        last_zxid_seen: any::<i64>(),
        timeout_ms: any::<i32>(),
        session_id: any::<i64>(),
        password: bytes(),
        read_only: proptest::option::of(any::<bool>())
    })
}

pub fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    record_strategy!(ConnectResponse {
        protocol_version: any::<i32>(),
        timeout_ms: any::<i32>(),
        session_id: any::<i64>(),
        password: bytes(),
        read_only: proptest::option::of(any::<bool>())
    })
}

// ---- requests ----

/// The opcodes a client may send (every other one is refused by the decoder).
pub const CLIENT_OPS: &[OpCode] = &[
    OpCode::Create,
    OpCode::Delete,
    OpCode::Exists,
    OpCode::GetData,
    OpCode::SetData,
    OpCode::GetAcl,
    OpCode::SetAcl,
    OpCode::GetChildren,
    OpCode::Sync,
    OpCode::Ping,
    OpCode::GetChildren2,
    OpCode::Check,
    OpCode::Multi,
    OpCode::Create2,
    OpCode::Reconfig,
    OpCode::CheckWatches,
    OpCode::RemoveWatches,
    OpCode::CreateContainer,
    OpCode::CreateTtl,
    OpCode::MultiRead,
    OpCode::Auth,
    OpCode::SetWatches,
    OpCode::Sasl,
    OpCode::GetEphemerals,
    OpCode::GetAllChildrenNumber,
    OpCode::SetWatches2,
    OpCode::AddWatch,
    OpCode::WhoAmI,
    OpCode::CloseSession,
];

/// A create body for `op`; `ttl` is only carried by createTTL.
pub fn create_op(op: OpCode) -> impl Strategy<Value = CreateOp> {
    let ttl = if op == OpCode::CreateTtl {
        any::<i64>().boxed()
    } else {
        Just(0i64).boxed()
    };
    record_strategy!(CreateOp {
        path: string(),
        data: bytes(),
        acl: acls(),
        flags: any::<i32>(),
        ttl: ttl
    })
}

pub const MULTI_CREATE_OPS: &[OpCode] = &[
    OpCode::Create,
    OpCode::Create2,
    OpCode::CreateContainer,
    OpCode::CreateTtl,
];

pub fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        select(MULTI_CREATE_OPS).prop_flat_map(
            |op| create_op(op).prop_map(move |create| MultiOp::Create { op, create })
        ),
        delete_request().prop_map(MultiOp::Delete),
        set_data_request().prop_map(MultiOp::SetData),
        check_version_request().prop_map(MultiOp::Check),
    ]
}

pub fn read_op() -> impl Strategy<Value = ReadOp> {
    prop_oneof![
        get_children_request().prop_map(ReadOp::GetChildren),
        get_data_request().prop_map(ReadOp::GetData),
    ]
}

/// A request body that encodes and decodes under `op`, or `None` for the opcodes
/// a client cannot send.
pub fn request_for(op: OpCode) -> Option<BoxedStrategy<Request>> {
    Some(match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            create_op(op).prop_map(Request::Create).boxed()
        }
        OpCode::Delete => delete_request().prop_map(Request::Delete).boxed(),
        OpCode::Exists => exists_request().prop_map(Request::Exists).boxed(),
        OpCode::GetData => get_data_request().prop_map(Request::GetData).boxed(),
        OpCode::SetData => set_data_request().prop_map(Request::SetData).boxed(),
        OpCode::GetAcl => get_acl_request().prop_map(Request::GetAcl).boxed(),
        OpCode::SetAcl => set_acl_request().prop_map(Request::SetAcl).boxed(),
        OpCode::GetChildren | OpCode::GetChildren2 => get_children_request()
            .prop_map(Request::GetChildren)
            .boxed(),
        OpCode::Sync => sync_request().prop_map(Request::Sync).boxed(),
        OpCode::Ping => Just(Request::Ping).boxed(),
        OpCode::Check => check_version_request().prop_map(Request::Check).boxed(),
        OpCode::Multi => vec(multi_op(), 0..6).prop_map(Request::Multi).boxed(),
        OpCode::MultiRead => vec(read_op(), 0..6).prop_map(Request::MultiRead).boxed(),
        OpCode::Reconfig => reconfig_request().prop_map(Request::Reconfig).boxed(),
        OpCode::CheckWatches => watches_request().prop_map(Request::CheckWatches).boxed(),
        OpCode::RemoveWatches => watches_request().prop_map(Request::RemoveWatches).boxed(),
        OpCode::Auth => auth_packet().prop_map(Request::Auth).boxed(),
        // setWatches (v1) has no persistent lists: they decode as empty.
        OpCode::SetWatches => set_watches()
            .prop_map(|w| {
                Request::SetWatches(SetWatches2 {
                    relative_zxid: w.relative_zxid,
                    data_watches: w.data_watches,
                    exist_watches: w.exist_watches,
                    child_watches: w.child_watches,
                    persistent_watches: Vec::new(),
                    persistent_recursive_watches: Vec::new(),
                })
            })
            .boxed(),
        OpCode::SetWatches2 => set_watches2().prop_map(Request::SetWatches).boxed(),
        OpCode::Sasl => set_sasl_request().prop_map(Request::Sasl).boxed(),
        OpCode::GetEphemerals => get_ephemerals_request()
            .prop_map(Request::GetEphemerals)
            .boxed(),
        OpCode::GetAllChildrenNumber => get_all_children_number_request()
            .prop_map(Request::GetAllChildrenNumber)
            .boxed(),
        OpCode::AddWatch => add_watch_request().prop_map(Request::AddWatch).boxed(),
        OpCode::WhoAmI => Just(Request::WhoAmI).boxed(),
        OpCode::CloseSession => Just(Request::CloseSession).boxed(),
        OpCode::Notification | OpCode::DeleteContainer | OpCode::CreateSession | OpCode::Error => {
            return None
        }
    })
}

/// A request frame for any opcode a client can send.
pub fn request_frame() -> impl Strategy<Value = RequestFrame> {
    (any::<i32>(), select(CLIENT_OPS)).prop_flat_map(|(xid, op)| {
        request_for(op)
            .expect("CLIENT_OPS has a strategy")
            .prop_map(move |request| RequestFrame { xid, op, request })
    })
}

// ---- responses ----

pub fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        string().prop_map(|path| MultiResult::Create { path }),
        (string(), stat()).prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
        Just(MultiResult::Delete),
        stat().prop_map(|stat| MultiResult::SetData { stat }),
        Just(MultiResult::Check),
        error_code().prop_map(MultiResult::Error),
    ]
}

pub fn multi_read_result() -> impl Strategy<Value = MultiReadResult> {
    prop_oneof![
        strings().prop_map(MultiReadResult::Children),
        (bytes(), stat()).prop_map(|(data, stat)| MultiReadResult::Data { data, stat }),
        error_code().prop_map(MultiReadResult::Error),
    ]
}

/// The opcodes whose successful reply body is `Response::Empty`.
pub const EMPTY_REPLY_OPS: &[OpCode] = &[
    OpCode::Delete,
    OpCode::Ping,
    OpCode::Check,
    OpCode::CheckWatches,
    OpCode::RemoveWatches,
    OpCode::DeleteContainer,
    OpCode::Auth,
    OpCode::SetWatches,
    OpCode::SetWatches2,
    OpCode::Sasl,
    OpCode::AddWatch,
    OpCode::CloseSession,
];

/// A response together with every opcode whose reply decodes to it.
pub fn response_with_ops() -> impl Strategy<Value = (Response, &'static [OpCode])> {
    prop_oneof![
        Just((Response::Empty, EMPTY_REPLY_OPS)),
        string().prop_map(|path| (Response::Create { path }, &[OpCode::Create][..])),
        (string(), stat()).prop_map(|(path, stat)| (
            Response::Create2 { path, stat },
            &[OpCode::Create2, OpCode::CreateTtl, OpCode::CreateContainer][..]
        )),
        stat().prop_map(|s| (
            Response::Stat(s),
            &[OpCode::Exists, OpCode::SetData, OpCode::SetAcl][..]
        )),
        (bytes(), stat()).prop_map(|(data, stat)| (
            Response::Data { data, stat },
            &[OpCode::GetData, OpCode::Reconfig][..]
        )),
        (acls(), stat())
            .prop_map(|(acl, stat)| (Response::Acl { acl, stat }, &[OpCode::GetAcl][..])),
        strings().prop_map(|c| (Response::Children(c), &[OpCode::GetChildren][..])),
        (strings(), stat()).prop_map(|(children, stat)| (
            Response::Children2 { children, stat },
            &[OpCode::GetChildren2][..]
        )),
        string().prop_map(|path| (Response::Sync { path }, &[OpCode::Sync][..])),
        vec(multi_result(), 0..6).prop_map(|r| (Response::Multi(r), &[OpCode::Multi][..])),
        vec(multi_read_result(), 0..6)
            .prop_map(|r| (Response::MultiRead(r), &[OpCode::MultiRead][..])),
        strings().prop_map(|e| (Response::Ephemerals(e), &[OpCode::GetEphemerals][..])),
        any::<i32>().prop_map(|n| (
            Response::AllChildrenNumber(n),
            &[OpCode::GetAllChildrenNumber][..]
        )),
        vec(client_info(), 0..4).prop_map(|w| (Response::WhoAmI(w), &[OpCode::WhoAmI][..])),
    ]
}

pub fn response_bytes(resp: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    resp.encode(&mut out);
    out
}

pub fn request_bytes(frame: &RequestFrame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out);
    out
}
