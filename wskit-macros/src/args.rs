//! The `key = value` arguments of `#[message(..)]`, `#[payload(..)]` and `#[router(..)]`.

use crate::diag::Errors;
use proc_macro2::TokenTree;
use syn::parse::ParseStream;
use syn::{Ident, Token};

/// An argument an attribute accepts: its key and how it is written, quoted in errors.
pub(crate) struct Known {
    pub(crate) key: &'static str,
    pub(crate) usage: &'static str,
}

/// Parses `key = value, ..` up to the end of `input`, calling `value` after each known key's
/// `=`. An unknown, repeated or value-less key, or a value `value` rejects, is recorded in
/// `errors` and skipped, so that the other arguments are still checked.
pub(crate) fn parse_key_values(
    input: ParseStream<'_>,
    attribute: &str,
    known: &[Known],
    errors: &mut Errors,
    mut value: impl FnMut(&Ident, ParseStream<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    let mut seen: Vec<Ident> = Vec::new();
    while !input.is_empty() {
        let key: Ident = input.parse().map_err(|error| {
            syn::Error::new(error.span(), format!("expected an argument of {attribute}: {}", usages(known)))
        })?;
        let usage = known.iter().find(|k| key == k.key).map(|k| k.usage);
        if let Some(usage) = usage {
            if seen.contains(&key) {
                errors.at(&key, format!("`{key}` is given twice; keep one"));
                skip_to_comma(input)?;
            } else if !input.peek(Token![=]) {
                errors.at(&key, format!("`{key}` takes a value: write `{usage}`"));
                skip_to_comma(input)?;
            } else {
                input.parse::<Token![=]>()?;
                if let Err(error) = value(&key, input) {
                    errors.push(error);
                    skip_to_comma(input)?;
                }
            }
            seen.push(key);
        } else {
            errors.at(&key, format!("unknown {attribute} argument `{key}`; expected {}", usages(known)));
            skip_to_comma(input)?;
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(())
}

fn usages(known: &[Known]) -> String {
    let usages: Vec<_> = known.iter().map(|k| format!("`{}`", k.usage)).collect();
    match usages.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => usages.concat(),
    }
}

/// Skips the rest of a malformed item of a comma-separated list, up to its comma.
pub(crate) fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}
