use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct NotMsg;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        ctx.publish("t", &NotMsg).await?;
        Ok(())
    }
}

fn main() {}
