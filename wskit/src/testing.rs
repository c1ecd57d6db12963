//! [`TestConnection`]: drives a router in process, without a socket, to unit-test handlers
//! and to benchmark the decode-validate-dispatch-encode path.

use crate::close::Close;
use crate::connection::{Flow, Session, Step};
use crate::ctx::Ctx;
use crate::limits::Limits;
use crate::message::Message;
use crate::outbox::{Frame, Outbox, OutboxReceiver};
use crate::pubsub::Hub;
use crate::router::Router;
use std::sync::Arc;

/// One connection to a router, driven frame by frame: each [`send`](Self::send) runs the
/// frame through the same decoding, validation, dispatch and error handling as the server
/// and returns the frames the connection would write.
///
/// It runs each handler to completion: deadlines, `$ws:abort` and what a connection does
/// while a handler runs belong to the host and are not simulated.
///
/// ```
/// use wskit::testing::TestConnection;
/// use wskit::{message, router, Ctx, Error};
///
/// #[message("ADD")]
/// pub struct Add { pub a: i64, pub b: i64 }
///
/// #[message("SUM")]
/// pub struct Sum { pub sum: i64 }
///
/// pub struct Calculator;
///
/// #[router]
/// impl Calculator {
///     #[on]
///     async fn add(&self, ctx: &mut Ctx<()>, add: Add) -> Result<(), Error> {
///         ctx.reply(&Sum { sum: add.a + add.b })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut connection = TestConnection::new(Calculator);
/// let frames = connection.send(r#"{"type":"ADD","payload":{"a":2,"b":3}}"#).await;
/// assert_eq!(frames, [r#"{"type":"SUM","meta":{},"payload":{"sum":5}}"#]);
///
/// let frames = connection.send(r#"{"type":"ADD","payload":{"a":2}}"#).await;
/// assert!(frames[0].contains("INVALID_ARGUMENT"));
/// # }
/// ```
pub struct TestConnection<R: Router> {
    session: Session<R>,
    frames: OutboxReceiver,
    closed: Option<Close>,
}

impl<R: Router> TestConnection<R>
where
    R::Data: Default,
{
    /// A connection with default data and [`Limits`], on its own in-memory hub.
    pub fn new(router: R) -> Self {
        Self::with_data(router, R::Data::default())
    }
}

impl<R: Router> TestConnection<R> {
    /// A connection with `data` as its connection data.
    pub fn with_data(router: R, data: R::Data) -> Self {
        Self::with_hub(router, data, Hub::memory(), Limits::default())
    }

    /// A connection on `hub` (to test publishing between connections) with `limits`.
    pub fn with_hub(router: R, data: R::Data, hub: Hub, limits: Limits) -> Self {
        let (outbox, frames) = Outbox::new(limits.max_queued_frames, limits.slow_consumer);
        let limits = Arc::new(limits);
        let ctx = Ctx::new(data, uuid::Uuid::now_v7(), Vec::new(), outbox, hub, Arc::clone(&limits));
        let session = Session::new(Arc::new(router), Arc::new([]), ctx, limits);
        TestConnection { session, frames, closed: None }
    }

    /// Runs the `#[on_open]` hook and returns what it sent.
    pub async fn open(&mut self) -> Vec<String> {
        let flow = self.session.open().await;
        self.finish(flow)
    }

    /// Handles one inbound frame and returns the frames written in answer, in order.
    pub async fn send(&mut self, frame: &str) -> Vec<String> {
        let flow = match self.session.prepare(frame, std::time::Instant::now()) {
            Step::Done(flow) => flow,
            Step::Fail(error) => self.session.fail(error).await,
            Step::Run(job) => self.session.run(job).await,
        };
        self.finish(flow)
    }

    /// Sends `message` as a frame, the way a client would, and returns the answer.
    pub async fn send_message<M: Message>(&mut self, message: &M) -> Vec<String> {
        let frame = crate::envelope::encode(message, None).expect("a message serializes");
        self.send(&frame).await
    }

    /// How the connection was closed, once a handler, a limit or the protocol closed it.
    pub fn closed(&self) -> Option<&Close> {
        self.closed.as_ref()
    }

    /// The connection's data.
    pub fn data(&self) -> &R::Data {
        self.session.data()
    }

    fn finish(&mut self, flow: Flow) -> Vec<String> {
        if let Flow::Close(close) = flow {
            self.closed.get_or_insert(close);
        }
        let mut frames = Vec::new();
        while let Some(frame) = self.frames.try_recv() {
            frames.push(match frame {
                Frame::Owned(text) => text,
                Frame::Shared(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        frames
    }
}
