use wskit::{message, router, Ctx, Error};

#[message("GET_USER", response = User)]
pub struct GetUser {
    pub id: String,
}

#[message("USER")]
pub struct User {
    pub name: String,
}

pub struct App;

#[router]
impl App {
    #[on]
    async fn get_user(&self, ctx: &mut Ctx<()>, _req: GetUser) -> Result<(), Error> {
        ctx.reply(&User { name: "ada".into() })
    }
}

fn main() {}
