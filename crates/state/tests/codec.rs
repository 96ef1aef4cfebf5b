//! The log record codec: round trips of arbitrary entries, golden bytes that
//! pin the version-1 layout, and decoding that never panics.
use proptest::prelude::*;
use rzk_proto::records::{
    CheckVersionRequest, DeleteRequest, ReconfigRequest, SetAclRequest, SetDataRequest,
};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{Acl, DecodeError, ErrorCode, Id, OpCode};
use rzk_state::codec::FORMAT_VERSION;
use rzk_state::{CodecError, Entry, Txn, WriteOp};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", Just(String::new()), Just("/a/b".to_owned())]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..24)
}

fn id() -> impl Strategy<Value = Id> {
    (text(), text()).prop_map(|(scheme, id)| Id::new(scheme, id))
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(
        (any::<i32>(), id()).prop_map(|(perms, id)| Acl::new(perms, id)),
        0..3,
    )
}

fn create() -> impl Strategy<Value = (OpCode, CreateOp)> {
    (
        prop::sample::select(OpCode::ALL),
        text(),
        bytes(),
        acls(),
        any::<i32>(),
        any::<i64>(),
    )
        .prop_map(|(op, path, data, acl, flags, ttl)| {
            (
                op,
                CreateOp {
                    path,
                    data,
                    acl,
                    flags,
                    ttl,
                },
            )
        })
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create().prop_map(|(op, create)| MultiOp::Create { op, create }),
        (text(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        (text(), bytes(), any::<i32>()).prop_map(|(path, data, version)| MultiOp::SetData(
            SetDataRequest {
                path,
                data,
                version
            }
        )),
        (text(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
    ]
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        create().prop_map(|(op, create)| WriteOp::Create { op, create }),
        (text(), any::<i32>())
            .prop_map(|(path, version)| WriteOp::Delete(DeleteRequest { path, version })),
        (text(), bytes(), any::<i32>()).prop_map(|(path, data, version)| WriteOp::SetData(
            SetDataRequest {
                path,
                data,
                version
            }
        )),
        (text(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| WriteOp::SetAcl(SetAclRequest { path, acl, version })),
        (text(), any::<i32>())
            .prop_map(|(path, version)| WriteOp::Check(CheckVersionRequest { path, version })),
        prop::collection::vec(multi_op(), 0..5).prop_map(WriteOp::Multi),
        (
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            any::<i64>()
        )
            .prop_map(
                |(joining_servers, leaving_servers, new_members, cur_config_id)| {
                    WriteOp::Reconfig(ReconfigRequest {
                        joining_servers,
                        leaving_servers,
                        new_members,
                        cur_config_id,
                    })
                }
            ),
    ]
}

fn txn() -> impl Strategy<Value = Txn> {
    prop_oneof![
        (any::<i64>(), any::<i32>(), bytes()).prop_map(|(session_id, timeout_ms, password)| {
            Txn::CreateSession {
                session_id,
                timeout_ms,
                password,
            }
        }),
        any::<i64>().prop_map(|session_id| Txn::CloseSession { session_id }),
        any::<i64>().prop_map(|session_id| Txn::ExpireSession { session_id }),
        (any::<i64>(), prop::collection::vec(id(), 0..3), write_op()).prop_map(
            |(session_id, auth, op)| Txn::Write {
                session_id,
                auth: auth.into(),
                op
            }
        ),
        (any::<i64>(), prop::sample::select(ErrorCode::ALL))
            .prop_map(|(session_id, err)| Txn::Error { session_id, err }),
        text().prop_map(|path| Txn::DeleteContainer { path }),
        text().prop_map(|servers| Txn::SetConfig { servers }),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (any::<i64>(), any::<i64>(), txn()).prop_map(|(zxid, time_ms, txn)| Entry {
        zxid,
        time_ms,
        txn,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn entries_round_trip(e in entry()) {
        let bytes = e.to_bytes();
        prop_assert_eq!(bytes[0], FORMAT_VERSION);
        prop_assert_eq!(Entry::from_bytes(&bytes), Ok(e.clone()));
        // Encoding appends.
        let mut out = vec![7u8];
        e.encode(&mut out);
        prop_assert_eq!(&out[1..], &bytes[..]);
    }

    #[test]
    fn txns_round_trip(t in txn()) {
        let bytes = t.to_bytes();
        prop_assert_eq!(Txn::from_bytes(&bytes), Ok(t.clone()));
        // An entry's encoding is the txn's with zxid and time after the version.
        let e = Entry { zxid: 5, time_ms: 6, txn: t };
        prop_assert_eq!(&e.to_bytes()[17..], &bytes[1..]);
    }

    #[test]
    fn every_truncation_is_an_error(e in entry()) {
        let bytes = e.to_bytes();
        for len in 0..bytes.len() {
            prop_assert!(Entry::from_bytes(&bytes[..len]).is_err(), "prefix of {} bytes decoded", len);
        }
        let t = e.txn.to_bytes();
        for len in 0..t.len() {
            prop_assert!(Txn::from_bytes(&t[..len]).is_err());
        }
    }

    #[test]
    fn trailing_bytes_are_an_error(e in entry(), extra in prop::collection::vec(any::<u8>(), 1..4)) {
        let mut bytes = e.to_bytes();
        bytes.extend_from_slice(&extra);
        prop_assert!(matches!(
            Entry::from_bytes(&bytes),
            Err(CodecError::Jute(DecodeError::TrailingBytes(_)))
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Entry::from_bytes(&bytes);
        let _ = Txn::from_bytes(&bytes);
    }

    /// Bytes that get past the version and the tags, so the fields are fuzzed.
    #[test]
    fn plausible_bytes_never_panic(
        tags in (1u8..=6, 1u8..=7, 1u8..=5),
        rest in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = vec![FORMAT_VERSION, tags.0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, tags.1, 0, 0, 0, 1, tags.2];
        bytes.extend_from_slice(&rest);
        let _ = Txn::from_bytes(&bytes);
        let _ = Entry::from_bytes(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(e in entry(), at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let mut bytes = e.to_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        // Without a checksum (the log adds its own) a mutation may still
        // decode, to something else; it must never panic, and what decodes is
        // a value like any other.
        if let Ok(decoded) = Entry::from_bytes(&bytes) {
            let again = decoded.to_bytes();
            prop_assert_eq!(Entry::from_bytes(&again), Ok(decoded));
        }
    }
}

#[test]
fn golden_bytes_pin_the_version_1_layout() {
    let e = Entry {
        zxid: 0x0102,
        time_ms: 0x0304,
        txn: Txn::CreateSession {
            session_id: 0x0a,
            timeout_ms: 30_000,
            password: vec![0xaa, 0xbb],
        },
    };
    assert_eq!(
        e.to_bytes(),
        [
            1, // version
            0, 0, 0, 0, 0, 0, 1, 2, // zxid
            0, 0, 0, 0, 0, 0, 3, 4, // time
            1, // CreateSession
            0, 0, 0, 0, 0, 0, 0, 0x0a, // session id
            0, 0, 0x75, 0x30, // timeout
            0, 0, 0, 2, 0xaa, 0xbb, // password
        ]
    );

    let t = Txn::Write {
        session_id: 1,
        auth: vec![Id::new("ip", "1")].into(),
        op: WriteOp::Multi(vec![
            MultiOp::Create {
                op: OpCode::CreateTtl,
                create: CreateOp {
                    path: "/a".into(),
                    data: b"x".to_vec(),
                    acl: vec![Acl::new(31, Id::anyone())],
                    flags: 5,
                    ttl: 100,
                },
            },
            MultiOp::Check(CheckVersionRequest {
                path: "/b".into(),
                version: -1,
            }),
        ]),
    };
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[1u8, 4][..], // version, Write
        &[0, 0, 0, 0, 0, 0, 0, 1], // session
        &[0, 0, 0, 1, 0, 0, 0, 2, b'i', b'p', 0, 0, 0, 1, b'1'], // auth
        &[6, 0, 0, 0, 2], // Multi, two ops
        &[1, 0, 0, 0, 21], // Create, createTTL
        &[0, 0, 0, 2, b'/', b'a', 0, 0, 0, 1, b'x'], // path, data
        &[0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5], b"world", &[0, 0, 0, 6], b"anyone", // acl
        &[0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 100], // flags, ttl
        &[5, 0, 0, 0, 2, b'/', b'b', 0xff, 0xff, 0xff, 0xff], // Check /b -1
    ]
    .concat();
    assert_eq!(t.to_bytes(), expected);

    let reconfig = Txn::Write {
        session_id: 2,
        auth: vec![].into(),
        op: WriteOp::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some(String::new()),
            new_members: None,
            cur_config_id: -1,
        }),
    };
    let bytes = reconfig.to_bytes();
    assert_eq!(
        &bytes[14..],
        [
            7, // Reconfig
            0xff, 0xff, 0xff, 0xff, // null
            0, 0, 0, 0, // ""
            0xff, 0xff, 0xff, 0xff, // null
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff // -1
        ]
    );
    assert_eq!(Txn::from_bytes(&bytes), Ok(reconfig));

    let err = Txn::Error {
        session_id: 3,
        err: ErrorCode::MarshallingError,
    };
    assert_eq!(
        err.to_bytes(),
        [1, 5, 0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xfb]
    );
}

#[test]
fn unknown_versions_tags_and_codes_are_typed_errors() {
    let mut bytes = Txn::CloseSession { session_id: 1 }.to_bytes();
    bytes[0] = 2;
    assert_eq!(
        Txn::from_bytes(&bytes),
        Err(CodecError::UnsupportedVersion(2))
    );
    assert_eq!(
        Txn::from_bytes(&[1, 9]),
        Err(CodecError::BadTag {
            what: "txn",
            tag: 9
        })
    );
    assert_eq!(
        Txn::from_bytes(&[1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 8]),
        Err(CodecError::BadTag {
            what: "write op",
            tag: 8
        })
    );
    // SetAcl (4) is not a multi op.
    assert_eq!(
        Txn::from_bytes(&[
            1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 6, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0
        ]),
        Err(CodecError::BadTag {
            what: "multi op",
            tag: 4
        })
    );
    assert_eq!(
        Txn::from_bytes(&[1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9]),
        Err(CodecError::UnknownCode {
            what: "error code",
            code: 9
        })
    );
    assert_eq!(
        Txn::from_bytes(&[1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 99]),
        Err(CodecError::UnknownCode {
            what: "opcode",
            code: 99
        })
    );
    assert!(Txn::from_bytes(&[]).is_err());
}

#[test]
fn huge_counts_are_rejected_before_allocating() {
    // A multi claiming i32::MAX ops in a few bytes.
    let bytes = [
        1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 6, 0x7f, 0xff, 0xff, 0xff, 5,
    ];
    assert_eq!(
        Txn::from_bytes(&bytes),
        Err(CodecError::Jute(DecodeError::BadLength(i32::MAX)))
    );
    // Auth ids claiming i32::MAX entries; a password claiming 2 GiB.
    let bytes = [1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff];
    assert!(Txn::from_bytes(&bytes).is_err());
    let bytes = [
        1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff,
    ];
    assert!(Txn::from_bytes(&bytes).is_err());
    // Negative multi count; null auth and password (never written).
    let bytes = [
        1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xfe,
    ];
    assert!(Txn::from_bytes(&bytes).is_err());
    let bytes = [1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 2];
    assert_eq!(
        Txn::from_bytes(&bytes),
        Err(CodecError::Jute(DecodeError::UnexpectedNull))
    );
}
