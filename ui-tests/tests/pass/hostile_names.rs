//! The generated code names everything by absolute paths: items that shadow the prelude,
//! the crates and the generated locals in the module of the macro calls break nothing.
#![deny(warnings)]

use ::wskit::{payload, router};

// The prelude, shadowed.
pub struct Result;
pub struct Ok;
pub struct Err;
pub struct Option;
pub struct Some;
pub struct None;
pub struct Vec;
pub struct String;
pub struct Box;
pub struct Send;
pub struct Sync;
pub struct Sized;
pub struct Future;
pub struct Default;
pub struct Clone;
pub struct Into;
pub struct From;
pub struct Iterator;
pub struct Drop;
pub struct Fn;
pub struct ToString;

// Names the generated code might be tempted to use unqualified.
pub struct Message;
pub struct Router;
pub struct Validate;
pub struct Error;
pub struct Ctx;
pub struct Close;
pub struct Inbound;
pub struct Path;
pub struct Issues;
pub struct Regex;
pub struct LazyLock;
pub struct Serialize;
pub struct Deserialize;
pub struct Display;
pub struct HandlerOutput;
pub struct CtxParam;
pub struct MetaParam;
pub struct T;

// Unit structs named like the locals of the generated code: a `let` of the same name
// would be a pattern matching them, unless the locals are hygienic.
#[allow(non_camel_case_types)]
pub struct value;
#[allow(non_camel_case_types)]
pub struct index;
#[allow(non_camel_case_types)]
pub struct inbound;
#[allow(non_camel_case_types)]
pub struct ctx;
#[allow(non_camel_case_types)]
pub struct meta;
#[allow(non_camel_case_types)]
pub struct close;
#[allow(non_camel_case_types)]
pub struct error;
#[allow(non_camel_case_types)]
pub struct message;

// Crates and modules, shadowed (generated paths start with `::`).
pub mod core {}
pub mod std {}
pub mod alloc {}
pub mod serde {}
pub mod wskit {}
pub mod regex {}

// Functions named like locals of the generated code, used in rules: those locals have
// mixed-site hygiene and do not capture the user's names.
fn issues(number: &u32) -> ::core::result::Result<(), &'static str> {
    if *number < 1000 {
        ::core::result::Result::Ok(())
    } else {
        ::core::result::Result::Err("must be below 1000")
    }
}

fn at() -> u32 {
    100
}

type Text = ::std::string::String;
type Outcome = ::core::result::Result<(), ::wskit::Error>;
type Context = ::wskit::Ctx<Session>;

fn even(number: &u32) -> ::core::result::Result<(), &'static str> {
    if number.is_multiple_of(2) {
        ::core::result::Result::Ok(())
    } else {
        ::core::result::Result::Err("must be even")
    }
}

#[payload]
pub struct Trace {
    #[validate(length(min = 1, max = 16), pattern = "^[a-f0-9]+$")]
    pub trace_id: Text,
}

#[payload]
pub struct Point {
    #[validate(range(min = -1.0, max = 1.0))]
    pub x: f64,
}

#[::wskit::message("SAY", meta = Trace)]
pub struct Say {
    #[validate(length(min = 1, max = 500), pattern = "^[^<>]*$")]
    pub text: Text,
    #[validate(email)]
    pub from: ::core::option::Option<Text>,
    #[validate(non_empty, each(length(max = 8), uuid))]
    pub tags: ::std::vec::Vec<Text>,
    #[validate(nested)]
    pub at_point: Point,
    #[validate(each(nested))]
    pub path: ::std::vec::Vec<Point>,
    #[validate(range(min = 0, max = at()), custom = even, custom = issues)]
    pub volume: u32,
    #[validate(url)]
    #[serde(rename = "link")]
    pub homepage: ::core::option::Option<Text>,
}

#[::wskit::message("SAID", rename_all = "snake_case")]
pub struct Said {
    pub text: Text,
}

#[::wskit::message("PING")]
pub struct Ping;

#[::wskit::message("BOX", validate = manual)]
pub struct Boxed {
    pub inner: ::std::boxed::Box<str>,
}

impl ::wskit::Validate for Boxed {
    fn validate(&self, location: ::wskit::validate::Path<'_>, found: &mut ::wskit::validate::Issues) {
        if self.inner.is_empty() {
            found.push(location.field("inner"), "must not be empty");
        }
    }
}

#[derive(::core::default::Default)]
pub struct Session {
    pub said: u32,
}

pub struct App;

#[router(data = Session)]
impl App {
    #[on_open]
    async fn opened(&self, c: &mut Context) -> Outcome {
        c.data_mut().said = 0;
        ::core::result::Result::Ok(())
    }

    #[on]
    async fn say(&self, c: &mut Context, msg: Say, trace: Trace) -> Outcome {
        c.data_mut().said += 1;
        let text = ::std::format!("{} ({})", msg.text, trace.trace_id);
        c.publish("room", &Said { text }).await?;
        ::core::result::Result::Ok(())
    }

    #[on]
    async fn ping(
        &self,
        c: &mut ::wskit::Ctx<Session>,
        _: Ping,
    ) -> ::core::result::Result<(), ::wskit::Error> {
        c.reply(&Ping)
    }

    #[on]
    async fn boxed(&self, _c: &mut Context, _b: Boxed) -> Outcome {
        ::core::result::Result::Ok(())
    }

    #[on_error]
    async fn failed(&self, _c: &mut Context, _e: &::wskit::Error) {}

    #[on_close]
    async fn closed(&self, _c: &mut Context, _reason: ::wskit::Close) {}
}

fn main() {
    let types = <App as ::wskit::Router>::TYPES;
    ::std::assert_eq!(types, ["SAY", "PING", "BOX"]);
}
