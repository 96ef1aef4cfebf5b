//! encode → decode == original, for every jute record, every request opcode and
//! every response variant; and every proper prefix of a valid encoding is an error
//! (a decoder that stops early, or reads past the end, shows up here).

mod common;

use common::*;
use proptest::prelude::*;
use rzk_proto::records::*;
use rzk_proto::request::{CreateOp, MultiOp, ReadOp};
use rzk_proto::{
    Acl, Decode, Encode, ErrorCode, Id, MultiReadResult, MultiResult, OpCode, Request,
    RequestFrame, Response, Stat,
};

/// The value survives encode → decode, the decoder consumes every byte, and no
/// proper prefix of the encoding decodes.
fn check_record<T: Encode + Decode + PartialEq + std::fmt::Debug>(
    v: &T,
) -> Result<(), TestCaseError> {
    let bytes = v.to_bytes();
    prop_assert!(
        bytes.len() >= T::MIN_ENCODED_BYTES,
        "{} bytes < MIN_ENCODED_BYTES {}",
        bytes.len(),
        T::MIN_ENCODED_BYTES
    );
    prop_assert_eq!(&T::decode_all(&bytes).expect("decodes"), v);
    for cut in 0..bytes.len() {
        prop_assert!(
            T::decode_all(&bytes[..cut]).is_err(),
            "prefix of {} of {} bytes decoded",
            cut,
            bytes.len()
        );
    }
    Ok(())
}

macro_rules! record_roundtrips {
    ($($test:ident: $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $test(v in $strategy) {
                    check_record(&v)?;
                }
            )*
        }
    };
}

record_roundtrips! {
    stat_roundtrip: stat();
    id_roundtrip: id();
    acl_roundtrip: acl();
    request_header_roundtrip: request_header();
    reply_header_roundtrip: reply_header();
    watcher_event_roundtrip: watcher_event();
    create_request_roundtrip: create_request();
    create_ttl_request_roundtrip: create_ttl_request();
    create_response_roundtrip: create_response();
    create2_response_roundtrip: create2_response();
    delete_request_roundtrip: delete_request();
    exists_request_roundtrip: exists_request();
    exists_response_roundtrip: exists_response();
    get_data_request_roundtrip: get_data_request();
    get_data_response_roundtrip: get_data_response();
    set_data_request_roundtrip: set_data_request();
    set_data_response_roundtrip: set_data_response();
    get_acl_request_roundtrip: get_acl_request();
    get_acl_response_roundtrip: get_acl_response();
    set_acl_request_roundtrip: set_acl_request();
    set_acl_response_roundtrip: set_acl_response();
    get_children_request_roundtrip: get_children_request();
    get_children_response_roundtrip: get_children_response();
    get_children2_response_roundtrip: get_children2_response();
    sync_request_roundtrip: sync_request();
    sync_response_roundtrip: sync_response();
    check_version_request_roundtrip: check_version_request();
    multi_header_roundtrip: multi_header();
    error_response_roundtrip: error_response();
    reconfig_request_roundtrip: reconfig_request();
    watches_request_roundtrip: watches_request();
    auth_packet_roundtrip: auth_packet();
    set_watches_roundtrip: set_watches();
    set_watches2_roundtrip: set_watches2();
    get_ephemerals_request_roundtrip: get_ephemerals_request();
    get_ephemerals_response_roundtrip: get_ephemerals_response();
    get_all_children_number_request_roundtrip: get_all_children_number_request();
    get_all_children_number_response_roundtrip: get_all_children_number_response();
    add_watch_request_roundtrip: add_watch_request();
    client_info_roundtrip: client_info();
    set_sasl_request_roundtrip: set_sasl_request();
    who_am_i_response_roundtrip: who_am_i_response();
}

/// The handshake records end in an optional readOnly byte, so the one prefix that
/// drops just that byte is a valid old-style handshake; every shorter one fails.
fn check_handshake<T, F>(v: &T, without_ro: F) -> Result<(), TestCaseError>
where
    T: Encode + Decode + PartialEq + std::fmt::Debug,
    F: Fn(&T) -> Option<T>,
{
    let bytes = v.to_bytes();
    prop_assert_eq!(&T::decode_all(&bytes).expect("decodes"), v);
    let short = without_ro(v);
    for cut in 0..bytes.len() {
        let got = T::decode_all(&bytes[..cut]);
        match &short {
            Some(s) if cut == bytes.len() - 1 => prop_assert_eq!(&got.expect("v0 form"), s),
            _ => prop_assert!(got.is_err(), "prefix {} of {} decoded", cut, bytes.len()),
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn connect_request_roundtrip(v in connect_request()) {
        check_handshake(&v, |v| v.read_only.map(|_| ConnectRequest { read_only: None, ..v.clone() }))?;
    }

    #[test]
    fn connect_response_roundtrip(v in connect_response()) {
        check_handshake(&v, |v| v.read_only.map(|_| ConnectResponse { read_only: None, ..v.clone() }))?;
    }

    #[test]
    fn request_frame_roundtrip(frame in request_frame()) {
        let bytes = request_bytes(&frame);
        prop_assert_eq!(&RequestFrame::decode(&bytes).expect("decodes"), &frame);
        for cut in 0..bytes.len() {
            prop_assert!(RequestFrame::decode(&bytes[..cut]).is_err(), "prefix {} of {}", cut, bytes.len());
        }
    }

    #[test]
    fn response_roundtrip((resp, ops) in response_with_ops()) {
        let bytes = response_bytes(&resp);
        for &op in ops {
            prop_assert_eq!(&Response::decode(op, &bytes).expect("decodes"), &resp, "op {:?}", op);
            for cut in 0..bytes.len() {
                prop_assert!(Response::decode(op, &bytes[..cut]).is_err(), "{:?}: prefix {} of {}", op, cut, bytes.len());
            }
        }
    }
}

/// Every opcode either has a request strategy (and so is round-tripped above) or
/// is refused by the decoder.
#[test]
fn every_opcode_is_covered_or_refused() {
    for &op in OpCode::ALL {
        match request_for(op) {
            Some(_) => assert!(CLIENT_OPS.contains(&op), "{op:?} missing from CLIENT_OPS"),
            None => {
                let frame = [0, 0, 0, 1]
                    .into_iter()
                    .chain(op.code().to_be_bytes())
                    .collect::<Vec<u8>>();
                assert_eq!(
                    RequestFrame::decode(&frame),
                    Err(rzk_proto::DecodeError::UnknownOpCode(op.code())),
                    "{op:?}"
                );
            }
        }
    }
}

fn sample_stat() -> Stat {
    Stat {
        czxid: 1,
        mzxid: 2,
        ctime: 3,
        mtime: 4,
        version: 5,
        cversion: 6,
        aversion: 7,
        ephemeral_owner: 8,
        data_length: 9,
        num_children: 10,
        pzxid: 11,
    }
}

fn assert_request_roundtrip(frame: RequestFrame) {
    let bytes = request_bytes(&frame);
    assert_eq!(RequestFrame::decode(&bytes).unwrap(), frame);
}

/// One multi carrying every kind of write op, deterministically (the proptest
/// above reaches them at random).
#[test]
fn multi_with_every_op_kind() {
    let mut ops: Vec<MultiOp> = MULTI_CREATE_OPS
        .iter()
        .map(|&op| MultiOp::Create {
            op,
            create: CreateOp {
                path: format!("/{}", op.name()),
                data: b"d".to_vec(),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: if op == OpCode::CreateTtl { 1000 } else { 0 },
            },
        })
        .collect();
    ops.push(MultiOp::Delete(DeleteRequest {
        path: "/d".into(),
        version: -1,
    }));
    ops.push(MultiOp::SetData(SetDataRequest {
        path: "/s".into(),
        data: vec![1, 2],
        version: 3,
    }));
    ops.push(MultiOp::Check(CheckVersionRequest {
        path: "/c".into(),
        version: 0,
    }));
    assert_request_roundtrip(RequestFrame {
        xid: 1,
        op: OpCode::Multi,
        request: Request::Multi(ops),
    });
    assert_request_roundtrip(RequestFrame {
        xid: 2,
        op: OpCode::Multi,
        request: Request::Multi(Vec::new()),
    });
    assert_request_roundtrip(RequestFrame {
        xid: 3,
        op: OpCode::MultiRead,
        request: Request::MultiRead(vec![
            ReadOp::GetChildren(GetChildrenRequest {
                path: "/a".into(),
                watch: false,
            }),
            ReadOp::GetData(GetDataRequest {
                path: "/b".into(),
                watch: false,
            }),
        ]),
    });
}

#[test]
fn multi_results_of_every_kind() {
    let mut results = vec![
        MultiResult::Create { path: "/a".into() },
        MultiResult::Create2 {
            path: "/b".into(),
            stat: sample_stat(),
        },
        MultiResult::Delete,
        MultiResult::SetData {
            stat: sample_stat(),
        },
        MultiResult::Check,
    ];
    results.extend(ErrorCode::ALL.iter().map(|&e| MultiResult::Error(e)));
    let resp = Response::Multi(results);
    assert_eq!(
        Response::decode(OpCode::Multi, &response_bytes(&resp)).unwrap(),
        resp
    );

    let mut results = vec![
        MultiReadResult::Children(vec!["x".into()]),
        MultiReadResult::Data {
            data: b"v".to_vec(),
            stat: sample_stat(),
        },
    ];
    results.extend(ErrorCode::ALL.iter().map(|&e| MultiReadResult::Error(e)));
    let resp = Response::MultiRead(results);
    assert_eq!(
        Response::decode(OpCode::MultiRead, &response_bytes(&resp)).unwrap(),
        resp
    );
}

/// setWatches (101) carries three lists, setWatches2 (105) five; the same
/// `Request::SetWatches` value encodes differently under each.
#[test]
fn set_watches_v1_and_v2_differ_on_the_wire() {
    let w = SetWatches2 {
        relative_zxid: 9,
        data_watches: vec!["/d".into()],
        exist_watches: vec!["/e".into()],
        child_watches: vec!["/c".into()],
        persistent_watches: Vec::new(),
        persistent_recursive_watches: Vec::new(),
    };
    let v1 = RequestFrame {
        xid: -8,
        op: OpCode::SetWatches,
        request: Request::SetWatches(w.clone()),
    };
    let v2 = RequestFrame {
        op: OpCode::SetWatches2,
        ..v1.clone()
    };
    let (b1, b2) = (request_bytes(&v1), request_bytes(&v2));
    assert_eq!(b2.len(), b1.len() + 8, "two more (empty) vectors");
    assert_eq!(RequestFrame::decode(&b1).unwrap(), v1);
    assert_eq!(RequestFrame::decode(&b2).unwrap(), v2);

    let with_persistent = SetWatches2 {
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into()],
        ..w
    };
    assert_request_roundtrip(RequestFrame {
        xid: -8,
        op: OpCode::SetWatches2,
        request: Request::SetWatches(with_persistent),
    });
}

/// Nulls the Java client may send decode as empty (data, vectors) or as `None`
/// (reconfig's server lists); a null path is refused.
#[test]
fn null_fields() {
    let null = (-1i32).to_be_bytes();
    let mut create = Vec::new();
    create.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]); // xid 1, create
    create.extend_from_slice(&[0, 0, 0, 2, b'/', b'a']);
    create.extend_from_slice(&null); // data
    create.extend_from_slice(&null); // acl
    create.extend_from_slice(&[0, 0, 0, 0]); // flags
    assert_eq!(
        RequestFrame::decode(&create).unwrap().request,
        Request::Create(CreateOp {
            path: "/a".into(),
            ..CreateOp::default()
        })
    );

    let mut null_path = vec![0, 0, 0, 1, 0, 0, 0, 3];
    null_path.extend_from_slice(&null);
    null_path.push(0);
    assert_eq!(
        RequestFrame::decode(&null_path),
        Err(rzk_proto::DecodeError::UnexpectedNull)
    );

    let reconfig = ReconfigRequest {
        joining_servers: Some("server.4=h:1:2".into()),
        leaving_servers: None,
        new_members: None,
        cur_config_id: -1,
    };
    assert_eq!(
        ReconfigRequest::decode_all(&reconfig.to_bytes()).unwrap(),
        reconfig
    );
    let empty = ReconfigRequest {
        leaving_servers: Some(String::new()),
        ..reconfig.clone()
    };
    assert_ne!(empty.to_bytes(), reconfig.to_bytes(), "null is not empty");
}

/// Decoding is lenient where Java's is: any non-zero byte is `true`.
#[test]
fn nonzero_bool_is_true() {
    let mut b = Vec::new();
    b.extend_from_slice(&[0, 0, 0, 2, b'/', b'x']);
    b.push(0x7f);
    assert!(ExistsRequest::decode_all(&b).unwrap().watch);
}

#[test]
fn id_and_acl_helpers() {
    assert_eq!(
        Acl::open_unsafe(),
        vec![Acl::new(31, Id::new("world", "anyone"))]
    );
    check_record(&Acl::read_unsafe()[0]).unwrap();
}
