//! The client's side of the wire: the frames it sends (with `meta.timestamp`, and
//! `correlationId` and `timeoutMs` on requests) and the frames it reads.

use super::ClientError;
use crate::protocol::{self, now_ms, OutFrame, OutMeta, ABORT, PROGRESS};
use crate::validate::{Issues, Path};
use crate::Message;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use tokio::time::Instant;

/// Validates `message` by its own rules and serializes it as a one-way frame.
pub(crate) fn encode<M: Message>(message: &M) -> Result<String, ClientError> {
    validate(message)?;
    let meta = OutMeta { timestamp: Some(now_ms()), ..OutMeta::default() };
    protocol::message_to_json(message, meta).map_err(serde_error::<M>)
}

/// A request waiting to be written. It is rendered when it goes out, so that
/// `meta.timestamp` is the time of writing and `meta.timeoutMs` the time it has left.
#[derive(Debug)]
pub(crate) struct Request {
    ty: &'static str,
    payload: Option<Value>,
    pub(crate) correlation_id: Arc<str>,
    pub(crate) deadline: Instant,
}

impl Request {
    /// Validates `message` by its own rules and keeps it as request `correlation_id`,
    /// due by `deadline`.
    pub(crate) fn new<M: Message>(
        message: &M,
        correlation_id: Arc<str>,
        deadline: Instant,
    ) -> Result<Request, ClientError> {
        validate(message)?;
        let payload =
            M::HAS_PAYLOAD.then(|| serde_json::to_value(message)).transpose().map_err(serde_error::<M>)?;
        Ok(Request { ty: M::TYPE, payload, correlation_id, deadline })
    }

    /// The frame as written at `now`; `None` once the deadline has passed.
    pub(crate) fn render(&self, now: Instant) -> Option<String> {
        let left = self.deadline.checked_duration_since(now).filter(|left| !left.is_zero())?;
        let meta = OutMeta {
            timestamp: Some(now_ms()),
            correlation_id: Some(&self.correlation_id),
            // Rounded up: the server's deadline must not fall before the client's.
            timeout_ms: Some(left.as_micros().div_ceil(1000).min(u128::from(u64::MAX)) as u64),
        };
        let frame = OutFrame { ty: self.ty, meta, payload: self.payload.as_ref() };
        Some(frame.to_json().expect("a JSON value serializes"))
    }
}

#[cfg(test)]
impl Request {
    /// A payload-less request of type `TEST`, for the tests of the modules that hold requests.
    pub(crate) fn stub(correlation_id: &str, deadline: Instant) -> Request {
        Request { ty: "TEST", payload: None, correlation_id: correlation_id.into(), deadline }
    }
}

fn validate<M: Message>(message: &M) -> Result<(), ClientError> {
    let mut issues = Issues::default();
    message.validate(Path::root("payload"), &mut issues);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Validation(issues.into_vec()))
    }
}

fn serde_error<M: Message>(error: serde_json::Error) -> ClientError {
    ClientError::Serde { message_type: M::TYPE.to_owned(), reason: error.to_string() }
}

/// `{"type":"$ws:abort","meta":{"timestamp":…,"correlationId":…}}`.
pub(crate) fn abort(correlation_id: &str) -> String {
    let meta = OutMeta { timestamp: Some(now_ms()), correlation_id: Some(correlation_id), timeout_ms: None };
    OutFrame::<()> { ty: ABORT, meta, payload: None }.to_json().expect("abort frames serialize")
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
        protocol::is_error(&self.ty)
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
    use std::time::Duration;

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
    fn a_request_carries_the_time_it_has_left_when_written() {
        let start = Instant::now();
        let request = Request {
            ty: "GET",
            payload: Some(serde_json::json!({"id": 1})),
            correlation_id: "c-1".into(),
            deadline: start + Duration::from_millis(1000),
        };
        let frame: Value = serde_json::from_str(&request.render(start).unwrap()).unwrap();
        assert_eq!((frame["type"].clone(), frame["payload"]["id"].clone()), ("GET".into(), 1.into()));
        assert_eq!(frame["meta"]["correlationId"], "c-1");
        assert_eq!(frame["meta"]["timeoutMs"], 1000);
        let later = request.render(start + Duration::from_micros(600_500)).unwrap();
        let later: Value = serde_json::from_str(&later).unwrap();
        assert_eq!(later["meta"]["timeoutMs"], 400, "queued time counts against the deadline, rounded up");
        assert!(request.render(start + Duration::from_millis(1000)).is_none(), "past its deadline");
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
