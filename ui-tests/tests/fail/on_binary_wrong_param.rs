use wskit::{router, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on_binary]
    async fn upload(&self, _ctx: &mut Ctx<()>, _bytes: Vec<u8>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
