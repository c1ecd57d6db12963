use wskit::{router, Ctx, Error};

mod m {
    #[wskit::message("PING")]
    pub struct Ping;
}

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: m::Ping) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn ping_again(&self, _ctx: &mut Ctx<()>, _msg: m::Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
