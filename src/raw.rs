//! A WebSocket client by hand, byte by byte, for tests that send what no well-behaved
//! client library would: half requests, broken frames, frames that never end.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use serde_json::Value;
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

/// FIN, RSV1 and text: the first byte of a compressed message in one frame.
pub const COMPRESSED_TEXT: u8 = 0xC1;

/// The end of a sync flush, which permessage-deflate strips from each message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A client that speaks permessage-deflate by hand when the server agrees to it, keeping
/// its compression and inflation contexts from message to message as browsers do, and
/// counting the bytes of the frames it writes and reads.
pub struct DeflateClient {
    /// The upgraded connection.
    pub stream: TcpStream,
    /// The server agreed on permessage-deflate.
    pub agreed: bool,
    /// Bytes of the frames written.
    pub sent: usize,
    /// Bytes of the frames read.
    pub received: usize,
    compressor: Compress,
    inflater: Decompress,
}

impl DeflateClient {
    /// Upgrades at `path`, offering `offer` in `Sec-WebSocket-Extensions` (nothing if
    /// empty); returns the client and the response head.
    pub async fn connect(addr: SocketAddr, path: &str, offer: &str) -> (Self, String) {
        let header =
            if offer.is_empty() { String::new() } else { format!("Sec-WebSocket-Extensions: {offer}\r\n") };
        let (stream, head) = upgrade(addr, path, &header).await;
        assert_eq!(status(&head), 101, "{head}");
        let agreed = head.to_ascii_lowercase().contains("sec-websocket-extensions: permessage-deflate");
        let client = DeflateClient {
            stream,
            agreed,
            sent: 0,
            received: 0,
            compressor: Compress::new(Compression::default(), false),
            inflater: Decompress::new(false),
        };
        (client, head)
    }

    /// The compressed payload of `text`, in this client's context.
    pub fn compress(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 64);
        self.compressor.compress_vec(text.as_bytes(), &mut out, FlushCompress::Sync).unwrap();
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - TAIL.len());
        out
    }

    /// Writes `bytes` (whole frames).
    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
        self.sent += bytes.len();
    }

    /// Sends `value` compressed, in one frame.
    pub async fn send_compressed(&mut self, value: Value) {
        let payload = self.compress(&value.to_string());
        self.write(&client_frame(COMPRESSED_TEXT, &payload)).await;
    }

    /// Sends `value` uncompressed.
    pub async fn send_plain(&mut self, value: Value) {
        self.write(&client_frame(0x81, value.to_string().as_bytes())).await;
    }

    /// Sends `value` as a browser does: compressed if the server agreed.
    pub async fn send(&mut self, value: Value) {
        match self.agreed {
            true => self.send_compressed(value).await,
            false => self.send_plain(value).await,
        }
    }

    /// Reads the next frame: its first byte and payload.
    pub async fn read_frame(&mut self) -> (u8, Vec<u8>) {
        let (first, payload) = tokio::time::timeout(ANSWER_TIMEOUT, read_any_frame(&mut self.stream))
            .await
            .expect("no frame within 5 s");
        let header = match payload.len() {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        self.received += header + payload.len();
        (first, payload)
    }

    /// The next text message, and whether it came compressed.
    pub async fn recv(&mut self) -> (Value, bool) {
        let (first, payload) = self.read_frame().await;
        assert_eq!(first & 0xBF, 0x81, "a final text frame: {first:#x}");
        let compressed = first & 0x40 != 0;
        let text = match compressed {
            true => self.inflate(&payload),
            false => payload,
        };
        (serde_json::from_slice(&text).unwrap(), compressed)
    }

    /// Inflates a compressed message's payload in this client's context.
    pub fn inflate(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(256 * 1024);
        self.inflater.decompress_vec(&input, &mut out, FlushDecompress::Sync).unwrap();
        out
    }
}
