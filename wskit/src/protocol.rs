//! The wire vocabulary both ends share: the reserved frame types, the outbound frame
//! shape, and the clock frames are stamped with. The server ([`envelope`](crate::envelope))
//! and the Rust client (`client::wire`) encode through these, so the two cannot drift.

use serde::Serialize;

/// The client's application heartbeat.
pub(crate) const HEARTBEAT: &str = "__heartbeat";

/// The server's answer to [`HEARTBEAT`].
pub(crate) const HEARTBEAT_ACK: &str = "__heartbeat_ack";

/// The server's progress frames of an RPC.
pub(crate) const PROGRESS: &str = "$ws:rpc-progress";

/// The client's request to cancel an in-flight RPC.
pub(crate) const ABORT: &str = "$ws:abort";

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
#[derive(Serialize, Default)]
pub(crate) struct OutMeta<'a> {
    /// The sender's clock in milliseconds (the client stamps every frame).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timestamp: Option<u64>,
    #[serde(rename = "correlationId", skip_serializing_if = "Option::is_none")]
    pub(crate) correlation_id: Option<&'a str>,
    /// The deadline a client asks for, in milliseconds.
    #[serde(rename = "timeoutMs", skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
}

/// An outbound frame: `{"type", "meta", "payload"?}`.
#[derive(Serialize)]
pub(crate) struct OutFrame<'a, P: ?Sized> {
    #[serde(rename = "type")]
    pub(crate) ty: &'a str,
    pub(crate) meta: OutMeta<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) payload: Option<&'a P>,
}

/// The wall clock in milliseconds since the Unix epoch, as frames carry it.
pub(crate) fn now_ms() -> u64 {
    crate::time::SystemTime::now()
        .duration_since(crate::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_meta_holds_only_what_is_set() {
        let frame = OutFrame::<()> { ty: "BYE", meta: OutMeta::default(), payload: None };
        assert_eq!(serde_json::to_string(&frame).unwrap(), r#"{"type":"BYE","meta":{}}"#);
        let meta = OutMeta { timestamp: Some(5), correlation_id: Some("c"), timeout_ms: Some(9) };
        let frame = OutFrame { ty: "GET", meta, payload: Some(&1) };
        assert_eq!(
            serde_json::to_string(&frame).unwrap(),
            r#"{"type":"GET","meta":{"timestamp":5,"correlationId":"c","timeoutMs":9},"payload":1}"#
        );
    }

    #[test]
    fn reserved_and_error_types() {
        assert!(is_reserved(HEARTBEAT) && is_reserved(ABORT) && is_reserved("$x") && !is_reserved("A_$"));
        #[cfg(feature = "client")]
        assert!(is_error(ERROR) && is_error(RPC_ERROR) && !is_error("ERRORS"));
    }
}
