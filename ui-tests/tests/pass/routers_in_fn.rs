//! Messages and routers declared inside a function body, two routers side by side.
#![deny(warnings)]

use wskit::{message, router, Close, Ctx, Error, Router};

fn main() {
    #[message("PING")]
    struct Ping;

    #[message("PONG")]
    struct Pong;

    struct First;

    #[router]
    impl First {
        #[on]
        async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
            ctx.reply(&Pong)
        }

        #[on]
        async fn pong(&self, _ctx: &mut Ctx<()>, _: Pong) -> Result<(), Error> {
            Ok(())
        }

        #[on_close]
        async fn closed(&self, _ctx: &mut Ctx<()>, _close: Close) {}
    }

    struct Second;

    #[router(data = u64)]
    impl Second {
        #[on]
        async fn ping(&self, ctx: &mut Ctx<u64>, _: Ping) -> Result<(), Error> {
            *ctx.data_mut() += 1;
            Ok(())
        }
    }

    fn assert_router<R: Router>() -> &'static wskit::MessageTypes {
        R::TYPES
    }

    assert_eq!(assert_router::<First>(), ["PING", "PONG"]);
    assert_eq!(assert_router::<Second>(), ["PING"]);
}
