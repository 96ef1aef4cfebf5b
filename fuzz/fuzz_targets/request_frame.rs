//! What a server does with the bytes a client sends after the handshake: take a
//! frame (with the default `jute.maxbuffer` limit) and decode its body. Anything
//! decoded must encode and decode again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rzk_proto::frame::{parse_frame_len, DEFAULT_MAX_FRAME_BYTES, LENGTH_PREFIX_BYTES};
use rzk_proto::RequestFrame;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    // Several frames may arrive back to back, as on a real connection.
    while let Ok(Some(len)) = parse_frame_len(rest, DEFAULT_MAX_FRAME_BYTES) {
        assert!(len <= DEFAULT_MAX_FRAME_BYTES);
        let body = &rest[LENGTH_PREFIX_BYTES..LENGTH_PREFIX_BYTES + len];
        if let Ok(frame) = RequestFrame::decode(body) {
            let mut again = Vec::new();
            frame.encode(&mut again);
            let reparsed = RequestFrame::decode(&again).expect("re-encoded frame decodes");
            assert_eq!(reparsed, frame);
        }
        rest = &rest[LENGTH_PREFIX_BYTES + len..];
    }
});
