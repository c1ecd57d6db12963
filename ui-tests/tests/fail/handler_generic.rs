use wskit::{router, Ctx, Error, Message};

pub struct App;

#[router]
impl App {
    #[on]
    async fn any<M: Message>(&self, _ctx: &mut Ctx<()>, _msg: M) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
