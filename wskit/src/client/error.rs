//! [`ClientError`]: why a send or a request failed, and [`ServerError`]: an error frame
//! the server answered with.

use super::State;
use crate::validate::Issue;
use crate::{Code, Retry};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// Why a [`Client`](super::Client) operation failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientError {
    /// No reply within the request's timeout: the client sent `$ws:abort`, or the server
    /// had ended the request at the same deadline (`meta.timeoutMs`) with
    /// DEADLINE_EXCEEDED.
    Timeout {
        /// The timeout that ran out.
        after: Duration,
    },
    /// The server answered with `RPC_ERROR` or `ERROR`.
    Server(ServerError),
    /// The socket closed (or `close()` was called) before the reply arrived. ws-kit clients
    /// do not resend requests: retry if the request is safe to repeat.
    ConnectionClosed,
    /// The outgoing message failed its own `#[validate]` rules; nothing was sent.
    Validation(Vec<Issue>),
    /// The client is not open and its offline queue is off (or it is closed for good).
    NotOpen {
        /// The state the client was in.
        state: State,
    },
    /// The offline queue was full: the frame was refused (drop-newest), or a queued request
    /// was evicted to make room (drop-oldest). Also while open, when the frames waiting for
    /// the socket reach their bound because the server reads slower than the client sends.
    QueueFull {
        /// The bound that was reached.
        capacity: usize,
    },
    /// Too many requests are waiting for replies.
    TooManyPending {
        /// The configured limit.
        limit: usize,
    },
    /// The server answered a request with a message of another type than its response.
    UnexpectedReply {
        /// The request's response type.
        expected: &'static str,
        /// The type that came.
        received: String,
    },
    /// A frame from the server, or a message to send, could not be (de)serialized.
    Serde {
        /// The message type.
        message_type: String,
        /// serde's explanation.
        reason: String,
    },
    /// The client's options are unusable (e.g. the URL).
    Config(String),
}

impl ClientError {
    /// The server's error, if the server answered with one.
    pub fn as_server(&self) -> Option<&ServerError> {
        match self {
            ClientError::Server(error) => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Timeout { after } => write!(
                f,
                "no reply within {after:?}; the request was aborted (raise it with `ClientOptions::request_timeout`)"
            ),
            ClientError::Server(error) => write!(f, "the server answered {error}"),
            ClientError::ConnectionClosed => f.write_str(
                "the connection closed before the reply arrived; the request was not resent, retry it if that is safe",
            ),
            ClientError::Validation(issues) => {
                f.write_str("the message was not sent, it fails its own validation rules: ")?;
                for (index, issue) in issues.iter().enumerate() {
                    let separator = if index == 0 { "" } else { "; " };
                    write!(f, "{separator}{}: {}", issue.path, issue.message)?;
                }
                Ok(())
            }
            ClientError::NotOpen { state } => write!(
                f,
                "the client is {state}, not open, and does not queue frames (`ClientOptions::queue`); wait for `State::Open`"
            ),
            ClientError::QueueFull { capacity } => write!(
                f,
                "{capacity} frames already wait to be written; wait for the connection (or the server to read) or raise the capacity with `ClientOptions::queue`"
            ),
            ClientError::TooManyPending { limit } => write!(
                f,
                "{limit} requests already wait for replies; await some first or raise `ClientOptions::max_pending`"
            ),
            ClientError::UnexpectedReply { expected, received } => {
                write!(f, "the server answered with `{received}` where the response type is `{expected}`")
            }
            ClientError::Serde { message_type, reason } => {
                write!(f, "`{message_type}` does not match its message struct: {reason}")
            }
            ClientError::Config(reason) => write!(f, "invalid client options: {reason}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Server(error) => Some(error),
            _ => None,
        }
    }
}

/// An `RPC_ERROR` or `ERROR` frame's payload:
/// `{"code", "message", "details"?, "retryable"?, "retryAfterMs"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    code: Code,
    message: String,
    details: Option<Map<String, Value>>,
    retry: Retry,
}

impl ServerError {
    /// Reads an error frame's payload; a missing or malformed field reads as the most
    /// cautious value (an unknown code becomes `Custom`, a missing message the code's
    /// description).
    pub(crate) fn from_payload(payload: Option<&Value>) -> Self {
        let field = |key: &str| payload.and_then(|payload| payload.get(key));
        let code = Code::from_wire(field("code").and_then(Value::as_str).unwrap_or("UNKNOWN"));
        let message = match field("message").and_then(Value::as_str) {
            Some(message) => message.to_owned(),
            None => code.description().to_owned(),
        };
        let details = field("details").and_then(Value::as_object).cloned();
        // PROTOCOL.md section 3: a number is the delay, `null` means not now, absence leaves
        // it to the client (or, without `retryable` either, to the client's policy).
        let retry = match (field("retryable").and_then(Value::as_bool), field("retryAfterMs")) {
            (Some(false), _) => Retry::No,
            (_, Some(Value::Number(ms))) => Retry::After(milliseconds(ms)),
            (_, Some(Value::Null)) => Retry::NotNow,
            (Some(true), _) => Retry::ClientDefault,
            (None, _) => Retry::Unstated,
        };
        ServerError { code, message, details, retry }
    }

    /// The error code, e.g. [`Code::NotFound`] or a custom one.
    pub fn code(&self) -> &Code {
        &self.code
    }

    /// The server's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `details`, if the server sent any.
    pub fn details(&self) -> Option<&Map<String, Value>> {
        self.details.as_ref()
    }

    /// The retry hint as the server stated it.
    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// `retryable`: `Some(true)` or `Some(false)` when stated, `None` when the server
    /// left it to the client.
    pub fn retryable(&self) -> Option<bool> {
        match self.retry {
            Retry::No => Some(false),
            Retry::After(_) | Retry::NotNow | Retry::ClientDefault => Some(true),
            Retry::Unstated => None,
        }
    }

    /// `retryAfterMs` as a duration, when the server named a delay.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.retry {
            Retry::After(ms) => Some(Duration::from_millis(ms)),
            _ => None,
        }
    }
}

/// A `retryAfterMs` number as whole milliseconds: rounded, negative as zero.
fn milliseconds(ms: &serde_json::Number) -> u64 {
    ms.as_u64().unwrap_or_else(|| ms.as_f64().map_or(0, |ms| ms.max(0.0).round() as u64))
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServerError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(payload: Value) -> ServerError {
        ServerError::from_payload(Some(&payload))
    }

    #[test]
    fn reads_every_field_of_an_error_payload() {
        let error =
            read(json!({"code": "NOT_FOUND", "message": "gone", "details": {"id": "2"}, "retryable": false}));
        assert_eq!(error.code(), &Code::NotFound);
        assert_eq!(error.message(), "gone");
        assert_eq!(error.details().unwrap()["id"], "2");
        assert_eq!((error.retry(), error.retryable()), (Retry::No, Some(false)));
    }

    #[test]
    fn maps_the_retry_hint() {
        let after =
            read(json!({"code": "UNAVAILABLE", "message": "x", "retryable": true, "retryAfterMs": 100}));
        assert_eq!(after.retry_after(), Some(Duration::from_millis(100)));
        let not_now = read(json!({"code": "X", "message": "x", "retryable": true, "retryAfterMs": null}));
        assert_eq!((not_now.retry(), not_now.retryable()), (Retry::NotNow, Some(true)));
        assert_eq!(read(json!({"code": "X", "retryable": true})).retry(), Retry::ClientDefault);
        let null_alone = read(json!({"code": "X", "retryAfterMs": null}));
        assert_eq!((null_alone.retry(), null_alone.retryable()), (Retry::NotNow, Some(true)));
        assert_eq!(read(json!({"code": "X", "retryAfterMs": 99.6})).retry(), Retry::After(100));
        assert_eq!(read(json!({"code": "X", "retryAfterMs": -5})).retry(), Retry::After(0));
        assert_eq!(read(json!({"code": "X", "retryable": false, "retryAfterMs": 100})).retry(), Retry::No);
        let unstated = read(json!({"code": "ROOM_FULL", "message": "full"}));
        assert_eq!((unstated.retry(), unstated.retryable()), (Retry::Unstated, None));
        assert_eq!(unstated.code(), &Code::Custom("ROOM_FULL".into()));
    }

    #[test]
    fn a_malformed_payload_still_reads() {
        let error = ServerError::from_payload(None);
        assert_eq!(error.code().as_str(), "UNKNOWN");
        assert_eq!(error.message(), "Application error");
    }
}
