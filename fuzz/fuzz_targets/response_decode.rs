//! What a client does with a reply body: decode it as the answer to some opcode
//! (chosen by the first input byte). Anything decoded must encode and decode
//! again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rzk_proto::{OpCode, Response};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let op = OpCode::ALL[usize::from(selector) % OpCode::ALL.len()];
    if let Ok(resp) = Response::decode(op, body) {
        let mut again = Vec::new();
        resp.encode(&mut again);
        assert_eq!(
            Response::decode(op, &again).expect("re-encoded decodes"),
            resp
        );
    }
});
