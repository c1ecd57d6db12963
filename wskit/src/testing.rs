//! [`TestConnection`]: drives a router in process, without a socket, to unit-test handlers
//! and to benchmark the decode-validate-dispatch-encode path.
//!
//! It runs the same protocol core as the server: decoding, validation, dispatch, error
//! handling, and what a connection does while a handler runs (`$ws:abort`, deadlines, the
//! in-flight limit, close codes). Only the socket is replaced, by an in-memory one, and
//! the clock by one the test moves.

use crate::close::Close;
use crate::connection::{
    lock, Clock, Connection, MemoryTransport, Outcome, Received, Session, Signals, Wire,
};
use crate::ctx::Ctx;
use crate::limits::Limits;
use crate::message::Message;
use crate::outbox::Outbox;
use crate::pubsub::Hub;
use crate::router::Router;
use crate::time::Instant;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// One connection to a router, driven frame by frame: [`send`](Self::send) hands a frame
/// to the connection, runs it through the same decoding, validation, dispatch and error
/// handling as the server, and returns the frames the connection wrote.
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
///
/// ## Handlers that wait
///
/// [`send`](Self::send) returns once the connection is idle again: the frame's handler
/// has returned. To act while a handler waits (abort it, send more frames, let its
/// deadline pass), hand the frame over with [`start`](Self::start), which returns as
/// soon as the handler waits. Time moves only when the test moves it with
/// [`advance`](Self::advance), so deadlines are exact:
///
/// ```
/// use std::time::Duration;
/// use wskit::testing::TestConnection;
/// use wskit::{message, router, Ctx, Error};
///
/// #[message("SLOW", response = Done)]
/// pub struct Slow;
///
/// #[message("DONE")]
/// pub struct Done;
///
/// pub struct App;
///
/// #[router]
/// impl App {
///     #[rpc]
///     async fn slow(&self, ctx: &mut Ctx<()>, _: Slow) -> Result<Done, Error> {
///         ctx.cancellation().cancelled().await; // waits until cancelled
///         Ok(Done)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut connection = TestConnection::new(App);
/// let request = r#"{"type":"SLOW","meta":{"correlationId":"1","timeoutMs":500}}"#;
/// assert!(connection.start(request).await.is_empty());
/// assert!(connection.advance(Duration::from_millis(499)).await.is_empty());
/// let frames = connection.advance(Duration::from_millis(1)).await;
/// assert!(frames[0].starts_with(r#"{"type":"RPC_ERROR","meta":{"correlationId":"1"}"#));
/// assert!(frames[0].contains("DEADLINE_EXCEEDED"));
/// # }
/// ```
pub struct TestConnection<R: Router> {
    state: State<R>,
    wire: Arc<Wire>,
    clock: ManualClock,
    /// Never raised: a test connection has no server to shut it down.
    signals: Signals,
    closed: Option<Close>,
}

type Parked<R> = (Box<Connection<R, String>>, MemoryTransport);
type Driving<R> = Pin<Box<dyn Future<Output = (Parked<R>, Outcome)> + Send>>;

enum State<R: Router> {
    /// Between events: nothing runs.
    Parked(Parked<R>),
    /// A handler waits; the connection is inside the future that drives it.
    Driving(Driving<R>),
    /// Closed; `#[on_close]` has run.
    Ended(Box<Connection<R, String>>),
    /// Only while the state changes.
    Moving,
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
        let limits = Arc::new(limits);
        let (outbox, receiver) = Outbox::new(uuid::Uuid::now_v7(), &limits);
        let ctx = Ctx::new(data, Vec::new(), outbox, hub);
        let session = Session::new(Arc::new(router), Arc::default(), ctx);
        let clock = ManualClock::default();
        let connection = Connection::new(session, receiver, None, clock.now());
        let wire = Arc::new(Wire::default());
        let transport = MemoryTransport::new(Arc::clone(&wire));
        let state = State::Parked((Box::new(connection), transport));
        TestConnection { state, wire, clock, signals: Signals::default(), closed: None }
    }

    /// Sets a parameter of the upgrade path, as a server at `/rooms/:room` would from the
    /// request's path, for [`Ctx::param`].
    ///
    /// # Panics
    ///
    /// Once the connection has opened: parameters come with the upgrade request.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        let State::Parked((connection, _)) = &mut self.state else {
            panic!("TestConnection::param: set path parameters before the connection opens");
        };
        connection.session_mut().ctx_mut().add_param(name.to_owned(), value.to_owned());
        self
    }

    /// Opens the connection (the `#[on_open]` hook) and returns what it sent. The first
    /// [`send`](Self::send) opens it too.
    pub async fn open(&mut self) -> Vec<String> {
        self.run(Until::Idle).await
    }

    /// Hands `frame` to the connection and returns the frames written in answer, in
    /// order, once the connection is idle again (its handler has returned, and so have
    /// its concurrent handlers, or it closed). While a concurrent handler waits, hand
    /// frames over with [`start`](Self::start).
    pub async fn send(&mut self, frame: &str) -> Vec<String> {
        self.receive(Received::Text(frame.to_owned()));
        self.run(Until::Idle).await
    }

    /// Hands `frame` to the connection and returns what was written by the time the
    /// connection waits: for a handler that waits (on the client, a timer or a channel),
    /// as soon as it does, leaving it running.
    pub async fn start(&mut self, frame: &str) -> Vec<String> {
        self.receive(Received::Text(frame.to_owned()));
        self.run(Until::Waiting).await
    }

    /// Hands a binary frame to the connection, like [`send`](Self::send): the router's
    /// `#[on_binary]` handler gets it; without one, a frame that holds UTF-8 is handled as
    /// text, any other is refused with INVALID_ARGUMENT. Binary frames written in answer
    /// are kept for [`take_binary`](Self::take_binary).
    pub async fn send_binary(&mut self, frame: &[u8]) -> Vec<String> {
        self.receive(Received::Binary(frame.to_vec()));
        self.run(Until::Idle).await
    }

    /// The binary frames the connection wrote ([`Ctx::send_binary`](crate::Ctx::send_binary))
    /// since the last call, in order. The text frames are what [`send`](Self::send) and
    /// the other methods return.
    ///
    /// ```
    /// use wskit::testing::TestConnection;
    /// use wskit::{router, Bytes, Ctx, Error};
    ///
    /// pub struct Echo;
    ///
    /// #[router]
    /// impl Echo {
    ///     #[on_binary]
    ///     async fn echo(&self, ctx: &mut Ctx<()>, bytes: Bytes) -> Result<(), Error> {
    ///         ctx.send_binary(bytes)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut connection = TestConnection::new(Echo);
    /// assert!(connection.send_binary(&[1, 2, 3]).await.is_empty(), "no text frames");
    /// assert_eq!(connection.take_binary(), [vec![1, 2, 3]]);
    /// # }
    /// ```
    pub fn take_binary(&mut self) -> Vec<Bytes> {
        self.wire.take_binary().collect()
    }

    /// Sends `message` as a frame, the way a client would, and returns the answer.
    pub async fn send_message<M: Message>(&mut self, message: &M) -> Vec<String> {
        let frame = crate::envelope::encode(message, None).expect("a message serializes");
        self.send(&frame).await
    }

    /// Moves the connection's clock on by `by`, fires what falls due (RPC deadlines), and
    /// returns what was written by the time the connection waits again.
    pub async fn advance(&mut self, by: Duration) -> Vec<String> {
        self.clock.advance(by);
        self.run(Until::Waiting).await
    }

    /// Closes the connection from the client's side with `code`, runs `#[on_close]`, and
    /// returns what was written before.
    pub async fn close_from_client(&mut self, code: u16, reason: &str) -> Vec<String> {
        self.receive(Received::Closed(Close::new(code, reason.to_owned())));
        self.run(Until::Idle).await
    }

    /// How the connection closed, once a handler, a limit, the protocol or the client
    /// closed it. Frames sent after that are not delivered.
    pub fn closed(&self) -> Option<&Close> {
        self.closed.as_ref()
    }

    /// The connection's data.
    ///
    /// # Panics
    ///
    /// While a handler [started](Self::start) is still running: it holds the data.
    pub fn data(&self) -> &R::Data {
        match &self.state {
            State::Parked((connection, _)) | State::Ended(connection) => connection.session().data(),
            State::Driving(_) | State::Moving => {
                panic!("TestConnection::data: a handler is still running; let it finish first")
            }
        }
    }

    fn receive(&self, received: Received<String>) {
        if self.closed.is_none() {
            self.wire.push(received);
        }
    }

    /// Drives the connection until it is idle, or until it waits, and returns what it
    /// wrote meanwhile.
    async fn run(&mut self, until: Until) -> Vec<String> {
        std::future::poll_fn(|cx| self.poll_run(cx, until)).await;
        self.wire.take_written()
    }

    fn poll_run(&mut self, cx: &mut Context<'_>, until: Until) -> Poll<()> {
        let mut driving = match std::mem::replace(&mut self.state, State::Moving) {
            State::Parked((mut connection, mut transport)) => {
                let (clock, signals) = (self.clock.clone(), self.signals.clone());
                Box::pin(async move {
                    let outcome = connection.drive(&mut transport, clock.clone(), &signals).await;
                    ((connection, transport), outcome)
                }) as Driving<R>
            }
            State::Driving(driving) => driving,
            ended @ State::Ended(_) => {
                self.state = ended;
                return Poll::Ready(());
            }
            State::Moving => unreachable!("the state is put back before returning"),
        };
        loop {
            // Tell a wake-up from within the poll (the connection has more to do at once)
            // from waiting for something outside.
            let flag = Arc::new(WakeFlag { woken: AtomicBool::new(false), inner: cx.waker().clone() });
            let waker = Waker::from(Arc::clone(&flag));
            match driving.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready((parked, Outcome::Paused)) => {
                    self.state = State::Parked(parked);
                    return Poll::Ready(());
                }
                Poll::Ready(((connection, _), Outcome::Ended { close, .. })) => {
                    self.closed = Some(close);
                    self.state = State::Ended(connection);
                    return Poll::Ready(());
                }
                Poll::Pending if flag.woken.load(Ordering::Acquire) => continue,
                Poll::Pending => {
                    self.state = State::Driving(driving);
                    return match until {
                        Until::Waiting => Poll::Ready(()),
                        Until::Idle => Poll::Pending,
                    };
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Until {
    /// The connection is idle: nothing received waits, no handler runs.
    Idle,
    /// The connection waits for something outside it.
    Waiting,
}

/// A waker that remembers being woken.
struct WakeFlag {
    woken: AtomicBool,
    inner: Waker,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.inner.wake_by_ref();
    }
}

/// A clock that stands still until the test moves it.
#[derive(Clone)]
struct ManualClock {
    inner: Arc<ClockState>,
}

/// The waker of a timer waiting for the clock to move.
type TimerSlot = Mutex<Option<Waker>>;

struct ClockState {
    now: Mutex<Instant>,
    /// The timers made by this clock; each holds the waker it was last polled with.
    timers: Mutex<Vec<Weak<TimerSlot>>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        let inner = ClockState { now: Mutex::new(Instant::now()), timers: Mutex::default() };
        ManualClock { inner: Arc::new(inner) }
    }
}

impl ManualClock {
    fn advance(&self, by: Duration) {
        *lock(&self.inner.now) += by;
        let mut timers = lock(&self.inner.timers);
        timers.retain(|slot| slot.strong_count() > 0);
        for slot in timers.iter().filter_map(Weak::upgrade) {
            if let Some(waker) = lock(&slot).take() {
                waker.wake();
            }
        }
    }
}

impl Clock for ManualClock {
    type Timer = ManualTimer;

    fn now(&self) -> Instant {
        *lock(&self.inner.now)
    }

    fn timer(&self, at: Instant) -> ManualTimer {
        let slot = Arc::new(TimerSlot::default());
        lock(&self.inner.timers).push(Arc::downgrade(&slot));
        ManualTimer { clock: self.clone(), at, slot }
    }

    fn reset(&self, timer: Pin<&mut ManualTimer>, at: Instant) {
        timer.get_mut().at = at;
    }
}

/// A timer of a [`ManualClock`].
struct ManualTimer {
    clock: ManualClock,
    at: Instant,
    slot: Arc<TimerSlot>,
}

impl Future for ManualTimer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.at {
            return Poll::Ready(());
        }
        *lock(&self.slot) = Some(cx.waker().clone());
        Poll::Pending
    }
}
