use wskit::{message, router, Ctx, Error};

#[message("GET", response = Got)]
pub struct Get;

#[message("GOT")]
pub struct Got;

#[derive(Default)]
pub struct Session;

pub struct App;

#[router(data = Session)]
impl App {
    #[rpc(concurrent)]
    async fn get(&self, _ctx: &mut Ctx<Session>, _: Get) -> Result<Got, Error> {
        Ok(Got)
    }
}

fn main() {}
