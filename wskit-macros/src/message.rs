//! `#[message("TYPE")]` and `#[payload]`: parse the attribute and the struct into a
//! [`MessageModel`], check it, and generate the serde derives, the `Validate` impl and (for
//! messages) the `Message` impl.

use crate::args::{parse_key_values, skip_to_comma, Known};
use crate::case::RenameRule;
use crate::diag::Errors;
use crate::hygiene::local;
use crate::validate::{self, FieldRules};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Fields, Ident, ItemStruct, LitStr, Token, Type};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Message,
    Payload,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Message => "#[message]",
            Kind::Payload => "#[payload]",
        }
    }
}

/// How a type is validated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValidateMode {
    /// From the `#[validate(...)]` rules on its fields.
    Rules,
    /// By a hand-written `impl wskit::Validate`.
    Manual,
}

/// The arguments of the attribute.
struct Args {
    type_name: Option<LitStr>,
    rename_all: RenameRule,
    meta: Option<Type>,
    /// `response = T`: the request is an RPC answered with `T`.
    response: Option<Type>,
    validate: ValidateMode,
}

/// A parsed and checked `#[message]` or `#[payload]` item.
pub(crate) struct MessageModel {
    kind: Kind,
    args: Args,
    /// The struct, without its `#[validate]` attributes.
    item: ItemStruct,
    /// One per named field, in order.
    fields: Vec<FieldModel>,
}

/// A named field of the struct.
struct FieldModel {
    rules: FieldRules,
    serde: SerdeField,
}

/// What a field's own `#[serde(..)]` attributes set, as far as the macro is concerned.
#[derive(Default)]
struct SerdeField {
    /// `rename = ".."`: the field's wire name.
    rename: Option<String>,
    /// `default` is set.
    default: bool,
    /// `skip_serializing_if = ".."` is set.
    skip_serializing_if: bool,
    /// A key besides `rename`, `default` and `alias` is set (`skip`, `flatten`, `with`, ..):
    /// it may change how the field is written, so serde writes the payload.
    changes_output: bool,
}

impl SerdeField {
    /// Reads the `#[serde]` attributes of `field`, rejecting the renames that would give
    /// the field different names in each direction. Other malformed attributes are left to
    /// serde, which reports them.
    fn parse(field: &syn::Field, errors: &mut Errors) -> Self {
        let mut serde = SerdeField::default();
        for attr in field.attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
            let _ = attr.parse_nested_meta(|meta| {
                let key = meta.path.get_ident().map(Ident::to_string).unwrap_or_default();
                match key.as_str() {
                    "rename" if meta.input.peek(Token![=]) => {
                        serde.rename = Some(meta.value()?.parse::<LitStr>()?.value());
                        return Ok(());
                    }
                    "rename" => errors.at(
                        &meta.path,
                        "a field has one wire name in both directions: write \
                         `#[serde(rename = \"..\")]` (validation issues and replies use that name)",
                    ),
                    "default" => serde.default = true,
                    "alias" => {}
                    "skip_serializing_if" => serde.skip_serializing_if = true,
                    _ => serde.changes_output = true,
                }
                skip_to_comma(meta.input)
            });
        }
        serde
    }
}

impl FieldModel {
    /// For an `Option` field, the serde attribute that omits `None` on the wire (ws-kit's
    /// optional schemas reject `null`) and reads a missing key as `None`, minus the keys the
    /// user already set. An inbound `null` still reads as `None`.
    fn omit_none(&self) -> Option<syn::Attribute> {
        if !self.rules.optional {
            return None;
        }
        let default = (!self.serde.default).then(|| quote!(default));
        let skip = (!self.serde.skip_serializing_if)
            .then(|| quote!(skip_serializing_if = "::core::option::Option::is_none"));
        let keys: Vec<_> = default.into_iter().chain(skip).collect();
        (!keys.is_empty()).then(|| syn::parse_quote!(#[serde(#(#keys),*)]))
    }
}

pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    match MessageModel::parse(kind, args, item) {
        Ok(model) => model.generate(),
        Err(errors) => errors,
    }
}

impl MessageModel {
    fn parse(kind: Kind, args: TokenStream, item: TokenStream) -> Result<Self, TokenStream> {
        let mut errors = Errors::default();
        let args = (|input: ParseStream<'_>| parse_args(kind, input, &mut errors)).parse2(args);
        let args = errors.take(args);
        let item: ItemStruct = match syn::parse2(item.clone()) {
            Ok(item) => item,
            Err(_) => {
                let mut what = syn::parse2::<syn::Item>(item.clone()).ok();
                let (span, noun) = match &mut what {
                    Some(syn::Item::Enum(e)) => {
                        strip_attributes(&mut e.attrs);
                        e.variants.iter_mut().for_each(|variant| {
                            strip_attributes(&mut variant.attrs);
                            variant.fields.iter_mut().for_each(|field| strip_attributes(&mut field.attrs));
                        });
                        (e.enum_token.span(), "an enum")
                    }
                    Some(syn::Item::Union(u)) => {
                        strip_attributes(&mut u.attrs);
                        u.fields.named.iter_mut().for_each(|field| strip_attributes(&mut field.attrs));
                        (u.union_token.span(), "a union")
                    }
                    _ => (Span::call_site(), "this item"),
                };
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "{} cannot be applied to {noun}: declare a struct with named fields \
                         (a message with a payload) or a unit struct (a message without one)",
                        kind.attribute()
                    ),
                ));
                // Keep the item, so that its uses do not cascade into "cannot find type".
                let errors = errors.finish().unwrap_err();
                let item = what.map_or(item, |what| what.into_token_stream());
                return Err(quote! { #errors #item });
            }
        };
        check_shape(kind, &item, &mut errors);
        let rename_all = args.as_ref().map_or(RenameRule::Camel, |a| a.rename_all);
        let mut item = item;
        let fields: Vec<FieldModel> = match &mut item.fields {
            Fields::Named(named) => named
                .named
                .iter_mut()
                .map(|field| {
                    let serde = SerdeField::parse(field, &mut errors);
                    let ident = field.ident.as_ref().expect("named field");
                    let wire_name = serde.rename.clone().unwrap_or_else(|| rename_all.apply(&unraw(ident)));
                    FieldModel { rules: FieldRules::take_from(field, wire_name, &mut errors), serde }
                })
                .collect(),
            _ => Vec::new(),
        };
        if let Some(Args { validate: ValidateMode::Manual, .. }) = &args {
            for rules in fields.iter().map(|f| &f.rules).filter(|r| !r.rules.is_empty()) {
                errors.at(
                    &rules.rules[0].name,
                    "`#[validate]` rules are ignored when the type sets `validate = manual`: \
                     remove them or let the macro generate the validation",
                );
            }
        }
        if let Err(errors) = errors.finish() {
            // Keep the struct, without the attributes only the generated derives understand,
            // so that one mistake does not cascade into "cannot find type" errors.
            strip_serde_attributes(&mut item);
            return Err(quote! { #errors #item });
        }
        Ok(MessageModel { kind, args: args.expect("no errors were recorded"), item, fields })
    }

    fn generate(&self) -> TokenStream {
        let mut item = self.item.clone();
        for (field, model) in item.fields.iter_mut().zip(&self.fields) {
            field.attrs.extend(model.omit_none());
        }
        let item = &item;
        let name = &item.ident;
        let rename_all = self.args.rename_all.name();
        // Structs with fields derive serde's impls as inherent functions (`remote = "Self"`)
        // and implement the traits below, so that they are read from JSON objects only.
        let (serde_attrs, serde_impls) = match &item.fields {
            Fields::Named(_) => (
                quote! {
                    #[serde(
                        crate = "::wskit::__private::serde",
                        remote = "Self",
                        rename_all = #rename_all,
                        deny_unknown_fields
                    )]
                },
                object_impls(name),
            ),
            _ => (quote! { #[serde(crate = "::wskit::__private::serde")] }, TokenStream::new()),
        };
        let validate_impl = (self.args.validate == ValidateMode::Rules).then(|| {
            let checks = self.fields.iter().map(|field| validate::generate_field(&field.rules));
            let (at, issues) = (local("at"), local("issues"));
            quote! {
                #[automatically_derived]
                impl ::wskit::Validate for #name {
                    #[allow(unused_variables)]
                    fn validate(&self, #at: ::wskit::validate::Path<'_>, #issues: &mut ::wskit::validate::Issues) {
                        #(#checks)*
                    }
                }
            }
        });
        let kind_impl = match self.kind {
            Kind::Message => self.generate_message_impl(),
            Kind::Payload => quote! {
                #[automatically_derived]
                impl ::wskit::DeclaredMeta for #name {}
            },
        };
        let schema_impl = self.schema_impl();
        quote! {
            #[derive(::wskit::__private::serde::Serialize, ::wskit::__private::serde::Deserialize)]
            #serde_attrs
            #item
            #serde_impls
            #validate_impl
            #kind_impl
            #schema_impl
        }
    }

    /// `schemars::JsonSchema` for the struct as it is on the wire: its wire field names, the
    /// keywords of its `#[validate]` rules, no other keys (`additionalProperties: false`);
    /// `Option` fields, and fields with a serde `default`, are not required. A unit struct
    /// (a message without payload) is `null`, as serde writes it.
    #[cfg(feature = "schema")]
    fn schema_impl(&self) -> TokenStream {
        let name = &self.item.ident;
        let schema_name = name.to_string();
        let schemars = quote!(::wskit::__private::schemars);
        let generator = local("generator");
        let body = match &self.item.fields {
            Fields::Named(named) => {
                let schema = local("schema");
                let object = local("object");
                let properties = named.named.iter().zip(&self.fields).map(|(field, model)| {
                    let ty = validate::option_inner(&field.ty).unwrap_or(&field.ty);
                    let wire_name = &model.rules.wire_name;
                    let required = !model.rules.optional && !model.serde.default;
                    let keywords = validate::schema_keywords(&model.rules, &schema);
                    quote! {
                        {
                            let mut #schema = #generator.subschema_for::<#ty>();
                            {
                                let #schema = &mut #schema;
                                #keywords
                            }
                            #object.property(#wire_name, #schema, #required);
                        }
                    }
                });
                quote! {
                    let mut #object = ::wskit::schema::keywords::Object::default();
                    #(#properties)*
                    #object.into_schema()
                }
            }
            _ => quote!(#schemars::json_schema!({ "type": "null" })),
        };
        quote! {
            #[automatically_derived]
            impl #schemars::JsonSchema for #name {
                fn schema_name() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed(#schema_name)
                }

                fn schema_id() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed(::core::concat!(::core::module_path!(), "::", #schema_name))
                }

                fn json_schema(#generator: &mut #schemars::SchemaGenerator) -> #schemars::Schema {
                    #body
                }
            }
        }
    }

    #[cfg(not(feature = "schema"))]
    fn schema_impl(&self) -> TokenStream {
        TokenStream::new()
    }

    fn generate_message_impl(&self) -> TokenStream {
        let name = &self.item.ident;
        let type_name = self.args.type_name.as_ref().expect("messages have a type name");
        let has_payload = matches!(self.item.fields, Fields::Named(_));
        // `type Meta = T` keeps the user's tokens: the bound `Meta: DeclaredMeta` is
        // checked there, and its diagnostic ("mark the struct with #[wskit::payload]")
        // lands on `T` in `meta = T`.
        let meta_type = match &self.args.meta {
            Some(meta) => quote!(#meta),
            None => quote!(::wskit::NoMeta),
        };
        // `type Response = T` keeps the user's tokens too: a `T` that is not a message is
        // reported at `T` in `response = T`.
        let rpc = self.args.response.as_ref().map(|response| {
            quote! {
                #[automatically_derived]
                impl ::wskit::Rpc for #name {
                    type Response = #response;
                }
            }
        });
        let response_type = self.args.response.as_ref().map(|response| {
            quote_spanned!(response.span()=> const RESPONSE: ::core::option::Option<&'static str> =
                ::core::option::Option::Some(<#response as ::wskit::Message>::TYPE);)
        });
        let codec = self.plain_fields().map(|fields| {
            let (writer, reader) = (Self::payload_writer(&fields), Self::payload_reader(&fields));
            quote!(#writer #reader)
        });
        // The type as a JSON string: `check_type_name` lets no control character through,
        // so quotes and backslashes are all there is to escape.
        let json_type = format!("\"{}\"", type_name.value().replace('\\', "\\\\").replace('"', "\\\""));
        quote! {
            #[automatically_derived]
            impl ::wskit::Message for #name {
                const TYPE: &'static str = #type_name;
                const JSON_TYPE: ::core::option::Option<&'static str> = ::core::option::Option::Some(#json_type);
                const HAS_PAYLOAD: bool = #has_payload;
                type Meta = #meta_type;
                #response_type
                #codec
            }
            #rpc
        }
    }

    /// The fields of a struct whose fields are all strings, booleans, numbers or `Option`s
    /// of these, with no serde attribute that changes how they are read or written: such a
    /// struct is read and written without serde (`Message::read_payload`,
    /// `Message::write_payload`). `None` for any other struct: serde reads and writes it.
    fn plain_fields(&self) -> Option<Vec<PlainField<'_>>> {
        let Fields::Named(named) = &self.item.fields else { return None };
        if self.item.attrs.iter().any(|attr| attr.path().is_ident("serde")) {
            return None;
        }
        let mut plain = Vec::new();
        for (field, model) in named.named.iter().zip(&self.fields) {
            let wire_name = &model.rules.wire_name;
            if model.serde.changes_output
                || model.serde.skip_serializing_if
                || wire_name.chars().any(|c| c == '"' || c == '\\' || c.is_control())
            {
                return None;
            }
            let optional = match validate::option_inner(&field.ty) {
                Some(inner) if model.rules.optional && is_scalar(inner) => true,
                None if is_scalar(&field.ty) => false,
                _ => return None,
            };
            plain.push(PlainField { ident: field.ident.as_ref()?, ty: &field.ty, wire_name, optional });
        }
        Some(plain)
    }

    /// `Message::write_payload` for a struct of [plain fields](Self::plain_fields): the
    /// payload's JSON text byte for byte as serde writes it, `Option` fields left out when
    /// `None` (as [`FieldModel::omit_none`] has serde do).
    fn payload_writer(fields: &[PlainField<'_>]) -> TokenStream {
        let (out, first, value) = (local("out"), local("first"), local("value"));
        let member = quote!(::wskit::__private::json::member);
        let members = fields.iter().map(|PlainField { ident, wire_name, optional, .. }| {
            let key = format!("\"{wire_name}\":");
            match optional {
                true => quote! {
                    if let ::core::option::Option::Some(#value) = &self.#ident {
                        #member(#out, &mut #first, #key, #value);
                    }
                },
                false => quote!(#member(#out, &mut #first, #key, &self.#ident);),
            }
        });
        quote! {
            #[allow(unused_mut, unused_variables)]
            fn write_payload(&self, #out: &mut ::std::string::String) -> bool {
                let mut #first = true;
                #out.push('{');
                #(#members)*
                #out.push('}');
                true
            }
        }
    }

    /// `Message::read_payload` for a struct of [plain fields](Self::plain_fields): each
    /// key once, each value in a form read without doubt, every field that is not an
    /// `Option` present; anything else is left to serde.
    fn payload_reader(fields: &[PlainField<'_>]) -> TokenStream {
        let (json, scanner, key) = (local("json"), local("scanner"), local("key"));
        let slots: Vec<Ident> = (0..fields.len()).map(|i| local(&format!("field{i}"))).collect();
        let declarations = fields.iter().zip(&slots).map(|(PlainField { ty, .. }, slot)| {
            quote!(let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None;)
        });
        let keys = fields.iter().map(|PlainField { wire_name, .. }| wire_name);
        let arms = slots.iter().enumerate().map(|(index, slot)| {
            quote!(#index if #slot.is_none() => #slot = ::core::option::Option::Some(#scanner.read()?),)
        });
        let values =
            fields.iter().zip(&slots).map(|(PlainField { ident, optional, .. }, slot)| match optional {
                true => quote!(#ident: #slot.flatten()),
                false => quote!(#ident: #slot?),
            });
        quote! {
            #[allow(unused_mut, unused_variables, unreachable_code)]
            fn read_payload(#json: &str) -> ::core::option::Option<Self> {
                #(#declarations)*
                ::wskit::__private::json::read_object(#json, [#(#keys),*], |#scanner, #key| {
                    match #key {
                        #(#arms)*
                        _ => return ::core::option::Option::None,
                    }
                    ::core::option::Option::Some(())
                })?;
                ::core::option::Option::Some(Self { #(#values),* })
            }
        }
    }
}

/// A field of a struct read and written without serde ([`MessageModel::plain_fields`]).
struct PlainField<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    wire_name: &'a str,
    /// An `Option`: left out when `None`, `None` when missing.
    optional: bool,
}

/// Whether `ty` names a type `wskit::__private::json::WriteJson` writes as serde_json
/// does: `String` (or `std::string::String`), `bool`, or a primitive number up to 64 bits.
fn is_scalar(ty: &Type) -> bool {
    const PRIMITIVES: [&str; 13] =
        ["bool", "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize", "f32", "f64"];
    let Type::Path(path) = ty else { return false };
    let segments = &path.path.segments;
    if path.qself.is_some() || segments.iter().any(|segment| !segment.arguments.is_empty()) {
        return false;
    }
    let names: Vec<String> = segments.iter().map(|segment| segment.ident.to_string()).collect();
    match names.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["String"] | ["std" | "alloc", "string", "String"] => true,
        [primitive] => PRIMITIVES.contains(primitive),
        _ => false,
    }
}

fn parse_args(kind: Kind, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<Args> {
    let mut args = Args {
        type_name: None,
        rename_all: RenameRule::Camel,
        meta: None,
        response: None,
        validate: ValidateMode::Rules,
    };
    if kind == Kind::Message {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[message] needs the message's type string: `#[message(\"JOIN_ROOM\")]`",
            ));
        }
        if !input.peek(LitStr) {
            return Err(input.error(
                "expected the message type string first, as a string literal: `#[message(\"JOIN_ROOM\")]`",
            ));
        }
        let lit: LitStr = input.parse()?;
        errors.take(check_type_name(&lit));
        args.type_name = Some(lit);
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    let known = [
        Known { key: "rename_all", usage: "rename_all = \"snake_case\"" },
        Known { key: "meta", usage: "meta = Type" },
        Known { key: "response", usage: "response = Type" },
        Known { key: "validate", usage: "validate = manual" },
    ];
    parse_key_values(input, kind.attribute(), &known, errors, |key, input| {
        match key.to_string().as_str() {
            "rename_all" => {
                let lit: LitStr = input.parse()?;
                args.rename_all = RenameRule::from_name(&lit.value()).ok_or_else(|| {
                    let names: Vec<_> = RenameRule::NAMES.iter().map(|(n, _)| *n).collect();
                    syn::Error::new(
                        lit.span(),
                        format!("unknown rename rule; use one of {}", names.join(", ")),
                    )
                })?;
            }
            "meta" | "response" if kind == Kind::Payload => {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "a #[payload] has no `{key}` of its own; a message declares it: \
                         `#[message(\"TYPE\", {key} = SomeType)]`"
                    ),
                ))
            }
            "meta" => args.meta = Some(input.parse()?),
            "response" => args.response = Some(input.parse()?),
            // "validate", the last known key.
            _ => {
                let mode: Ident = input.parse()?;
                if mode != "manual" {
                    return Err(syn::Error::new(
                        mode.span(),
                        "expected `validate = manual` (a hand-written `impl wskit::Validate`)",
                    ));
                }
                args.validate = ValidateMode::Manual;
            }
        }
        Ok(())
    })?;
    Ok(args)
}

/// Checks the wire type string: not empty, not reserved by the protocol, and printable.
fn check_type_name(lit: &LitStr) -> syn::Result<()> {
    let value = lit.value();
    let problem = if value.is_empty() {
        Some("the message type string is empty; name the message, e.g. \"JOIN_ROOM\"".to_owned())
    } else if value.starts_with('$') || value.starts_with("__") {
        Some(format!(
            "`{value}` is reserved: types starting with `$` or `__` belong to the wskit protocol; \
             choose a name without that prefix"
        ))
    } else if value == "ERROR" || value == "RPC_ERROR" {
        Some(format!("`{value}` is the protocol's error frame type; choose another name"))
    } else if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some("the message type string must not contain whitespace or control characters".to_owned())
    } else {
        None
    };
    match problem {
        Some(message) => Err(syn::Error::new(lit.span(), message)),
        None => Ok(()),
    }
}

/// Removes the `#[serde]` and `#[validate]` attributes of `item` and its fields: without the
/// derives the macro would generate, nothing else understands them.
fn unraw(ident: &Ident) -> String {
    ident.to_string().trim_start_matches("r#").to_owned()
}

fn strip_serde_attributes(item: &mut ItemStruct) {
    strip_attributes(&mut item.attrs);
    item.fields.iter_mut().for_each(|field| strip_attributes(&mut field.attrs));
}

fn strip_attributes(attrs: &mut Vec<syn::Attribute>) {
    attrs.retain(|attr| !attr.path().is_ident("serde") && !attr.path().is_ident("validate"));
}

fn check_shape(kind: Kind, item: &ItemStruct, errors: &mut Errors) {
    if let Fields::Unnamed(fields) = &item.fields {
        errors.at(
            fields,
            format!(
                "{} needs named fields (they are the payload's keys) or none at all; \
                 turn this tuple struct into `struct {} {{ name: Type, .. }}`",
                kind.attribute(),
                item.ident
            ),
        );
    }
    if kind == Kind::Payload && matches!(item.fields, Fields::Unit) {
        errors.at(&item.ident, "#[payload] needs named fields; a unit struct carries no data");
    }
    if !item.generics.params.is_empty() {
        errors.at(
            &item.generics,
            format!(
                "{} does not support generic structs: a wire type must have one fixed shape; \
                 declare a concrete struct per message",
                kind.attribute()
            ),
        );
    }
    for attr in &item.attrs {
        if attr.path().is_ident("serde") {
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    let usage = match kind {
                        Kind::Message => "#[message(\"TYPE\", rename_all = \"..\")]",
                        Kind::Payload => "#[payload(rename_all = \"..\")]",
                    };
                    errors.at(
                        &meta.path,
                        format!(
                            "set the naming convention of the fields with `{usage}` (validation \
                             issues use it too); rename one field with `#[serde(rename = \"..\")]`"
                        ),
                    );
                }
                skip_to_comma(meta.input)
            });
        }
        if attr.path().is_ident("derive") {
            let _ = attr.parse_nested_meta(|meta| {
                if let Some(last) = meta.path.segments.last() {
                    if last.ident == "Serialize" || last.ident == "Deserialize" {
                        errors.at(
                            &meta.path,
                            format!(
                                "{} already derives `Serialize` and `Deserialize`; remove this derive",
                                kind.attribute()
                            ),
                        );
                    }
                }
                Ok(())
            });
        }
    }
}

/// serde's traits for a struct whose derived impls are inherent functions: `Serialize` as
/// derived, `Deserialize` from a JSON object only (`wskit::__private::object`).
fn object_impls(name: &syn::Ident) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl ::wskit::__private::serde::Serialize for #name {
            fn serialize<__S: ::wskit::__private::serde::Serializer>(
                &self,
                serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                #name::serialize(self, serializer)
            }
        }

        #[automatically_derived]
        impl<'de> ::wskit::__private::object::Derived<'de> for #name {
            fn derived<__D: ::wskit::__private::serde::Deserializer<'de>>(
                deserializer: __D,
            ) -> ::core::result::Result<Self, __D::Error> {
                #name::deserialize(deserializer)
            }
        }

        #[automatically_derived]
        impl<'de> ::wskit::__private::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::wskit::__private::serde::Deserializer<'de>>(
                deserializer: __D,
            ) -> ::core::result::Result<Self, __D::Error> {
                ::wskit::__private::object::deserialize(deserializer)
            }
        }
    }
}
