//! Hostile input: decoders return `Err` and never panic, whatever the bytes, and a
//! huge length or count with a short input fails at once instead of allocating.
//! (Truncation of valid encodings at every position is in `roundtrip.rs`.)

mod common;

use std::time::{Duration, Instant};

use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use rzk_proto::frame::{parse_frame_len, DEFAULT_MAX_FRAME_BYTES};
use rzk_proto::records::*;
use rzk_proto::{Acl, Decode, DecodeError, Id, OpCode, RequestFrame, Response, Stat};

/// Runs every decoder in the crate over `bytes`. Any panic fails the test.
fn decode_everything(bytes: &[u8]) {
    let _ = RequestFrame::decode(bytes);
    for &op in OpCode::ALL {
        let _ = Response::decode(op, bytes);
    }
    let _ = ConnectRequest::decode_all(bytes);
    let _ = ConnectResponse::decode_all(bytes);
    let _ = ConnectRequest::decode(&mut rzk_proto::Reader::new(bytes));
    let _ = Stat::decode_all(bytes);
    let _ = Id::decode_all(bytes);
    let _ = Acl::decode_all(bytes);
    let _ = RequestHeader::decode_all(bytes);
    let _ = ReplyHeader::decode_all(bytes);
    let _ = WatcherEvent::decode_all(bytes);
    let _ = CreateRequest::decode_all(bytes);
    let _ = CreateTtlRequest::decode_all(bytes);
    let _ = Create2Response::decode_all(bytes);
    let _ = GetDataResponse::decode_all(bytes);
    let _ = GetAclResponse::decode_all(bytes);
    let _ = SetAclRequest::decode_all(bytes);
    let _ = GetChildren2Response::decode_all(bytes);
    let _ = MultiHeader::decode_all(bytes);
    let _ = ReconfigRequest::decode_all(bytes);
    let _ = AuthPacket::decode_all(bytes);
    let _ = SetWatches::decode_all(bytes);
    let _ = SetWatches2::decode_all(bytes);
    let _ = GetEphemeralsResponse::decode_all(bytes);
    let _ = WhoAmIResponse::decode_all(bytes);
    let _ = SetSaslRequest::decode_all(bytes);
}

/// Bytes that often look like jute: small and huge lengths, -1, opcodes.
fn jute_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let word = prop_oneof![
        Just(vec![0xff, 0xff, 0xff, 0xff]),
        Just(vec![0x7f, 0xff, 0xff, 0xff]),
        Just(vec![0x80, 0, 0, 0]),
        (0i32..40).prop_map(|n| n.to_be_bytes().to_vec()),
        select_op().prop_map(|op| op.code().to_be_bytes().to_vec()),
        vec(any::<u8>(), 0..6),
    ];
    vec(word, 0..24).prop_map(|ws| ws.concat())
}

fn select_op() -> impl Strategy<Value = OpCode> {
    proptest::sample::select(OpCode::ALL)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    #[test]
    fn jute_like_bytes_never_panic(bytes in jute_ish_bytes()) {
        decode_everything(&bytes);
    }

    /// A valid header for every opcode, then garbage: reaches each body decoder.
    #[test]
    fn garbage_body_after_valid_header(xid in any::<i32>(), op in select_op(), body in jute_ish_bytes()) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&xid.to_be_bytes());
        bytes.extend_from_slice(&op.code().to_be_bytes());
        bytes.extend_from_slice(&body);
        decode_everything(&bytes);
    }

    /// Valid encodings with a few bytes overwritten: reaches deep into records.
    #[test]
    fn mutated_requests_never_panic(
        frame in request_frame(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = request_bytes(&frame);
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        decode_everything(&bytes);
    }

    #[test]
    fn mutated_responses_never_panic(
        (resp, _ops) in response_with_ops(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = response_bytes(&resp);
        if !bytes.is_empty() {
            for (i, b) in edits {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
        }
        decode_everything(&bytes);
    }

    #[test]
    fn mutated_connect_never_panics(
        req in connect_request(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = rzk_proto::Encode::to_bytes(&req);
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        decode_everything(&bytes);
    }

    /// `parse_frame_len` never panics and its answer is consistent with the bytes.
    #[test]
    fn frame_length_parsing(bytes in vec(any::<u8>(), 0..64), limit in 0usize..128) {
        match parse_frame_len(&bytes, limit) {
            Ok(None) => {
                let incomplete = bytes.len() < 4 || {
                    let n = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    n >= 0 && (n as usize) <= limit && bytes.len() < 4 + n as usize
                };
                prop_assert!(incomplete);
            }
            Ok(Some(n)) => {
                prop_assert!(n <= limit);
                prop_assert!(bytes.len() >= 4 + n);
                prop_assert_eq!(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize, n);
            }
            Err(_) => {
                let n = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                prop_assert!(n < 0 || n as usize > limit);
            }
        }
    }
}

fn be32(n: i32) -> [u8; 4] {
    n.to_be_bytes()
}

fn header(op: OpCode) -> Vec<u8> {
    let mut b = be32(1).to_vec();
    b.extend_from_slice(&be32(op.code()));
    b
}

fn path(b: &mut Vec<u8>, p: &str) {
    b.extend_from_slice(&be32(p.len() as i32));
    b.extend_from_slice(p.as_bytes());
}

/// Says whether a decoder refused the bytes.
type FailsCheck = dyn Fn(&[u8]) -> bool;

/// Each place a length or count is read, given i32::MAX (and other huge values)
/// with only a few bytes behind it: an error, at once.
#[test]
fn huge_lengths_and_counts_fail_fast() {
    let mut cases: Vec<(&str, Vec<u8>, Box<FailsCheck>)> = Vec::new();
    let req = |b: &[u8]| RequestFrame::decode(b).is_err();

    for huge in [i32::MAX, i32::MAX - 1, 1 << 30, 0x0010_0000, -2, i32::MIN] {
        // The path of a getData.
        let mut b = header(OpCode::GetData);
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(b"/abc\x01");
        cases.push(("getData path", b, Box::new(req)));

        // create: data length, then the acl count.
        let mut b = header(OpCode::Create);
        path(&mut b, "/a");
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(&[0; 12]);
        cases.push(("create data", b, Box::new(req)));
        let mut b = header(OpCode::Create);
        path(&mut b, "/a");
        b.extend_from_slice(&be32(0));
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(&[0; 12]);
        cases.push(("create acl count", b, Box::new(req)));

        // setACL acl count; an acl's id scheme length.
        let mut b = header(OpCode::SetAcl);
        path(&mut b, "/a");
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(&[0; 8]);
        cases.push(("setACL acl count", b, Box::new(req)));
        let mut b = header(OpCode::SetAcl);
        path(&mut b, "/a");
        b.extend_from_slice(&be32(1));
        b.extend_from_slice(&be32(31));
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(&[0; 8]);
        cases.push(("acl scheme", b, Box::new(req)));

        // setWatches / setWatches2 list counts and a watch path.
        for op in [OpCode::SetWatches, OpCode::SetWatches2] {
            let mut b = header(op);
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&be32(huge));
            b.extend_from_slice(&[0; 16]);
            cases.push(("setWatches count", b, Box::new(req)));
            let mut b = header(op);
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&be32(1));
            b.extend_from_slice(&be32(huge));
            b.extend_from_slice(&[0; 16]);
            cases.push(("setWatches path", b, Box::new(req)));
        }

        // A create inside a multi.
        let mut b = header(OpCode::Multi);
        b.extend_from_slice(&be32(OpCode::Create.code()));
        b.push(0);
        b.extend_from_slice(&be32(-1));
        path(&mut b, "/a");
        b.extend_from_slice(&be32(0));
        b.extend_from_slice(&be32(huge));
        cases.push(("multi create acl count", b, Box::new(req)));

        // auth and sasl buffers.
        let mut b = header(OpCode::Auth);
        b.extend_from_slice(&be32(0));
        path(&mut b, "digest");
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(b"u:p");
        cases.push(("auth buffer", b, Box::new(req)));
        let mut b = header(OpCode::Sasl);
        b.extend_from_slice(&be32(huge));
        cases.push(("sasl token", b, Box::new(req)));

        // The handshake password.
        let mut b = vec![0; 24];
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(&[1; 16]);
        cases.push((
            "connect passwd",
            b.clone(),
            Box::new(|b: &[u8]| ConnectRequest::decode_all(b).is_err()),
        ));

        // Response vectors: children, acls, ephemerals, whoAmI, multi results.
        for op in [
            OpCode::GetChildren,
            OpCode::GetChildren2,
            OpCode::GetAcl,
            OpCode::GetEphemerals,
            OpCode::WhoAmI,
            OpCode::GetData,
        ] {
            let mut b = be32(huge).to_vec();
            b.extend_from_slice(&[0; 80]);
            cases.push((
                "response vector",
                b,
                Box::new(move |b: &[u8]| Response::decode(op, b).is_err()),
            ));
        }
        let mut b = be32(OpCode::GetChildren.code()).to_vec();
        b.push(0);
        b.extend_from_slice(&be32(0));
        b.extend_from_slice(&be32(huge));
        b.extend_from_slice(&[0; 16]);
        cases.push((
            "multiRead children",
            b,
            Box::new(|b: &[u8]| Response::decode(OpCode::MultiRead, b).is_err()),
        ));
    }

    for (name, bytes, fails) in &cases {
        let start = Instant::now();
        assert!(fails(bytes), "{name}: decoded {bytes:02x?}");
        // Looping over a claimed count of i32::MAX takes seconds; a decode
        // that refuses at once takes microseconds (allocations are bounded
        // by alloc_bounds.rs). The bound sits far from both, so a thread
        // descheduled on a busy CI machine does not fail it.
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "{name}: took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn huge_count_is_a_bad_length() {
    let mut b = header(OpCode::SetWatches2);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&be32(i32::MAX));
    b.extend_from_slice(&[0; 16]);
    assert_eq!(
        RequestFrame::decode(&b),
        Err(DecodeError::BadLength(i32::MAX))
    );
}

/// A multi that fills a whole default-size frame with the smallest ops still
/// decodes, and quickly: the op loop is bounded by the input alone.
#[test]
fn frame_sized_multi_decodes() {
    let mut b = header(OpCode::Multi);
    let mut n = 0;
    while b.len() + 17 + 9 <= DEFAULT_MAX_FRAME_BYTES {
        b.extend_from_slice(&be32(OpCode::Check.code()));
        b.push(0);
        b.extend_from_slice(&be32(-1));
        b.extend_from_slice(&be32(0)); // empty path
        b.extend_from_slice(&be32(n));
        n += 1;
    }
    b.extend_from_slice(&be32(-1));
    b.push(1);
    b.extend_from_slice(&be32(-1));
    let start = Instant::now();
    let frame = RequestFrame::decode(&b).unwrap();
    match frame.request {
        rzk_proto::Request::Multi(ops) => assert_eq!(ops.len(), n as usize),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(2));

    // And the same multi without its end marker fails.
    b.truncate(b.len() - 9);
    assert!(RequestFrame::decode(&b).is_err());
}
