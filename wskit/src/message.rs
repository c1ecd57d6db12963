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
pub trait DeclaredMeta: DeserializeOwned + Validate + Send + 'static {}

impl DeclaredMeta for NoMeta {}

/// The meta of a message that declares no extra meta keys: any key besides the standard
/// ones is rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoMeta {}

impl Validate for NoMeta {
    fn validate(&self, _: Path<'_>, _: &mut Issues) {}
}
