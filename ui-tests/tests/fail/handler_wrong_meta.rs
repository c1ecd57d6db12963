use wskit::{message, payload, router, Ctx, Error};

#[payload]
pub struct Trace {
    pub trace_id: String,
}

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping, _meta: Trace) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
