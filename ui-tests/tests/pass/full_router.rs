//! A router with data, every hook, and handlers that reply, send and publish.
#![deny(warnings)]

use wskit::{message, router, Close, Ctx, Error, Router};

#[message("JOIN_ROOM")]
pub struct JoinRoom {
    #[validate(length(min = 1, max = 64))]
    pub room_id: String,
}

#[message("SEND_MESSAGE")]
pub struct SendMessage {
    pub room_id: String,
    #[validate(length(min = 1, max = 500))]
    pub text: String,
}

#[message("NEW_MESSAGE")]
pub struct NewMessage {
    pub room_id: String,
    pub user: String,
    pub text: String,
}

#[message("JOINED")]
pub struct Joined {
    pub room_id: String,
}

#[derive(Default)]
pub struct Session {
    pub user: Option<String>,
    pub room: Option<String>,
}

pub struct Chat {
    pub name: &'static str,
}

#[router(data = Session)]
impl Chat {
    #[on_open]
    async fn hello(&self, ctx: &mut Ctx<Session>) -> Result<(), Error> {
        ctx.data_mut().user = Some(format!("{}-{}", self.name, ctx.client_id()));
        Ok(())
    }

    #[on]
    async fn join(&self, ctx: &mut Ctx<Session>, msg: JoinRoom) -> Result<(), Error> {
        ctx.subscribe(&format!("room:{}", msg.room_id)).await?;
        ctx.data_mut().room = Some(msg.room_id.clone());
        ctx.reply(&Joined { room_id: msg.room_id })
    }

    #[on]
    async fn say(&self, ctx: &mut Ctx<Session>, msg: SendMessage) -> Result<(), Error> {
        let user = ctx.data().user.clone().ok_or_else(|| Error::unauthenticated("say hello first"))?;
        let topic = format!("room:{}", msg.room_id);
        ctx.publish(&topic, &NewMessage { room_id: msg.room_id, user, text: msg.text }).await?;
        Ok(())
    }

    /// Not a handler: methods without a role are left alone.
    fn greeting(&self) -> String {
        format!("hello from {}", self.name)
    }

    #[on_error]
    async fn failed(&self, ctx: &mut Ctx<Session>, error: &Error) {
        let _ = (ctx.data().room.as_deref(), error.code(), self.greeting());
    }

    #[on_close]
    async fn bye(&self, ctx: &mut Ctx<Session>, close: Close) {
        let _ = (ctx.data_mut().room.take(), close.code);
    }
}

fn assert_router<R: Router<Data = Session>>() {}

fn main() {
    assert_router::<Chat>();
    assert_eq!(<Chat as Router>::TYPES, ["JOIN_ROOM", "SEND_MESSAGE"]);
}
