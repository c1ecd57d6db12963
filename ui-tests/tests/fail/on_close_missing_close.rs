use wskit::{router, Ctx};

pub struct App;

#[router]
impl App {
    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<()>) {}
}

fn main() {}
