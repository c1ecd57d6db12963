//! [`Key`]: which bucket a message takes its tokens from.

use crate::ctx::Ctx;
use crate::middleware::Incoming;
use uuid::Uuid;

/// A function naming a user from the connection's data and client id.
pub(crate) type UserFn<D> = Box<dyn Fn(&D, Uuid) -> String + Send + Sync>;

/// A function naming the bucket of a message, or `None` to leave it unlimited.
pub(crate) type CustomFn<D> = Box<dyn Fn(&Ctx<D>, &Incoming<'_>) -> Option<String> + Send + Sync>;

/// How a rate limiter names the bucket of a message.
pub(crate) enum Key<D> {
    /// One bucket per connection: its client id.
    Connection,
    /// One bucket per user, shared by the user's connections.
    User(UserFn<D>),
    /// One bucket per user and message type.
    UserAndType(UserFn<D>),
    /// Any bucket the function names; `None` leaves the message unlimited.
    Custom(CustomFn<D>),
}

impl<D> Key<D> {
    /// The key of the bucket `incoming` takes from, `None` if it is not limited.
    pub(crate) fn of(&self, ctx: &Ctx<D>, incoming: &Incoming<'_>) -> Option<String> {
        match self {
            Key::Connection => Some(ctx.client_id().to_string()),
            Key::User(user) => Some(user(ctx.data(), ctx.client_id())),
            // `<length of type>:<type>:<user>`: unambiguous whatever either holds. Types
            // the router does not handle share one bucket, so that made-up type strings
            // cannot mint buckets without end.
            Key::UserAndType(user) => {
                let ty = if incoming.is_routed() { incoming.message_type() } else { "" };
                Some(format!("{}:{ty}:{}", ty.len(), user(ctx.data(), ctx.client_id())))
            }
            Key::Custom(custom) => custom(ctx, incoming),
        }
    }
}
