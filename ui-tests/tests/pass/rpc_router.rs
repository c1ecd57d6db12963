//! An `#[rpc]` handler next to `#[on]` handlers, with declared meta and progress.

use wskit::{message, payload, router, Ctx, Error, Message, Router, Rpc};

#[payload]
pub struct Trace {
    pub trace_id: String,
}

#[message("GET_USER", response = User, meta = Trace)]
pub struct GetUser {
    pub id: String,
}

#[message("USER")]
pub struct User {
    pub name: String,
}

#[message("STATUS", response = Status)]
pub struct GetStatus;

#[message("STATUS_IS")]
pub struct Status {
    pub ok: bool,
}

#[message("NOTE")]
pub struct Note {
    pub text: String,
}

pub struct App;

#[router]
impl App {
    #[rpc]
    async fn get_user(&self, ctx: &mut Ctx<()>, req: GetUser, meta: Trace) -> Result<User, Error> {
        ctx.progress(&meta.trace_id);
        Ok(User { name: req.id })
    }

    #[rpc]
    async fn status(&self, _ctx: &mut Ctx<()>, _req: GetStatus) -> Result<Status, Error> {
        Ok(Status { ok: true })
    }

    #[on]
    async fn note(&self, _ctx: &mut Ctx<()>, _note: Note) -> Result<(), Error> {
        Ok(())
    }
}

fn assert_response<R: Rpc<Response = T>, T>() {}

fn main() {
    assert_response::<GetUser, User>();
    assert_eq!(<GetUser as Message>::RESPONSE, Some("USER"));
    assert_eq!(<Note as Message>::RESPONSE, None);
    assert!(App.is_rpc("GET_USER") && App.is_rpc("STATUS") && !App.is_rpc("NOTE"));
}
