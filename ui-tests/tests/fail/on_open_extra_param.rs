use wskit::{router, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on_open]
    async fn opened(&self, _ctx: &mut Ctx<()>, _greeting: String) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
