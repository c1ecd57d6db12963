use wskit::{router, Ctx, Error};

#[derive(Default)]
pub struct Session;

pub struct App;

#[router(state = Session)]
impl App {
    #[on_open]
    async fn hello(&self, _ctx: &mut Ctx<Session>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
