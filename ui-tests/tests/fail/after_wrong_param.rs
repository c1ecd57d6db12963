use wskit::middleware::Handled;
use wskit::{router, Ctx, Error};

#[wskit::message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        Ok(())
    }

    #[after]
    async fn timed(&self, _ctx: &mut Ctx<()>, _handled: Handled<'_>) {}
}

fn main() {}
