//! Entry points for the fuzz targets in `fuzz/`: thin wrappers over crate-private decoders,
//! compiled only under `--cfg fuzzing` (which `cargo fuzz` sets), so the public API is the
//! same in every other build. Not covered by semver.

use crate::envelope::Envelope;
use crate::{Error, Meta};

/// What the envelope decoder makes of a frame.
pub struct DecodedEnvelope {
    /// The `type`, unescaped.
    pub ty: String,
    /// `payload` as raw JSON, `None` when missing or `null`.
    pub payload: Option<String>,
    /// The standard meta keys and the extra ones (raw JSON values), or why `meta` is rejected.
    pub meta: Result<(Meta, Vec<(String, String)>), Error>,
}

/// Decodes `text` as the connection does before it routes a frame: the envelope, then its
/// meta.
pub fn envelope(text: &str) -> Result<DecodedEnvelope, Error> {
    let mut envelope = Envelope::parse(text)?;
    let meta = envelope.meta().map(|(meta, extra)| {
        let extra = extra.into_iter().map(|(key, value)| (key.into_owned(), value.get().to_owned()));
        (meta, extra.collect())
    });
    Ok(DecodedEnvelope { ty: envelope.ty.into_owned(), payload: envelope.payload.map(str::to_owned), meta })
}

/// Whether the envelope's fast path takes `text`; panics if it takes a frame serde_json
/// refuses, or reads one differently.
pub fn envelope_fast_path_agrees(text: &str) -> bool {
    crate::envelope::fast_path_agrees(text)
}

/// The correlation id read from a frame that failed to decode, as its error frame echoes it.
pub fn salvage_correlation_id(text: &str) -> Option<String> {
    crate::envelope::salvage_correlation_id(text)
}

/// Runs the server's upgrade checks on `parts` and answers as the server would: 101 with
/// the subprotocol chosen among `preferred` and the permessage-deflate offer accepted, or
/// the refusal.
#[cfg(feature = "server")]
pub fn handshake(parts: &mut http::request::Parts, preferred: &[String]) -> http::Response<crate::Body> {
    use crate::server::{deflate, handshake};
    match handshake::check(parts) {
        Ok(accepted) => {
            let protocol = handshake::choose_protocol(&parts.headers, preferred);
            let deflate = deflate::offer::negotiate(&parts.headers, &crate::Deflate::enabled());
            accepted.respond(protocol, deflate.map(|(_, answer)| answer), &uuid::Uuid::nil()).0
        }
        Err(refusal) => *refusal,
    }
}

/// A Redis bus message decoded for local delivery.
#[cfg(feature = "redis")]
pub struct BusDelivery {
    /// The topic whose subscribers receive the frame.
    pub topic: String,
    /// The frame they receive.
    pub frame: String,
    /// The client that asked not to receive its own publish.
    pub exclude: Option<uuid::Uuid>,
}

/// Decodes the bytes of a Redis bus message; `None` for what is ignored.
#[cfg(feature = "redis")]
pub fn bus_message(bytes: &[u8]) -> Option<BusDelivery> {
    let decoded = crate::pubsub::redis::decode("fuzz:", bytes)?;
    Some(BusDelivery { topic: decoded.topic.into_owned(), frame: decoded.frame, exclude: decoded.exclude })
}

/// The server's WebSocket frame reader, fed as the socket feeds it: the bytes read so far
/// that did not make a frame yet, followed by the next read.
#[cfg(feature = "server")]
pub struct FrameReader(crate::server::frame::Reader, usize);

/// What [`FrameReader::read`] found at the start of the bytes.
#[cfg(feature = "server")]
#[derive(Debug)]
pub enum FrameStep {
    /// No complete frame yet.
    More,
    /// A frame of `used` bytes, completing a text message, a binary message, a control
    /// frame, or nothing (a fragment of a message that goes on).
    Frame {
        /// Bytes of the frame.
        used: usize,
        /// A text message completed by it.
        text: Option<String>,
        /// Bytes of a binary message completed by it.
        binary: Option<usize>,
        /// The code of a close frame.
        close: Option<u16>,
    },
    /// The connection fails with this close code (1002, 1007, 1009).
    Fault(u16),
}

#[cfg(feature = "server")]
impl FrameReader {
    /// A reader of messages of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        FrameReader(crate::server::frame::Reader::default(), limit)
    }

    /// A reader of messages of at most `limit` bytes, inflated, from a client that agreed
    /// on permessage-deflate and keeps its compression context.
    pub fn inflating(limit: usize) -> Self {
        use crate::server::deflate::{codec::Inflater, Agreed};
        let agreed = Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            threshold: 0,
        };
        FrameReader(crate::server::frame::Reader::default().inflating(Inflater::new(&agreed)), limit)
    }

    /// Reads the frame at the start of `bytes`.
    pub fn read(&mut self, bytes: &[u8]) -> FrameStep {
        use crate::server::frame::{Event, Fault, Step};
        match self.0.read(bytes, self.1) {
            Ok(Step::More) => FrameStep::More,
            Ok(Step::Frame { used, event }) => {
                let (mut text, mut binary, mut close) = (None, None, None);
                match event {
                    Some(Event::Text(message)) => text = Some(message),
                    Some(Event::Binary(message)) => binary = Some(message.len()),
                    Some(Event::Close(frame)) => close = Some(frame.code),
                    Some(Event::Ping(_) | Event::Pong) | None => {}
                }
                FrameStep::Frame { used, text, binary, close }
            }
            Err(Fault::Broken(close)) => FrameStep::Fault(close.code),
            Err(Fault::TooBig { .. }) => FrameStep::Fault(crate::Close::TOO_BIG),
        }
    }

    /// Bytes held for a message whose fragments are still arriving.
    pub fn held_bytes(&self) -> usize {
        self.0.held_bytes()
    }
}
