//! Names of the generated code's local variables.
//!
//! Mixed-site hygiene keeps a local apart from the user's tokens: a rule's bound or a
//! `custom` path naming the user's own `at` does not resolve to the generated local. It
//! does not protect a `let` from a unit struct or a constant of the same name in scope (the
//! binding would become a pattern matching it), so locals also carry a `__` prefix.

use proc_macro2::{Ident, Span};

/// The local variable `__{name}` of the generated code.
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(&format!("__{name}"), Span::mixed_site())
}
