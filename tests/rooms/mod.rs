//! A router that exposes subscribe, unsubscribe and publish as messages, for the pub/sub
//! tests on both buses.

use serde_json::json;
use wskit::{message, router, Ctx, Delivery, Error, Publish};
use wskit_examples::RawClient;

#[message("SUBSCRIBE")]
pub(crate) struct Subscribe {
    pub(crate) topic: String,
}

#[message("UNSUBSCRIBE")]
pub(crate) struct Unsubscribe {
    pub(crate) topic: String,
}

#[message("TOPICS")]
pub(crate) struct Topics {
    topics: Vec<String>,
}

#[message("SAY")]
pub(crate) struct Say {
    pub(crate) topic: String,
    pub(crate) text: String,
    exclude_self: bool,
}

#[message("DELIVERED")]
pub(crate) struct Delivered {
    count: Option<usize>,
}

#[message("NEWS")]
pub(crate) struct News {
    pub(crate) text: String,
}

pub(crate) struct Rooms;

#[router]
impl Rooms {
    #[on]
    async fn subscribe(&self, ctx: &mut Ctx<()>, msg: Subscribe) -> Result<(), Error> {
        ctx.subscribe(&msg.topic).await?;
        self.list(ctx)
    }

    #[on]
    async fn unsubscribe(&self, ctx: &mut Ctx<()>, msg: Unsubscribe) -> Result<(), Error> {
        ctx.unsubscribe(&msg.topic).await?;
        self.list(ctx)
    }

    #[on]
    async fn say(&self, ctx: &mut Ctx<()>, msg: Say) -> Result<(), Error> {
        let options = if msg.exclude_self { Publish::new().exclude_self() } else { Publish::new() };
        let delivery = ctx.publish_with(&msg.topic, &News { text: msg.text }, &options).await?;
        let count = match delivery {
            Delivery::Exact(count) => Some(count),
            Delivery::Relayed => None,
        };
        ctx.reply(&Delivered { count })
    }
}

impl Rooms {
    fn list(&self, ctx: &mut Ctx<()>) -> Result<(), Error> {
        let mut topics: Vec<String> = ctx.topics().map(str::to_owned).collect();
        topics.sort();
        ctx.reply(&Topics { topics })
    }
}

pub(crate) async fn subscribe(client: &mut RawClient, topic: &str) -> serde_json::Value {
    client.request(json!({"type": "SUBSCRIBE", "payload": {"topic": topic}})).await
}
