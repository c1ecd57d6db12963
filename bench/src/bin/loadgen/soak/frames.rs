//! The frames of `soak`: requests that carry an id, and the server's messages taken apart
//! to find the request or publish each one answers.
//!
//! Matching is by exact bytes around the id, so any change in a reply (a missing `meta`, an
//! extra key) shows up as a wrong message.

/// Prefix of the ids of ECHO requests.
const ECHO_ID: &str = "e";

/// Prefix of the ids (correlation id and text) of ECHO_RPC requests.
const RPC_ID: &str = "r";

/// Prefix of the texts of publishes.
const PUBLISH_ID: &str = "p";

/// `ECHO` with text `e<seq>`.
pub(super) fn echo(seq: u64) -> String {
    format!(r#"{{"type":"ECHO","payload":{{"text":"{ECHO_ID}{seq}"}}}}"#)
}

/// `ECHO_RPC` with correlation id and text `r<seq>`.
pub(super) fn rpc(seq: u64) -> String {
    format!(
        r#"{{"type":"ECHO_RPC","meta":{{"correlationId":"{RPC_ID}{seq}"}},"payload":{{"text":"{RPC_ID}{seq}"}}}}"#
    )
}

/// The text of publish `id`.
pub(super) fn publish_text(id: u64) -> String {
    format!("{PUBLISH_ID}{id}")
}

/// What a message of the server is, as far as `soak` is concerned.
#[derive(Debug, PartialEq)]
pub(super) enum Reply {
    /// The answer to the ECHO of this sequence number.
    Echo(u64),
    /// The answer to the ECHO_RPC of this sequence number.
    Rpc(u64),
    /// The delivery of this publish.
    News(u64),
    /// An `RPC_ERROR` answering the ECHO_RPC of this sequence number.
    RpcError(u64),
    /// An `ERROR` or an `RPC_ERROR` that answers no request of ours.
    Error,
    /// Anything else.
    Wrong,
}

/// Takes apart a message of the server.
pub(super) fn parse(message: &[u8]) -> Reply {
    let Ok(message) = std::str::from_utf8(message) else { return Reply::Wrong };
    let between = |prefix: &str, suffix: &str| message.strip_prefix(prefix)?.strip_suffix(suffix);
    if let Some(text) = between(r#"{"type":"ECHOED","meta":{},"payload":{"text":""#, r#""}}"#) {
        return id(text, ECHO_ID).map_or(Reply::Wrong, Reply::Echo);
    }
    if let Some(rest) = between(r#"{"type":"ECHOED","meta":{"correlationId":""#, r#""}}"#) {
        return match rest.split_once(r#""},"payload":{"text":""#) {
            Some((correlation, text)) if correlation == text => {
                id(text, RPC_ID).map_or(Reply::Wrong, Reply::Rpc)
            }
            _ => Reply::Wrong,
        };
    }
    if let Some(text) = between(r#"{"type":"NEWS","payload":{"text":""#, r#""}}"#) {
        return id(text, PUBLISH_ID).map_or(Reply::Wrong, Reply::News);
    }
    if let Some(rest) = message.strip_prefix(r#"{"type":"RPC_ERROR","meta":{"correlationId":""#) {
        let correlation = rest.split('"').next().unwrap_or_default();
        return id(correlation, RPC_ID).map_or(Reply::Error, Reply::RpcError);
    }
    if message.starts_with(r#"{"type":"ERROR""#) || message.starts_with(r#"{"type":"RPC_ERROR""#) {
        return Reply::Error;
    }
    Reply::Wrong
}

/// The number after `prefix` in `text`.
fn id(text: &str, prefix: &str) -> Option<u64> {
    text.strip_prefix(prefix)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::news;

    #[test]
    fn replies_of_the_server_are_matched_to_their_requests() {
        let echoed = r#"{"type":"ECHOED","meta":{},"payload":{"text":"e7"}}"#;
        assert_eq!(parse(echoed.as_bytes()), Reply::Echo(7));
        let rpc = r#"{"type":"ECHOED","meta":{"correlationId":"r8"},"payload":{"text":"r8"}}"#;
        assert_eq!(parse(rpc.as_bytes()), Reply::Rpc(8));
        assert_eq!(parse(news(&publish_text(9)).as_bytes()), Reply::News(9));
        let rpc_error = r#"{"type":"RPC_ERROR","meta":{"correlationId":"r3"},"payload":{"code":"INTERNAL"}}"#;
        assert_eq!(parse(rpc_error.as_bytes()), Reply::RpcError(3));
        let error = r#"{"type":"ERROR","meta":{},"payload":{"code":"INVALID_ARGUMENT"}}"#;
        assert_eq!(parse(error.as_bytes()), Reply::Error);
    }

    #[test]
    fn anything_else_is_wrong() {
        for wrong in [
            r#"{"type":"ECHOED","meta":{"correlationId":"r8"},"payload":{"text":"r9"}}"#,
            r#"{"type":"ECHOED","payload":{"text":"e7"}}"#,
            r#"{"type":"ECHOED","meta":{},"payload":{"text":"r7"}}"#,
            r#"{"type":"NEWS","payload":{"text":"hello"}}"#,
            r#"{"type":"SUBSCRIBED","meta":{},"payload":{"topic":"soak-1"}}"#,
        ] {
            assert_eq!(parse(wrong.as_bytes()), Reply::Wrong, "{wrong}");
        }
    }
}
