//! The generated code is clean under strict, allow-by-default lints.
#![deny(warnings)]
#![deny(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    unused_import_braces,
    unused_lifetimes,
    single_use_lifetimes,
    elided_lifetimes_in_paths,
    trivial_casts,
    trivial_numeric_casts,
    missing_debug_implementations,
    variant_size_differences,
    let_underscore_drop,
    meta_variable_misuse,
    non_ascii_idents,
    unsafe_code,
    unused_extern_crates,
    unused_macro_rules
)]

use wskit::{message, payload, router, Close, Ctx, Error};

/// Extra meta keys.
#[payload]
#[derive(Debug)]
pub struct Trace {
    /// The trace id.
    #[validate(length(min = 1), pattern = "^[a-f0-9]+$")]
    pub trace_id: String,
}

/// Says something.
#[message("SAY", meta = Trace)]
#[derive(Debug)]
pub struct Say {
    /// What.
    #[validate(length(min = 1, max = 500))]
    pub text: String,
    /// Tags.
    #[validate(each(length(max = 8), custom = lowercase))]
    pub tags: Vec<String>,
    /// Where.
    #[validate(nested)]
    pub trace: Option<Trace>,
    /// How loud.
    #[validate(range(max = 11))]
    pub volume: Option<u8>,
}

fn lowercase(tag: &str) -> Result<(), &str> {
    if tag.chars().any(char::is_uppercase) {
        Err("must be lowercase")
    } else {
        Ok(())
    }
}

/// Nothing.
#[message("PING")]
#[derive(Debug)]
pub struct Ping;

/// The connection's data.
#[derive(Debug, Default)]
pub struct Session {
    /// How many messages were said.
    pub said: u32,
}

/// The application.
#[derive(Debug)]
pub struct App;

#[router(data = Session)]
impl App {
    #[on_open]
    async fn opened(&self, _ctx: &mut Ctx<Session>) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn say(&self, ctx: &mut Ctx<Session>, msg: Say, trace: Trace) -> Result<(), Error> {
        ctx.data_mut().said += 1;
        let _delivery = ctx.publish(&trace.trace_id, &msg).await?;
        Ok(())
    }

    #[on]
    async fn ping(&self, ctx: &mut Ctx<Session>, ping: Ping) -> Result<(), Error> {
        ctx.reply(&ping)
    }

    #[on_error]
    async fn failed(&self, _ctx: &mut Ctx<Session>, _error: &Error) {}

    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<Session>, _close: Close) {}
}

fn main() {
    assert_eq!(<App as wskit::Router>::TYPES, ["SAY", "PING"]);
}
