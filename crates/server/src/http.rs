//! A minimal HTTP/1.1 server for the two monitoring endpoints: the admin
//! server (`/commands/...`, `/ready`) and Prometheus' `/metrics`.
//!
//! Why hand-written rather than hyper: both endpoints answer small GET
//! requests from monitoring tools, one request per connection. What that
//! needs is a request line, a bounded read of the header block, a status
//! line and a body; keep-alive, chunked bodies, HTTP/2 and TLS are not
//! needed. A hundred lines over tokio (already the runtime) are easier to
//! bound and audit than hyper, hyper-util, http and http-body together.
//!
//! Everything is bounded: the header block ([`HTTP_REQUEST_HEAD_BYTES_MAX`]),
//! the time a client has to send it and to read the answer
//! ([`HTTP_IO_TIMEOUT_MS`]), and the connections served at once
//! ([`HTTP_CONNECTIONS_MAX`]; more are closed unanswered). Every answer
//! closes the connection (`Connection: close`). Bad input gets a 400, never
//! a panic.

use crate::limits::{HTTP_CONNECTIONS_MAX, HTTP_IO_TIMEOUT_MS, HTTP_REQUEST_HEAD_BYTES_MAX};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// A parsed request: only what the endpoints route on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The query string after `?`, as sent (empty without one).
    pub query: String,
}

impl Request {
    /// The first value of query parameter `name`, percent-decoded (`+` is a
    /// space, as in HTML forms).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(key) == name).then(|| percent_decode(value))
            })
            .next()
    }
}

/// `%XX` escapes and `+` decoded; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An answer. The body is sent for every method but HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    /// A plain-text error page.
    pub fn error(status: u16) -> Self {
        let text = format!("{} {}\n", status, reason(status));
        Response::new(status, "text/plain; charset=utf-8", text)
    }
}

/// What answers requests: runs on a blocking thread, since commands may walk
/// directories or take the server's locks.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Why a request head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Not an HTTP/1.x request line.
    Malformed,
    /// No end of the header block within [`HTTP_REQUEST_HEAD_BYTES_MAX`].
    TooLarge,
}

/// Parses the request line of a complete header block (`head` ends with an
/// empty line). Header fields are not needed and are not parsed.
pub fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    let line_end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(HeadError::Malformed)?;
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| HeadError::Malformed)?;
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !method_ok || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(HeadError::Malformed);
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
    })
}

/// The length of the header block at the start of `buf` (through its empty
/// line), if it is complete. Bare `\n` line ends are accepted, as most
/// servers do.
fn head_len(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Reads one request head, within the size bound.
async fn read_head(stream: &mut TcpStream) -> Result<Option<Request>, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(len) = head_len(&buf) {
            return parse_head(&buf[..len]).map(Some);
        }
        if buf.len() >= HTTP_REQUEST_HEAD_BYTES_MAX {
            return Err(HeadError::TooLarge);
        }
        let room = (HTTP_REQUEST_HEAD_BYTES_MAX - buf.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(HeadError::Malformed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return Ok(None),
        }
    }
}

/// The bytes sent for `response` (no body for HEAD).
pub fn encode(response: &Response, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    out
}

/// Serves one connection: one request, one answer, close.
async fn serve_connection(mut stream: TcpStream, handler: Handler) {
    let timeout = Duration::from_millis(HTTP_IO_TIMEOUT_MS);
    let response = match tokio::time::timeout(timeout, read_head(&mut stream)).await {
        Err(_) => Some((Response::error(408), false)),
        Ok(Ok(None)) => None,
        Ok(Err(HeadError::Malformed)) => Some((Response::error(400), false)),
        Ok(Err(HeadError::TooLarge)) => Some((Response::error(431), false)),
        Ok(Ok(Some(request))) => {
            let head_only = request.method == "HEAD";
            let answer = if request.method == "GET" || head_only {
                let handler = handler.clone();
                tokio::task::spawn_blocking(move || handler(&request))
                    .await
                    .unwrap_or_else(|_| Response::error(500))
            } else {
                Response::error(405)
            };
            Some((answer, head_only))
        }
    };
    if let Some((response, head_only)) = response {
        let bytes = encode(&response, head_only);
        let _ = tokio::time::timeout(timeout, async {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        })
        .await;
    }
}

/// Accepts and serves connections until the task is aborted (it runs for
/// the server's lifetime). `name` labels log lines.
pub async fn serve(listener: TcpListener, name: &'static str, handler: Handler) {
    let slots = Arc::new(Semaphore::new(HTTP_CONNECTIONS_MAX));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("{name}: error accepting a connection: {e}");
                let backoff = crate::limits::ACCEPT_ERROR_BACKOFF_MS;
                tokio::time::sleep(Duration::from_millis(backoff)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                "{name}: refusing {peer}: already serving {HTTP_CONNECTIONS_MAX} connections"
            );
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            serve_connection(stream, handler).await;
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let req = parse_head(b"GET /commands/ruok?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            req,
            Ok(Request {
                method: "GET".to_string(),
                path: "/commands/ruok".to_string(),
                query: "x=1".to_string(),
            })
        );
        assert_eq!(
            parse_head(b"GET / HTTP/1.0\n\n").map(|r| r.path),
            Ok("/".into())
        );
        for bad in [
            &b"GET\r\n\r\n"[..],
            b"GET /a\r\n\r\n",
            b"GET a HTTP/1.1\r\n\r\n",
            b"GET /a HTTP/2\r\n\r\n",
            b"get /a HTTP/1.1\r\n\r\n",
            b"GET /a HTTP/1.1 x\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
            b"",
        ] {
            assert_eq!(parse_head(bad), Err(HeadError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn query_parameters() {
        let req = parse_head(
            b"GET /commands/log_level?x&level=info%2Crzk_server%3Ddebug&level=warn#f HTTP/1.1\r\n\r\n",
        )
        .expect("request");
        assert_eq!(req.path, "/commands/log_level");
        assert_eq!(
            req.query_param("level").as_deref(),
            Some("info,rzk_server=debug")
        );
        assert_eq!(req.query_param("x").as_deref(), Some(""));
        assert_eq!(req.query_param("y"), None);
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn header_block_end() {
        assert_eq!(head_len(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(head_len(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(head_len(b"GET / HTTP/1.1\n\n"), Some(16));
    }

    #[test]
    fn head_answers_have_no_body() {
        let r = Response::new(200, "text/plain", "hello");
        let full = String::from_utf8(encode(&r, false)).unwrap_or_default();
        assert!(full.starts_with("HTTP/1.1 200 OK\r\n"), "{full}");
        assert!(full.contains("Content-Length: 5\r\n") && full.ends_with("\r\n\r\nhello"));
        let head = String::from_utf8(encode(&r, true)).unwrap_or_default();
        assert!(head.ends_with("\r\n\r\n"), "{head}");
    }
}
