use wskit::middleware::Handled;
use wskit::{router, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[after]
    async fn timed(&self, _ctx: &mut Ctx<()>, _handled: &Handled<'_>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
