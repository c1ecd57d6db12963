use wskit::{message, router, Ctx, Error};

#[message("PING")]
pub struct Ping;

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(
        &self,
        _ctx: &mut Ctx<()>,
        _msg: Ping,
        _meta: wskit::NoMeta,
        _extra: u32,
    ) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
