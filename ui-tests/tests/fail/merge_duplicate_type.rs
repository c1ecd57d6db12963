use wskit::{message, router, Ctx, Error, Router};

#[message("PING")]
pub struct Ping;

#[message("LOGIN")]
pub struct Login;

pub struct Chat;

#[router]
impl Chat {
    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

pub struct Auth;

#[router]
impl Auth {
    #[on]
    async fn login(&self, _ctx: &mut Ctx<()>, _msg: Login) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {
    let _app = Chat.merge(Auth);
}
