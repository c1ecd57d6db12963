use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

#[message("PING")]
pub struct AlsoPing;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn also_ping(&self, _ctx: &mut Ctx<()>, _msg: AlsoPing) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
