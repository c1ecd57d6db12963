//! The router the end-to-end tests run against.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wskit::{message, payload, router, Close, Ctx, Error};

#[message("ECHO")]
pub(crate) struct Echo {
    pub(crate) text: String,
}

#[message("ECHOED")]
pub(crate) struct Echoed {
    pub(crate) text: String,
}

#[message("PING")]
pub(crate) struct Ping;

#[message("PONG")]
pub(crate) struct Pong;

#[payload]
pub(crate) struct Address {
    #[validate(length(min = 1))]
    pub(crate) city: String,
}

#[payload]
pub(crate) struct Trace {
    #[validate(length(max = 8))]
    pub(crate) trace_id: String,
}

#[message("SIGN_UP")]
pub(crate) struct SignUp {
    #[validate(length(min = 3, max = 16), pattern = "^[a-z0-9_]+$")]
    pub(crate) user_name: String,
    #[validate(email)]
    pub(crate) email: String,
    #[validate(range(min = 13, max = 130))]
    pub(crate) age: u32,
    #[validate(url)]
    pub(crate) homepage: Option<String>,
    #[validate(uuid)]
    pub(crate) invite: Option<String>,
    #[validate(non_empty, each(length(min = 1, max = 5)))]
    pub(crate) tags: Vec<String>,
    #[validate(nested)]
    pub(crate) address: Address,
    #[validate(custom = even)]
    pub(crate) lucky: i64,
}

fn even(value: &i64) -> Result<(), String> {
    if value % 2 == 0 {
        Ok(())
    } else {
        Err(format!("must be even, {value} is odd"))
    }
}

#[message("SIGNED_UP")]
pub(crate) struct SignedUp {
    pub(crate) user_name: String,
}

#[message("TRACED", meta = Trace)]
pub(crate) struct Traced {
    pub(crate) n: u32,
}

#[message("FAIL")]
pub(crate) struct Fail {
    pub(crate) code: String,
}

#[message("PANIC")]
pub(crate) struct Panic;

#[message("WHO_AM_I")]
pub(crate) struct WhoAmI;

#[message("YOU_ARE")]
pub(crate) struct YouAre {
    pub(crate) client_id: String,
    pub(crate) room: Option<String>,
    pub(crate) messages: u32,
}

#[message("CLOSE_ME")]
pub(crate) struct CloseMe {
    pub(crate) code: u16,
}

/// Per-connection data: counts handled messages.
#[derive(Default)]
pub(crate) struct Session {
    pub(crate) messages: u32,
}

/// What the hooks observed, shared with the test.
#[derive(Default)]
pub(crate) struct Observed {
    pub(crate) opened: AtomicUsize,
    pub(crate) errors: Mutex<Vec<String>>,
    pub(crate) closes: Mutex<Vec<Close>>,
    pub(crate) closed: tokio::sync::Notify,
}

pub(crate) struct TestApp {
    pub(crate) observed: Arc<Observed>,
}

impl TestApp {
    pub(crate) fn new() -> (Self, Arc<Observed>) {
        let observed = Arc::new(Observed::default());
        (TestApp { observed: observed.clone() }, observed)
    }
}

#[router(data = Session)]
impl TestApp {
    #[on_open]
    async fn opened(&self, _ctx: &mut Ctx<Session>) -> Result<(), Error> {
        self.observed.opened.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[on]
    async fn echo(&self, ctx: &mut Ctx<Session>, msg: Echo) -> Result<(), Error> {
        ctx.data_mut().messages += 1;
        ctx.reply(&Echoed { text: msg.text })
    }

    #[on]
    async fn ping(&self, ctx: &mut Ctx<Session>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on]
    async fn sign_up(&self, ctx: &mut Ctx<Session>, msg: SignUp) -> Result<(), Error> {
        ctx.reply(&SignedUp { user_name: msg.user_name })
    }

    #[on]
    async fn traced(&self, ctx: &mut Ctx<Session>, msg: Traced, meta: Trace) -> Result<(), Error> {
        ctx.reply(&Echoed { text: format!("{}:{}", msg.n, meta.trace_id) })
    }

    #[on]
    async fn fail(&self, _ctx: &mut Ctx<Session>, msg: Fail) -> Result<(), Error> {
        Err(match msg.code.as_str() {
            "NOT_FOUND" => Error::not_found("no such thing").with_detail("id", 7),
            other => Error::custom(other.to_owned(), "custom failure"),
        })
    }

    #[on]
    async fn panic(&self, _ctx: &mut Ctx<Session>, _: Panic) -> Result<(), Error> {
        panic!("secret internal detail")
    }

    #[on]
    async fn who_am_i(&self, ctx: &mut Ctx<Session>, _: WhoAmI) -> Result<(), Error> {
        let you = YouAre {
            client_id: ctx.client_id().to_string(),
            room: ctx.param("room").map(str::to_owned),
            messages: ctx.data().messages,
        };
        ctx.reply(&you)
    }

    #[on]
    async fn close_me(&self, ctx: &mut Ctx<Session>, msg: CloseMe) -> Result<(), Error> {
        ctx.reply(&Pong)?;
        ctx.close(msg.code, "asked to");
        Ok(())
    }

    #[on_error]
    async fn observe_error(&self, _ctx: &mut Ctx<Session>, error: &Error) {
        self.observed.errors.lock().unwrap().push(error.code().to_string());
    }

    #[on_close]
    async fn observe_close(&self, _ctx: &mut Ctx<Session>, close: Close) {
        self.observed.closes.lock().unwrap().push(close);
        self.observed.closed.notify_one();
    }
}
