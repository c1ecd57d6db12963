use wskit::middleware::Incoming;
use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router(middleware = [check])]
impl App {
    #[middleware]
    async fn check(&self, _ctx: &mut Ctx<()>, _incoming: &Incoming<'_>) -> Result<bool, Error> {
        Ok(true)
    }

    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
