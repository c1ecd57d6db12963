//! The server's WebSocket frame reader, fed in reads of fuzzed sizes as a socket feeds it,
//! with permessage-deflate agreed or not. Whatever the bytes, it never panics, never claims
//! more bytes than it was given, never holds more than twice the message limit for
//! unfinished fragments (inflated ones included), and fails only with the close codes
//! RFC 6455 asks for.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wskit::__fuzz::{FrameReader, FrameStep};

/// The message limit: small, so that oversize paths are reached.
const LIMIT: usize = 1024;

fuzz_target!(|data: &[u8]| {
    // The first byte sets the size of each read (and, when odd, agrees on deflate), the
    // rest is the stream.
    let Some((&read_size, stream)) = data.split_first() else { return };
    let mut reader = match read_size % 2 {
        1 => FrameReader::inflating(LIMIT),
        _ => FrameReader::new(LIMIT),
    };
    let read_size = usize::from(read_size).max(1);
    let mut inbox: Vec<u8> = Vec::new();
    for read in stream.chunks(read_size) {
        inbox.extend_from_slice(read);
        loop {
            match reader.read(&inbox) {
                FrameStep::More => break,
                FrameStep::Frame { used, text, binary, close } => {
                    assert!(used >= 6 && used <= inbox.len(), "used {used} of {}", inbox.len());
                    assert!(text.as_ref().map_or(0, String::len) <= LIMIT);
                    assert!(binary.unwrap_or(0) <= LIMIT);
                    if let Some(code) = close {
                        assert!(matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999), "close {code}");
                    }
                    assert!(reader.held_bytes() <= 2 * LIMIT, "held {}", reader.held_bytes());
                    inbox.drain(..used);
                }
                FrameStep::Fault(code) => {
                    assert!(matches!(code, 1002 | 1007 | 1009), "fault {code}");
                    return;
                }
            }
        }
    }
});
