use wskit::middleware::Next;
use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[middleware]
    async fn check(&self, _ctx: &mut Ctx<()>, _incoming: &Ping) -> Result<Next, Error> {
        Ok(Next::Continue)
    }

    #[on(middleware = [check])]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
