use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

#[message("PONG")]
pub struct Pong;

#[message("SECRET")]
pub struct Secret;

pub struct App;

#[router(sends = [Pong])]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)?;
        ctx.send(&Secret)
    }
}

fn main() {}
