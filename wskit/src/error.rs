//! [`Error`]: what a handler returns when it fails, and what the client receives as an
//! `ERROR` / `RPC_ERROR` frame.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// An error code: one of the standard, gRPC-aligned codes of the protocol or a custom string.
///
/// Custom codes pass through to the client unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// The client is not authenticated.
    Unauthenticated,
    /// The client is authenticated but not allowed to do this.
    PermissionDenied,
    /// The message is malformed or failed validation.
    InvalidArgument,
    /// The system is not in a state that allows this operation.
    FailedPrecondition,
    /// A requested entity does not exist.
    NotFound,
    /// An entity the client tried to create already exists.
    AlreadyExists,
    /// The message type is unknown or not implemented.
    Unimplemented,
    /// The operation was cancelled.
    Cancelled,
    /// The operation did not finish before its deadline.
    DeadlineExceeded,
    /// A limit was reached (size, rate, quota).
    ResourceExhausted,
    /// The service is temporarily unavailable.
    Unavailable,
    /// The operation was aborted, typically by a concurrency conflict.
    Aborted,
    /// An internal error of the server.
    Internal,
    /// An application-defined code.
    Custom(Cow<'static, str>),
}

impl Code {
    /// The code as it appears on the wire, e.g. `"INVALID_ARGUMENT"`.
    pub fn as_str(&self) -> &str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Cancelled => "CANCELLED",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Unavailable => "UNAVAILABLE",
            Code::Aborted => "ABORTED",
            Code::Internal => "INTERNAL",
            Code::Custom(code) => code,
        }
    }

    /// The code a wire string names: a standard code, or else a custom one.
    #[cfg(feature = "client")]
    pub(crate) fn from_wire(code: &str) -> Code {
        const STANDARD: [Code; 13] = [
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::NotFound,
            Code::AlreadyExists,
            Code::Unimplemented,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Unavailable,
            Code::Aborted,
            Code::Internal,
        ];
        STANDARD
            .into_iter()
            .find(|standard| standard.as_str() == code)
            .unwrap_or_else(|| Code::Custom(Cow::Owned(code.to_owned())))
    }

    /// The message a client sees when the error has none of its own.
    pub fn description(&self) -> &'static str {
        match self {
            Code::Unauthenticated => "Authentication required",
            Code::PermissionDenied => "Permission denied",
            Code::InvalidArgument => "Invalid argument",
            Code::FailedPrecondition => "Failed precondition",
            Code::NotFound => "Not found",
            Code::AlreadyExists => "Already exists",
            Code::Unimplemented => "Not implemented",
            Code::Cancelled => "Cancelled",
            Code::DeadlineExceeded => "Deadline exceeded",
            Code::ResourceExhausted => "Resource exhausted",
            Code::Unavailable => "Service unavailable",
            Code::Aborted => "Aborted",
            Code::Internal => "Internal server error",
            Code::Custom(_) => "Application error",
        }
    }

    /// Whether a client may retry, and after how many milliseconds, when the error sets
    /// no hint of its own (PROTOCOL.md section 3).
    pub fn default_retry(&self) -> Retry {
        match self {
            Code::DeadlineExceeded | Code::Aborted => Retry::After(50),
            Code::ResourceExhausted | Code::Unavailable => Retry::After(100),
            Code::Internal => Retry::After(200),
            // An application's own code: only the application knows.
            Code::Custom(_) => Retry::Unstated,
            _ => Retry::No,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The retry hint of an error: `retryable` and `retryAfterMs` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Not retryable: `"retryable": false`, no `retryAfterMs`.
    No,
    /// Retryable after this many milliseconds.
    After(u64),
    /// Retryable, but not under the current policy: `"retryAfterMs": null`.
    NotNow,
    /// Retryable, after a delay the client chooses: no `retryAfterMs`.
    ClientDefault,
    /// No hint at all: neither `retryable` nor `retryAfterMs`, the client applies its own
    /// policy. The default of custom codes.
    Unstated,
}

/// An error a handler returns, sent to the client as an error frame.
///
/// Build one from its code, then add details or a retry hint:
///
/// ```
/// use wskit::Error;
///
/// let error = Error::not_found("no such room")
///     .with_detail("roomId", "lobby");
/// assert_eq!(error.code().as_str(), "NOT_FOUND");
/// assert_eq!(error.message(), "no such room");
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    code: Code,
    message: Cow<'static, str>,
    details: Option<Map<String, Value>>,
    retry: Option<Retry>,
    /// Errors of the client's input (bad frames, unknown types, failed validation) count
    /// towards the consecutive protocol error limit; a handler's own errors do not.
    protocol: bool,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<Cow<'static, str>>) -> Self {
                Self::new(Code::$code, message)
            }
        )*
    };
}

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Error { code, message: message.into(), details: None, retry: None, protocol: false }
    }

    /// An error with an application-defined code, e.g. `Error::custom("ROOM_FULL", "…")`.
    pub fn custom(code: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::Custom(code.into()), message)
    }

    constructors! {
        /// `UNAUTHENTICATED`: the client must authenticate first.
        unauthenticated => Unauthenticated,
        /// `PERMISSION_DENIED`: the client may not do this.
        permission_denied => PermissionDenied,
        /// `INVALID_ARGUMENT`: the input is malformed.
        invalid_argument => InvalidArgument,
        /// `FAILED_PRECONDITION`: the state does not allow this now.
        failed_precondition => FailedPrecondition,
        /// `NOT_FOUND`: the entity does not exist.
        not_found => NotFound,
        /// `ALREADY_EXISTS`: the entity exists already.
        already_exists => AlreadyExists,
        /// `UNIMPLEMENTED`: not supported by this server.
        unimplemented => Unimplemented,
        /// `CANCELLED`: the operation was cancelled.
        cancelled => Cancelled,
        /// `DEADLINE_EXCEEDED`: the operation ran out of time.
        deadline_exceeded => DeadlineExceeded,
        /// `RESOURCE_EXHAUSTED`: a limit was reached.
        resource_exhausted => ResourceExhausted,
        /// `UNAVAILABLE`: try again later.
        unavailable => Unavailable,
        /// `ABORTED`: aborted by a conflict; retry.
        aborted => Aborted,
    }

    /// `INTERNAL` with the generic message. Log the cause yourself: internals never reach
    /// the client unless you put them in the message or details.
    pub fn internal() -> Self {
        Self::new(Code::Internal, Code::Internal.description())
    }

    /// Adds `key: value` to the error's `details`.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.get_or_insert_with(Map::new).insert(key.into(), value.into());
        self
    }

    /// Overrides the retry hint the code implies.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The error code.
    pub fn code(&self) -> &Code {
        &self.code
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        if self.message.is_empty() {
            self.code.description()
        } else {
            &self.message
        }
    }

    /// The details, if any.
    pub fn details(&self) -> Option<&Map<String, Value>> {
        self.details.as_ref().filter(|details| !details.is_empty())
    }

    /// The retry hint: the one set with [`with_retry`](Self::with_retry), or the code's default.
    pub fn retry(&self) -> Retry {
        self.retry.unwrap_or_else(|| self.code.default_retry())
    }

    /// Whether this error was caused by the client's input rather than by a handler.
    pub fn is_protocol_error(&self) -> bool {
        self.protocol
    }

    pub(crate) fn protocol(mut self) -> Self {
        self.protocol = true;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message())
    }
}

impl std::error::Error for Error {}

/// The error frame's payload: `{"code","message","details"?,"retryable","retryAfterMs"?}`.
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("code", self.code.as_str())?;
        map.serialize_entry("message", self.message())?;
        if let Some(details) = self.details() {
            map.serialize_entry("details", details)?;
        }
        match self.retry() {
            Retry::No => map.serialize_entry("retryable", &false)?,
            Retry::After(ms) => {
                map.serialize_entry("retryable", &true)?;
                map.serialize_entry("retryAfterMs", &ms)?;
            }
            Retry::NotNow => {
                map.serialize_entry("retryable", &true)?;
                map.serialize_entry("retryAfterMs", &())?;
            }
            Retry::ClientDefault => map.serialize_entry("retryable", &true)?,
            Retry::Unstated => {}
        }
        map.end()
    }
}

/// The message of a caught panic, for the log; `(no message)` for a payload that is not
/// a string.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(error: &Error) -> Value {
        serde_json::to_value(error).unwrap()
    }

    #[test]
    fn standard_codes_carry_their_retry_defaults() {
        assert_eq!(
            wire(&Error::resource_exhausted("slow down")),
            serde_json::json!({"code": "RESOURCE_EXHAUSTED", "message": "slow down", "retryable": true, "retryAfterMs": 100})
        );
        assert_eq!(
            wire(&Error::not_found("")),
            serde_json::json!({"code": "NOT_FOUND", "message": "Not found", "retryable": false})
        );
        assert_eq!(wire(&Error::internal())["retryAfterMs"], 200);
        assert_eq!(wire(&Error::aborted("x"))["retryAfterMs"], 50);
        assert_eq!(wire(&Error::deadline_exceeded("x"))["retryAfterMs"], 50);
        assert_eq!(wire(&Error::unavailable("x"))["retryAfterMs"], 100);
    }

    #[cfg(feature = "client")]
    #[test]
    fn wire_strings_name_standard_or_custom_codes() {
        assert_eq!(Code::from_wire("NOT_FOUND"), Code::NotFound);
        assert_eq!(Code::from_wire("INTERNAL"), Code::Internal);
        assert_eq!(Code::from_wire("ROOM_FULL"), Code::Custom("ROOM_FULL".into()));
    }

    #[test]
    fn custom_codes_state_no_retry_hint_unless_given_one() {
        assert_eq!(
            wire(&Error::custom("ROOM_FULL", "the room is full")),
            serde_json::json!({"code": "ROOM_FULL", "message": "the room is full"})
        );
    }

    #[test]
    fn hints_and_details_are_explicit() {
        let error = Error::custom("ROOM_FULL", "the room is full")
            .with_detail("capacity", 10)
            .with_retry(Retry::NotNow);
        assert_eq!(
            wire(&error),
            serde_json::json!({"code": "ROOM_FULL", "message": "the room is full", "details": {"capacity": 10}, "retryable": true, "retryAfterMs": null})
        );
    }
}
