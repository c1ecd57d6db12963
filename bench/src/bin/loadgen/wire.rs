//! Just enough WebSocket, by hand: the upgrade, masked client frames encoded once, and the
//! headers of the server's frames.

use flate2::{Decompress, FlushDecompress};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Result;

/// The constant masking key of the client frames.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Bytes read from the socket at once.
const READ_BUFFER: usize = 64 * 1024;

/// Where to connect: a loopback `ws://` URL taken apart.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    host: String,
    path: String,
    /// `--deflate`: offer permessage-deflate, and inflate the compressed messages that are
    /// checked (counted ones are only counted).
    pub(crate) deflate: bool,
    /// `--resume`: ask for session resume (`wskit-resume=new`), and take the server's
    /// `$ws:session` frame before anything else.
    pub(crate) resume: bool,
}

impl Target {
    /// Takes `ws://HOST:PORT/PATH`, where HOST is a loopback address or `localhost`.
    pub(crate) fn parse(url: &str) -> Result<Target> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| format!("{url}: only ws:// URLs"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let resolved = authority.replacen("localhost", "127.0.0.1", 1);
        let addr: SocketAddr =
            resolved.parse().map_err(|_| format!("{url}: HOST:PORT must be an IP address and a port"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("{url}: only loopback addresses are allowed"));
        }
        Ok(Target { addr, host: authority.to_owned(), path: path.to_owned(), deflate: false, resume: false })
    }

    fn upgrade_request(&self) -> String {
        let offer = if self.deflate { "Sec-WebSocket-Extensions: permessage-deflate\r\n" } else { "" };
        let resume = match (self.resume, self.path.contains('?')) {
            (false, _) => "",
            (true, false) => "?wskit-resume=new",
            (true, true) => "&wskit-resume=new",
        };
        format!(
            "GET {}{resume} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n",
            self.path, self.host
        )
    }
}

/// A masked client text frame holding `payload`.
pub(crate) fn client_frame(payload: &[u8]) -> Vec<u8> {
    masked_frame(0x1, payload)
}

/// A masked Pong answering a server Ping that carried `payload`.
pub(crate) fn pong_frame(payload: &[u8]) -> Vec<u8> {
    masked_frame(0xa, payload)
}

/// A masked, final client frame of `opcode` holding `payload`.
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ MASK[i % 4]));
    frame
}

/// A message of the server that a client acts on.
pub(crate) enum Incoming {
    /// A text message.
    Text(Vec<u8>),
    /// A Ping, with its payload: a long-lived client must answer it (wskit closes a
    /// connection that stays silent after its pings).
    Ping(Vec<u8>),
}

/// A connected, upgraded socket and the bytes read past what was consumed.
pub(crate) struct Socket {
    pub(crate) stream: TcpStream,
    pub(crate) buf: Vec<u8>,
    pub(crate) len: usize,
}

impl Socket {
    /// Connects and upgrades, checking for `101`.
    pub(crate) async fn open(target: &Target) -> Result<Socket> {
        let addr = target.addr;
        let mut stream =
            TcpStream::connect(addr).await.map_err(|error| format!("connect {addr}: {error}"))?;
        stream.set_nodelay(true).map_err(|error| format!("nodelay: {error}"))?;
        let request = target.upgrade_request();
        stream.write_all(request.as_bytes()).await.map_err(|error| format!("upgrade request: {error}"))?;
        let mut socket = Socket { stream, buf: vec![0; READ_BUFFER], len: 0 };
        let end = loop {
            if let Some(end) = socket.buf[..socket.len].windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if socket.len > 8192 {
                return Err("upgrade response headers above 8 KiB".into());
            }
            socket.fill().await?;
        };
        let head = String::from_utf8_lossy(&socket.buf[..end]);
        let status = head.lines().next().unwrap_or_default();
        if !status.starts_with("HTTP/1.1 101") {
            return Err(format!("upgrade refused: {status}"));
        }
        // Each compressed message then inflates on its own, with no context to keep.
        if target.deflate && !head.contains("permessage-deflate; server_no_context_takeover") {
            return Err("--deflate: the server did not agree to permessage-deflate with \
                        server_no_context_takeover (start it with DEFLATE_THRESHOLD=N)"
                .into());
        }
        socket.buf.copy_within(end..socket.len, 0);
        socket.len -= end;
        if target.resume && !socket.next_text().await?.starts_with(br#"{"type":"$ws:session""#) {
            return Err(
                "--resume: the server's first frame was not $ws:session (start it with RESUME=1)".into()
            );
        }
        Ok(socket)
    }

    /// Reads more bytes; the connection closing is an error.
    async fn fill(&mut self) -> Result<()> {
        match self.stream.read(&mut self.buf[self.len..]).await {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => {
                self.len += n;
                Ok(())
            }
            Err(error) => Err(format!("read: {error}")),
        }
    }

    /// Writes `frames` (one or more encoded client frames) at once.
    pub(crate) async fn send(&mut self, frames: &[u8]) -> Result<()> {
        self.stream.write_all(frames).await.map_err(|error| format!("write: {error}"))
    }

    /// Reads the next text message (unfragmented, as wskit sends them), skipping pings and
    /// pongs; any other frame is an error.
    pub(crate) async fn next_text(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Incoming::Text(message) = self.next_incoming().await? {
                return Ok(message);
            }
        }
    }

    /// Reads the next text message or ping, skipping pongs; any other frame is an error.
    /// Cancel safe: bytes read stay in the buffer for the next call.
    pub(crate) async fn next_incoming(&mut self) -> Result<Incoming> {
        loop {
            if let Some(header) = Header::parse(&self.buf[..self.len])? {
                let end = header.size + header.payload;
                if end > self.buf.len() {
                    return Err(format!("a message of {} bytes, above the read buffer", header.payload));
                }
                if self.len >= end {
                    let payload = self.buf[header.size..end].to_vec();
                    self.buf.copy_within(end..self.len, 0);
                    self.len -= end;
                    match (header.fin, header.opcode) {
                        (_, 9) => return Ok(Incoming::Ping(payload)),
                        (_, 10) => continue,
                        (true, 1) if header.rsv1 => return inflate(&payload).map(Incoming::Text),
                        (true, 1) => return Ok(Incoming::Text(payload)),
                        (_, 8) => return Err("the server sent a close frame".into()),
                        (fin, opcode) => return Err(format!("unexpected frame: opcode {opcode}, fin {fin}")),
                    }
                }
            }
            self.fill().await?;
        }
    }

    /// Sends `frame` and checks that the next message is exactly `expected`.
    pub(crate) async fn exchange(&mut self, frame: &[u8], expected: &str) -> Result<()> {
        self.send(frame).await?;
        self.expect(expected).await
    }

    /// Checks that the next message is exactly `expected`.
    pub(crate) async fn expect(&mut self, expected: &str) -> Result<()> {
        let message = self.next_text().await?;
        if message != expected.as_bytes() {
            return Err(format!(
                "unexpected message {}; expected {expected}",
                String::from_utf8_lossy(&message)
            ));
        }
        Ok(())
    }
}

/// The text of a compressed message that the server compressed on its own.
fn inflate(payload: &[u8]) -> Result<Vec<u8>> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut text = Vec::with_capacity(READ_BUFFER);
    Decompress::new(false)
        .decompress_vec(&input, &mut text, FlushDecompress::Sync)
        .map_err(|error| format!("a compressed message does not inflate: {error}"))?;
    Ok(text)
}

/// The header of a server frame.
struct Header {
    /// FIN bit set.
    fin: bool,
    /// RSV1 set: a compressed message (permessage-deflate).
    rsv1: bool,
    opcode: u8,
    /// Bytes of the header.
    size: usize,
    /// Bytes of the payload.
    payload: usize,
}

impl Header {
    /// Parses the header at the start of `bytes`; `None` if it is not complete yet.
    fn parse(bytes: &[u8]) -> Result<Option<Header>> {
        let [b0, b1, rest @ ..] = bytes else { return Ok(None) };
        if b1 & 0x80 != 0 {
            return Err("the server sent a masked frame".into());
        }
        let (size, payload) = match b1 & 0x7f {
            126 => match rest {
                [a, b, ..] => (4, u16::from_be_bytes([*a, *b]) as usize),
                _ => return Ok(None),
            },
            127 => match rest.get(..8) {
                Some(len) => (10, u64::from_be_bytes(len.try_into().expect("8 bytes")) as usize),
                None => return Ok(None),
            },
            len => (2, len as usize),
        };
        Ok(Some(Header { fin: b0 & 0x80 != 0, rsv1: b0 & 0x40 != 0, opcode: b0 & 0x0f, size, payload }))
    }
}

/// Counts complete data messages in the server's byte stream, skipping their payloads.
#[derive(Default)]
pub(crate) struct MessageCounter {
    /// Payload bytes of the current frame still to skip.
    skip: usize,
}

impl MessageCounter {
    /// Counts the messages that end in `buf[..len]` and moves an incomplete header to the
    /// front; returns the count and the bytes kept.
    pub(crate) fn count(&mut self, buf: &mut [u8], len: usize) -> Result<(usize, usize)> {
        let mut pos = self.skip.min(len);
        self.skip -= pos;
        let mut messages = 0;
        while pos < len {
            let Some(header) = Header::parse(&buf[pos..len])? else { break };
            match header.opcode {
                0..=2 if header.fin => messages += 1,
                0..=2 | 9 | 10 => {}
                8 => return Err("the server sent a close frame".into()),
                other => return Err(format!("unknown opcode {other}")),
            }
            pos += header.size;
            let available = len - pos;
            if header.payload > available {
                self.skip = header.payload - available;
                pos = len;
            } else {
                pos += header.payload;
            }
        }
        buf.copy_within(pos..len, 0);
        Ok((messages, len - pos))
    }
}
