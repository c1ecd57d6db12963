//! `#[rpc(concurrent)]` handlers beside in-order ones, with middleware and `#[after]`.

use wskit::middleware::{Handled, Incoming, Next};
use wskit::{message, router, Ctx, Error, Router};

#[message("GET", response = Got)]
pub struct Get {
    pub id: u32,
}

#[message("GOT")]
pub struct Got {
    pub id: u32,
}

#[message("PUT", response = Got)]
pub struct Put {
    pub id: u32,
}

#[derive(Default, Clone)]
pub struct Session {
    pub user: Option<String>,
}

pub struct App;

#[router(data = Session, middleware = [logged_in])]
impl App {
    #[middleware]
    async fn logged_in(&self, _ctx: &mut Ctx<Session>, _incoming: &Incoming<'_>) -> Result<Next, Error> {
        Ok(Next::Continue)
    }

    #[rpc(concurrent, middleware = [logged_in])]
    async fn get(&self, ctx: &mut Ctx<Session>, get: Get) -> Result<Got, Error> {
        let _ = ctx.data().user.as_deref();
        Ok(Got { id: get.id })
    }

    #[rpc]
    async fn put(&self, _ctx: &mut Ctx<Session>, put: Put) -> Result<Got, Error> {
        Ok(Got { id: put.id })
    }

    #[after]
    async fn timed(&self, _ctx: &mut Ctx<Session>, handled: &Handled<'_>) {
        let _ = handled.elapsed();
    }
}

fn main() {
    assert!(App.is_concurrent("GET") && !App.is_concurrent("PUT"));
}
