use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on(concurrent)]
    async fn ping(&self, _ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
