use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on(timeout = 5)]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
