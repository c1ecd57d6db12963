//! `#[validate(...)]` field rules: parse them into [`Rule`]s, check what can be checked
//! syntactically, and generate one block of checks per field.
//!
//! Whether a rule fits the field's type is left to the type checker: each rule calls a
//! runtime function bounded by a trait (`HasLength`, `Number`, `Text`, …) whose
//! `#[diagnostic::on_unimplemented]` note explains the fix, and the call is spanned on the
//! rule's name so the error points at it.

use crate::args::skip_to_comma;
use crate::diag::Errors;
use crate::hygiene::local;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, Field, Ident, LitStr, Type};

/// The rules the macro understands, listed in errors about unknown rules.
const KNOWN: &str = "length(min = .., max = ..), range(min = .., max = ..), email, url, uuid, \
                     pattern = \"regex\", non_empty, nested, each(..rules..), custom = path::to::fn";

/// One validation rule as written by the user.
pub(crate) struct Rule {
    /// The rule's name, for error spans.
    pub(crate) name: Ident,
    kind: RuleKind,
}

enum RuleKind {
    Length { min: Option<Expr>, max: Option<Expr> },
    Range { min: Option<Expr>, max: Option<Expr> },
    Email,
    Url,
    Uuid,
    Pattern(LitStr),
    NonEmpty,
    Nested,
    Each(Vec<Rule>),
    Custom(syn::Path),
}

/// The validation rules of one field.
pub(crate) struct FieldRules {
    pub(crate) ident: Ident,
    pub(crate) wire_name: String,
    /// Whether the field is an `Option`, its rules checking the value when present.
    pub(crate) optional: bool,
    pub(crate) rules: Vec<Rule>,
}

impl FieldRules {
    /// Removes the `#[validate]` attributes of `field` and parses them, recording every
    /// malformed rule in `errors`. `wire_name` is the field's key on the wire.
    pub(crate) fn take_from(field: &mut Field, wire_name: String, errors: &mut Errors) -> Self {
        let ident = field.ident.clone().expect("named field");
        let mut rules = Vec::new();
        field.attrs.retain(|attr| {
            if !attr.path().is_ident("validate") {
                return true;
            }
            let parsed = attr.parse_nested_meta(|meta| parse_rule_into(&meta, &mut rules, errors));
            errors.take(parsed);
            false
        });
        let value_ty = option_inner(&field.ty).unwrap_or(&field.ty);
        check_fit(&rules, Some(value_ty), errors);
        let optional = option_inner(&field.ty).is_some();
        FieldRules { ident, wire_name, optional, rules }
    }
}

/// Parses one rule of a list into `rules`; a malformed rule is recorded in `errors` and
/// skipped, so that the rules after it are still checked.
fn parse_rule_into(
    meta: &ParseNestedMeta<'_>,
    rules: &mut Vec<Rule>,
    errors: &mut Errors,
) -> syn::Result<()> {
    match parse_rule(meta, errors) {
        Ok(rule) => rules.push(rule),
        Err(error) => {
            errors.push(error);
            skip_to_comma(meta.input)?;
        }
    }
    Ok(())
}

fn parse_rule(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Rule> {
    let name = meta
        .path
        .get_ident()
        .cloned()
        .ok_or_else(|| meta.error(format!("expected a validation rule name; known rules: {KNOWN}")))?;
    let no_arguments = |kind: RuleKind| {
        if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
            Ok(kind)
        } else {
            Err(meta.error(format!("`{name}` takes no arguments; write `{name}`")))
        }
    };
    let kind = match name.to_string().as_str() {
        "length" => {
            let (min, max) = parse_bounds(meta, &name, errors)?;
            RuleKind::Length { min, max }
        }
        "range" => {
            let (min, max) = parse_bounds(meta, &name, errors)?;
            RuleKind::Range { min, max }
        }
        "email" => no_arguments(RuleKind::Email)?,
        "url" => no_arguments(RuleKind::Url)?,
        "uuid" => no_arguments(RuleKind::Uuid)?,
        "non_empty" => no_arguments(RuleKind::NonEmpty)?,
        "nested" => no_arguments(RuleKind::Nested)?,
        "pattern" => {
            let lit: LitStr = meta
                .value()
                .and_then(|value| value.parse())
                .map_err(|_| meta.error("write the pattern as `pattern = \"regex\"`"))?;
            if let Err(error) = regex::Regex::new(&lit.value()) {
                return Err(syn::Error::new(lit.span(), format!("invalid regular expression: {error}")));
            }
            RuleKind::Pattern(lit)
        }
        "custom" => {
            let path = meta
                .value()
                .and_then(|value| value.parse())
                .map_err(|_| meta.error("write `custom = path::to::function`"))?;
            RuleKind::Custom(path)
        }
        "each" => {
            let mut inner = Vec::new();
            let before = errors.count();
            meta.parse_nested_meta(|meta| parse_rule_into(&meta, &mut inner, errors))?;
            if inner.is_empty() && errors.count() == before {
                return Err(meta.error("`each(..)` needs at least one rule for the items"));
            }
            RuleKind::Each(inner)
        }
        other => {
            return Err(syn::Error::new(
                name.span(),
                format!("unknown validation rule `{other}`; known rules: {KNOWN}"),
            ))
        }
    };
    Ok(Rule { name, kind })
}

/// Parses `(min = .., max = ..)`; at least one bound is required.
fn parse_bounds(
    meta: &ParseNestedMeta<'_>,
    name: &Ident,
    errors: &mut Errors,
) -> syn::Result<(Option<Expr>, Option<Expr>)> {
    let (mut min, mut max) = (None, None);
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!("`{name}` needs bounds: `{name}(min = .., max = ..)`")));
    }
    let mut unknown = false;
    meta.parse_nested_meta(|bound| {
        let slot = if bound.path.is_ident("min") {
            &mut min
        } else if bound.path.is_ident("max") {
            &mut max
        } else {
            unknown = true;
            errors
                .push(bound.error(format!("`{name}` accepts `min` and `max`: `{name}(min = .., max = ..)`")));
            return skip_to_comma(bound.input);
        };
        if slot.is_some() {
            errors.push(
                bound.error(format!("`{name}` has two `{}` bounds; keep one", bound.path.require_ident()?)),
            );
        }
        *slot = Some(bound.value()?.parse::<Expr>()?);
        Ok(())
    })?;
    if unknown {
        // Reported at the unknown bound; a missing `min`/`max` would only repeat it.
        return Ok((min, max));
    }
    if min.is_none() && max.is_none() {
        return Err(meta.error(format!("`{name}` needs `min`, `max` or both")));
    }
    if let (Some(lo), Some(hi)) = (min.as_ref().and_then(int_literal), max.as_ref().and_then(int_literal)) {
        if lo > hi {
            return Err(meta.error(format!("`{name}` has min {lo} above max {hi}")));
        }
    }
    Ok((min, max))
}

fn int_literal(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(int), .. }) => int.base10_parse().ok(),
        Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr, .. }) => int_literal(expr).map(|v| -v),
        _ => None,
    }
}

/// Rejects, at the rule's name, the rules that cannot fit a well-known type.
///
/// Most mismatches are left to the rule functions' trait bounds, whose diagnostics point at
/// the rule. `range` is checked here as well: its bounds are values of the field's type, so
/// on a string or a collection the trait error would come with a second error at every
/// bound. `ty` is the type the rules apply to, when it is known from the syntax.
fn check_fit(rules: &[Rule], ty: Option<&Type>, errors: &mut Errors) {
    for rule in rules {
        match &rule.kind {
            RuleKind::Range { .. } => {
                if let Some(what) = ty.and_then(not_a_number) {
                    errors.at(
                        &rule.name,
                        format!(
                            "`range` bounds numbers, and this is {what}; to bound its length use \
                             `length(min = .., max = ..)`"
                        ),
                    );
                }
            }
            RuleKind::Each(inner) => check_fit(inner, ty.and_then(item_type), errors),
            _ => {}
        }
    }
}

/// What a well-known non-numeric type is, for `range` errors.
fn not_a_number(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Reference(reference) => not_a_number(&reference.elem),
        Type::Slice(_) | Type::Array(_) => Some("a collection"),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            match last.ident.to_string().as_str() {
                "String" | "str" => Some("a string"),
                "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "HashMap" | "BTreeMap" => Some("a collection"),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The item type of a well-known collection type, for the rules inside `each(..)`.
fn item_type(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(reference) => item_type(&reference.elem),
        Type::Slice(slice) => Some(&slice.elem),
        Type::Array(array) => Some(&array.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            if !matches!(last.ident.to_string().as_str(), "Vec" | "VecDeque" | "HashSet" | "BTreeSet") {
                return None;
            }
            match &last.arguments {
                syn::PathArguments::AngleBracketed(args) => match args.args.first()? {
                    syn::GenericArgument::Type(item) => Some(item),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The `T` of an `Option<T>` field type, recognised by its last path segment.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            syn::GenericArgument::Type(inner) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

/// The binding of the value the rules of a field check, spanned on `span` so that a trait
/// bound it fails (a rule that does not fit the field's type) is reported at the rule.
///
/// Unlike the other locals it has call-site hygiene: rustc reports an error about a
/// mixed-site expression at the macro call, whatever its location. The `__` prefix keeps it
/// apart from the user's names.
fn value_at(span: Span) -> Ident {
    Ident::new("__value", span)
}

/// The checks of one field: a block that binds `value` and `at` and runs every rule.
pub(crate) fn generate_field(field: &FieldRules) -> TokenStream {
    if field.rules.is_empty() {
        return TokenStream::new();
    }
    let ident = &field.ident;
    let wire_name = &field.wire_name;
    let (value, at) = (value_at(Span::call_site()), local("at"));
    let checks = field.rules.iter().map(generate_rule);
    let checks = quote! { #(#checks)* };
    if field.optional {
        quote! {
            if let ::core::option::Option::Some(#value) = &self.#ident {
                let #at = #at.field(#wire_name);
                #checks
            }
        }
    } else {
        quote! {
            {
                let #value = &self.#ident;
                let #at = #at.field(#wire_name);
                #checks
            }
        }
    }
}

/// The JSON Schema keywords of a field's rules, applied to the field's schema `schema`
/// (a `&mut schemars::Schema`): `length` becomes `minLength`/`maxLength` (or `minItems`/
/// `maxItems`), `range` `minimum`/`maximum`, `email`/`url`/`uuid` a `format`, `pattern`
/// `pattern`, `each` the keywords of the items. `nested` and `custom` rules have none.
#[cfg(feature = "schema")]
pub(crate) fn schema_keywords(field: &FieldRules, schema: &Ident) -> TokenStream {
    let keywords = field.rules.iter().map(|rule| rule_keywords(rule, schema));
    quote! { #(#keywords)* }
}

#[cfg(feature = "schema")]
fn rule_keywords(rule: &Rule, schema: &Ident) -> TokenStream {
    let keywords = quote!(::wskit::schema::keywords);
    match &rule.kind {
        RuleKind::Length { min, max } => {
            let (min, max) = (count(min), count(max));
            quote!(#keywords::length(#schema, #min, #max);)
        }
        RuleKind::NonEmpty => {
            quote!(#keywords::length(#schema, ::core::option::Option::Some(1), ::core::option::Option::None);)
        }
        RuleKind::Range { min, max } => {
            let (min, max) = (bound(min), bound(max));
            quote!(#keywords::range(#schema, #min, #max);)
        }
        RuleKind::Email => quote!(#keywords::format(#schema, "email");),
        RuleKind::Url => quote!(#keywords::format(#schema, "uri");),
        RuleKind::Uuid => quote!(#keywords::format(#schema, "uuid");),
        RuleKind::Pattern(pattern) => quote!(#keywords::pattern(#schema, #pattern);),
        RuleKind::Nested | RuleKind::Custom(_) => TokenStream::new(),
        RuleKind::Each(inner) => {
            let items = local("items");
            let inner = inner.iter().map(|rule| rule_keywords(rule, &items));
            quote!(#keywords::each(#schema, |#items| { #(#inner)* });)
        }
    }
}

/// A length bound as a count, for the schema.
#[cfg(feature = "schema")]
fn count(expr: &Option<Expr>) -> TokenStream {
    match expr {
        Some(expr) => quote!(::core::option::Option::Some((#expr) as u64)),
        None => quote!(::core::option::Option::None),
    }
}

fn bound(expr: &Option<Expr>) -> TokenStream {
    match expr {
        Some(expr) => quote!(::core::option::Option::Some(#expr)),
        None => quote!(::core::option::Option::None),
    }
}

fn generate_rule(rule: &Rule) -> TokenStream {
    let span = rule.name.span();
    let rules = quote_spanned!(span=> ::wskit::__private::rules);
    let [at, issues, index] = ["at", "issues", "index"].map(local);
    let value = value_at(span);
    match &rule.kind {
        RuleKind::Length { min, max } => {
            let (min, max) = (bound(min), bound(max));
            quote_spanned!(span=> #rules::length(#value, #min, #max, #at, #issues);)
        }
        RuleKind::Range { min, max } => {
            let (min, max) = (bound(min), bound(max));
            quote_spanned!(span=> #rules::range(#value, #min, #max, #at, #issues);)
        }
        RuleKind::Email => quote_spanned!(span=> #rules::email(#value, #at, #issues);),
        RuleKind::Url => quote_spanned!(span=> #rules::url(#value, #at, #issues);),
        RuleKind::Uuid => quote_spanned!(span=> #rules::uuid(#value, #at, #issues);),
        RuleKind::NonEmpty => quote_spanned!(span=> #rules::non_empty(#value, #at, #issues);),
        RuleKind::Nested => quote_spanned!(span=> #rules::nested(#value, #at, #issues);),
        RuleKind::Pattern(pattern) => quote_spanned! {span=>
            {
                static PATTERN: ::std::sync::LazyLock<::wskit::__private::Regex> =
                    ::std::sync::LazyLock::new(|| {
                        ::wskit::__private::Regex::new(#pattern)
                            .expect("the pattern was compiled by #[message] at build time")
                    });
                #rules::pattern(#value, &PATTERN, #at, #issues);
            }
        },
        RuleKind::Custom(path) => {
            // A direct call, so that the function may return an error borrowed from the
            // value; spanned on the path, so that a wrong signature (an outcome that is not
            // `rules::CustomOutcome`) is reported there.
            let value = value_at(path.span());
            let outcome = quote_spanned!(path.span()=> #path(#value));
            quote_spanned!(span=> #rules::custom(#outcome, #at, #issues);)
        }
        RuleKind::Each(inner) => {
            let inner = inner.iter().map(generate_rule);
            quote_spanned! {span=>
                for (#index, #value) in #rules::items(#value).enumerate() {
                    let #at = #at.index(#index);
                    #(#inner)*
                }
            }
        }
    }
}
