//! The [`Message`] trait that `#[message("TYPE")]` implements, and [`NoMeta`], the declared
//! meta of a message that declares none.

use crate::validate::{Issues, Path, Validate};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A message type of the wire protocol: a struct with its type string.
///
/// Implemented by `#[message("TYPE")]`; do not implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a wskit message",
    label = "not a `#[message]` type",
    note = "declare it with `#[wskit::message(\"TYPE\")]` on its struct"
)]
pub trait Message: Serialize + DeserializeOwned + Validate + Send + 'static {
    /// The type string that routes the message, e.g. `"JOIN_ROOM"`.
    const TYPE: &'static str;

    /// Whether frames of this type carry a `payload`: true for structs with fields,
    /// false for unit structs.
    const HAS_PAYLOAD: bool;

    /// Extra `meta` keys the message declares (`meta = SomeStruct`), or [`NoMeta`].
    type Meta: DeclaredMeta;

    /// For an RPC request (`#[message("TYPE", response = Reply)]`), the type string of its
    /// response; `None` for other messages.
    const RESPONSE: Option<&'static str> = None;

    /// [`TYPE`](Self::TYPE) as a JSON string, quotes included, for outbound frames to copy
    /// as it is; `#[message]` writes it.
    #[doc(hidden)]
    const JSON_TYPE: Option<&'static str> = None;

    /// Appends the payload's JSON text to `out` and returns `true`, for the structs
    /// `#[message]` writes without serde (fields of strings, booleans, numbers and
    /// `Option`s of these); the others write nothing and return `false`, and serde writes
    /// them.
    #[doc(hidden)]
    fn write_payload(&self, out: &mut String) -> bool {
        let _ = out;
        false
    }

    /// The message read from the payload `json` without serde, for the structs
    /// `#[message]` writes without it, when the payload is in the forms clients send
    /// (strings without escapes, each key once, ..); `None` otherwise, and serde reads it,
    /// giving the same message or the error the payload deserves.
    #[doc(hidden)]
    fn read_payload(json: &str) -> Option<Self> {
        let _ = json;
        None
    }
}

/// An RPC request: a message bound to the message that answers it, with
/// `#[message("GET_USER", response = User)]`. Its `#[rpc]` handler returns
/// `Result<Self::Response, Error>`, and the returned value is the request's one terminal
/// reply.
///
/// Implemented by `#[message]`; do not implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an RPC request: it binds no response type",
    label = "an `#[rpc]` handler takes a request bound to its response",
    note = "bind the response on the request: `#[message(\"TYPE\", response = Reply)]`, \
            or handle it with `#[on]`"
)]
pub trait Rpc: Message {
    /// The message that answers the request.
    type Response: Message;
}

/// The extra meta keys a message declares with `#[message("TYPE", meta = SomeStruct)]`.
///
/// A marker implemented by `#[payload]` for every payload struct, and for [`NoMeta`]; do not
/// implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a message's meta",
    label = "declared meta must be a `#[payload]` struct",
    note = "mark the struct with `#[wskit::payload]`: its fields become the extra `meta` keys of the message"
)]
pub trait DeclaredMeta: DeserializeOwned + Validate + Send + 'static {
    /// The meta of a frame that carries no extra keys, if it can be made without decoding
    /// one; `None` for a struct with fields, which decodes `{}` (and fails on a required
    /// one).
    #[doc(hidden)]
    fn without_keys() -> Option<Self> {
        None
    }
}

impl DeclaredMeta for NoMeta {
    fn without_keys() -> Option<Self> {
        Some(NoMeta {})
    }
}

/// The meta of a message that declares no extra meta keys: any key besides the standard
/// ones is rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoMeta {}

impl Validate for NoMeta {
    fn validate(&self, _: Path<'_>, _: &mut Issues) {}
}
