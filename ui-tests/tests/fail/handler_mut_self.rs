use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct App {
    pub pings: u64,
}

#[router]
impl App {
    #[on]
    async fn ping(&mut self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        self.pings += 1;
        Ok(())
    }
}

fn main() {}
