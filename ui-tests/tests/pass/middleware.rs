//! Router-wide and per-handler middleware, with the names the generated code uses for its
//! own locals in scope as hostile unit structs.
#![deny(warnings)]
#![allow(non_camel_case_types)]

use wskit::middleware::{Incoming, Next};
use wskit::{message, router, Ctx, Error};

struct incoming;
struct next;

#[message("PING")]
pub struct Ping;

#[message("GET", response = Got)]
pub struct Get;

#[message("GOT")]
pub struct Got;

pub struct App;

#[router(middleware = [log])]
impl App {
    #[middleware]
    async fn log(&self, _ctx: &mut Ctx<()>, seen: &Incoming<'_>) -> Result<Next, Error> {
        let _ = seen.message_type();
        Ok(Next::Continue)
    }

    #[middleware]
    async fn gate(&self, _ctx: &mut Ctx<()>, seen: &Incoming<'_>) -> Result<Next, Error> {
        Ok(if seen.payload::<Get>().is_some() { Next::Continue } else { Next::Stop })
    }

    #[on]
    async fn ping(&self, _ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        Ok(())
    }

    #[rpc(middleware = [gate, log])]
    async fn get(&self, _ctx: &mut Ctx<()>, _req: Get) -> Result<Got, Error> {
        Ok(Got)
    }
}

fn main() {
    let _ = (incoming, next);
}
