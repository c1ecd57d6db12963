//! The wire vocabulary both ends share: the reserved frame types, the outbound frame
//! shape, and the clock frames are stamped with. The server ([`envelope`](crate::envelope))
//! and the Rust client (`client::wire`) encode through these, so the two cannot drift.

use crate::escape::write_json_str;
use crate::json::WriteJson;
use crate::Message;
use serde::Serialize;

/// The client's application heartbeat.
pub(crate) const HEARTBEAT: &str = "__heartbeat";

/// The server's answer to [`HEARTBEAT`].
pub(crate) const HEARTBEAT_ACK: &str = "__heartbeat_ack";

/// The server's progress frames of an RPC.
pub(crate) const PROGRESS: &str = "$ws:rpc-progress";

/// The client's request to cancel an in-flight RPC.
pub(crate) const ABORT: &str = "$ws:abort";

/// The first frame of a connection that asked for session resume (section 8).
#[cfg(any(feature = "client", feature = "server"))]
pub(crate) const SESSION: &str = "$ws:session";

/// The query parameter of the upgrade request that asks for session resume (section 8).
#[cfg(any(feature = "client", feature = "server"))]
pub(crate) const RESUME_PARAM: &str = "wskit-resume";

/// Whether `token` has the form of a session token: 32 lowercase hex digits (128 bits).
#[cfg(any(feature = "client", feature = "server"))]
pub(crate) fn is_session_token(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// An error outside an RPC.
pub(crate) const ERROR: &str = "ERROR";

/// An error that ends an RPC.
pub(crate) const RPC_ERROR: &str = "RPC_ERROR";

/// Whether `ty` belongs to the protocol: types starting with `$` or `__` are reserved,
/// and those the protocol does not define for clients are answered as unknown.
pub(crate) fn is_reserved(ty: &str) -> bool {
    ty.starts_with('$') || ty.starts_with("__")
}

/// Whether `ty` is one of the two error frame types.
#[cfg(feature = "client")]
pub(crate) fn is_error(ty: &str) -> bool {
    ty == ERROR || ty == RPC_ERROR
}

/// The `meta` of an outbound frame: only the keys that are set.
#[derive(Default)]
pub(crate) struct OutMeta<'a> {
    /// The sender's clock in milliseconds (the client stamps every frame).
    pub(crate) timestamp: Option<u64>,
    pub(crate) correlation_id: Option<&'a str>,
    /// The deadline a client asks for, in milliseconds.
    pub(crate) timeout_ms: Option<u64>,
}

impl OutMeta<'_> {
    /// Appends the meta object, with only the keys that are set.
    pub(crate) fn write(&self, out: &mut String) {
        let mut separator = '{';
        // Each key with its quotes and colon, as constants: nothing to escape.
        let mut key = |out: &mut String, quoted: &str| {
            out.push(separator);
            separator = ',';
            out.push_str(quoted);
        };
        if let Some(timestamp) = self.timestamp {
            key(out, r#""timestamp":"#);
            timestamp.write_json(out);
        }
        if let Some(id) = self.correlation_id {
            key(out, r#""correlationId":"#);
            write_json_str(out, id);
        }
        if let Some(timeout) = self.timeout_ms {
            key(out, r#""timeoutMs":"#);
            timeout.write_json(out);
        }
        if separator == '{' {
            out.push('{');
        }
        out.push('}');
    }
}

/// An outbound frame: `{"type", "meta", "payload"?}`.
///
/// Written by hand around the payload rather than derived: every reply goes through
/// here, and serde's map serialization would escape the constant keys on every frame.
pub(crate) struct OutFrame<'a, P: ?Sized> {
    pub(crate) ty: &'a str,
    pub(crate) meta: OutMeta<'a>,
    pub(crate) payload: Option<&'a P>,
}

impl<P: Serialize + ?Sized> OutFrame<'_, P> {
    /// The frame's JSON text; fails only if the payload's `Serialize` fails.
    pub(crate) fn to_json(&self) -> serde_json::Result<String> {
        self.write(None, |_, _| false)
    }

    /// The frame's JSON text: its type copied from `json_type` if given (the type as a
    /// JSON string), else escaped; its payload written by `write_payload` if that can
    /// ([`Message::write_payload`]), else by serde.
    fn write(
        &self,
        json_type: Option<&str>,
        write_payload: impl FnOnce(&P, &mut String) -> bool,
    ) -> serde_json::Result<String> {
        let mut out = String::with_capacity(128);
        out.push_str(r#"{"type":"#);
        match json_type {
            Some(json) => out.push_str(json),
            None => write_json_str(&mut out, self.ty),
        }
        out.push_str(r#","meta":"#);
        self.meta.write(&mut out);
        let Some(payload) = self.payload else {
            out.push('}');
            return Ok(out);
        };
        out.push_str(r#","payload":"#);
        if write_payload(payload, &mut out) {
            out.push('}');
            return Ok(out);
        }
        let mut bytes = out.into_bytes();
        serde_json::to_writer(&mut bytes, payload)?;
        bytes.push(b'}');
        Ok(String::from_utf8(bytes).expect("JSON text is UTF-8"))
    }
}

/// The JSON text of the frame of `message` with `meta`: its type copied as `#[message]`
/// wrote it ([`Message::JSON_TYPE`]), its payload written by the message itself where it
/// can ([`Message::write_payload`]), else by serde.
pub(crate) fn message_to_json<M: Message>(message: &M, meta: OutMeta<'_>) -> serde_json::Result<String> {
    let frame = OutFrame { ty: M::TYPE, meta, payload: M::HAS_PAYLOAD.then_some(message) };
    frame.write(M::JSON_TYPE, M::write_payload)
}

/// The wall clock in milliseconds since the Unix epoch, as frames carry it.
pub(crate) fn now_ms() -> u64 {
    crate::time::SystemTime::now()
        .duration_since(crate::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(any(feature = "client", feature = "server"))]
/// Why the server refused to resume a session ([session resume](crate::resume)), as the
/// `reason` of its `$ws:session` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No such session: the resume window passed, or the server never knew the token.
    Expired,
    /// The client missed more frames than the server keeps for a session.
    Overflowed,
    /// The client's resume value was malformed, or counted more frames than were sent.
    Invalid,
    /// The new connection belongs to another user than the session did.
    Denied,
    /// The server could not reach the session (its instance did not answer, or the bus is
    /// down).
    Unavailable,
    /// A reason this client does not know, as the server wrote it.
    Other(String),
}

#[cfg(any(feature = "client", feature = "server"))]
impl Refusal {
    #[cfg(any(feature = "client", feature = "redis"))]
    pub(crate) fn parse(reason: String) -> Refusal {
        match reason.as_str() {
            "expired" => Refusal::Expired,
            "overflowed" => Refusal::Overflowed,
            "invalid" => Refusal::Invalid,
            "denied" => Refusal::Denied,
            "unavailable" => Refusal::Unavailable,
            _ => Refusal::Other(reason),
        }
    }

    /// The reason as the server wrote it, e.g. `"expired"`.
    pub fn as_str(&self) -> &str {
        match self {
            Refusal::Expired => "expired",
            Refusal::Overflowed => "overflowed",
            Refusal::Invalid => "invalid",
            Refusal::Denied => "denied",
            Refusal::Unavailable => "unavailable",
            Refusal::Other(reason) => reason,
        }
    }
}

#[cfg(any(feature = "client", feature = "server"))]
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_meta_holds_only_what_is_set() {
        let frame = OutFrame::<()> { ty: "BYE", meta: OutMeta::default(), payload: None };
        assert_eq!(frame.to_json().unwrap(), r#"{"type":"BYE","meta":{}}"#);
        let meta = OutMeta { timestamp: Some(5), correlation_id: Some("c"), timeout_ms: Some(9) };
        let frame = OutFrame { ty: "GET", meta, payload: Some(&1) };
        assert_eq!(
            frame.to_json().unwrap(),
            r#"{"type":"GET","meta":{"timestamp":5,"correlationId":"c","timeoutMs":9},"payload":1}"#
        );
        let meta = OutMeta { timeout_ms: Some(1), ..OutMeta::default() };
        let frame = OutFrame { ty: "T", meta, payload: Some("x") };
        assert_eq!(frame.to_json().unwrap(), r#"{"type":"T","meta":{"timeoutMs":1},"payload":"x"}"#);
    }

    #[test]
    fn reserved_and_error_types() {
        assert!(is_reserved(HEARTBEAT) && is_reserved(ABORT) && is_reserved("$x") && !is_reserved("A_$"));
        #[cfg(feature = "client")]
        assert!(is_error(ERROR) && is_error(RPC_ERROR) && !is_error("ERRORS"));
    }
}
