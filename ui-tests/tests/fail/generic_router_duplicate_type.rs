use std::marker::PhantomData;
use wskit::{message, router, Ctx, Error, Router};

#[message("GET")]
pub struct Get;

#[message("GET")]
pub struct Fetch;

pub struct App<S>(PhantomData<fn() -> S>);

#[router]
impl<S: Send + Sync + 'static> App<S> {
    #[on]
    async fn get(&self, _ctx: &mut Ctx<()>, _msg: Get) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn fetch(&self, _ctx: &mut Ctx<()>, _msg: Fetch) -> Result<(), Error> {
        Ok(())
    }
}

fn serve<R: Router<Data = ()>>(router: R) -> R {
    router
}

fn main() {
    let _ = wskit::testing::TestConnection::new(serve(App::<u8>(PhantomData)));
}
