//! A router that declares what it sends: its handlers and hooks send, reply and publish
//! the declared messages through `ctx`, and pass `ctx` on to functions that take a `Ctx`.

use wskit::{message, router, Close, Ctx, Error, Publish};

#[message("PING")]
pub struct Ping;

#[message("PONG")]
pub struct Pong;

#[message("NEWS")]
pub struct News {
    pub text: String,
}

#[message("ASK", response = Answer)]
pub struct Ask;

#[message("ANSWER")]
pub struct Answer;

pub struct App;

fn topic_of(ctx: &Ctx<()>) -> String {
    format!("client:{}", ctx.client_id())
}

fn send_pong(ctx: &mut Ctx<()>) -> Result<(), Error> {
    ctx.send(&Pong)
}

#[router(sends = [Pong, News, Pong])]
impl App {
    #[on_open]
    async fn open(&self, ctx: &mut Ctx<()>) -> Result<(), Error> {
        ctx.send(&Pong)
    }

    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)?;
        send_pong(ctx)?;
        let topic = topic_of(ctx);
        ctx.subscribe(&topic).await?;
        ctx.publish(&topic, &News { text: "hi".into() }).await?;
        ctx.publish_with(&topic, &News { text: "hi".into() }, &Publish::new().exclude_self()).await?;
        Ok(())
    }

    #[rpc]
    async fn ask(&self, _ctx: &mut Ctx<()>, _: Ask) -> Result<Answer, Error> {
        Ok(Answer)
    }

    #[on_binary]
    async fn upload(&self, ctx: &mut Ctx<()>, _: wskit::Bytes) -> Result<(), Error> {
        ctx.send(&Pong)
    }

    #[after]
    async fn count(&self, ctx: &mut Ctx<()>, _: &wskit::middleware::Handled<'_>) {
        let _ = ctx.send(&Pong);
    }

    #[on_close]
    async fn close(&self, ctx: &mut Ctx<()>, _: Close) {
        let _ = ctx.publish("all", &News { text: "bye".into() }).await;
    }
}

fn main() {}
