use wskit::{router, Close, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<()>, _close: Close) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
