//! "Decoding never allocates more than the frame length allows", measured: a
//! counting global allocator tracks the bytes this thread holds while a decoder
//! runs, and the peak must stay within a small constant factor of the input
//! length, for hostile inputs (huge counts, many tiny elements) as for random ones.
//!
//! The factor is not 1 because decoded values are bigger than their encoding
//! (an empty string is 4 bytes on the wire and a 24-byte `String` in memory, and
//! a growing `Vec` briefly holds its old and new buffers); what matters is that
//! no length read from the wire can make it larger.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use rzk_proto::frame::DEFAULT_MAX_FRAME_BYTES;
use rzk_proto::records::*;
use rzk_proto::{Decode, OpCode, RequestFrame, Response};

struct Counting;

thread_local! {
    /// Bytes this thread holds now, and the most it held since the last reset.
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = LIVE_BYTES.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK_BYTES.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a fresh allocation before the old one is released: the
        // worst case, when the block cannot grow in place.
        track(new_size as isize);
        let p = System.realloc(ptr, layout, new_size);
        track(-(layout.size() as isize));
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allowed peak bytes per input byte, and a constant for tiny inputs. Requests
/// are what a server decodes from untrusted clients; responses are decoded by
/// clients, and a multi result of 9 wire bytes is a ~100-byte `MultiResult`.
const REQUEST_BYTES_PER_INPUT_BYTE: usize = 16;
const RESPONSE_BYTES_PER_INPUT_BYTE: usize = 32;
const SLACK_BYTES: usize = 1024;

/// The most this thread held above its starting point while `f` ran.
fn peak_allocated_by(f: impl FnOnce()) -> usize {
    let start = LIVE_BYTES.with(Cell::get);
    PEAK_BYTES.with(|p| p.set(start));
    f();
    (PEAK_BYTES.with(Cell::get) - start).max(0) as usize
}

struct Worst {
    request: (usize, &'static str),
    response: (usize, &'static str),
}

/// Runs every decoder over `bytes`; the largest peak among request-side and
/// among response-side decoders.
fn worst_decode_allocation(bytes: &[u8]) -> Worst {
    fn measure(worst: &mut (usize, &'static str), name: &'static str, f: &dyn Fn()) {
        let n = peak_allocated_by(f);
        if n > worst.0 {
            *worst = (n, name);
        }
    }
    let mut request = (0, "");
    let mut response = (0, "");
    measure(&mut request, "RequestFrame", &|| {
        drop(RequestFrame::decode(bytes))
    });
    measure(&mut request, "ConnectRequest", &|| {
        drop(ConnectRequest::decode_all(bytes))
    });
    measure(&mut request, "SetWatches2", &|| {
        drop(SetWatches2::decode_all(bytes))
    });
    for &op in OpCode::ALL {
        measure(&mut response, op.name(), &|| {
            drop(Response::decode(op, bytes))
        });
    }
    measure(&mut response, "ConnectResponse", &|| {
        drop(ConnectResponse::decode_all(bytes))
    });
    measure(&mut response, "WhoAmIResponse", &|| {
        drop(WhoAmIResponse::decode_all(bytes))
    });
    measure(&mut response, "GetAclResponse", &|| {
        drop(GetAclResponse::decode_all(bytes))
    });
    Worst { request, response }
}

/// Returns the worst (request, response) ratios of peak bytes to input bytes.
fn assert_bounded(bytes: &[u8], what: &str) -> (f64, f64) {
    let w = worst_decode_allocation(bytes);
    for ((n, by), per_byte) in [
        (w.request, REQUEST_BYTES_PER_INPUT_BYTE),
        (w.response, RESPONSE_BYTES_PER_INPUT_BYTE),
    ] {
        let limit = per_byte * bytes.len() + SLACK_BYTES;
        assert!(
            n <= limit,
            "{what}: {by} held {n} bytes for {} input bytes (limit {limit})",
            bytes.len()
        );
    }
    let len = bytes.len().max(1) as f64;
    (w.request.0 as f64 / len, w.response.0 as f64 / len)
}

fn be32(n: i32) -> [u8; 4] {
    n.to_be_bytes()
}

fn header(op: OpCode) -> Vec<u8> {
    let mut b = be32(1).to_vec();
    b.extend_from_slice(&be32(op.code()));
    b
}

/// Inputs built to make decoders allocate as much as the frame allows: a
/// frame-sized vector of the smallest elements, and huge counts with no elements.
fn hostile_inputs() -> Vec<(String, Vec<u8>)> {
    let frame = DEFAULT_MAX_FRAME_BYTES;
    let mut out = Vec::new();

    // A vector of `n` empty strings, as a response and inside setWatches2.
    let n = (frame - 8) / 4;
    let mut b = be32(n as i32).to_vec();
    b.resize(4 + 4 * n, 0);
    out.push(("children of empty names".to_string(), b));
    let mut b = header(OpCode::SetWatches2);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&be32(n as i32 - 8));
    b.resize(b.len() + 4 * (n - 8), 0);
    b.extend_from_slice(&[0; 16]);
    out.push(("setWatches2 of empty paths".to_string(), b));

    // A vector of `n` minimal acls (perms + two empty strings).
    let n = (frame - 16) / 12;
    let mut b = header(OpCode::SetAcl);
    b.extend_from_slice(&be32(0));
    b.extend_from_slice(&be32(n as i32));
    b.resize(b.len() + 12 * n, 0);
    b.extend_from_slice(&be32(0));
    out.push(("setACL of minimal acls".to_string(), b));

    // whoAmI of empty ClientInfos.
    let n = (frame - 4) / 8;
    let mut b = be32(n as i32).to_vec();
    b.resize(4 + 8 * n, 0);
    out.push(("whoAmI of empty infos".to_string(), b));

    // A multi of the smallest ops (check with an empty path), and a multiRead.
    for (op, inner) in [
        (OpCode::Multi, OpCode::Check),
        (OpCode::Multi, OpCode::Delete),
        (OpCode::MultiRead, OpCode::GetData),
    ] {
        let mut b = header(op);
        while b.len() + 17 + 9 <= frame {
            b.extend_from_slice(&be32(inner.code()));
            b.push(0);
            b.extend_from_slice(&be32(-1));
            b.extend_from_slice(&be32(0));
            if inner == OpCode::GetData {
                b.push(0);
            } else {
                b.extend_from_slice(&be32(0));
            }
        }
        b.extend_from_slice(&be32(-1));
        b.push(1);
        b.extend_from_slice(&be32(-1));
        out.push((format!("{op:?} of {inner:?}"), b));
    }

    // multi results: many Delete results (header only).
    let mut b = Vec::new();
    while b.len() + 18 <= frame {
        b.extend_from_slice(&be32(OpCode::Delete.code()));
        b.push(0);
        b.extend_from_slice(&be32(0));
    }
    b.extend_from_slice(&be32(-1));
    b.push(1);
    b.extend_from_slice(&be32(-1));
    out.push(("multi of delete results".to_string(), b));

    // Huge counts and lengths with almost nothing behind them.
    for huge in [i32::MAX, 1 << 28, 1 << 20] {
        for body in [
            be32(huge).to_vec(),
            [be32(huge).to_vec(), vec![0; 64]].concat(),
        ] {
            out.push((format!("bare count {huge}"), body.clone()));
            let mut b = header(OpCode::SetWatches);
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&body);
            out.push((format!("setWatches count {huge}"), b));
            let mut b = header(OpCode::Create);
            b.extend_from_slice(&be32(0));
            b.extend_from_slice(&be32(0));
            b.extend_from_slice(&body);
            out.push((format!("create acl count {huge}"), b));
        }
    }
    out
}

#[test]
fn hostile_inputs_allocate_in_proportion_to_their_length() {
    let (mut req, mut resp) = (0.0f64, 0.0f64);
    for (what, bytes) in hostile_inputs() {
        let (a, b) = assert_bounded(&bytes, &what);
        eprintln!("{what}: request x{a:.1}, response x{b:.1}");
        req = req.max(a);
        resp = resp.max(b);
    }
    eprintln!("worst peak/input ratio over hostile inputs: requests {req:.1}, responses {resp:.1}");
}

proptest! {
    #[test]
    fn random_bytes_allocate_in_proportion(bytes in vec(any::<u8>(), 0..512)) {
        assert_bounded(&bytes, "random bytes");
    }

    #[test]
    fn valid_requests_allocate_in_proportion(frame in request_frame()) {
        assert_bounded(&request_bytes(&frame), "valid request");
    }

    #[test]
    fn valid_responses_allocate_in_proportion((resp, _ops) in response_with_ops()) {
        assert_bounded(&response_bytes(&resp), "valid response");
    }
}
