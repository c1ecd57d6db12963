//! The check behind `#[router(sends = [..])]`: in the router's handlers and hooks, `ctx`
//! sends and publishes only the declared messages (and the router's RPC responses).
//!
//! `#[router]` shadows each handler's `ctx` with a [`Sending`] view of it, whose `send`,
//! `reply`, `publish` and `publish_with` take precedence over [`Ctx`]'s and require the
//! router to implement [`Sends`] for the message, which it does for exactly the declared
//! ones. Everything else reaches the [`Ctx`] through `Deref`, and `&mut Sending` coerces to
//! `&mut Ctx` where a function asks for one.

use crate::ctx::Ctx;
use crate::error::Error;
use crate::message::Message;
use crate::pubsub::{Delivery, Publish};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// Implemented by `#[router(sends = [..])]` for each message the router declares it sends.
#[diagnostic::on_unimplemented(
    message = "`{M}` is not among the messages this router sends",
    label = "not declared in `#[router(sends = [..])]`",
    note = "add it to the router's list: `#[router(sends = [.., {M}])]`, or send it through the hub \
            (`ctx.hub()`), which the list does not cover"
)]
pub trait Sends<M> {}

/// Not a message: its impl for every router keeps a router that declares one message from
/// having a single `Sends` impl, from which the compiler would infer that every send is of
/// that message and report a mismatched type instead of the note above.
pub enum Undeclared {}

impl<R> Sends<Undeclared> for R {}

/// A handler's `ctx` in a router that declares what it sends.
pub struct Sending<'a, D, R> {
    ctx: &'a mut Ctx<D>,
    router: PhantomData<fn() -> R>,
}

impl<'a, D, R> Sending<'a, D, R> {
    /// Restricts what `ctx` sends to what `R` declares.
    pub fn new(ctx: &'a mut Ctx<D>) -> Self {
        Sending { ctx, router: PhantomData }
    }

    /// [`Ctx::send`], for a declared message.
    pub fn send<M: Message>(&mut self, message: &M) -> Result<(), Error>
    where
        R: Sends<M>,
    {
        self.ctx.send(message)
    }

    /// [`Ctx::reply`], for a declared message.
    pub fn reply<M: Message>(&mut self, message: &M) -> Result<(), Error>
    where
        R: Sends<M>,
    {
        self.ctx.reply(message)
    }

    /// [`Ctx::publish`], for a declared message.
    pub async fn publish<M: Message>(&self, topic: &str, message: &M) -> Result<Delivery, Error>
    where
        R: Sends<M>,
    {
        self.ctx.publish(topic, message).await
    }

    /// [`Ctx::publish_with`], for a declared message.
    pub async fn publish_with<M: Message>(
        &self,
        topic: &str,
        message: &M,
        options: &Publish,
    ) -> Result<Delivery, Error>
    where
        R: Sends<M>,
    {
        self.ctx.publish_with(topic, message, options).await
    }
}

impl<D, R> Deref for Sending<'_, D, R> {
    type Target = Ctx<D>;

    fn deref(&self) -> &Ctx<D> {
        self.ctx
    }
}

impl<D, R> DerefMut for Sending<'_, D, R> {
    fn deref_mut(&mut self) -> &mut Ctx<D> {
        self.ctx
    }
}
