//! A router over a generic application type, with a where clause.
#![deny(warnings)]

use std::marker::PhantomData;
use wskit::{message, router, Ctx, Error, Router};

#[message("GET")]
pub struct Get {
    pub key: String,
}

#[message("GOT")]
pub struct Got {
    pub value: Option<String>,
}

#[message("PUT")]
pub struct Put {
    pub key: String,
    pub value: String,
}

/// Where the values live.
pub trait Store: Send + Sync + 'static {
    /// The value of `key`.
    fn get(&self, key: &str) -> Option<String>;
}

pub struct Empty;

impl Store for Empty {
    fn get(&self, _key: &str) -> Option<String> {
        None
    }
}

pub struct App<S, D = ()> {
    pub store: S,
    pub data: PhantomData<fn() -> D>,
}

#[router(data = D)]
impl<S: Store, D> App<S, D>
where
    D: Default + Send + 'static,
{
    #[on]
    async fn get(&self, ctx: &mut Ctx<D>, msg: Get) -> Result<(), Error> {
        ctx.reply(&Got { value: self.store.get(&msg.key) })
    }

    #[on]
    async fn put(&self, _ctx: &mut Ctx<D>, _msg: Put) -> Result<(), Error> {
        Err(Error::unimplemented("read-only"))
    }
}

fn assert_router<R: Router>() {}

fn main() {
    assert_router::<App<Empty>>();
    assert_router::<App<Empty, u64>>();
    assert_eq!(<App<Empty> as Router>::TYPES, ["GET", "PUT"]);
    let app = App::<Empty> { store: Empty, data: PhantomData };
    assert!(app.store.get("x").is_none());
}
