//! [`Merge`]: two routers over the same connection data, served as one, with static
//! dispatch.

use super::types::{assert_disjoint, MessageTypes};
use super::Router;
use crate::close::Close;
use crate::concurrent::Forked;
use crate::ctx::Ctx;
use crate::envelope::Inbound;
use crate::error::Error;
use crate::panics::{self, Site};
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;

/// Two routers served as one, made by [`Router::merge`]: `Chat.merge(Auth)`, or
/// `Chat.merge(Auth).merge(Admin)` for more.
///
/// - **Messages** go to the router that handles their type: the first router is asked,
///   then the second, each with its generated `match` (no map, no boxing). A type
///   neither handles is answered UNIMPLEMENTED. Both routers handling one type is a
///   compile error naming the type and both routers.
/// - **RPC**: a request of either router is an RPC request, with its deadline.
/// - **Hooks** of every router run, in merge order: `#[on_open]` of the first, then of
///   the second (an error stops there and closes the connection, as for one router);
///   `#[on_close]` and `#[on_error]` of each, also when an earlier one panicked.
/// - **Middleware** stays with its router: a router's `#[router(middleware = [..])]`
///   runs before that router's handlers only, as when the router is served alone. For
///   middleware in front of every message, add a server layer
///   ([`Server::middleware`](crate::Server::middleware)).
///
/// ws-kit's specification appends every merged router's global middleware in front of
/// every message, while its composition guide counts on an admin router's middleware
/// guarding only the admin messages; wskit follows the guide (and axum's
/// `Router::merge`): a router behaves the same merged or alone.
///
/// ```
/// use wskit::testing::TestConnection;
/// use wskit::{message, router, Ctx, Error, Router};
///
/// #[message("LOGIN")]
/// pub struct Login { pub name: String }
///
/// #[message("SAY")]
/// pub struct Say { pub text: String }
///
/// #[message("SAID")]
/// pub struct Said { pub name: String, pub text: String }
///
/// #[derive(Default)]
/// pub struct Session { pub name: Option<String> }
///
/// pub struct Auth;
///
/// #[router(data = Session)]
/// impl Auth {
///     #[on]
///     async fn login(&self, ctx: &mut Ctx<Session>, login: Login) -> Result<(), Error> {
///         ctx.data_mut().name = Some(login.name);
///         Ok(())
///     }
/// }
///
/// pub struct Chat;
///
/// #[router(data = Session)]
/// impl Chat {
///     #[on]
///     async fn say(&self, ctx: &mut Ctx<Session>, say: Say) -> Result<(), Error> {
///         let name = ctx.data().name.clone().ok_or(Error::unauthenticated("log in first"))?;
///         ctx.reply(&Said { name, text: say.text })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut connection = TestConnection::new(Auth.merge(Chat));
/// connection.send(r#"{"type":"LOGIN","payload":{"name":"ada"}}"#).await;
/// let frames = connection.send(r#"{"type":"SAY","payload":{"text":"hi"}}"#).await;
/// assert_eq!(frames, [r#"{"type":"SAID","meta":{},"payload":{"name":"ada","text":"hi"}}"#]);
/// # }
/// ```
pub struct Merge<A, B> {
    // Shared: a concurrent handler's job keeps its own router alive while it runs.
    first: Arc<A>,
    second: Arc<B>,
}

impl<A: Router, B: Router<Data = A::Data>> Merge<A, B> {
    pub(super) fn new(first: A, second: B) -> Self {
        Merge { first: Arc::new(first), second: Arc::new(second) }
    }

    /// The first router.
    pub fn first(&self) -> &A {
        &self.first
    }

    /// The second router.
    pub fn second(&self) -> &B {
        &self.second
    }
}

impl<A: Router, B: Router<Data = A::Data>> Router for Merge<A, B> {
    type Data = A::Data;

    const TYPES: &'static MessageTypes = &MessageTypes::merge(A::TYPES, B::TYPES);

    const CHECK: () = {
        let () = A::CHECK;
        let () = B::CHECK;
        assert!(
            !(A::HANDLES_BINARY && B::HANDLES_BINARY),
            "both merged routers have an #[on_binary] handler; binary frames go to exactly one: \
             remove the handler from one of the two routers"
        );
        assert_disjoint(A::TYPES, B::TYPES)
    };

    const HANDLES_BINARY: bool = A::HANDLES_BINARY || B::HANDLES_BINARY;

    fn handles(message_type: &str) -> Option<&'static str> {
        A::handles(message_type).or_else(|| B::handles(message_type))
    }

    fn is_rpc(&self, message_type: &str) -> bool {
        self.first.is_rpc(message_type) || self.second.is_rpc(message_type)
    }

    fn is_concurrent(&self, message_type: &str) -> bool {
        self.first.is_concurrent(message_type) || self.second.is_concurrent(message_type)
    }

    async fn fork<'a>(
        &'a self,
        _: Arc<Self>,
        ctx: &'a mut Ctx<Self::Data>,
        inbound: Inbound<'a>,
    ) -> Result<Option<Forked>, Error> {
        match self.first.is_concurrent(inbound.message_type()) {
            true => self.first.fork(Arc::clone(&self.first), ctx, inbound).await,
            false => self.second.fork(Arc::clone(&self.second), ctx, inbound).await,
        }
    }

    async fn on_binary<'a>(&'a self, ctx: &'a mut Ctx<Self::Data>, bytes: Bytes) -> Result<(), Error> {
        match A::HANDLES_BINARY {
            true => self.first.on_binary(ctx, bytes).await,
            false => self.second.on_binary(ctx, bytes).await,
        }
    }

    async fn dispatch<'a>(&'a self, ctx: &'a mut Ctx<Self::Data>, inbound: Inbound<'a>) -> Result<(), Error> {
        match A::handles(inbound.message_type()) {
            Some(_) => self.first.dispatch(ctx, inbound).await,
            // The second router answers UNIMPLEMENTED for a type neither handles.
            None => self.second.dispatch(ctx, inbound).await,
        }
    }

    async fn on_open<'a>(&'a self, ctx: &'a mut Ctx<Self::Data>) -> Result<(), Error> {
        self.first.on_open(ctx).await?;
        self.second.on_open(ctx).await
    }

    async fn on_close<'a>(&'a self, ctx: &'a mut Ctx<Self::Data>, close: Close) {
        let quiet = ctx.limits().quiet_panics;
        isolated(self.first.on_close(ctx, close.clone()), quiet, Site::OnClose).await;
        self.second.on_close(ctx, close).await;
    }

    async fn on_error<'a>(&'a self, ctx: &'a mut Ctx<Self::Data>, error: &'a Error) {
        let quiet = ctx.limits().quiet_panics;
        isolated(self.first.on_error(ctx, error), quiet, Site::OnError).await;
        self.second.on_error(ctx, error).await;
    }
}

/// Runs the hook of the first router, logging a panic instead of letting it skip the
/// second router's hook. (A panic of the last hook reaches the connection, which logs it.)
async fn isolated(hook: impl Future<Output = ()>, quiet: bool, site: Site) {
    if let Err(panic) = panics::catch(hook, quiet).await {
        panics::report(&*panic, site, panics::NO_TYPE);
    }
}
