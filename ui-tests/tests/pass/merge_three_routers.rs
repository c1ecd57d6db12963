//! Three routers over one data type merged into one, a generic one among them.
#![deny(warnings)]

use std::marker::PhantomData;
use wskit::{message, router, Ctx, Error, Merge, Router};

#[message("LOGIN")]
pub struct Login {
    pub name: String,
}

#[message("SAY")]
pub struct Say {
    pub text: String,
}

#[message("GET_ROOM", response = Room)]
pub struct GetRoom;

#[message("ROOM")]
pub struct Room {
    pub name: String,
}

#[derive(Default)]
pub struct Session {
    pub name: Option<String>,
}

pub struct Auth;

#[router(data = Session)]
impl Auth {
    #[on]
    async fn login(&self, ctx: &mut Ctx<Session>, msg: Login) -> Result<(), Error> {
        ctx.data_mut().name = Some(msg.name);
        Ok(())
    }
}

pub struct Chat;

#[router(data = Session)]
impl Chat {
    #[on]
    async fn say(&self, _ctx: &mut Ctx<Session>, _msg: Say) -> Result<(), Error> {
        Ok(())
    }
}

pub struct Rooms<S>(PhantomData<fn() -> S>);

#[router(data = Session)]
impl<S: 'static> Rooms<S> {
    #[rpc]
    async fn get(&self, _ctx: &mut Ctx<Session>, _req: GetRoom) -> Result<Room, Error> {
        Ok(Room { name: "lobby".into() })
    }
}

type App = Merge<Merge<Auth, Chat>, Rooms<u8>>;

fn main() {
    let app: App = Auth.merge(Chat).merge(Rooms(PhantomData));
    assert_eq!(<App as Router>::TYPES, ["LOGIN", "SAY", "GET_ROOM"]);
    assert_eq!(<App as Router>::TYPES.router_of("GET_ROOM"), Some("Rooms<S>"));
    assert_eq!(App::handles("SAY"), Some("SAY"));
    assert_eq!(App::handles("NOPE"), None);
    assert!(app.is_rpc("GET_ROOM") && !app.is_rpc("SAY"));
    let _: &Chat = app.first().second();
}
