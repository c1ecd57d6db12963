//! Procedural macros of [wskit](https://docs.rs/wskit). Use them through the `wskit` crate,
//! which re-exports them and provides the runtime the generated code calls into.
//!
//! Every macro runs the same stages: parse the attribute and the item into a model
//! (`message::MessageModel`, `router::RouterModel`), check the model and collect every
//! problem with the span of the user's token, then generate code that reaches the runtime
//! only through fully qualified `::wskit::…` paths.

mod args;
mod case;
mod diag;
mod hygiene;
mod message;
mod router;
mod validate;

use proc_macro::TokenStream;

/// Declares a message: a struct with named fields (a message with a payload) or a unit
/// struct (a message without one), and its wire type string.
///
/// See `wskit::message` for the full documentation.
#[proc_macro_attribute]
pub fn message(args: TokenStream, item: TokenStream) -> TokenStream {
    message::expand(message::Kind::Message, args.into(), item.into()).into()
}

/// Declares a struct used inside messages (a nested payload or declared meta): the wire
/// conventions and validation of `#[message]`, without a type string.
///
/// See `wskit::payload` for the full documentation.
#[proc_macro_attribute]
pub fn payload(args: TokenStream, item: TokenStream) -> TokenStream {
    message::expand(message::Kind::Payload, args.into(), item.into()).into()
}

/// Turns an `impl` block into a `wskit::Router`: `#[on]` handlers become the arms of a static
/// dispatch table, `#[on_open]`, `#[on_close]` and `#[on_error]` the connection hooks.
///
/// See `wskit::router` for the full documentation.
#[proc_macro_attribute]
pub fn router(args: TokenStream, item: TokenStream) -> TokenStream {
    router::expand(args.into(), item.into()).into()
}
