use wskit::{router, Ctx};

pub struct App;

#[router]
impl App {
    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<()>, _code: u16) {}
}

fn main() {}
