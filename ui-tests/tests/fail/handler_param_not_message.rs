use wskit::{router, Ctx, Error};

pub struct NotAMessage {
    pub text: String,
}

pub struct App;

#[router]
impl App {
    #[on]
    async fn echo(&self, _ctx: &mut Ctx<()>, _msg: NotAMessage) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
