use wskit::{router, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
