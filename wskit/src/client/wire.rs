//! The client's side of the wire: the frames it sends (with `meta.timestamp`, and
//! `correlationId` and `timeoutMs` on requests) and the frames it reads.

use super::ClientError;
use crate::envelope::{ABORT, PROGRESS};
use crate::validate::{Issues, Path};
use crate::Message;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The meta of an outgoing frame.
#[derive(Serialize)]
struct OutMeta<'a> {
    timestamp: u64,
    #[serde(rename = "correlationId", skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
    #[serde(rename = "timeoutMs", skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
}

#[derive(Serialize)]
struct OutFrame<'a, P> {
    #[serde(rename = "type")]
    ty: &'a str,
    meta: OutMeta<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a P>,
}

/// What makes a frame a request: its correlation id and the deadline the server applies.
pub(crate) struct RequestMeta<'a> {
    pub(crate) correlation_id: &'a str,
    pub(crate) timeout: Duration,
}

/// Validates `message` by its own rules and serializes it as a frame, as a request if
/// `request` is given.
pub(crate) fn encode<M: Message>(
    message: &M,
    request: Option<RequestMeta<'_>>,
) -> Result<String, ClientError> {
    let mut issues = Issues::default();
    message.validate(Path::root("payload"), &mut issues);
    if !issues.is_empty() {
        return Err(ClientError::Validation(issues.into_vec()));
    }
    let meta = OutMeta {
        timestamp: now_ms(),
        correlation_id: request.as_ref().map(|request| request.correlation_id),
        timeout_ms: request
            .as_ref()
            .map(|request| request.timeout.as_millis().min(u128::from(u64::MAX)) as u64),
    };
    let frame = OutFrame { ty: M::TYPE, meta, payload: M::HAS_PAYLOAD.then_some(message) };
    serde_json::to_string(&frame)
        .map_err(|error| ClientError::Serde { message_type: M::TYPE.to_owned(), reason: error.to_string() })
}

/// `{"type":"$ws:abort","meta":{"timestamp":…,"correlationId":…}}`.
pub(crate) fn abort(correlation_id: &str) -> String {
    let meta = OutMeta { timestamp: now_ms(), correlation_id: Some(correlation_id), timeout_ms: None };
    serde_json::to_string(&OutFrame::<()> { ty: ABORT, meta, payload: None }).expect("abort frames serialize")
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// A frame from the server, read leniently: unknown keys are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct InFrame {
    #[serde(rename = "type")]
    pub(crate) ty: String,
    #[serde(default)]
    meta: Option<InMeta>,
    #[serde(default)]
    pub(crate) payload: Option<Value>,
    /// Where ws-kit's client reads a progress value; wskit's server writes it under both.
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct InMeta {
    #[serde(rename = "correlationId", default)]
    correlation_id: Option<String>,
}

impl InFrame {
    /// Parses a text frame; `None` if it is not a JSON object with a string `type`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    pub(crate) fn correlation_id(&self) -> Option<&str> {
        self.meta.as_ref()?.correlation_id.as_deref()
    }

    pub(crate) fn is_progress(&self) -> bool {
        self.ty == PROGRESS
    }

    pub(crate) fn is_error(&self) -> bool {
        self.ty == "RPC_ERROR" || self.ty == "ERROR"
    }

    /// A progress frame's value: `data`, else `payload`, else `null`.
    pub(crate) fn into_progress(self) -> Value {
        self.data.or(self.payload).unwrap_or(Value::Null)
    }

    /// Decodes the payload as `M` (a unit message reads from its absence).
    pub(crate) fn decode<M: Message>(&self) -> Result<M, ClientError> {
        let payload = self.payload.clone().unwrap_or(Value::Null);
        serde_json::from_value(payload)
            .map_err(|error| ClientError::Serde { message_type: self.ty.clone(), reason: error.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_progress_from_data_or_payload() {
        let both = InFrame::parse(
            r#"{"type":"$ws:rpc-progress","meta":{"correlationId":"c"},"payload":1,"data":2}"#,
        );
        let both = both.unwrap();
        assert!(both.is_progress());
        assert_eq!(both.correlation_id(), Some("c"));
        assert_eq!(both.into_progress(), 2);
        let payload_only = InFrame::parse(r#"{"type":"$ws:rpc-progress","payload":1}"#).unwrap();
        assert_eq!(payload_only.into_progress(), 1);
    }

    #[test]
    fn ignores_unknown_keys_and_rejects_what_is_no_frame() {
        let frame =
            InFrame::parse(r#"{"type":"RPC_ERROR","meta":{"ts":1},"payload":{},"extra":true}"#).unwrap();
        assert!(frame.is_error() && frame.correlation_id().is_none());
        assert!(InFrame::parse("[1]").is_none());
        assert!(InFrame::parse(r#"{"type":3}"#).is_none());
    }

    #[test]
    fn abort_frames_name_the_request() {
        let frame: Value = serde_json::from_str(&abort("c-1")).unwrap();
        assert_eq!(frame["type"], "$ws:abort");
        assert_eq!(frame["meta"]["correlationId"], "c-1");
        assert!(frame["meta"]["timestamp"].as_u64().unwrap() > 0);
        assert!(frame.get("payload").is_none());
    }
}
