//! `meta = T` declares extra meta keys; a handler takes them as a fourth parameter.
#![deny(warnings)]

use wskit::{message, payload, router, Ctx, Error, Message, NoMeta};

#[payload]
pub struct Trace {
    #[validate(length(min = 1, max = 32))]
    pub trace_id: String,
    pub sampled: Option<bool>,
}

#[message("TRACED", meta = Trace)]
pub struct Traced {
    pub n: u32,
}

#[message("PLAIN")]
pub struct Plain;

#[message("ECHO")]
pub struct Echo {
    pub text: String,
}

pub struct App;

#[router]
impl App {
    #[on]
    async fn traced(&self, ctx: &mut Ctx<()>, msg: Traced, meta: Trace) -> Result<(), Error> {
        ctx.reply(&Echo { text: format!("{} {} {:?}", msg.n, meta.trace_id, meta.sampled) })
    }

    #[on]
    async fn traced_by_projection(
        &self,
        _ctx: &mut Ctx<()>,
        _msg: Plain,
        _meta: <Plain as Message>::Meta,
    ) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn echo(&self, ctx: &mut Ctx<()>, msg: Echo, _meta: NoMeta) -> Result<(), Error> {
        ctx.reply(&msg)
    }
}

fn assert_meta<M: Message<Meta = T>, T>() {}

fn main() {
    assert_meta::<Traced, Trace>();
    assert_meta::<Plain, NoMeta>();
}
