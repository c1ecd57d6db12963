//! `#[router]` without arguments: the connection data is `()`.
#![deny(warnings)]

use wskit::{message, router, Ctx, Error, Router};

#[message("PING")]
pub struct Ping {
    pub n: u32,
}

#[message("PONG")]
pub struct Pong {
    pub n: u32,
}

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, ping: Ping) -> Result<(), Error> {
        ctx.reply(&Pong { n: ping.n + 1 })
    }
}

/// An empty router is a router too.
pub struct Nothing;

#[router]
impl Nothing {}

fn assert_router<R: Router<Data = ()>>() {}

fn main() {
    assert_router::<App>();
    assert_router::<Nothing>();
    assert_eq!(<App as Router>::TYPES, ["PING"]);
    assert!(<Nothing as Router>::TYPES.is_empty());
}
