//! [`Close`]: the code and reason a connection closed with.

use std::borrow::Cow;

/// A WebSocket close code and reason.
///
/// Handlers close a connection with [`Ctx::close`](crate::Ctx::close); `#[on_close]` hooks
/// receive the close the connection ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The close code, e.g. [`Close::NORMAL`] or an application code in 4000-4999.
    pub code: u16,
    /// A short human-readable reason (at most 123 bytes on the wire).
    pub reason: Cow<'static, str>,
}

impl Close {
    /// 1000: normal closure.
    pub const NORMAL: u16 = 1000;
    /// 1001: the server is going away (graceful shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// 1006: the connection dropped without a close frame (never sent on the wire).
    pub const ABNORMAL: u16 = 1006;
    /// 1002: the peer broke the WebSocket protocol (RFC 6455), e.g. a reserved opcode.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1007: a text frame that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// 1008: policy violation (authentication, abuse).
    pub const POLICY: u16 = 1008;
    /// 1009: a message was too big.
    pub const TOO_BIG: u16 = 1009;
    /// 1011: internal error, or a stale connection.
    pub const INTERNAL: u16 = 1011;
    /// 1013: try again later (overload, slow consumer).
    pub const TRY_AGAIN_LATER: u16 = 1013;

    /// A close with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Close { code, reason: reason.into() }
    }

    /// A close an application asked for: a `code` it may not send (see
    /// [`is_sendable`](Self::is_sendable)) becomes 1008 (policy).
    pub(crate) fn application(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        let code = if Self::is_sendable(code) { code } else { Self::POLICY };
        Close::new(code, reason)
    }

    /// Whether `code` may be sent in a close frame by an application (1000-1003, 1007-1014
    /// and 3000-4999, per RFC 6455 and the IANA registry).
    pub fn is_sendable(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}
