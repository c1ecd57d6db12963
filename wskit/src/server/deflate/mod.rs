//! permessage-deflate (RFC 7692): the server's settings ([`Deflate`]), what one connection
//! agreed on ([`Agreed`]), the negotiation ([`offer`]) and the compression itself
//! ([`codec`]).

pub(crate) mod codec;
pub(crate) mod offer;

/// The server's permessage-deflate settings (RFC 7692): off by default.
///
/// When enabled, a client that offers the extension in `Sec-WebSocket-Extensions` (every
/// browser does) gets it, and messages of at least [`threshold`](Self::threshold) bytes
/// go out compressed; smaller ones, and every frame to a client that did not offer
/// it, go out as before.
///
/// ```
/// use wskit::Deflate;
/// # use wskit::{message, router, Ctx, Error, Server};
/// # #[message("PING")] pub struct Ping;
/// # pub struct App;
/// # #[router] impl App { #[on] async fn ping(&self, _: &mut Ctx<()>, _: Ping) -> Result<(), Error> { Ok(()) } }
///
/// let server = Server::new(App).deflate(Deflate::enabled().threshold(512));
/// ```
///
/// Memory: the server keeps no compression state per connection unless
/// [`server_context_takeover`](Self::server_context_takeover) is set. Inflating what a
/// client compressed takes 42 KiB while a message is read; a client that keeps its
/// compression context between messages (browsers do) makes its connection keep those
/// 42 KiB from its first compressed message on.
///
/// Windows: every window size a client offers is accepted, so there is no setting for
/// it. The compressor's window is fixed at 15 bits (miniz_oxide's), so for a smaller
/// `server_max_window_bits` the server compresses each message on its own and only the
/// messages that fit the window; the inflater takes any window a client compresses with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deflate {
    enabled: bool,
    threshold: usize,
    context_takeover: bool,
}

impl Default for Deflate {
    /// Disabled: the server declines every offer.
    fn default() -> Self {
        Deflate { enabled: false, threshold: Self::DEFAULT_THRESHOLD, context_takeover: false }
    }
}

impl Deflate {
    /// The default [`threshold`](Self::threshold): below about a kilobyte, a message
    /// compressed on its own (without the context of earlier ones) shrinks too little to
    /// pay for the work.
    pub const DEFAULT_THRESHOLD: usize = 1024;

    /// Enabled, with the [default threshold](Self::DEFAULT_THRESHOLD) and no server
    /// context takeover.
    pub fn enabled() -> Self {
        Deflate { enabled: true, ..Deflate::default() }
    }

    /// Frames of fewer bytes than this are sent uncompressed.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Whether the server keeps its compression context from one message to the next
    /// (default `false`: it answers `server_no_context_takeover`).
    ///
    /// With the context kept, a message can refer to the ones before it, so small and
    /// repetitive messages shrink much more, but every connection that received a
    /// compressed frame holds a compressor of 312 KiB for the rest of its life, and
    /// every frame is compressed for each connection, a publish for each subscriber.
    /// Without it, one compressor per thread serves every connection, and a publish is
    /// compressed once for all its subscribers. A client that asks for
    /// `server_no_context_takeover`, or for a window below 15 bits, gets no context
    /// takeover either way.
    pub fn server_context_takeover(mut self, keep: bool) -> Self {
        self.context_takeover = keep;
        self
    }

    /// Whether the server accepts offers at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }
}

/// What one connection agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// The server compresses each message on its own.
    pub(crate) server_no_context_takeover: bool,
    /// The client compresses each message on its own.
    pub(crate) client_no_context_takeover: bool,
    /// The client's window for what the server sends: a compressed frame may refer at
    /// most `2^bits` bytes back.
    pub(crate) server_max_window_bits: u8,
    /// Frames of fewer bytes go out uncompressed.
    pub(crate) threshold: usize,
}
