//! Unit structs are messages without a payload.
#![deny(warnings)]

use wskit::{message, router, Ctx, Error, Message, Router};

#[message("PING")]
pub struct Ping;

#[message("PONG")]
pub struct Pong;

#[message("LEAVE")]
pub struct Leave {}

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on]
    async fn leave(&self, ctx: &mut Ctx<()>, _leave: Leave) -> Result<(), Error> {
        ctx.close(1000, "bye");
        Ok(())
    }
}

fn main() {
    assert_eq!(Ping::TYPE, "PING");
    assert!(!Ping::HAS_PAYLOAD);
    assert!(!Pong::HAS_PAYLOAD);
    assert!(Leave::HAS_PAYLOAD);
    assert_eq!(serde_json::to_string(&Leave {}).unwrap(), "{}");
    assert_eq!(<App as Router>::TYPES, ["PING", "LEAVE"]);
}
