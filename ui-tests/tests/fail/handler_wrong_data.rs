use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

#[derive(Default)]
pub struct Session {
    pub pings: u32,
}

pub struct App;

#[router(data = Session)]
impl App {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
