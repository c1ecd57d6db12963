use wskit::{message, router, Ctx};

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
    #[rpc]
    async fn get_user(&self, _ctx: &mut Ctx<()>, _req: GetUser) {}
}

fn main() {}
