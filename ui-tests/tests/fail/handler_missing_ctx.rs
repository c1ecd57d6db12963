use wskit::{message, router, Error};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
