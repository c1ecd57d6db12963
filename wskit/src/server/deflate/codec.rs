//! Compressing and inflating message payloads (RFC 7692 section 7.2).
//!
//! DEFLATE comes from flate2: a well-kept crate whose default backend, miniz_oxide, is pure
//! Rust (no C compiler or system zlib to build), and whose `Compress::new(level, false)`
//! and `Decompress::new(false)` speak the raw DEFLATE streams the extension carries. That
//! backend's window is fixed at 15 bits, which `offer` takes into account.

use super::Agreed;
use crate::outbox::Frame;
use crate::server::frame::{self, Fault, Opcode};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::cell::RefCell;

/// The end of a sync flush (an empty stored block): a sender strips it from each message,
/// a receiver appends it again (section 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The first allocation for an inflated message, as a multiple of its compressed size.
const INFLATE_RATIO: usize = 4;

/// A compression buffer a thread keeps between messages, at most.
const KEPT_SCRATCH: usize = 64 * 1024;

thread_local! {
    /// The compressor of every connection of this thread that compresses each message on
    /// its own: each message ends with a full flush, which empties its window, so one
    /// serves them all.
    static COMPRESSOR: RefCell<Compress> = RefCell::new(new_compressor());
    /// Where a message is compressed before its frame is written.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// An inflater that connections whose client compresses each message on its own
    /// borrow for one message and give back.
    static SPARE_INFLATER: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Level 1: chat-sized JSON shrinks nearly as much as at the default level 6, for a
/// fraction of the work.
fn new_compressor() -> Compress {
    Compress::new(Compression::fast(), false)
}

/// Compresses `input` as one message onto the empty `out`, ending it with `flush` (`Sync`,
/// or `Full` to start the next message with an empty window): the payload of a frame with
/// RSV1 set. `false` if the compressor failed, which it does only without room to write.
fn compress(compressor: &mut Compress, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) -> bool {
    let start = compressor.total_in();
    // Room for the worst case at once: every call ending in a full flush empties the
    // window again.
    out.reserve(input.len() + input.len() / 16 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let consumed = (compressor.total_in() - start) as usize;
        if compressor.compress_vec(&input[consumed..], out, flush).is_err() {
            return false;
        }
        // Done once all input is in and the flush had room to finish.
        if compressor.total_in() - start == input.len() as u64 && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    true
}

/// `text` compressed on its own with the thread's compressor, if that makes it smaller.
///
/// The full flush that ends it empties the window (miniz_oxide clears its 128 KiB of hash
/// chains) rather than a reset after it, which would clear 320 KiB: the same guarantee,
/// that the next message refers to nothing before it, for less work per message.
pub(crate) fn compress_alone(text: &[u8]) -> Option<Box<[u8]>> {
    with_scratch(|scratch| {
        let done = COMPRESSOR.with_borrow_mut(|compressor| {
            let done = compress(compressor, text, scratch, FlushCompress::Full);
            if !done {
                compressor.reset();
            }
            done
        });
        (done && scratch.len() < text.len()).then(|| scratch.as_slice().into())
    })
}

/// Runs `f` with the thread's empty scratch buffer.
fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        let result = f(scratch);
        if scratch.capacity() > KEPT_SCRATCH {
            *scratch = Vec::new();
        }
        result
    })
}

/// The outbound side of a connection that agreed on permessage-deflate.
pub(crate) struct Deflater {
    agreed: Agreed,
    /// The compressor whose context lives from message to message, made on the first
    /// compressed frame; never made without server context takeover.
    context: Option<Box<Compress>>,
}

impl Deflater {
    pub(crate) fn new(agreed: Agreed) -> Self {
        Deflater { agreed, context: None }
    }

    /// Appends `message` to `out`: compressed if it is large enough, plain otherwise.
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, message: &Frame) {
        let (opcode, payload) = (Opcode::of(message), message.payload());
        let write = |out: &mut Vec<u8>, deflated: Option<&[u8]>| match deflated {
            Some(deflated) => frame::write_deflated(out, opcode, deflated),
            None => frame::write_frame(out, opcode, payload),
        };
        let agreed = &self.agreed;
        if payload.len() < agreed.threshold {
            return write(out, None);
        }
        if !agreed.server_no_context_takeover {
            let compressor = self.context.get_or_insert_with(|| Box::new(new_compressor()));
            return with_scratch(|scratch| {
                // Once the context has taken the message in, only its compressed form
                // keeps the client's context in step.
                let compressed = compress(compressor, payload, scratch, FlushCompress::Sync);
                write(out, compressed.then_some(&scratch[..]));
            });
        }
        // Alone, a message refers only to itself: within any window it fits in.
        if payload.len() > 1 << agreed.server_max_window_bits {
            return write(out, None);
        }
        match message {
            Frame::Shared(published) => write(out, published.deflated(compress_alone)),
            Frame::Owned(_) | Frame::Binary(_) => write(out, compress_alone(payload).as_deref()),
        }
    }
}

/// The inbound side of a connection that agreed on permessage-deflate: inflates the
/// messages its client compressed.
pub(crate) struct Inflater {
    /// The client compresses each message with the context of the ones before.
    keep_context: bool,
    /// Made on the first compressed message; without context takeover it is borrowed
    /// from the thread for one message.
    state: Option<Decompress>,
}

impl Inflater {
    pub(crate) fn new(agreed: &Agreed) -> Self {
        Inflater { keep_context: !agreed.client_no_context_takeover, state: None }
    }

    /// Inflates a compressed frame's payload onto `out`, which grows as it fills and
    /// stops at `limit + 1` bytes: a message that inflates beyond `limit` is refused as
    /// soon as it does, however small it was compressed.
    pub(crate) fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Fault> {
        let state = self.state.get_or_insert_with(|| {
            SPARE_INFLATER.with_borrow_mut(Option::take).unwrap_or_else(|| Decompress::new(false))
        });
        let most = limit.saturating_add(1);
        if out.capacity() == 0 {
            out.reserve_exact(input.len().saturating_mul(INFLATE_RATIO).max(64).min(most));
        }
        let start = state.total_in();
        loop {
            if out.len() == out.capacity() {
                out.reserve_exact(out.capacity().min(most - out.len()).max(1));
            }
            let consumed = (state.total_in() - start) as usize;
            let produced = out.len();
            let status = state
                .decompress_vec(&input[consumed..], out, FlushDecompress::Sync)
                .map_err(|_| invalid("a compressed message holds invalid DEFLATE data"))?;
            if out.len() > limit {
                return Err(Fault::TooBig { size: out.len(), limit });
            }
            let all_in = state.total_in() - start == input.len() as u64;
            match status {
                // A client that ended its stream (BFINAL): what follows is not inflated.
                Status::StreamEnd => {
                    state.reset(false);
                    return Ok(());
                }
                _ if all_in && out.len() < out.capacity() => return Ok(()),
                _ if state.total_in() - start == consumed as u64 && out.len() == produced => {
                    return Err(invalid("a compressed message does not inflate"));
                }
                _ => {}
            }
        }
    }

    /// Ends a compressed message whose frames were inflated onto `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), Fault> {
        self.inflate(&TAIL, out, limit)?;
        if !self.keep_context {
            if let Some(mut state) = self.state.take() {
                state.reset(false);
                SPARE_INFLATER.with_borrow_mut(|spare| *spare = Some(state));
            }
        }
        Ok(())
    }
}

fn invalid(why: &'static str) -> Fault {
    Fault::Broken(crate::close::Close::new(crate::close::Close::INVALID_DATA, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed(client_no_context_takeover: bool) -> Agreed {
        Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover,
            server_max_window_bits: 15,
            threshold: 0,
        }
    }

    fn deflate_all(messages: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut compressor = new_compressor();
        let compressed = |text: &&[u8]| {
            let mut out = Vec::new();
            assert!(compress(&mut compressor, text, &mut out, FlushCompress::Sync));
            out
        };
        messages.iter().map(compressed).collect()
    }

    #[test]
    fn inflates_what_it_compresses_with_and_without_context() {
        let messages: [&[u8]; 3] = [b"{\"type\":\"PING\"}", b"{\"type\":\"PING\"}", &[b'a'; 5000]];
        let mut inflater = Inflater::new(&agreed(false));
        for (compressed, message) in deflate_all(&messages).iter().zip(messages) {
            let mut out = Vec::new();
            inflater.inflate(compressed, &mut out, 1 << 20).unwrap();
            inflater.finish(&mut out, 1 << 20).unwrap();
            assert_eq!(out, message);
        }
        let alone = compress_alone(&[b'a'; 5000]).unwrap();
        assert!(alone.len() < 100);
        let mut inflater = Inflater::new(&agreed(true));
        let mut out = Vec::new();
        inflater.inflate(&alone, &mut out, 1 << 20).unwrap();
        inflater.finish(&mut out, 1 << 20).unwrap();
        assert_eq!(out, [b'a'; 5000]);
        assert!(inflater.state.is_none(), "given back to the thread");
    }

    #[test]
    fn a_message_compressed_alone_refers_to_nothing_before_it() {
        let text = b"{\"type\":\"NEWS\",\"payload\":{\"text\":\"the same news, the same news again\"}}";
        let first = compress_alone(text).unwrap();
        assert_eq!(compress_alone(text).unwrap(), first, "not a reference to the first");
        let mut inflater = Inflater::new(&agreed(true));
        for payload in [&first, &first] {
            let mut out = Vec::new();
            inflater.inflate(payload, &mut out, 1000).unwrap();
            inflater.finish(&mut out, 1000).unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn stops_inflating_at_the_limit() {
        let bomb = compress_alone(&vec![0; 10 << 20]).unwrap();
        assert!(bomb.len() < 50_000, "{}", bomb.len());
        let mut out = Vec::new();
        let fault = Inflater::new(&agreed(true)).inflate(&bomb, &mut out, 1000).unwrap_err();
        assert_eq!(fault, Fault::TooBig { size: 1001, limit: 1000 });
        assert_eq!(out.capacity(), 1001);
    }

    #[test]
    fn refuses_invalid_data() {
        let mut out = Vec::new();
        let fault = Inflater::new(&agreed(true)).inflate(&[0xff; 8], &mut out, 1000).unwrap_err();
        assert!(matches!(fault, Fault::Broken(close) if close.code == crate::close::Close::INVALID_DATA));
    }

    #[test]
    fn sends_small_frames_and_incompressible_ones_plain() {
        let mut deflater = Deflater::new(Agreed { threshold: 10, ..agreed(true) });
        let mut out = Vec::new();
        deflater.write(&mut out, &Frame::Owned("short".into()));
        assert_eq!(out, b"\x81\x05short");
        out.clear();
        deflater.write(&mut out, &Frame::Owned("x".repeat(100)));
        assert_eq!(out[0], 0xC1, "FIN, RSV1, text");
        out.clear();
        deflater.write(&mut out, &Frame::Binary(vec![7; 100].into()));
        assert_eq!(out[0], 0xC2, "FIN, RSV1, binary");
        out.clear();
        let noise: String = (0..40u32).map(|i| char::from_u32(33 + (i * 37) % 90).unwrap()).collect();
        deflater.write(&mut out, &Frame::Owned(noise.clone()));
        assert_eq!(out[0], 0x81, "not smaller compressed: plain");
        let mut small_window = Deflater::new(Agreed { server_max_window_bits: 8, ..agreed(true) });
        out.clear();
        small_window.write(&mut out, &Frame::Owned("x".repeat(300)));
        assert_eq!(out[0], 0x81, "longer than the client's window: plain");
    }
}
