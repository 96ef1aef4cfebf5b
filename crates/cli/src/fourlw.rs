//! `rzk cli 4lw host:port word`: sends a four-letter word and prints the
//! answer, which the server sends unframed before closing the connection.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest answer read (a server's `mntr` or `cons` is far smaller).
pub const ANSWER_BYTES_MAX: u64 = 16 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

pub fn ask(addr: &str, word: &str) -> io::Result<String> {
    let sock = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address")))?;
    let mut stream = TcpStream::connect_timeout(&sock, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(word.as_bytes())?;
    let mut answer = Vec::new();
    stream.take(ANSWER_BYTES_MAX).read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
