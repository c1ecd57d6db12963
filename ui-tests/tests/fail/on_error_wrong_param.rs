use wskit::{router, Ctx, Error};

pub struct App;

#[router]
impl App {
    #[on_error]
    async fn failed(&self, _ctx: &mut Ctx<()>, _error: Error) {}
}

fn main() {}
