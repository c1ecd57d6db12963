use wskit::middleware::{Incoming, Next};
use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router(middleware = [check])]
impl App {
    #[middleware]
    fn check(&self, _ctx: &mut Ctx<()>, _incoming: &Incoming<'_>) -> Result<Next, Error> {
        Ok(Next::Continue)
    }

    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
