use wskit::{router, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on_open]
    #[on_error]
    async fn hello(&self, _ctx: &mut Ctx<()>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
