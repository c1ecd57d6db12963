//! A router with an `#[on_binary]` handler, `#[after]` methods and handlers that send
//! binary frames.

use wskit::middleware::Handled;
use wskit::{message, router, Bytes, Ctx, Error, Router};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        ctx.send_binary(vec![1, 2, 3])
    }

    #[on_binary]
    async fn upload(&self, ctx: &mut Ctx<()>, bytes: Bytes) -> Result<(), Error> {
        ctx.send_binary(bytes)
    }

    #[after]
    async fn timed(&self, _ctx: &mut Ctx<()>, handled: &Handled<'_>) {
        let _ = (handled.message_type(), handled.result(), handled.elapsed());
    }
}

const _: () = assert!(<App as Router>::HANDLES_BINARY);

fn main() {}
