use wskit::{message, router, Ctx, Error};

#[message("GET_USER", response = User)]
pub struct GetUser {
    pub id: String,
}

#[message("USER")]
pub struct User {
    pub name: String,
}

#[message("TEAM")]
pub struct Team {
    pub name: String,
}

pub struct App;

#[router]
impl App {
    #[rpc]
    async fn get_user(&self, _ctx: &mut Ctx<()>, _req: GetUser) -> Result<Team, Error> {
        Ok(Team { name: "core".into() })
    }
}

fn main() {}
