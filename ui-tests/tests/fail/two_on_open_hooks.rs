use wskit::{router, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on_open]
    async fn hello(&self, _ctx: &mut Ctx<()>) -> Result<(), Error> {
        Ok(())
    }

    #[on_open]
    async fn hello_again(&self, _ctx: &mut Ctx<()>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
