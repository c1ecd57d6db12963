//! The WebSocket frame layer of the server side (RFC 6455 section 5), without IO: what
//! bytes from a client mean, and the bytes of what we send.
//!
//! wskit reads frames itself rather than through a WebSocket crate because of memory: a
//! crate's reader owns a read buffer per connection and reserves a frame's announced
//! length up front, so idle connections hold buffers and a client that announces large
//! frames makes the server allocate for data it never sends. Here the host reads into
//! one buffer per thread, a connection keeps only the bytes of a frame that is not
//! complete yet, and what it keeps grows as the bytes arrive
//! ([`Reader::held_bytes`] is what the server counts against its budget).

use super::deflate::codec::Inflater;
use crate::close::Close;
use crate::outbox::Frame;

/// Control frames carry at most 125 bytes (section 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The bit of a message's first frame that says its payload is compressed (RFC 7692).
const RSV1: u8 = 0x40;

/// A complete message or control frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A text message, checked to be UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping, with the payload the pong must carry.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A close frame, with its code and reason (1000 and no reason when it had no body).
    Close(Close),
}

/// Why the reader stopped: the client broke the protocol, or a message is too big.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Fail the connection with this close (1002 or 1007).
    Broken(Close),
    /// A message of `size` bytes (announced or accumulated) is above `limit`.
    TooBig { size: usize, limit: usize },
}

/// What [`Reader::read`] made of the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The buffer holds no complete frame yet: read more.
    More,
    /// A frame of `used` bytes, which completed `event` (or was a fragment of a message
    /// that goes on).
    Frame { used: usize, event: Option<Event> },
}

/// A frame's header.
struct Header {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Bytes of the header itself.
    size: usize,
    /// Bytes of the payload after it.
    payload: u64,
}

/// Reads the frames of one client's connection, and joins the fragments of its messages.
///
/// The largest message it accepts, in bytes (inflated, if the client compressed it), is
/// the caller's: the server's shared limit, not a copy kept by every connection.
#[derive(Default)]
pub(crate) struct Reader {
    /// The message whose fragments are arriving, if any. Boxed: fragmented messages are
    /// rare, and every connection holds the field.
    fragments: Option<Box<Fragments>>,
    /// Present once permessage-deflate was agreed: messages may then be compressed. Boxed:
    /// every connection's reader lives in its task, most without deflate.
    inflater: Option<Box<Inflater>>,
}

/// A fragmented message so far.
struct Fragments {
    binary: bool,
    /// Its frames are compressed: `bytes` holds what they inflated to.
    compressed: bool,
    bytes: Vec<u8>,
}

impl Reader {
    /// The reader of a connection that agreed on permessage-deflate.
    pub(crate) fn inflating(self, inflater: Inflater) -> Self {
        Reader { inflater: Some(Box::new(inflater)), ..self }
    }

    /// Reads the frame at the start of `buf`, if it is complete, of a message of at most
    /// `limit` bytes.
    pub(crate) fn read(&mut self, buf: &[u8], limit: usize) -> Result<Step, Fault> {
        let Some(header) = parse_header(buf)? else { return Ok(Step::More) };
        let is_control = header.opcode & 0x8 != 0;
        if header.rsv1 {
            if self.inflater.is_none() {
                return Err(broken("RSV1 is set, and permessage-deflate was not agreed"));
            }
            if is_control || header.opcode == OP_CONTINUATION {
                return Err(broken("RSV1 is set on a frame that does not begin a message"));
            }
        }
        if !is_control {
            // Refuse a frame that cannot fit before reading any of it.
            let held = self.fragments.as_ref().map_or(0, |fragments| fragments.bytes.len());
            let size = usize::try_from(header.payload).unwrap_or(usize::MAX).saturating_add(held);
            if size > limit {
                return Err(Fault::TooBig { size, limit });
            }
        }
        // Fits in usize: a control frame's is at most 125, a data frame's was checked.
        let payload = header.payload as usize;
        let used = header.size + payload;
        if buf.len() < used {
            return Ok(Step::More);
        }
        let mut payload = buf[header.size..used].to_vec();
        unmask(&mut payload, header.mask);
        let event = match header.opcode {
            OP_TEXT | OP_BINARY => {
                self.start(header.opcode == OP_BINARY, header.rsv1, header.fin, payload, limit)?
            }
            OP_CONTINUATION => self.extend(header.fin, payload, limit)?,
            OP_PING => Some(Event::Ping(payload)),
            OP_PONG => Some(Event::Pong),
            _ => Some(Event::Close(close_of(&payload)?)),
        };
        Ok(Step::Frame { used, event })
    }

    /// Bytes the reader holds for a message that is not complete yet.
    pub(crate) fn held_bytes(&self) -> usize {
        self.fragments.as_ref().map_or(0, |fragments| fragments.bytes.capacity())
    }

    /// Whether a message has begun and not ended.
    pub(crate) fn is_mid_message(&self) -> bool {
        self.fragments.is_some()
    }

    /// The first frame of a message.
    fn start(
        &mut self,
        binary: bool,
        compressed: bool,
        fin: bool,
        payload: Vec<u8>,
        limit: usize,
    ) -> Result<Option<Event>, Fault> {
        if self.fragments.is_some() {
            return Err(broken("a new message began before the last one ended"));
        }
        let bytes = match compressed {
            true => self.inflate(Vec::new(), &payload, fin, limit)?,
            false => payload,
        };
        if fin {
            return message(binary, bytes).map(Some);
        }
        self.fragments = Some(Box::new(Fragments { binary, compressed, bytes }));
        Ok(None)
    }

    /// A continuation frame.
    fn extend(&mut self, fin: bool, payload: Vec<u8>, limit: usize) -> Result<Option<Event>, Fault> {
        let Some(fragments) = &mut self.fragments else {
            return Err(broken("a continuation frame without a message to continue"));
        };
        if fragments.compressed {
            let so_far = std::mem::take(&mut fragments.bytes);
            let bytes = self.inflate(so_far, &payload, fin, limit)?;
            self.fragments.as_mut().expect("checked above").bytes = bytes;
        } else {
            // Grows as fragments arrive (doubling, capped by the size check before).
            fragments.bytes.extend_from_slice(&payload);
        }
        if !fin {
            return Ok(None);
        }
        let Fragments { binary, bytes, .. } = *self.fragments.take().expect("checked above");
        message(binary, bytes).map(Some)
    }

    /// Inflates a compressed frame's `payload` onto the message so far, and ends the
    /// message after its `last` frame; the message may inflate to `limit` bytes.
    fn inflate(
        &mut self,
        mut message: Vec<u8>,
        payload: &[u8],
        last: bool,
        limit: usize,
    ) -> Result<Vec<u8>, Fault> {
        let inflater = self.inflater.as_mut().expect("RSV1 frames are refused without an inflater");
        inflater.inflate(payload, &mut message, limit)?;
        if last {
            inflater.finish(&mut message, limit)?;
        }
        Ok(message)
    }
}

/// Parses the header at the start of `buf`, or `None` if it is not all there.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, Fault> {
    let [first, second, ..] = *buf else { return Ok(None) };
    if first & 0x30 != 0 {
        return Err(broken("RSV2 or RSV3 is set, and no extension was agreed that uses them"));
    }
    let opcode = first & 0x0F;
    if !matches!(opcode, OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
        return Err(broken("reserved opcode"));
    }
    let fin = first & 0x80 != 0;
    if second & 0x80 == 0 {
        return Err(broken("a client frame is not masked"));
    }
    let (payload, length_bytes) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 2),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(bytes) => (u64::from_be_bytes(bytes.try_into().expect("eight bytes")), 8),
            None => return Ok(None),
        },
        short => (u64::from(short), 0),
    };
    if payload >> 63 != 0 {
        return Err(broken("a frame length has its most significant bit set"));
    }
    if opcode & 0x8 != 0 {
        if !fin {
            return Err(broken("a fragmented control frame"));
        }
        if payload > MAX_CONTROL_PAYLOAD as u64 {
            return Err(broken("a control frame above 125 bytes"));
        }
    }
    let size = 2 + length_bytes + 4;
    let Some(mask) = buf.get(size - 4..size) else { return Ok(None) };
    let mask = mask.try_into().expect("four bytes");
    Ok(Some(Header { fin, rsv1: first & RSV1 != 0, opcode, mask, size, payload }))
}

/// XORs `payload` with the client's masking key (section 5.3), eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("eight bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so of 4: the key starts over.
    for (byte, key) in chunks.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= key;
    }
}

/// A complete message.
fn message(binary: bool, payload: Vec<u8>) -> Result<Event, Fault> {
    if binary {
        return Ok(Event::Binary(payload));
    }
    String::from_utf8(payload)
        .map(Event::Text)
        .map_err(|_| Fault::Broken(Close::new(Close::INVALID_DATA, "a text message is not UTF-8")))
}

/// The close a close frame's body holds (section 5.5.1).
fn close_of(body: &[u8]) -> Result<Close, Fault> {
    let (code, reason) = match body {
        [] => return Ok(Close::new(Close::NORMAL, "")),
        [_] => return Err(broken("a close frame with a one-byte body")),
        [high, low, reason @ ..] => (u16::from_be_bytes([*high, *low]), reason),
    };
    if !Close::is_sendable(code) {
        return Err(broken("a close frame with a code that may not be sent"));
    }
    match std::str::from_utf8(reason) {
        Ok(reason) => Ok(Close::new(code, reason.to_owned())),
        Err(_) => Err(Fault::Broken(Close::new(Close::INVALID_DATA, "a close reason is not UTF-8"))),
    }
}

fn broken(why: &'static str) -> Fault {
    Fault::Broken(Close::new(Close::PROTOCOL_ERROR, why))
}

/// The frames the server sends: messages and control frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opcode {
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    /// The opcode of an outbound message.
    pub(crate) fn of(message: &Frame) -> Self {
        match message {
            Frame::Binary(_) => Opcode::Binary,
            Frame::Owned(_) | Frame::Shared(_) => Opcode::Text,
        }
    }

    fn code(self) -> u8 {
        match self {
            Opcode::Text => OP_TEXT,
            Opcode::Binary => OP_BINARY,
            Opcode::Close => OP_CLOSE,
            Opcode::Ping => OP_PING,
            Opcode::Pong => OP_PONG,
        }
    }
}

/// Appends an unmasked, unfragmented frame to `out`.
pub(crate) fn write_frame(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    write(out, 0x80 | opcode.code(), payload);
}

/// Appends a message in one frame whose payload is compressed: RSV1 set (RFC 7692
/// section 6).
pub(crate) fn write_deflated(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    write(out, 0x80 | RSV1 | opcode.code(), payload);
}

/// Appends a frame whose first byte is `first`.
fn write(out: &mut Vec<u8>, first: u8, payload: &[u8]) {
    out.reserve(10 + payload.len());
    out.push(first);
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Appends a close frame with `close`'s code and reason (cut to the 123 bytes a close
/// frame holds, at a character boundary).
pub(crate) fn write_close(out: &mut Vec<u8>, close: &Close) {
    let mut end = close.reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !close.reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut body = Vec::with_capacity(2 + end);
    body.extend_from_slice(&close.code.to_be_bytes());
    body.extend_from_slice(&close.reason.as_bytes()[..end]);
    write_frame(out, Opcode::Close, &body);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A masked client frame.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![first];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len @ 126..=0xFFFF => {
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

    /// A reader, and the limit its reads pass.
    struct Limited(Reader, usize);

    impl Limited {
        fn read(&mut self, buf: &[u8]) -> Result<Step, Fault> {
            self.0.read(buf, self.1)
        }
    }

    /// A reader of messages of at most `limit` bytes.
    fn reader(limit: usize) -> Limited {
        Limited(Reader::default(), limit)
    }

    fn read_all(reader: &mut Limited, mut buf: &[u8]) -> Result<Vec<Event>, Fault> {
        let mut events = Vec::new();
        while let Step::Frame { used, event } = reader.read(buf)? {
            events.extend(event);
            buf = &buf[used..];
        }
        Ok(events)
    }

    #[test]
    fn reads_a_masked_text_frame_of_every_length_encoding() {
        for len in [0, 5, 125, 126, 1000, 0xFFFF, 0x10000] {
            let text = "x".repeat(len);
            let frame = client_frame(0x81, text.as_bytes());
            let mut reader = reader(1 << 20);
            assert_eq!(
                reader.read(&frame),
                Ok(Step::Frame { used: frame.len(), event: Some(Event::Text(text)) })
            );
        }
    }

    #[test]
    fn reads_the_masked_example_of_rfc_6455() {
        // Section 5.7: a masked "Hello".
        let frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let event = Some(Event::Text("Hello".into()));
        assert_eq!(reader(100).read(&frame), Ok(Step::Frame { used: 11, event }));
        let long = client_frame(0x81, "0123456789abcdef-xyz".as_bytes());
        let Ok(Step::Frame { event: Some(Event::Text(text)), .. }) = reader(100).read(&long) else {
            panic!("no text frame");
        };
        assert_eq!(text, "0123456789abcdef-xyz");
    }

    #[test]
    fn waits_for_every_byte_of_a_frame() {
        let frame = client_frame(0x81, b"{\"type\":\"PING\"}");
        let mut reader = reader(1 << 20);
        for end in 0..frame.len() {
            assert_eq!(reader.read(&frame[..end]), Ok(Step::More), "after {end} bytes");
        }
    }

    #[test]
    fn unmasks_odd_lengths() {
        for len in 0..40 {
            let payload: Vec<u8> = (0..len as u8).collect();
            let frame = client_frame(0x82, &payload);
            let Ok(Step::Frame { event: Some(Event::Binary(bytes)), .. }) = reader(100).read(&frame) else {
                panic!("no binary frame of {len} bytes");
            };
            assert_eq!(bytes, payload);
        }
    }

    #[test]
    fn joins_fragments_around_control_frames() {
        let mut buf = client_frame(0x01, b"hel");
        buf.extend(client_frame(0x89, b"p"));
        buf.extend(client_frame(0x00, b"lo "));
        buf.extend(client_frame(0x80, "wörld".as_bytes()));
        let mut reader = reader(100);
        let events = read_all(&mut reader, &buf).unwrap();
        assert_eq!(events, [Event::Ping(b"p".to_vec()), Event::Text("hello wörld".into())]);
        assert!(!reader.0.is_mid_message());
        assert_eq!(reader.0.held_bytes(), 0);
    }

    #[test]
    fn refuses_a_frame_above_the_limit_from_its_header_alone() {
        let header = &client_frame(0x81, &vec![b'x'; 2000])[..8];
        assert_eq!(reader(1000).read(header), Err(Fault::TooBig { size: 2000, limit: 1000 }));
        let huge = [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];
        assert!(matches!(reader(1000).read(&huge), Err(Fault::TooBig { .. })));
    }

    #[test]
    fn refuses_fragments_that_add_up_above_the_limit() {
        let mut reader = reader(10);
        let first = client_frame(0x01, b"123456");
        assert!(matches!(reader.read(&first), Ok(Step::Frame { event: None, .. })));
        assert!(reader.0.is_mid_message());
        assert_eq!(reader.read(&client_frame(0x80, b"78901")), Err(Fault::TooBig { size: 11, limit: 10 }));
    }

    #[test]
    fn protocol_violations_are_1002_and_bad_text_1007() {
        let cases: [(Vec<u8>, u16); 10] = [
            (client_frame(0xC1, b"x"), Close::PROTOCOL_ERROR), // RSV1
            (client_frame(0x83, b"x"), Close::PROTOCOL_ERROR), // reserved data opcode
            (client_frame(0x8B, b""), Close::PROTOCOL_ERROR),  // reserved control opcode
            (vec![0x81, 0x01, b'x'], Close::PROTOCOL_ERROR),   // unmasked
            (client_frame(0x89, &[0; 126]), Close::PROTOCOL_ERROR), // long ping
            (client_frame(0x09, b""), Close::PROTOCOL_ERROR),  // fragmented ping
            (client_frame(0x80, b"x"), Close::PROTOCOL_ERROR), // continuation of nothing
            (client_frame(0x88, &[3]), Close::PROTOCOL_ERROR), // one-byte close body
            (client_frame(0x88, &1005u16.to_be_bytes()), Close::PROTOCOL_ERROR),
            (client_frame(0x81, &[0xff, 0xfe]), Close::INVALID_DATA),
        ];
        for (frame, code) in cases {
            match reader(100).read(&frame) {
                Err(Fault::Broken(close)) => assert_eq!(close.code, code, "{frame:02x?}"),
                other => panic!("{frame:02x?}: {other:?}"),
            }
        }
        let mut reader = reader(100);
        reader.read(&client_frame(0x01, b"a")).unwrap();
        assert!(matches!(reader.read(&client_frame(0x81, b"b")), Err(Fault::Broken(_))));
    }

    #[test]
    fn reads_close_frames() {
        let mut body = 4001u16.to_be_bytes().to_vec();
        body.extend_from_slice(b"bye");
        let events = read_all(&mut reader(100), &client_frame(0x88, &body)).unwrap();
        assert_eq!(events, [Event::Close(Close::new(4001, "bye"))]);
        let events = read_all(&mut reader(100), &client_frame(0x88, b"")).unwrap();
        assert_eq!(events, [Event::Close(Close::new(Close::NORMAL, ""))]);
    }

    #[test]
    fn writes_every_length_encoding() {
        for (len, header) in [
            (5, vec![0x81, 5]),
            (200, vec![0x81, 126, 0, 200]),
            (70000, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
        ] {
            let mut out = Vec::new();
            write_frame(&mut out, Opcode::Text, &vec![b'a'; len]);
            assert_eq!(&out[..header.len()], &header[..]);
            assert_eq!(out.len(), header.len() + len);
        }
    }

    #[test]
    fn cuts_close_reasons_at_a_character_boundary() {
        let mut out = Vec::new();
        write_close(&mut out, &Close::new(1000, "é".repeat(100)));
        assert_eq!(out[1] as usize, out.len() - 2);
        assert!(out.len() - 2 <= 125);
        assert!(std::str::from_utf8(&out[4..]).is_ok());
    }

    fn inflating_reader() -> Limited {
        let agreed = crate::server::deflate::Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            threshold: 0,
        };
        Limited(Reader::default().inflating(Inflater::new(&agreed)), 1 << 20)
    }

    #[test]
    fn inflates_a_compressed_message_split_over_fragments() {
        let text = "{\"type\":\"SAY\",\"payload\":{\"text\":\"hello hello hello hello\"}}";
        let compressed = crate::server::deflate::codec::compress_alone(text.as_bytes()).unwrap();
        let (head, tail) = compressed.split_at(compressed.len() / 2);
        let mut buf = client_frame(0x41, head);
        buf.extend(client_frame(0x89, b"p"));
        buf.extend(client_frame(0x80, tail));
        let mut reader = inflating_reader();
        let events = read_all(&mut reader, &buf).unwrap();
        assert_eq!(events, [Event::Ping(b"p".to_vec()), Event::Text(text.into())]);
        let plain = read_all(&mut reader, &client_frame(0x81, b"plain")).unwrap();
        assert_eq!(plain, [Event::Text("plain".into())], "RSV1 clear: not compressed");
    }

    #[test]
    fn rsv1_only_begins_a_message() {
        let compressed = crate::server::deflate::codec::compress_alone(&[b'a'; 100]).unwrap();
        let mut continued = client_frame(0x01, b"a");
        continued.extend(client_frame(0xC0, &compressed));
        for (frame, what) in [
            (client_frame(0xC9, b""), "a ping"),
            (continued, "a continuation"),
            (client_frame(0xA1, b"x"), "RSV2"),
        ] {
            match read_all(&mut inflating_reader(), &frame) {
                Err(Fault::Broken(close)) => assert_eq!(close.code, Close::PROTOCOL_ERROR, "{what}"),
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}
