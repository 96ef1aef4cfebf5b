//! A plain HTTP/1.1 client over std::net for the admin and metrics
//! endpoints: one request per connection, the answer read to EOF and its
//! status line, headers and Content-Length checked.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One HTTP exchange: status code, headers (lower-case names) and body.
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `raw` and reads the whole answer (the server closes after one).
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> HttpReply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(raw).expect("write");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read");
    let text = String::from_utf8(bytes).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("header block");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line}");
    let status = parts.next().and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header line");
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let reply = HttpReply {
        status,
        headers,
        body: body.to_string(),
    };
    let length: usize = reply
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    if !raw.starts_with(b"HEAD ") {
        assert_eq!(length, reply.body.len(), "Content-Length matches the body");
    } else {
        assert!(reply.body.is_empty() && length > 0, "HEAD: length, no body");
    }
    reply
}

pub fn get(addr: SocketAddr, path: &str) -> HttpReply {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    exchange(addr, raw.as_bytes())
}
