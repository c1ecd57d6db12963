use wskit::{message, router, Ctx};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) {}
}

fn main() {}
