//! The first frame body of every connection: the handshake. Anything decoded must
//! encode and decode again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rzk_proto::records::ConnectRequest;
use rzk_proto::{Decode, Encode, Reader};

fuzz_target!(|data: &[u8]| {
    // As a server reads it (trailing bytes after readOnly ignored) and strictly.
    let lenient = ConnectRequest::decode(&mut Reader::new(data));
    let strict = ConnectRequest::decode_all(data);
    if let Ok(strict) = &strict {
        assert_eq!(lenient.as_ref().ok(), Some(strict));
    }
    if let Ok(req) = lenient {
        let again = ConnectRequest::decode_all(&req.to_bytes()).expect("re-encoded decodes");
        assert_eq!(again, req);
    }
});
