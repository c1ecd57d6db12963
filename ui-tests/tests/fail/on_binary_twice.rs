use wskit::{router, Bytes, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on_binary]
    async fn upload(&self, _ctx: &mut Ctx<()>, _bytes: Bytes) -> Result<(), Error> {
        Ok(())
    }

    #[on_binary]
    async fn chunk(&self, _ctx: &mut Ctx<()>, _bytes: Bytes) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
