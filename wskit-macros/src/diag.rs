//! Collects errors so that one expansion reports every problem at once, each at its token.

use proc_macro2::TokenStream;
use std::fmt::Display;

/// Errors found while checking one macro input.
#[derive(Default)]
pub(crate) struct Errors {
    first: Option<syn::Error>,
    count: usize,
}

impl Errors {
    /// Records an error spanned on `tokens`.
    pub(crate) fn at(&mut self, tokens: impl quote::ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an already built error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.count += 1;
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    /// How many errors were recorded so far.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Records the error of a fallible step and returns its value, if any.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// The collected errors combined into one, or `Ok` when there were none.
    pub(crate) fn into_result(self) -> syn::Result<()> {
        self.first.map_or(Ok(()), Err)
    }

    /// The collected errors as `compile_error!` invocations, or `Ok` when there were none.
    pub(crate) fn finish(self) -> Result<(), TokenStream> {
        self.into_result().map_err(|error| error.to_compile_error())
    }
}
