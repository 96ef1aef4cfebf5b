//! Encoding what the server sends: reply frames and the handshake answer.

use rzk_proto::frame::{begin_frame, finish_frame};
use rzk_proto::records::{ConnectResponse, MultiHeader, ReplyHeader};
use rzk_proto::response::encode_reply;
use rzk_proto::{Encode, ErrorCode, Response};

/// A reply body as the server produces it. Besides the records of
/// [`Response`], ZooKeeper has three bodies of its own making:
/// - `AddWatchOk`: addWatch answers with an `ErrorResponse` record (an int, 0)
///   where every other empty reply has no body at all;
/// - `SaslNoToken`: a SASL token answered by a server without SASL gets OK and
///   a null token;
/// - `EmptyMultiOnError`: a multiRead that fails to decode gets its error code
///   *and* an empty multi response (just the end marker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Response(Response),
    AddWatchOk,
    SaslNoToken,
    EmptyMultiOnError,
}

impl From<Response> for Body {
    fn from(r: Response) -> Self {
        Body::Response(r)
    }
}

/// Room for a reply's frame length (4), header (16), a Stat (68) and a
/// length-prefixed path or data of up to 36 bytes: an exists, setData,
/// create2 or small getData reply fits the first allocation. (At 64 bytes
/// every setData reply was reallocated once, and a getData reply of a
/// 100-byte value twice.)
const REPLY_BYTES_TYPICAL: usize = 128;

/// A whole reply frame: length, header, and (on success) the body.
pub fn reply_frame(xid: i32, zxid: i64, err: ErrorCode, body: &Body) -> Vec<u8> {
    let data_bytes = match body {
        Body::Response(Response::Data { data, .. }) if err == ErrorCode::Ok => data.len(),
        _ => 0,
    };
    let mut out = Vec::with_capacity(REPLY_BYTES_TYPICAL + data_bytes);
    match body {
        Body::Response(r) => encode_reply(&mut out, xid, zxid, err, r),
        Body::AddWatchOk | Body::SaslNoToken | Body::EmptyMultiOnError => {
            let start = begin_frame(&mut out);
            ReplyHeader {
                xid,
                zxid,
                err: err.code(),
            }
            .encode(&mut out);
            match body {
                Body::AddWatchOk if err == ErrorCode::Ok => rzk_proto::jute::write_i32(&mut out, 0),
                Body::SaslNoToken if err == ErrorCode::Ok => {
                    rzk_proto::jute::write_buffer_opt(&mut out, None)
                }
                Body::EmptyMultiOnError => MultiHeader::END.encode(&mut out),
                _ => {}
            }
            finish_frame(&mut out, start);
        }
    }
    out
}

/// The handshake answer frame.
pub fn connect_frame(resp: &ConnectResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    let start = begin_frame(&mut out);
    resp.encode(&mut out);
    finish_frame(&mut out, start);
    out
}

/// ZooKeeper's answer to a session it will not resume (expired, unknown, or
/// wrong password): timeout 0, session 0, sixteen zero bytes. `read_only` is
/// echoed only to clients that sent the flag themselves.
pub fn invalid_session(client_sent_read_only: bool) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout_ms: 0,
        session_id: 0,
        password: vec![0; crate::limits::SESSION_PASSWORD_BYTES],
        read_only: client_sent_read_only.then_some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_watch_reply_has_an_int_body() {
        let f = reply_frame(7, 12, ErrorCode::Ok, &Body::AddWatchOk);
        assert_eq!(f.len(), 4 + 16 + 4);
        let f = reply_frame(7, 12, ErrorCode::NoNode, &Body::AddWatchOk);
        assert_eq!(f.len(), 4 + 16);
    }

    /// The common replies are written into their first allocation: the
    /// capacity asked for at the start is still the capacity at the end.
    #[test]
    fn stat_and_data_replies_fit_their_first_allocation() {
        let stat = rzk_proto::Stat::default();
        let f = reply_frame(1, 2, ErrorCode::Ok, &Body::Response(Response::Stat(stat)));
        assert_eq!(f.len(), 4 + 16 + 68);
        assert_eq!(f.capacity(), REPLY_BYTES_TYPICAL);
        let created = Response::Create2 {
            path: "/app/locks/lock-0000000042".to_string(),
            stat,
        };
        let f = reply_frame(1, 2, ErrorCode::Ok, &Body::Response(created));
        assert_eq!(f.capacity(), REPLY_BYTES_TYPICAL);
        for data_bytes in [0, 36, 100, 5000] {
            let data = Response::Data {
                data: vec![7; data_bytes],
                stat,
            };
            let f = reply_frame(1, 2, ErrorCode::Ok, &Body::Response(data));
            assert_eq!(f.len(), 4 + 16 + 4 + data_bytes + 68);
            assert_eq!(f.capacity(), REPLY_BYTES_TYPICAL + data_bytes);
        }
    }
}
