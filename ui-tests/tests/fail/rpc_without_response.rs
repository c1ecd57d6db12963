use wskit::{message, router, Ctx, Error};

#[message("GET_USER")]
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
    #[rpc]
    async fn get_user(&self, _ctx: &mut Ctx<()>, _req: GetUser) -> Result<User, Error> {
        Ok(User { name: "ada".into() })
    }
}

fn main() {}
