//! A WebSocket client by hand, byte by byte, for tests that send what no well-behaved
//! client library would: half requests, broken frames, frames that never end.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server's answer before it fails.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends an upgrade request for `path` with extra `headers` (each line ending in `\r\n`)
/// and returns the stream and the response head.
pub async fn upgrade(addr: SocketAddr, path: &str, headers: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(ANSWER_TIMEOUT, stream.read(&mut byte)).await.unwrap().unwrap();
        assert_eq!(read, 1, "connection closed before the end of the response head");
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).unwrap())
}

/// The status code of a response head.
pub fn status(head: &str) -> u16 {
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The header of a masked client frame whose first byte is `first` (FIN, RSV and opcode)
/// and whose payload is `len` bytes, masked with [`MASK`].
pub fn client_header(first: u8, len: usize) -> Vec<u8> {
    let mut header = vec![first];
    match len {
        0..=125 => header.push(0x80 | len as u8),
        126..=0xFFFF => {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            header.push(0x80 | 127);
            header.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    header.extend_from_slice(&MASK);
    header
}

/// The masking key of [`client_frame`].
pub const MASK: [u8; 4] = [1, 2, 3, 4];

/// A masked client frame with first byte `first` and `payload`.
pub fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = client_header(first, payload.len());
    frame.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ MASK[i % 4]));
    frame
}

/// Reads the server's close frame, skipping other frames, and returns its code; panics if
/// none comes within 5 seconds.
pub async fn close_code(stream: &mut TcpStream) -> u16 {
    let close = async {
        loop {
            let (opcode, payload) = read_frame(stream).await;
            if opcode == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    };
    tokio::time::timeout(ANSWER_TIMEOUT, close).await.expect("no close frame within 5 s")
}

/// Reads the server's next text frame, skipping control frames; panics if none comes
/// within 5 seconds.
pub async fn read_text(stream: &mut TcpStream) -> String {
    let text = async {
        loop {
            let (opcode, payload) = read_frame(stream).await;
            assert!(opcode & 0x8 != 0 || opcode == 0x1, "expected a text frame, got opcode {opcode}");
            if opcode == 0x1 {
                return String::from_utf8(payload).expect("a text frame is UTF-8");
            }
        }
    };
    tokio::time::timeout(ANSWER_TIMEOUT, text).await.expect("no text frame within 5 s")
}

/// Reads one unmasked, unfragmented server frame: its opcode and payload.
pub async fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let (first, payload) = read_any_frame(stream).await;
    assert_eq!(first & 0xF0, 0x80, "a final frame without reserved bits");
    (first & 0x0F, payload)
}

/// Reads one unmasked server frame, whatever its bits: its first byte (FIN, RSV and
/// opcode) and payload.
pub async fn read_any_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.expect("the connection ended before a frame");
    let len = match head[1] & 0x7f {
        126 => usize::from(stream.read_u16().await.unwrap()),
        127 => usize::try_from(stream.read_u64().await.unwrap()).unwrap(),
        len => usize::from(len),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    (head[0], payload)
}
