//! `#[router(data = D)]` on an `impl` block: parse the handlers into a [`RouterModel`], check
//! their shapes, and generate the `wskit::Router` impl, a `match` from type string to a
//! decode-validate-call arm per handler.
//!
//! What cannot be checked syntactically (the types of the parameters and of the result) is
//! checked by the type checker through small traits of `wskit::__private`, one per kind of
//! parameter, each with a `#[diagnostic::on_unimplemented]` message and called with the span
//! of the user's type, so that a mistake is reported at that type with a message that says
//! how to fix it.

use crate::args::{parse_key_values, Known};
use crate::diag::Errors;
use crate::hygiene::local;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, ReturnType, Token, Type};

/// The attributes that mark a method of the router.
const ROLES: &[&str] = &["on", "rpc", "on_binary", "middleware", "after", "on_open", "on_close", "on_error"];

/// What a marked method does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `#[on]`: handles one message type.
    On,
    /// `#[rpc]`: answers one RPC request type with its bound response.
    Rpc,
    /// `#[on_binary]`: handles every binary frame.
    Binary,
    /// `#[middleware]`: runs before the handlers that name it.
    Middleware,
    /// `#[after]`: runs after every handler, with its outcome.
    After,
    /// `#[on_open]`: runs once the connection is established.
    Open,
    /// `#[on_close]`: runs once the connection has closed.
    Close,
    /// `#[on_error]`: observes every error of the connection.
    Error,
}

impl Role {
    fn from_attr(name: &str) -> Option<Self> {
        match name {
            "on" => Some(Role::On),
            "rpc" => Some(Role::Rpc),
            "on_binary" => Some(Role::Binary),
            "middleware" => Some(Role::Middleware),
            "after" => Some(Role::After),
            "on_open" => Some(Role::Open),
            "on_close" => Some(Role::Close),
            "on_error" => Some(Role::Error),
            _ => None,
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Role::On => "#[on]",
            Role::Rpc => "#[rpc]",
            Role::Binary => "#[on_binary]",
            Role::Middleware => "#[middleware]",
            Role::After => "#[after]",
            Role::Open => "#[on_open]",
            Role::Close => "#[on_close]",
            Role::Error => "#[on_error]",
        }
    }

    /// The expected signature, quoted in errors.
    fn signature(self) -> &'static str {
        match self {
            Role::On => {
                "async fn name(&self, ctx: &mut Ctx<Data>, msg: SomeMessage) -> Result<(), Error> \
                 (optionally followed by `meta: <SomeMessage as Message>::Meta`)"
            }
            Role::Rpc => {
                "async fn name(&self, ctx: &mut Ctx<Data>, req: SomeRequest) -> Result<SomeResponse, Error> \
                 (optionally followed by `meta: <SomeRequest as Message>::Meta`)"
            }
            Role::Middleware => {
                "async fn name(&self, ctx: &mut Ctx<Data>, incoming: &Incoming<'_>) -> Result<Next, Error>"
            }
            Role::After => "async fn name(&self, ctx: &mut Ctx<Data>, handled: &Handled<'_>)",
            Role::Binary => "async fn name(&self, ctx: &mut Ctx<Data>, bytes: Bytes) -> Result<(), Error>",
            Role::Open => "async fn name(&self, ctx: &mut Ctx<Data>) -> Result<(), Error>",
            Role::Close => "async fn name(&self, ctx: &mut Ctx<Data>, close: Close)",
            Role::Error => "async fn name(&self, ctx: &mut Ctx<Data>, error: &Error)",
        }
    }
}

/// A message handler.
struct Handler {
    method: Ident,
    /// The message type, from the third parameter.
    message: Type,
    /// The type of the fourth parameter, the message's declared meta, if the handler takes it.
    meta: Option<Type>,
    /// The type of the `ctx` parameter, as written.
    ctx: Type,
    /// The return type, as written.
    output: Type,
    /// Whether it is an `#[rpc]` handler, whose result is the request's reply.
    rpc: bool,
    /// Whether it is an `#[rpc(concurrent)]` handler, run beside the connection's other
    /// messages on a fork of its context.
    concurrent: bool,
    /// The `#[middleware]` methods named in its attribute, run after the router's.
    middleware: Vec<Ident>,
}

/// A lifecycle hook, or a `#[middleware]` method.
struct Hook {
    method: Ident,
    /// The type of the `ctx` parameter, as written.
    ctx: Type,
    /// The type of the parameter after `ctx` (`close: Close`, `error: &Error`,
    /// `incoming: &Incoming`, `handled: &Handled`, `bytes: Bytes`), if any.
    param: Option<Type>,
    /// The return type of `#[on_open]` and `#[middleware]`, as written.
    output: Option<Type>,
}

/// A parsed and checked router.
struct RouterModel {
    item: ItemImpl,
    data: Type,
    /// The messages of `#[router(sends = [..])]`, if the router declares them.
    sends: Option<Vec<Type>>,
    /// The `#[middleware]` methods named in `#[router(middleware = [..])]`, run first.
    global: Vec<Ident>,
    /// Every `#[middleware]` method with a valid signature.
    middleware: Vec<Hook>,
    /// The names of every method marked `#[middleware]`, valid or not.
    middleware_names: Vec<Ident>,
    /// The `#[after]` methods, in declaration order.
    after: Vec<Hook>,
    handlers: Vec<Handler>,
    on_binary: Option<Hook>,
    on_open: Option<Hook>,
    on_close: Option<Hook>,
    on_error: Option<Hook>,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match RouterModel::parse(args, item) {
        Ok(model) => model.generate(),
        Err(errors) => errors,
    }
}

/// The arguments of `#[router(..)]`: the data type, the router-wide middleware and the
/// messages the router sends.
#[derive(Default)]
struct RouterArgs {
    data: Option<Type>,
    middleware: Vec<Ident>,
    sends: Option<Vec<Type>>,
}

fn parse_args(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<RouterArgs> {
    let mut args = RouterArgs::default();
    // The per-connection data is what handlers reach through `ctx.data()`.
    let known = [
        Known { key: "data", usage: "data = Type" },
        Known { key: "middleware", usage: "middleware = [method, ..]" },
        Known { key: "sends", usage: "sends = [Message, ..]" },
    ];
    parse_key_values(input, "#[router]", &known, errors, |key, input| {
        match key.to_string().as_str() {
            "data" => args.data = Some(input.parse()?),
            "sends" => args.sends = Some(parse_types(input)?),
            _ => args.middleware = parse_names(input)?,
        }
        Ok(())
    })?;
    Ok(args)
}

/// The arguments of `#[on(..)]` and `#[rpc(..)]`.
#[derive(Default)]
struct HandlerArgs {
    /// The handler's own middleware.
    middleware: Vec<Ident>,
    /// The `concurrent` flag, first if given: the handler runs beside the connection's
    /// other messages.
    concurrent: Option<Ident>,
}

fn parse_handler_args(
    input: ParseStream<'_>,
    attribute: &str,
    errors: &mut Errors,
) -> syn::Result<HandlerArgs> {
    if input.peek(syn::LitStr) {
        return Err(input.error(format!(
            "{attribute} takes no type string: a handler's message type is its third parameter, \
             e.g. `msg: JoinRoom`; its arguments are `concurrent` (#[rpc] only) and \
             `middleware = [method, ..]`"
        )));
    }
    let mut args = HandlerArgs::default();
    let flag = input.fork().parse::<Ident>().ok().filter(|ident| ident == "concurrent");
    if flag.is_some() && !input.peek2(Token![=]) {
        args.concurrent = Some(input.parse()?);
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    let known = [Known { key: "middleware", usage: "middleware = [method, ..]" }];
    parse_key_values(input, attribute, &known, errors, |_, input| {
        args.middleware = parse_names(input)?;
        Ok(())
    })?;
    Ok(args)
}

/// `[Type, ..]`: the messages of `sends = [..]`.
fn parse_types(input: ParseStream<'_>) -> syn::Result<Vec<Type>> {
    let content;
    syn::bracketed!(content in input);
    let types = syn::punctuated::Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
    Ok(types.into_iter().collect())
}

/// `[name, ..]`: the names of `#[middleware]` methods.
fn parse_names(input: ParseStream<'_>) -> syn::Result<Vec<Ident>> {
    let content;
    syn::bracketed!(content in input);
    let names = syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
    Ok(names.into_iter().collect())
}

impl RouterModel {
    /// Parses and checks the router. On failure, returns the errors together with the
    /// `impl` block stripped of the role attributes, so that the methods still exist and
    /// one mistake does not cascade into unrelated errors.
    fn parse(args: TokenStream, item: TokenStream) -> Result<Self, TokenStream> {
        let mut errors = Errors::default();
        let args = (|input: ParseStream<'_>| parse_args(input, &mut errors)).parse2(args);
        let args = errors.take(args).unwrap_or_default();
        let mut item: ItemImpl = match syn::parse2(item.clone()) {
            Ok(item) => item,
            Err(error) => {
                let message = "#[router] goes on an inherent impl block: `#[router] impl MyApp { .. }`";
                let error = syn::Error::new(error.span(), message).to_compile_error();
                return Err(quote! { #error #item });
            }
        };
        if let Some((_, path, _)) = &item.trait_ {
            errors.at(path, "#[router] goes on an inherent impl block, not a trait impl");
        }
        let mut model = RouterModel {
            data: args.data.unwrap_or_else(|| syn::parse_quote!(())),
            sends: args.sends,
            global: args.middleware,
            middleware: Vec::new(),
            middleware_names: Vec::new(),
            after: Vec::new(),
            handlers: Vec::new(),
            on_binary: None,
            on_open: None,
            on_close: None,
            on_error: None,
            item: item.clone(),
        };
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else { continue };
            let mut roles = Vec::new();
            method.attrs.retain(|attr| {
                let role = attr.path().get_ident().and_then(|i| Role::from_attr(&i.to_string()));
                if let Some(role) = role {
                    roles.push((role, attr.clone()));
                }
                role.is_none()
            });
            match roles.as_slice() {
                [] => {}
                [(role @ (Role::On | Role::Rpc), attr)] if !matches!(attr.meta, syn::Meta::Path(_)) => {
                    let attribute = role.attribute();
                    let parsed = attr.parse_args_with(|input: ParseStream<'_>| {
                        parse_handler_args(input, attribute, &mut errors)
                    });
                    if let Some(args) = errors.take(parsed) {
                        model.add(*role, attr, method, args, &mut errors);
                    }
                }
                [(role, attr)] if !matches!(attr.meta, syn::Meta::Path(_)) => errors.at(
                    attr,
                    format!(
                        "{} takes no arguments: write `{}` (an `#[on]` handler's message type \
                         is its third parameter)",
                        role.attribute(),
                        role.attribute()
                    ),
                ),
                [(role, attr)] => model.add(*role, attr, method, HandlerArgs::default(), &mut errors),
                [_, (_, second), ..] => errors.at(
                    second,
                    format!("a method has one role; {} are mutually exclusive", ROLES.join(", ")),
                ),
            }
        }
        model.check_duplicates(&mut errors);
        model.check_middleware_names(&mut errors);
        if let Err(errors) = errors.finish() {
            return Err(quote! { #errors #item });
        }
        if model.sends.is_some() {
            model.restrict_sends(&mut item);
        }
        model.item = item;
        Ok(model)
    }

    fn add(
        &mut self,
        role: Role,
        attr: &syn::Attribute,
        method: &ImplItemFn,
        args: HandlerArgs,
        errors: &mut Errors,
    ) {
        if let (Role::On, Some(flag)) = (role, &args.concurrent) {
            errors.at(
                flag,
                "only #[rpc] handlers run concurrently: a request has a reply and a deadline by \
                 which the client follows it; an #[on] handler runs in arrival order",
            );
        }
        if role == Role::Middleware {
            self.middleware_names.push(method.sig.ident.clone());
        }
        let Some(shape) = check_signature(role, method, errors) else { return };
        let method = method.sig.ident.clone();
        let slot = match role {
            Role::On | Role::Rpc => {
                let Shape { ctx, message, param: meta, output } = shape;
                self.handlers.push(Handler {
                    method,
                    message: message.expect("checked by check_signature"),
                    meta,
                    ctx,
                    output: output.expect("checked by check_signature"),
                    rpc: role == Role::Rpc,
                    concurrent: role == Role::Rpc && args.concurrent.is_some(),
                    middleware: args.middleware,
                });
                return;
            }
            Role::Middleware => {
                let Shape { ctx, param, output, .. } = shape;
                self.middleware.push(Hook { method, ctx, param, output });
                return;
            }
            Role::After => {
                let Shape { ctx, param, output, .. } = shape;
                self.after.push(Hook { method, ctx, param, output });
                return;
            }
            Role::Binary => &mut self.on_binary,
            Role::Open => &mut self.on_open,
            Role::Close => &mut self.on_close,
            Role::Error => &mut self.on_error,
        };
        match slot {
            Some(first) => errors.at(
                attr,
                format!(
                    "a router has one {} {}, and `{}` already is; merge the two methods",
                    role.attribute(),
                    match role {
                        Role::Binary => "handler, which takes every binary frame",
                        _ => "hook",
                    },
                    first.method
                ),
            ),
            None => *slot = Some(Hook { method, ctx: shape.ctx, param: shape.param, output: shape.output }),
        }
    }

    /// Every name in a `middleware = [..]` list is a `#[middleware]` method of the router.
    fn check_middleware_names(&self, errors: &mut Errors) {
        let named = self.global.iter().chain(self.handlers.iter().flat_map(|h| &h.middleware));
        for name in named {
            if !self.middleware_names.contains(name) {
                errors.at(
                    name,
                    format!(
                        "`{name}` is not a #[middleware] method of this router; mark a method \
                         `async fn {name}(&self, ctx: &mut Ctx<Data>, incoming: &Incoming<'_>) \
                         -> Result<Next, Error>` with #[middleware]"
                    ),
                );
            }
        }
    }

    /// Shadows the `ctx` of every handler, hook, middleware and `#[after]` method with a
    /// `wskit::__private::Sending` view, so that what they send and publish through it must
    /// be among the declared messages (`sends = [..]`).
    fn restrict_sends(&self, item: &mut ItemImpl) {
        let marked: Vec<&Ident> = self
            .handlers
            .iter()
            .map(|handler| &handler.method)
            .chain(self.middleware.iter().chain(&self.after).map(|hook| &hook.method))
            .chain(
                [&self.on_binary, &self.on_open, &self.on_close, &self.on_error]
                    .into_iter()
                    .flatten()
                    .map(|hook| &hook.method),
            )
            .collect();
        let sending = local("sending");
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else { continue };
            if !marked.contains(&&method.sig.ident) {
                continue;
            }
            let Some(FnArg::Typed(ctx)) = method.sig.inputs.iter().nth(1) else { continue };
            let syn::Pat::Ident(pat) = &*ctx.pat else { continue };
            let ctx = &pat.ident;
            let statements: syn::Block = syn::parse_quote! {{
                let mut #sending = ::wskit::__private::Sending::<'_, _, Self>::new(#ctx);
                #[allow(unused_variables)]
                let #ctx = &mut #sending;
            }};
            method.block.stmts.splice(0..0, statements.stmts);
        }
    }

    /// A handler for a message type that an earlier handler already takes, spelled the same
    /// way, is reported at its message type, naming the earlier one. Different spellings of
    /// one type (or types sharing a type string) are caught by a const assertion instead.
    fn check_duplicates(&self, errors: &mut Errors) {
        for (i, handler) in self.handlers.iter().enumerate() {
            let key = handler.message.to_token_stream().to_string();
            let earlier =
                self.handlers[..i].iter().find(|other| other.message.to_token_stream().to_string() == key);
            if let Some(earlier) = earlier {
                errors.at(
                    &handler.message,
                    format!(
                        "`{}` already has a handler, `{}`; a message type is routed to exactly \
                         one handler: remove `{}` or merge the two",
                        type_name(&handler.message),
                        earlier.method,
                        handler.method
                    ),
                );
            }
        }
    }

    fn generate(&self) -> TokenStream {
        let item = &self.item;
        let self_ty = &item.self_ty;
        let (impl_generics, _, where_clause) = item.generics.split_for_impl();
        let data = &self.data;
        let messages: Vec<_> = self.handlers.iter().map(|h| &h.message).collect();
        let [ctx, inbound, message, meta, close, error, response] =
            ["ctx", "inbound", "message", "meta", "close", "error", "response"].map(local);
        // Each parameter and result passes through a function of `__private` bounded by a
        // trait with a diagnostic, spanned on the user's type (see `wskit::__private`).
        let check = check_path;
        let ctx_arg = |ctx_ty: &Type| {
            let check = check("ctx", ctx_ty);
            quote!(#check::<#ctx_ty, &mut ::wskit::Ctx<#data>>(#ctx))
        };
        // The middleware a handler runs, router-wide first: each may stop the message.
        let [incoming, next] = ["incoming", "next"].map(local);
        // `stopped` is what the arm returns when a middleware stops the message.
        let middleware_calls = |handler: &Handler, stopped: TokenStream| {
            let calls = self.global.iter().chain(&handler.middleware).filter_map(|name| {
                let Hook { method, ctx: ctx_ty, param, output } =
                    self.middleware.iter().find(|m| m.method == *name)?;
                let (param, output) = (param.as_ref()?, output.as_ref()?);
                let (ctx_check, incoming_check, output_check) =
                    (check("ctx", ctx_ty), check("incoming", param), check("middleware_output", output));
                Some(quote_spanned! {name.span()=>
                    let #next = #output_check::<#output>(
                        Self::#method(
                            self,
                            #ctx_check::<#ctx_ty, &mut ::wskit::Ctx<#data>>(&mut *#ctx),
                            #incoming_check::<#param, &::wskit::middleware::Incoming<'_>>(&#incoming),
                        )
                        .await,
                    )?;
                    if #next == ::wskit::middleware::Next::Stop {
                        return #stopped;
                    }
                })
            });
            let calls: Vec<_> = calls.collect();
            (!calls.is_empty()).then(|| {
                quote! {{
                    let #incoming = ::wskit::middleware::Incoming::decoded(&#message);
                    #(#calls)*
                }}
            })
        };
        let [forked, guard, token, ran, router] = ["forked", "guard", "token", "ran", "router"].map(local);
        let mut fork_arms = Vec::new();
        let arms = self.handlers.iter().map(|handler| {
            let Handler {
                method,
                message: message_ty,
                meta: meta_ty,
                ctx: ctx_ty,
                output,
                rpc,
                concurrent,
                ..
            } = handler;
            let middleware = middleware_calls(handler, quote!(::core::result::Result::Ok(())));
            let decode = quote_spanned!(message_ty.span()=> #inbound.decode::<#message_ty>());
            let (binding, meta_arg) = match meta_ty {
                Some(meta_ty) => {
                    let check = check("meta", meta_ty);
                    (
                        quote!(#meta),
                        Some(quote!(, #check::<#meta_ty, <#message_ty as ::wskit::Message>::Meta>(#meta))),
                    )
                }
                None => (quote!(_), None),
            };
            let body = if *rpc {
                // The handler borrows the context for the call; the reply needs it after.
                let ctx_check = check("ctx", ctx_ty);
                let ctx_arg = quote!(#ctx_check::<#ctx_ty, &mut ::wskit::Ctx<#data>>(&mut *#ctx));
                let (request_check, output_check) =
                    (check("rpc_request", message_ty), check("rpc_output", output));
                let call = |receiver: TokenStream| {
                    quote_spanned! {message_ty.span()=>
                        let #response = #output_check::<#message_ty, #output>(
                            Self::#method(#receiver, #ctx_arg, #message #meta_arg).await,
                        )?;
                        #ctx.reply(&#response)
                    }
                };
                let take = quote_spanned! {message_ty.span()=>
                    #request_check::<#message_ty>();
                    let (#message, #binding) = #decode?;
                    #middleware
                };
                if *concurrent {
                    // Taken in its turn here, run by the connection on a fork of the
                    // context: it owns what it uses, the router included.
                    let stopped = quote!(::core::result::Result::Ok(::core::option::Option::None));
                    let middleware = middleware_calls(handler, stopped);
                    let take = quote_spanned! {message_ty.span()=>
                        #request_check::<#message_ty>();
                        let (#message, #binding) = #decode?;
                        #middleware
                    };
                    let job = self.generate_after(message_ty, call(quote!(&*#router)), quote!(&*#router));
                    fork_arms.push(quote_spanned! {message_ty.span()=>
                        <#message_ty as ::wskit::Message>::TYPE => {
                            #take
                            let (mut #forked, #guard) =
                                ::wskit::__private::fork(&mut *#ctx, <#message_ty as ::wskit::Message>::TYPE);
                            let #token = #guard.token();
                            ::core::result::Result::Ok(::core::option::Option::Some(
                                ::wskit::__private::Forked::new(#token, async move {
                                    let #ran = #guard
                                        .run(async {
                                            let #ctx = &mut #forked;
                                            #job
                                        })
                                        .await;
                                    #guard.finish(#forked, #ran)
                                }),
                            ))
                        }
                    });
                }
                let call = call(quote!(self));
                quote! { #take #call }
            } else {
                let (output_check, ctx_arg) = (check("output", output), ctx_arg(ctx_ty));
                quote_spanned! {message_ty.span()=>
                    let (#message, #binding) = #decode?;
                    #middleware
                    #output_check::<#output>(Self::#method(self, #ctx_arg, #message #meta_arg).await)
                }
            };
            let body = self.generate_after(message_ty, body, quote!(self));
            quote_spanned! {message_ty.span()=>
                <#message_ty as ::wskit::Message>::TYPE => { #body }
            }
        });
        // Collected first: the arms above fill `fork_arms`.
        let arms: Vec<_> = arms.collect();
        let concurrent_types: Vec<_> =
            self.handlers.iter().filter(|h| h.concurrent).map(|h| &h.message).collect();
        let fork = (!concurrent_types.is_empty()).then(|| {
            quote! {
                fn is_concurrent(&self, message_type: &str) -> bool {
                    ::core::matches!(message_type, #(<#concurrent_types as ::wskit::Message>::TYPE)|*)
                }

                #[allow(unreachable_patterns)]
                fn fork<'a>(
                    &'a self,
                    #router: ::std::sync::Arc<Self>,
                    #ctx: &'a mut ::wskit::Ctx<#data>,
                    #inbound: ::wskit::Inbound<'a>,
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<
                        ::core::option::Option<::wskit::__private::Forked>,
                        ::wskit::Error,
                    >,
                > + ::core::marker::Send + 'a {
                    async move {
                        match #inbound.message_type() {
                            #(#fork_arms)*
                            _ => ::core::result::Result::Err(#inbound.unknown_type()),
                        }
                    }
                }
            }
        });
        let rpc_types: Vec<_> = self.handlers.iter().filter(|h| h.rpc).map(|h| &h.message).collect();
        let is_rpc = (!rpc_types.is_empty()).then(|| {
            quote! {
                fn is_rpc(&self, message_type: &str) -> bool {
                    ::core::matches!(message_type, #(<#rpc_types as ::wskit::Message>::TYPE)|*)
                }
            }
        });
        let on_binary = self.on_binary.as_ref().and_then(|Hook { method, ctx: ctx_ty, param, output }| {
            let (param, output) = (param.as_ref()?, output.as_ref()?);
            let (bytes_check, output_check, ctx_arg) =
                (check("binary", param), check("output", output), ctx_arg(ctx_ty));
            let bytes = local("bytes");
            Some(quote! {
                const HANDLES_BINARY: bool = true;

                fn on_binary<'a>(&'a self, #ctx: &'a mut ::wskit::Ctx<#data>, #bytes: ::wskit::Bytes)
                    -> impl ::core::future::Future<Output = ::core::result::Result<(), ::wskit::Error>>
                        + ::core::marker::Send + 'a
                {
                    async move {
                        #output_check::<#output>(Self::#method(self, #ctx_arg, #bytes_check::<#param>(#bytes)).await)
                    }
                }
            })
        });
        let on_open = self.on_open.as_ref().map(|Hook { method, ctx: ctx_ty, output, .. }| {
            let output = output.as_ref().expect("checked by check_signature");
            let (output_check, ctx_arg) = (check("output", output), ctx_arg(ctx_ty));
            quote! {
                fn on_open<'a>(&'a self, #ctx: &'a mut ::wskit::Ctx<#data>)
                    -> impl ::core::future::Future<Output = ::core::result::Result<(), ::wskit::Error>>
                        + ::core::marker::Send + 'a
                {
                    async move {
                        #output_check::<#output>(Self::#method(self, #ctx_arg).await)
                    }
                }
            }
        });
        let on_close = self.on_close.as_ref().map(|Hook { method, ctx: ctx_ty, param, .. }| {
            let param = param.as_ref().expect("checked by check_signature");
            let (close_check, ctx_arg) = (check("close", param), ctx_arg(ctx_ty));
            quote! {
                fn on_close<'a>(&'a self, #ctx: &'a mut ::wskit::Ctx<#data>, #close: ::wskit::Close)
                    -> impl ::core::future::Future<Output = ()> + ::core::marker::Send + 'a
                {
                    Self::#method(self, #ctx_arg, #close_check::<#param>(#close))
                }
            }
        });
        let on_error = self.on_error.as_ref().map(|Hook { method, ctx: ctx_ty, param, .. }| {
            let param = param.as_ref().expect("checked by check_signature");
            let (error_check, ctx_arg) = (check("error", param), ctx_arg(ctx_ty));
            quote! {
                fn on_error<'a>(&'a self, #ctx: &'a mut ::wskit::Ctx<#data>, #error: &'a ::wskit::Error)
                    -> impl ::core::future::Future<Output = ()> + ::core::marker::Send + 'a
                {
                    Self::#method(self, #ctx_arg, #error_check::<#param>(#error))
                }
            }
        });
        // Spanned at the message type, so that a type that is no message is reported there
        // once, not again at `#[router]`.
        let message_types: Vec<_> = messages
            .iter()
            .map(|message| quote_spanned!(message.span()=> <#message as ::wskit::Message>::TYPE))
            .collect();
        let router_name = type_name(self_ty);
        let message_names = self.handlers.iter().map(|h| type_name(&h.message));
        let (unique_types, generic_unique_types) = match self.item.generics.params.is_empty() {
            true => (self.generate_unique_types(), TokenStream::new()),
            false => (TokenStream::new(), self.generate_unique_types()),
        };
        let on_not_rpc = self.generate_on_not_rpc();
        let sends = self.generate_sends();
        let describe = self.generate_describe();
        quote! {
            #item

            const _: () = {
                #[automatically_derived]
                impl #impl_generics ::wskit::Router for #self_ty #where_clause {
                    type Data = #data;

                    const TYPES: &'static ::wskit::MessageTypes = &::wskit::MessageTypes::router(
                        #router_name,
                        &[#(#message_types,)*],
                        &[#(#message_names,)*],
                    );

                    // A type string shared by two handlers is reported by the const
                    // assertions below, not as an unreachable arm.
                    #[allow(unreachable_patterns)]
                    fn handles(message_type: &str) -> ::core::option::Option<&'static str> {
                        match message_type {
                            #(#message_types => ::core::option::Option::Some(#message_types),)*
                            _ => ::core::option::Option::None,
                        }
                    }

                    // A type string shared by two handlers is reported by the const
                    // assertions below, not as an unreachable arm.
                    #[allow(unreachable_patterns)]
                    fn dispatch<'a>(
                        &'a self,
                        #ctx: &'a mut ::wskit::Ctx<#data>,
                        #inbound: ::wskit::Inbound<'a>,
                    ) -> impl ::core::future::Future<Output = ::core::result::Result<(), ::wskit::Error>>
                           + ::core::marker::Send + 'a {
                        async move {
                            match #inbound.message_type() {
                                #(#arms)*
                                _ => ::core::result::Result::Err(#inbound.unknown_type()),
                            }
                        }
                    }

                    #generic_unique_types
                    #is_rpc
                    #fork
                    #on_binary
                    #on_open
                    #on_close
                    #on_error
                }

                #unique_types
                #on_not_rpc
                #sends
                #describe
            };
        }
    }

    /// `Sends<M>` for every message of `sends = [..]` (each spelling once).
    fn generate_sends(&self) -> TokenStream {
        let Some(sends) = &self.sends else { return TokenStream::new() };
        let self_ty = &self.item.self_ty;
        let (impl_generics, _, where_clause) = self.item.generics.split_for_impl();
        let mut seen = Vec::new();
        let impls = sends.iter().filter(|ty| {
            let key = ty.to_token_stream().to_string();
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });
        let impls = impls.map(|ty| {
            quote_spanned! {ty.span()=>
                #[automatically_derived]
                impl #impl_generics ::wskit::__private::Sends<#ty> for #self_ty #where_clause {}
            }
        });
        quote! { #(#impls)* }
    }

    /// `wskit::schema::Describe`: what a client may send (the handlers' messages), what the
    /// server may send (RPC responses and `sends = [..]`), and the RPC bindings.
    #[cfg(feature = "schema")]
    fn generate_describe(&self) -> TokenStream {
        let self_ty = &self.item.self_ty;
        let (impl_generics, _, where_clause) = self.item.generics.split_for_impl();
        let description = local("description");
        let handlers = self.handlers.iter().map(|Handler { message, rpc, .. }| match rpc {
            true => quote!(#description.answers::<#message>();),
            false => quote!(#description.receives::<#message>();),
        });
        let sends = self.sends.iter().flatten().map(|ty| quote!(#description.sends::<#ty>();));
        quote! {
            #[automatically_derived]
            impl #impl_generics ::wskit::schema::Describe for #self_ty #where_clause {
                fn describe(#description: &mut ::wskit::schema::Description<'_>) {
                    #(#handlers)*
                    #(#sends)*
                }
            }
        }
    }

    #[cfg(not(feature = "schema"))]
    fn generate_describe(&self) -> TokenStream {
        TokenStream::new()
    }

    /// The arm `body` of a handler of `message`, followed by the `#[after]` methods: the
    /// body runs as a block of its own (its `?` and early returns end only the block), its
    /// result and elapsed time go to each method, and it is the arm's result. Without
    /// `#[after]` methods, `body` as it is.
    /// The methods are called on `receiver`: `self`, or the router a concurrent handler's
    /// job owns.
    fn generate_after(&self, message: &Type, body: TokenStream, receiver: TokenStream) -> TokenStream {
        if self.after.is_empty() {
            return body;
        }
        let [ctx, started, result, handled] = ["ctx", "started", "result", "handled"].map(local);
        let calls = self.after.iter().filter_map(|Hook { method, ctx: ctx_ty, param, .. }| {
            let param = param.as_ref()?;
            let (ctx_check, handled_check) = (check_path("ctx", ctx_ty), check_path("handled", param));
            let data = &self.data;
            Some(quote_spanned! {method.span()=>
                Self::#method(
                    #receiver,
                    #ctx_check::<#ctx_ty, &mut ::wskit::Ctx<#data>>(&mut *#ctx),
                    #handled_check::<#param, &::wskit::middleware::Handled<'_>>(&#handled),
                )
                .await;
            })
        });
        quote! {
            let #started = ::wskit::__private::Instant::now();
            let #result: ::core::result::Result<(), ::wskit::Error> = async { #body }.await;
            let #handled = ::wskit::middleware::Handled::new(
                <#message as ::wskit::Message>::TYPE,
                &#result,
                #started.elapsed(),
            );
            #(#calls)*
            #result
        }
    }

    /// One const assertion per handler after the first: its message's type string differs
    /// from the earlier ones. Different Rust types may share a type string, which only
    /// the type checker can see; the assertion fails at the later handler's message type.
    ///
    /// A router without generics gets free `const` items, evaluated by `cargo check`. A
    /// generic router's `TYPES` exists only for each use of its parameters, so its
    /// assertions go in `Router::CHECK`, evaluated when a connection of the router is
    /// compiled for those parameters (`cargo build`).
    fn generate_unique_types(&self) -> TokenStream {
        let self_ty = &self.item.self_ty;
        let asserts = self.handlers.iter().enumerate().skip(1).map(|(index, handler)| {
            let message = &handler.message;
            let panic = format!(
                "`{}` has the type string of another handler's message in this router; a type \
                 string is routed to exactly one handler: give the messages different \
                 #[message(\"…\")] types or merge the handlers",
                type_name(message)
            );
            let check = quote_spanned! {message.span()=>
                if ::wskit::__private::repeats_earlier(<#self_ty as ::wskit::Router>::TYPES, #index) {
                    ::core::panic!(#panic)
                }
            };
            match self.item.generics.params.is_empty() {
                true => quote_spanned!(message.span()=> const _: () = #check;),
                false => check,
            }
        });
        match self.item.generics.params.is_empty() {
            true => quote! { #(#asserts)* },
            false => quote! { const CHECK: () = { #(#asserts)* }; },
        }
    }

    /// One const assertion per `#[on]` handler: its message binds no response. An RPC
    /// request must be answered, which only an `#[rpc]` handler guarantees.
    fn generate_on_not_rpc(&self) -> TokenStream {
        if !self.item.generics.params.is_empty() {
            return TokenStream::new();
        }
        let asserts = self.handlers.iter().filter(|handler| !handler.rpc).map(|handler| {
            let message = &handler.message;
            let panic = format!(
                "`{}` is an RPC request (its #[message] binds a response): handle it with #[rpc] \
                 instead of #[on], so that every request gets its one reply",
                type_name(message)
            );
            quote_spanned! {message.span()=>
                const _: () = if <#message as ::wskit::Message>::RESPONSE.is_some() {
                    ::core::panic!(#panic)
                };
            }
        });
        quote! { #(#asserts)* }
    }
}

/// The function of `wskit::__private` that checks a parameter or result of `kind` (see
/// `wskit::__private`), spanned on the user's type `ty` so that a mismatch is reported there.
fn check_path(kind: &str, ty: &Type) -> TokenStream {
    let kind = Ident::new(kind, Span::call_site());
    quote_spanned!(ty.span()=> ::wskit::__private::#kind)
}

/// `ty` as written, without the spaces between tokens of its token stream: `crate::m::Ping`
/// rather than `crate :: m :: Ping`, for messages.
fn type_name(ty: &Type) -> String {
    let spaced = ty.to_token_stream().to_string();
    [
        (" :: ", "::"),
        (":: ", "::"),
        (" ::", "::"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
    ]
    .iter()
    .fold(spaced, |name, (from, to)| name.replace(from, to))
}

/// The parts of a checked signature the generated code needs.
struct Shape {
    /// The type of the `ctx` parameter.
    ctx: Type,
    /// `#[on]`: the message type.
    message: Option<Type>,
    /// The type of the optional parameter: `#[on]`'s meta, `#[on_close]`'s close,
    /// `#[on_error]`'s error.
    param: Option<Type>,
    /// The return type, for the methods that return a result.
    output: Option<Type>,
}

/// Checks `method` against the signature of `role`, reporting every deviation.
fn check_signature(role: Role, method: &ImplItemFn, errors: &mut Errors) -> Option<Shape> {
    let sig = &method.sig;
    let expected = role.signature();
    let mut failed = false;
    let mut fail = |tokens: &dyn ToTokens, message: String| {
        failed = true;
        errors.at(tokens, message);
    };
    if sig.asyncness.is_none() {
        fail(&sig.fn_token, format!("{} methods must be async: `{expected}`", role.attribute()));
    }
    if !sig.generics.params.is_empty() {
        fail(&sig.generics, format!("{} methods cannot be generic: `{expected}`", role.attribute()));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) if receiver.reference.is_some() && receiver.mutability.is_none() => {}
        Some(FnArg::Receiver(receiver)) if receiver.mutability.is_some() => fail(
            receiver,
            format!(
                "handlers take `&self`: connections run concurrently and share the router; \
                 keep mutable state in the connection's data (`ctx.data_mut()`) or behind a \
                 lock: `{expected}`"
            ),
        ),
        Some(other) => fail(other, format!("the first parameter must be `&self`: `{expected}`")),
        None => fail(&sig.ident, format!("{} methods take `&self` first: `{expected}`", role.attribute())),
    }
    let ctx = match inputs.next() {
        Some(FnArg::Typed(pat)) if matches!(&*pat.ty, Type::Reference(r) if r.mutability.is_some()) => {
            Some((*pat.ty).clone())
        }
        Some(other) => {
            fail(
                other,
                format!(
                    "the second parameter is the connection context, `ctx: &mut Ctx<Data>`: `{expected}`"
                ),
            );
            None
        }
        None => {
            fail(&sig.inputs, format!("missing `ctx: &mut Ctx<Data>` parameter: `{expected}`"));
            None
        }
    };
    let rest: Vec<&FnArg> = inputs.collect();
    let allowed = match role {
        Role::On | Role::Rpc => 2,
        Role::Open => 0,
        Role::Close | Role::Error | Role::Middleware | Role::After | Role::Binary => 1,
    };
    let required = match role {
        Role::On | Role::Rpc | Role::Open => allowed.min(1),
        Role::Close | Role::Error | Role::Middleware | Role::After | Role::Binary => allowed,
    };
    for extra in rest.iter().skip(allowed) {
        fail(*extra, format!("unexpected parameter: {} methods look like `{expected}`", role.attribute()));
    }
    if rest.len() < required && ctx.is_some() {
        let what = match role {
            Role::On => "the message parameter, e.g. `msg: JoinRoom`",
            Role::Rpc => "the request parameter, e.g. `req: GetUser`",
            Role::Close => "the `close: Close` parameter",
            Role::Middleware => "the `incoming: &Incoming<'_>` parameter",
            Role::After => "the `handled: &Handled<'_>` parameter",
            Role::Binary => "the `bytes: Bytes` parameter",
            _ => "the `error: &Error` parameter",
        };
        fail(&sig.inputs, format!("missing {what}: `{expected}`"));
    }
    let mut typed = rest.iter().map(|arg| match arg {
        FnArg::Typed(pat) => Some((*pat.ty).clone()),
        FnArg::Receiver(_) => None,
    });
    let (message, param) = match role {
        Role::On | Role::Rpc => (typed.next().flatten(), typed.next().flatten()),
        Role::Close | Role::Error | Role::Middleware | Role::After | Role::Binary => {
            (None, typed.next().flatten())
        }
        Role::Open => (None, None),
    };
    let output = match &sig.output {
        ReturnType::Type(_, ty) if !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()) => Some(&**ty),
        _ => None,
    };
    match (role, output) {
        (Role::On | Role::Open | Role::Binary, None) => fail(
            &sig.ident,
            format!(
                "{} methods return `Result<(), wskit::Error>`; add `-> Result<(), Error>`: `{expected}`",
                role.attribute()
            ),
        ),
        (Role::Middleware, None) => fail(
            &sig.ident,
            format!("#[middleware] methods return `Result<Next, wskit::Error>`: `{expected}`"),
        ),
        (Role::Rpc, None) => fail(
            &sig.ident,
            format!(
                "#[rpc] methods return the request's response: add `-> Result<SomeResponse, Error>`: `{expected}`"
            ),
        ),
        (Role::Close | Role::Error | Role::After, Some(output)) => fail(
            output,
            format!("{} methods return nothing; remove the return type: `{expected}`", role.attribute()),
        ),
        _ => {}
    }
    if failed {
        return None;
    }
    Some(Shape { ctx: ctx?, message, param, output: output.cloned() })
}
