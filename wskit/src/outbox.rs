//! [`Outbox`]: a connection's bounded queue of outbound frames, filled by handlers (and by
//! [`ClientHandle`]s elsewhere) and drained by the host that owns the socket.

use crate::close::Close;
use crate::envelope;
use crate::error::Error;
use crate::limits::{LimitKind, Limits};
use crate::message::Message;
use crate::time::Instant;
#[cfg(feature = "server")]
use crate::wakeup::Millis;
use crate::wakeup::WakeUp;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use uuid::Uuid;

/// One outbound frame.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// Encoded for this connection alone.
    Owned(String),
    /// Encoded once and shared by every subscriber of a topic.
    Shared(Published),
    /// A binary frame ([`Ctx::send_binary`](crate::Ctx::send_binary)).
    Binary(Bytes),
}

impl Frame {
    /// The frame's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.payload().len()
    }

    /// The frame's payload: the bytes of its text, or of a binary frame.
    pub(crate) fn payload(&self) -> &[u8] {
        match self {
            Frame::Owned(text) => text.as_bytes(),
            Frame::Shared(published) => published.text().as_bytes(),
            Frame::Binary(bytes) => bytes,
        }
    }

    /// The frame's text, or its bytes if it is a binary frame.
    pub(crate) fn into_message(self) -> Result<String, Bytes> {
        match self {
            Frame::Owned(text) => Ok(text),
            Frame::Shared(published) => Ok(published.text().to_owned()),
            Frame::Binary(bytes) => Err(bytes),
        }
    }
}

/// The frame of a publish, shared by its subscribers, with its compressed form made by
/// the first subscriber that needs one and reused by the others: a publish to many
/// permessage-deflate subscribers is compressed once, not once per subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Published(Arc<PublishedFrame>);

#[derive(Debug)]
struct PublishedFrame {
    text: String,
    /// The raw DEFLATE payload, once made; `None` inside when compressing did not shrink
    /// the frame.
    #[cfg(feature = "server")]
    deflated: std::sync::OnceLock<Option<Box<[u8]>>>,
}

impl Published {
    /// The frame's text.
    pub(crate) fn text(&self) -> &str {
        &self.0.text
    }

    /// The frame's compressed payload, made by `compress` on the first call (which gives
    /// `None` when compressing does not pay) and remembered for every later one.
    #[cfg(feature = "server")]
    pub(crate) fn deflated(&self, compress: impl FnOnce(&[u8]) -> Option<Box<[u8]>>) -> Option<&[u8]> {
        self.0.deflated.get_or_init(|| compress(self.0.text.as_bytes())).as_deref()
    }
}

impl From<String> for Published {
    fn from(text: String) -> Self {
        Published(Arc::new(PublishedFrame {
            text,
            #[cfg(feature = "server")]
            deflated: std::sync::OnceLock::new(),
        }))
    }
}

/// What happens when a connection's outbound queue is full: the client reads slower than
/// it is sent to ([`Limits::max_queued_frames`](crate::Limits::max_queued_frames)).
///
/// # Drop notice
///
/// Under [`SlowConsumer::Drop`] and [`SlowConsumer::DropOldest`] a client is not left to
/// guess that it missed frames: once its queue is at most half full again, the server
/// queues one `ERROR` frame (no `correlationId`) that counts the frames dropped since the
/// last notice, error frames among them:
///
/// ```json
/// {"type":"ERROR","meta":{},"payload":{"code":"RESOURCE_EXHAUSTED",
///  "message":"3 frames to this client were dropped: it read slower than it was sent to",
///  "details":{"dropped":3,"policy":"drop-newest"},"retryable":true,"retryAfterMs":100}}
/// ```
///
/// `policy` is `drop-newest` or `drop-oldest`. It is a plain error frame of the ws-kit
/// protocol, so every client reads it as it reads other errors.
///
/// [`Limits::on_exceeded`](crate::Limits::on_exceeded) is told once per notice, as it is
/// queued: `OutboundQueue` or `OutboundBytes`, with the limit the first of the dropped
/// frames passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumer {
    /// Close the connection with 1013 (the default): whatever a client receives, it
    /// receives every frame it was sent, without gaps.
    #[default]
    Close,
    /// Keep the connection and drop each frame that does not fit (drop-newest): the send
    /// fails with RESOURCE_EXHAUSTED, a publish counts one delivery fewer. For feeds where
    /// the latest update matters more than every update. The client is told how many
    /// frames it missed ([drop notice](SlowConsumer#drop-notice)).
    Drop,
    /// Keep the connection and make room for each new frame by dropping the oldest queued
    /// ones: the send succeeds, and the client gets the newest frames. For feeds where a
    /// stale update is worthless once a newer one exists. A dropped frame may be an RPC's
    /// reply, whose request then times out on the client. The client is told how many
    /// frames it missed ([drop notice](SlowConsumer#drop-notice)).
    DropOldest,
}

impl SlowConsumer {
    /// The policy's name in a drop notice, if it drops frames.
    fn dropping(self) -> Option<&'static str> {
        match self {
            SlowConsumer::Close => None,
            SlowConsumer::Drop => Some("drop-newest"),
            SlowConsumer::DropOldest => Some("drop-oldest"),
        }
    }
}

/// A connection's queue of frames, shared by its senders and its host. The frames live
/// in a `VecDeque` that allocates on the first frame and, once drained, keeps at most
/// [`KEPT_CAPACITY`] slots, and gives back the smallest buffer ([`FIRST_CAPACITY`]) when
/// its host waits: a connection sent a frame now and then holds no queue memory between
/// frames, one that had a burst does not keep the burst's.
struct Queue {
    /// The connection's id: the queue is the one part of a connection that all who
    /// reach it share (its context, its host, the hub), so they read it here.
    client_id: Uuid,
    frames: Mutex<Frames>,
    /// The host's task while it waits for something to write, woken by the next frame.
    reader: AtomicWaker,
    /// The server's limits: the queue's capacity, its slow-consumer policy, and the hook
    /// told of frames dropped.
    limits: Arc<Limits>,
    /// What the queue's state is, read without its lock.
    flags: Flags,
    /// When the host wants its task woken for the connection's ping schedule, on hosts
    /// that ring it from a ticker of their own.
    wake_up: WakeUp,
}

/// The flags of a queue, in one byte: each is set and read on its own.
#[derive(Default)]
struct Flags(AtomicU8);

impl Flags {
    /// A push found the queue full under [`SlowConsumer::Close`] (how full is in
    /// [`Troubles::overflow`]): the connection is then closed with 1013.
    const OVERFLOWED: u8 = 1;
    /// The host waits for the socket to take a write: the client is not reading what it
    /// was sent.
    const STALLED: u8 = 1 << 1;
    /// The host stopped draining: the connection has closed.
    const CLOSED: u8 = 1 << 2;
    /// A close was requested from outside the handlers ([`Outbox::request_close`]): the
    /// queue takes nothing more.
    const CLOSING: u8 = 1 << 3;
    /// That close waits for the host to take it.
    const CLOSE_PENDING: u8 = 1 << 4;
    /// The host looks at the queue before it waits again: a push woke it since it last
    /// registered its waker, or it is at work ([`OutboxReceiver::at_work`]). The next
    /// pushes need not wake it (two atomic writes each, saved for every delivery of a
    /// burst).
    const NOTIFIED: u8 = 1 << 5;

    fn is_set(&self, flag: u8) -> bool {
        self.all() & flag != 0
    }

    /// Every flag, in one load.
    fn all(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, flag: u8, on: bool) {
        match on {
            true => self.0.fetch_or(flag, Ordering::AcqRel),
            false => self.0.fetch_and(!flag, Ordering::AcqRel),
        };
    }

    /// Clears `flag`; whether it was set. Looked at first: the host asks after every
    /// message, and a flag that is not set needs no locked write.
    fn take(&self, flag: u8) -> bool {
        self.is_set(flag) && self.0.fetch_and(!flag, Ordering::AcqRel) & flag != 0
    }

    /// Sets `flag`; whether it was clear. Looked at first, as in [`take`](Self::take): a
    /// flag set already needs no locked write.
    fn raise(&self, flag: u8) -> bool {
        !self.is_set(flag) && self.0.fetch_or(flag, Ordering::AcqRel) & flag == 0
    }
}

/// The queued frames, and how many bytes they hold.
#[derive(Default)]
struct Frames {
    queue: VecDeque<Frame>,
    bytes: usize,
    /// What goes wrong, boxed: rare, and every connection's queue holds the field.
    troubles: Option<Box<Troubles>>,
}

/// What a queue holds when something went wrong: it overflowed, a close was asked for,
/// frames were dropped.
#[derive(Default)]
struct Troubles {
    /// The limit the queue overflowed at, once it has.
    overflow: Option<Overflow>,
    /// A close requested from outside the handlers, until the host takes it.
    close: Option<Close>,
    /// Frames dropped by a dropping [`SlowConsumer`] policy and not yet reported to the
    /// client ([drop notice](SlowConsumer#drop-notice)).
    dropped: usize,
    /// The limit the first of them passed, reported to [`Limits::on_exceeded`] with the
    /// notice.
    first_dropped: Option<Overflow>,
}

/// A limit an outbound queue reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow {
    /// [`LimitKind::OutboundQueue`] (frames) or [`LimitKind::OutboundBytes`].
    pub(crate) kind: LimitKind,
    /// Frames or bytes the queue would have held.
    pub(crate) observed: usize,
    /// The limit in force: the configured one, or [`BEHIND_ALLOWANCE`] times it.
    pub(crate) limit: usize,
}

/// What a queue holds while its client is not reading; [`BEHIND_ALLOWANCE`] times that
/// while it is.
#[derive(Debug, Clone, Copy)]
struct Capacity {
    frames: usize,
    bytes: usize,
}

impl Queue {
    /// The close requested from outside the handlers, once.
    fn take_close_request(&self) -> Option<Close> {
        if !self.flags.take(Flags::CLOSE_PENDING) {
            return None;
        }
        self.frames().troubles.as_mut()?.close.take()
    }

    fn frames(&self) -> MutexGuard<'_, Frames> {
        // A panic while the lock is held cannot leave the queue half-changed.
        self.frames.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the queue holds now: its capacity while the client is not taking what it
    /// was sent, [`BEHIND_ALLOWANCE`] times that while it is.
    fn capacity(&self) -> Capacity {
        self.capacity_with(self.flags.all())
    }

    /// [`capacity`](Self::capacity), for the flags `flags` read already.
    fn capacity_with(&self, flags: u8) -> Capacity {
        let (frames, bytes) = (self.limits.max_queued_frames, self.limits.max_queued_bytes);
        match flags & Flags::STALLED != 0 {
            true => Capacity { frames, bytes },
            false => Capacity {
                frames: frames.saturating_mul(BEHIND_ALLOWANCE),
                bytes: bytes.saturating_mul(BEHIND_ALLOWANCE),
            },
        }
    }
}

impl Frames {
    /// The limit the queue overflowed at, if it has.
    fn overflow(&self) -> Option<Overflow> {
        self.troubles.as_ref()?.overflow
    }

    fn troubles(&mut self) -> &mut Troubles {
        self.troubles.get_or_insert_with(Box::default)
    }

    fn push(&mut self, frame: Frame) {
        let len = frame.len();
        self.push_len(frame, len);
    }

    /// [`push`](Self::push), for a frame of `len` bytes.
    fn push_len(&mut self, frame: Frame, len: usize) {
        self.bytes += len;
        self.queue.push_back(frame);
    }

    fn pop(&mut self) -> Option<Frame> {
        let frame = self.queue.pop_front()?;
        self.bytes -= frame.len();
        Some(frame)
    }

    /// Drops the oldest frames until `frame` fits, counting them.
    fn make_room(&mut self, len: usize, capacity: Capacity) {
        while let Some(overflow) = self.would_overflow(len, capacity) {
            if self.pop().is_none() {
                break;
            }
            self.count_dropped(overflow);
        }
    }

    /// Counts a frame dropped at `overflow`, the first since the last notice kept for
    /// the limits hook.
    fn count_dropped(&mut self, overflow: Overflow) {
        let troubles = self.troubles();
        troubles.first_dropped.get_or_insert(overflow);
        troubles.dropped = troubles.dropped.saturating_add(1);
    }

    /// Takes the count of frames dropped and not yet reported, with the limit the first
    /// of them passed.
    fn take_dropped(&mut self) -> Option<(usize, Overflow)> {
        let troubles = self.troubles.as_mut()?;
        let dropped = std::mem::take(&mut troubles.dropped);
        let first = troubles.first_dropped.take();
        Some((dropped, first?))
    }

    /// The limit that `frame` would pass, if any. A frame larger than the byte limit
    /// still goes into an empty queue: otherwise it could never be sent.
    fn would_overflow(&self, len: usize, capacity: Capacity) -> Option<Overflow> {
        let frames = self.queue.len() + 1;
        if frames > capacity.frames {
            return Some(Overflow {
                kind: LimitKind::OutboundQueue,
                observed: frames,
                limit: capacity.frames,
            });
        }
        let bytes = self.bytes + len;
        (bytes > capacity.bytes && !self.queue.is_empty()).then_some(Overflow {
            kind: LimitKind::OutboundBytes,
            observed: bytes,
            limit: capacity.bytes,
        })
    }
}

/// Drained queues above this capacity shrink back to it: a burst does not leave its
/// memory with the connection, and the next one does not regrow from nothing.
const KEPT_CAPACITY: usize = 16;

/// The capacity of a queue's first allocation (`Vec`'s least for elements of a frame's
/// size). A queue that never outgrew it gives it back when its host waits: making it
/// again for the next frame is one allocation, and most connections, sent a frame now and
/// then, would otherwise each hold it for good (160 bytes).
const FIRST_CAPACITY: usize = 4;

/// How many times its capacity a queue may hold while its client takes every byte it is
/// sent: the server itself is behind (a burst of publishes, a busy core), which is not
/// the client's fault, and closing healthy clients would only shed load by losing them.
const BEHIND_ALLOWANCE: usize = 8;

/// The error of a push to a queue that is full.
fn full(overflow: Overflow) -> Error {
    let unit = match overflow.kind {
        LimitKind::OutboundBytes => "bytes",
        _ => "frames",
    };
    Error::resource_exhausted(
        "the connection's outbound queue is full: the client is not reading fast enough",
    )
    .with_detail("limit", overflow.limit)
    .with_detail("unit", unit)
}

/// Why a queue with `flags` takes no frame: it overflowed (first: the connection is
/// being closed as a slow consumer), or its connection is closed or closing.
#[cold]
fn refusal(frames: &Frames, flags: u8) -> Error {
    match frames.overflow() {
        Some(overflow) => full(overflow),
        None if flags & Flags::CLOSED != 0 => Error::unavailable("the connection is closed"),
        None => Error::unavailable("the connection is closing"),
    }
}

/// The `ERROR` frame that tells a client how many frames it missed.
fn drop_notice(dropped: usize, policy: &'static str) -> Frame {
    let error = Error::resource_exhausted(format!(
        "{dropped} frames to this client were dropped: it read slower than it was sent to"
    ))
    .with_detail("dropped", dropped)
    .with_detail("policy", policy);
    Frame::Owned(envelope::encode_error(&error, None, false))
}

/// The close of a connection whose queue overflowed: a slow consumer.
pub(crate) fn slow_consumer_close() -> Close {
    Close::new(Close::TRY_AGAIN_LATER, "outbound queue full: the client is not reading")
}

/// The sending half of a connection's outbound queue.
#[derive(Clone)]
pub(crate) struct Outbox {
    queue: Arc<Queue>,
}

/// The receiving half, owned by the host.
pub(crate) struct OutboxReceiver {
    queue: Arc<Queue>,
}

impl Outbox {
    /// The queue of the connection `client_id`, bounded by `limits` (frames, bytes, the
    /// slow-consumer policy).
    pub(crate) fn new(client_id: Uuid, limits: &Arc<Limits>) -> (Self, OutboxReceiver) {
        let queue = Arc::new(Queue {
            client_id,
            frames: Mutex::default(),
            reader: AtomicWaker::new(),
            limits: Arc::clone(limits),
            flags: Flags::default(),
            wake_up: WakeUp::default(),
        });
        (Outbox { queue: Arc::clone(&queue) }, OutboxReceiver { queue })
    }

    /// Queues `frame`. Once the queue has overflowed it takes nothing more: the
    /// connection is being closed as a slow consumer, and frames queued behind the
    /// overflow would reach the client with a gap before them.
    pub(crate) fn push(&self, frame: Frame) -> Result<(), Error> {
        let queue = &*self.queue;
        let len = frame.len();
        {
            let mut frames = queue.frames();
            // One load for every flag looked at: those that refuse frames change under
            // this lock.
            let flags = queue.flags.all();
            if flags & (Flags::OVERFLOWED | Flags::CLOSED | Flags::CLOSING) != 0 {
                return Err(refusal(&frames, flags));
            }
            let capacity = queue.capacity_with(flags);
            if let Some(overflow) = frames.would_overflow(len, capacity) {
                match queue.limits.slow_consumer {
                    SlowConsumer::Close => {
                        frames.troubles().overflow = Some(overflow);
                        queue.flags.set(Flags::OVERFLOWED, true);
                        // The host closes the connection on its next turn: make sure it has one.
                        queue.reader.wake();
                        return Err(full(overflow));
                    }
                    SlowConsumer::Drop => {
                        frames.count_dropped(overflow);
                        return Err(full(overflow));
                    }
                    SlowConsumer::DropOldest => frames.make_room(len, capacity),
                }
            }
            frames.push_len(frame, len);
        }
        if queue.flags.raise(Flags::NOTIFIED) {
            queue.reader.wake();
        }
        Ok(())
    }

    /// Wakes the host, to look at what changed outside the queue: an idle connection
    /// waits with its waker [watched](OutboxReceiver::watch) here.
    #[cfg(feature = "server")]
    pub(crate) fn wake(&self) {
        self.queue.reader.wake();
    }

    /// Wakes the host if the wake-up it asked for is due at `now`
    /// ([`OutboxReceiver::wake_at`]).
    #[cfg(feature = "server")]
    pub(crate) fn wake_if_due(&self, now: Millis) {
        if self.queue.wake_up.ring_if_due(now) {
            self.queue.reader.wake();
        }
    }

    /// The id of the connection this queue belongs to.
    pub(crate) fn client_id(&self) -> Uuid {
        self.queue.client_id
    }

    /// The server's limits, which bound the queue.
    pub(crate) fn limits(&self) -> &Arc<Limits> {
        &self.queue.limits
    }

    /// Whether the host stopped draining the queue: the connection has closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.queue.flags.is_set(Flags::CLOSED)
    }

    /// Asks the host to close the connection with `close` once the frames queued before
    /// are written; from now on the queue takes nothing more. `false` if the connection is
    /// closed or a close was requested already (the first request wins).
    pub(crate) fn request_close(&self, close: Close) -> bool {
        self.ask_close(close, true)
    }

    /// Asks the host to close the connection with `close`, as
    /// [`request_close`](Self::request_close) does, but the queue goes on taking frames:
    /// the connection's session is being resumed by another connection, which takes them
    /// over ([`crate::resume`]).
    #[cfg(feature = "server")]
    pub(crate) fn request_handover(&self, close: Close) -> bool {
        self.ask_close(close, false)
    }

    fn ask_close(&self, close: Close, refuse_frames: bool) -> bool {
        let queue = &*self.queue;
        {
            let mut frames = queue.frames();
            if self.is_closed()
                || queue.flags.is_set(Flags::CLOSING)
                || frames.troubles.as_ref().is_some_and(|troubles| troubles.close.is_some())
            {
                return false;
            }
            frames.troubles().close = Some(close);
            queue.flags.set(Flags::CLOSING, refuse_frames);
            queue.flags.set(Flags::CLOSE_PENDING, true);
        }
        queue.reader.wake();
        true
    }

    /// Takes the close requested with [`request_close`](Self::request_close), once.
    pub(crate) fn take_close_request(&self) -> Option<Close> {
        self.queue.take_close_request()
    }

    /// Whether the queue is at least half full: the client reads slower than it is sent
    /// to, and best-effort frames (RPC progress) are dropped to keep room for the rest.
    pub(crate) fn is_backpressured(&self) -> bool {
        self.queue.frames().queue.len() * 2 >= self.queue.limits.max_queued_frames
    }

    /// The limit at which a push found the queue full, if one did.
    pub(crate) fn overflow(&self) -> Option<Overflow> {
        if !self.queue.flags.is_set(Flags::OVERFLOWED) {
            return None;
        }
        self.queue.frames().overflow()
    }
}

impl OutboxReceiver {
    /// The oldest queued frame, if any. Taking it may make room for a
    /// [drop notice](SlowConsumer#drop-notice), queued behind the frames still waiting.
    pub(crate) fn try_recv(&self) -> Option<Frame> {
        self.take(false).map(|(frame, _)| frame)
    }

    /// As [`try_recv`](Self::try_recv), and whether more frames were queued behind it: a
    /// host draining the queue need not look again when there were none (a frame queued
    /// meanwhile wakes it, or is found at its last look before it waits).
    pub(crate) fn try_recv_and_more(&self) -> Option<(Frame, bool)> {
        self.take(false)
    }

    /// Takes every queued frame, oldest first, with one look at the queue: a host
    /// draining it moves them out of its own copy, without the queue's lock per frame.
    /// Give the copy back with [`give_back`](Self::give_back), with the frames it did not
    /// use.
    pub(crate) fn take_all(&self) -> VecDeque<Frame> {
        let mut frames = self.queue.frames();
        frames.bytes = 0;
        let taken = std::mem::take(&mut frames.queue);
        let first_dropped = self.queue_drop_notice(&mut frames);
        drop(frames);
        self.report_dropped(first_dropped);
        taken
    }

    /// Gives back what [`take_all`](Self::take_all) took: the frames not used go back to
    /// the front of the queue, ahead of any queued since; an empty copy gives its buffer
    /// back for the next frames.
    pub(crate) fn give_back(&self, mut taken: VecDeque<Frame>) {
        let mut frames = self.queue.frames();
        if taken.is_empty() {
            if frames.queue.capacity() == 0 {
                taken.shrink_to(KEPT_CAPACITY);
                frames.queue = taken;
            }
            return;
        }
        frames.bytes += taken.iter().map(Frame::len).sum::<usize>();
        taken.append(&mut frames.queue);
        frames.queue = taken;
    }

    /// As [`try_recv`](Self::try_recv), for a host about to wait for its next event: an
    /// empty queue gives back its first buffer ([`FIRST_CAPACITY`]), to be made again by
    /// the next frame. (Not on every empty `try_recv`: a host that drains each reply as it
    /// is queued would make the buffer again for every one.)
    pub(crate) fn try_recv_or_rest(&self) -> Option<Frame> {
        self.take(true).map(|(frame, _)| frame)
    }

    fn take(&self, rest: bool) -> Option<(Frame, bool)> {
        let mut frames = self.queue.frames();
        let Some(frame) = frames.pop() else {
            if rest && frames.queue.capacity() <= FIRST_CAPACITY {
                frames.queue = VecDeque::new();
            }
            return None;
        };
        let first_dropped = self.queue_drop_notice(&mut frames);
        let more = !frames.queue.is_empty();
        if !more && frames.queue.capacity() > KEPT_CAPACITY {
            frames.queue.shrink_to(KEPT_CAPACITY);
        }
        drop(frames);
        self.report_dropped(first_dropped);
        Some((frame, more))
    }

    /// After frames were taken from `frames`: queues a drop notice behind the frames
    /// still waiting, if frames were dropped and the queue is at most half full again,
    /// and returns the limit the first of them passed, for
    /// [`report_dropped`](Self::report_dropped) once the lock is let go.
    #[inline(always)]
    fn queue_drop_notice(&self, frames: &mut Frames) -> Option<Overflow> {
        // Looked at first, inline: frames are rarely dropped, and the rest costs more.
        match frames.troubles.as_ref().is_some_and(|troubles| troubles.dropped > 0) {
            true => self.queue_drop_notice_if_due(frames),
            false => None,
        }
    }

    fn queue_drop_notice_if_due(&self, frames: &mut Frames) -> Option<Overflow> {
        let queue = &*self.queue;
        if frames.queue.len() * 2 > queue.capacity().frames || queue.flags.is_set(Flags::CLOSING) {
            return None;
        }
        let policy = queue.limits.slow_consumer.dropping()?;
        let (dropped, first) = frames.take_dropped()?;
        frames.push(drop_notice(dropped, policy));
        Some(first)
    }

    /// Tells the limits hook of the frames a notice reported: on the connection's own
    /// task, and out of the queue's lock, since the hook may send to the client.
    fn report_dropped(&self, first: Option<Overflow>) {
        if let Some(Overflow { kind, observed, limit }) = first {
            let queue = &*self.queue;
            queue.limits.exceeded(kind, observed, limit, Some(queue.client_id));
        }
    }

    /// The oldest queued frame, waiting for one; `None` once closed and drained.
    pub(crate) async fn recv(&self) -> Option<Frame> {
        std::future::poll_fn(|cx| {
            // Registered before looking: a frame pushed in between wakes the host.
            self.register(cx.waker());
            match self.try_recv() {
                Some(frame) => Poll::Ready(Some(frame)),
                None if self.queue.flags.is_set(Flags::CLOSED) => Poll::Ready(None),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Wakes `waker` at the next push, and at every other wake of the host
    /// ([`Outbox::wake`]).
    pub(crate) fn watch(&self, waker: &std::task::Waker) {
        self.register(waker);
    }

    /// Tells the queue that its host is at work and looks at it before it waits again
    /// (every wait registers first): pushes meanwhile need not wake it. Without this, a
    /// handler's reply would wake its own connection's task, to be polled once more for
    /// nothing after the batch it is handling.
    pub(crate) fn at_work(&self) {
        self.queue.flags.raise(Flags::NOTIFIED);
    }

    /// Registers `waker` for the host's next wake. Pushes wake it again from here on:
    /// the host looks at the queue after this, so a push it does not see wakes it.
    fn register(&self, waker: &std::task::Waker) {
        self.queue.reader.register(waker);
        // Cleared after registering: a push that sees it cleared wakes this waker.
        self.queue.flags.take(Flags::NOTIFIED);
    }

    /// Asks the host's ticker to wake the connection at `at` (give or take its tick), or
    /// not at all; [`take_wake_up`](Self::take_wake_up) tells when it did.
    pub(crate) fn wake_at(&self, at: Option<Instant>) {
        self.queue.wake_up.set(at);
    }

    /// Whether the host's ticker woke the connection for the wake-up it asked for, since
    /// the last call.
    pub(crate) fn take_wake_up(&self) -> bool {
        self.queue.wake_up.take_rung()
    }

    /// Whether a push found the queue full under [`SlowConsumer::Close`].
    pub(crate) fn has_overflowed(&self) -> bool {
        self.queue.flags.is_set(Flags::OVERFLOWED)
    }

    /// A second receiver of the same queue, for the session of a connection that ended
    /// and is kept to be resumed ([`crate::resume`]): its queue outlives the connection.
    #[cfg(feature = "server")]
    pub(crate) fn keep(&self) -> OutboxReceiver {
        OutboxReceiver { queue: Arc::clone(&self.queue) }
    }

    /// Marks the socket as not taking writes (`true`) or taking them again.
    pub(crate) fn set_stalled(&self, stalled: bool) {
        self.queue.flags.set(Flags::STALLED, stalled);
    }

    /// Completes once a push has found the queue full under [`SlowConsumer::Close`].
    pub(crate) async fn overflow(&self) {
        self.raised(Flags::OVERFLOWED).await
    }

    /// Completes once a close was requested from outside the handlers and not taken yet
    /// ([`Outbox::take_close_request`]).
    pub(crate) async fn close_requested(&self) {
        self.raised(Flags::CLOSE_PENDING).await
    }

    /// Whether a close was requested from outside the handlers and not taken yet.
    pub(crate) fn is_close_requested(&self) -> bool {
        self.queue.flags.is_set(Flags::CLOSE_PENDING)
    }

    /// Completes once `flag` is set; whoever sets it wakes the host.
    async fn raised(&self, flag: u8) {
        self.until(|| self.queue.flags.is_set(flag)).await
    }

    /// Completes once `done` holds, looking at each wake of the host
    /// ([`Outbox::wake`]); whatever makes it hold must wake the host.
    pub(crate) async fn until(&self, done: impl Fn() -> bool) {
        std::future::poll_fn(|cx| {
            // Registered before looking: a change in between wakes the host.
            self.register(cx.waker());
            match done() {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        })
        .await
    }

    /// Takes the close requested from outside the handlers, once.
    pub(crate) fn take_close_request(&self) -> Option<Close> {
        self.queue.take_close_request()
    }

    /// Stops the queue: every later push fails.
    pub(crate) fn close(&mut self) {
        let _frames = self.queue.frames();
        self.queue.flags.set(Flags::CLOSED, true);
    }
}

/// A cloneable handle that sends messages to one connection from anywhere: another
/// connection's handler, a background task, an HTTP endpoint.
///
/// Get one with [`Ctx::handle`](crate::Ctx::handle). Sends fail once the connection has
/// closed, and with RESOURCE_EXHAUSTED when its outbound queue is full (the connection is
/// then closed with 1013).
#[derive(Clone)]
pub struct ClientHandle {
    outbox: Outbox,
}

impl ClientHandle {
    pub(crate) fn new(outbox: Outbox) -> Self {
        ClientHandle { outbox }
    }

    /// The id of the connection this handle sends to.
    pub fn client_id(&self) -> Uuid {
        self.outbox.client_id()
    }

    /// Queues `message` for the connection.
    pub fn send<M: Message>(&self, message: &M) -> Result<(), Error> {
        self.outbox.push(Frame::Owned(envelope::encode(message, None)?))
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }

    /// Closes the connection with `code` and `reason`, e.g. to kick a client from an admin
    /// handler or a timer task. The frames queued before are still written, then the close
    /// frame; a handler the connection is running is stopped (its future is dropped and
    /// its cancellation token fires), and `#[on_close]` runs with this close. Sends after
    /// this fail.
    ///
    /// Codes an application may not send (1004-1006, 1015, outside 1000-4999) are
    /// replaced by 1008 (policy), as with [`Ctx::close`](crate::Ctx::close). Returns
    /// `false` if the connection has closed already or is being closed (the first close
    /// wins).
    pub fn close(&self, code: u16, reason: impl Into<std::borrow::Cow<'static, str>>) -> bool {
        self.outbox.request_close(Close::application(code, reason))
    }
}

impl std::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandle").field("client_id", &self.client_id()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: usize) -> Frame {
        Frame::Owned("x".repeat(bytes))
    }

    fn capacity(receiver: &OutboxReceiver) -> usize {
        receiver.queue.frames().queue.capacity()
    }

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_push_after_the_host_registers_again_wakes_it_however_many_woke_it_before() {
        let (outbox, receiver) = Outbox::new(Uuid::nil(), &Arc::new(Limits::default()));
        let wakes = Arc::new(Wakes::default());
        let waker = std::task::Waker::from(Arc::clone(&wakes));
        let woken = || wakes.0.load(Ordering::SeqCst);
        receiver.watch(&waker);
        (0..3).for_each(|_| outbox.push(frame(1)).unwrap());
        assert_eq!(woken(), 1);
        // The host registers before it looks: a push in between wakes it.
        receiver.watch(&waker);
        outbox.push(frame(1)).unwrap();
        assert_eq!(woken(), 2);
        while receiver.try_recv().is_some() {}
        receiver.watch(&waker);
        outbox.push(frame(1)).unwrap();
        assert_eq!(woken(), 3);
    }

    #[test]
    fn a_host_at_work_is_not_woken_by_pushes_until_it_registers_again() {
        let (outbox, receiver) = Outbox::new(Uuid::nil(), &Arc::new(Limits::default()));
        let wakes = Arc::new(Wakes::default());
        let waker = std::task::Waker::from(Arc::clone(&wakes));
        receiver.watch(&waker);
        receiver.at_work();
        outbox.push(frame(1)).unwrap();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        receiver.watch(&waker);
        outbox.push(frame(1)).unwrap();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn frames_given_back_go_ahead_of_those_queued_since_and_count_again() {
        let (outbox, receiver) = Outbox::new(Uuid::nil(), &Arc::new(Limits::default()));
        let text = |frame: Frame| frame.into_message().unwrap();
        for text in ["a", "bb", "ccc"] {
            outbox.push(Frame::Owned(text.into())).unwrap();
        }
        let mut taken = receiver.take_all();
        assert_eq!(receiver.queue.frames().bytes, 0, "taken frames are not the queue's");
        assert_eq!(taken.pop_front().map(text).as_deref(), Some("a"));
        outbox.push(Frame::Owned("dddd".into())).unwrap();
        receiver.give_back(taken);
        assert_eq!(receiver.queue.frames().bytes, 9);
        let rest: Vec<_> = std::iter::from_fn(|| receiver.try_recv()).map(text).collect();
        assert_eq!(rest, ["bb", "ccc", "dddd"]);
        // A copy given back empty lends its buffer to the next frames.
        (0..10).for_each(|_| outbox.push(frame(1)).unwrap());
        let mut taken = receiver.take_all();
        taken.clear();
        receiver.give_back(taken);
        assert!(capacity(&receiver) > FIRST_CAPACITY);
    }

    #[test]
    fn a_waiting_host_s_queue_gives_back_its_first_buffer_and_keeps_a_bounded_larger_one() {
        let (outbox, receiver) = Outbox::new(Uuid::nil(), &Arc::new(Limits::default()));
        outbox.push(frame(1)).unwrap();
        assert!((1..=FIRST_CAPACITY).contains(&capacity(&receiver)), "{}", capacity(&receiver));
        receiver.try_recv().unwrap();
        assert!(receiver.try_recv().is_none());
        assert!(capacity(&receiver) > 0, "kept while the host goes on");
        assert!(receiver.try_recv_or_rest().is_none());
        assert_eq!(capacity(&receiver), 0, "given back when the host waits");
        for burst in [10, 100] {
            (0..burst).for_each(|_| outbox.push(frame(1)).unwrap());
            while receiver.try_recv_or_rest().is_some() {}
            let kept = capacity(&receiver);
            assert!(kept > FIRST_CAPACITY && kept <= KEPT_CAPACITY, "after {burst} frames: {kept}");
        }
    }

    #[test]
    fn a_reading_client_s_queue_holds_eight_times_the_bytes_of_a_stalled_one() {
        let limits = Arc::new(Limits::default().max_queued_bytes(100));
        let (outbox, receiver) = Outbox::new(Uuid::nil(), &limits);
        for _ in 0..8 {
            outbox.push(frame(100)).unwrap();
        }
        let error = outbox.push(frame(1)).unwrap_err();
        assert_eq!(error.details().unwrap()["limit"], 800);
        assert_eq!(error.details().unwrap()["unit"], "bytes");
        let overflow = Overflow { kind: LimitKind::OutboundBytes, observed: 801, limit: 800 };
        assert_eq!(outbox.overflow(), Some(overflow));
        drop(receiver);

        let (outbox, receiver) = Outbox::new(Uuid::nil(), &limits);
        receiver.set_stalled(true);
        outbox.push(frame(60)).unwrap();
        assert!(outbox.push(frame(60)).is_err());
        assert_eq!(outbox.overflow().map(|overflow| overflow.limit), Some(100));
    }

    #[test]
    fn a_frame_above_the_byte_limit_goes_into_an_empty_queue_and_bytes_are_given_back() {
        let limits = Limits::default().max_queued_bytes(100).on_slow_consumer(SlowConsumer::Drop);
        let (outbox, receiver) = Outbox::new(Uuid::nil(), &Arc::new(limits));
        receiver.set_stalled(true);
        outbox.push(frame(500)).unwrap();
        assert!(outbox.push(frame(1)).is_err(), "dropped: the queue holds 500 bytes");
        assert_eq!(receiver.try_recv().map(|frame| frame.len()), Some(500));
        assert!(receiver.try_recv().is_some_and(|notice| text(notice).contains("RESOURCE_EXHAUSTED")));
        outbox.push(frame(100)).unwrap();
        assert_eq!(outbox.overflow(), None, "the drop policy never overflows");
    }

    #[test]
    #[cfg(feature = "server")]
    fn a_published_frame_is_compressed_once_for_all_its_subscribers() {
        let published = Published::from("{\"type\":\"NEWS\"}".to_owned());
        let subscribers = [Frame::Shared(published.clone()), Frame::Shared(published)];
        let mut compressions = 0;
        for frame in &subscribers {
            let Frame::Shared(published) = frame else { unreachable!() };
            let deflated = published.deflated(|text| {
                compressions += 1;
                Some(text[..4].into())
            });
            assert_eq!(deflated, Some(&b"{\"ty"[..]));
        }
        assert_eq!(compressions, 1);
    }

    fn text(frame: Frame) -> String {
        frame.into_message().expect("a text frame")
    }

    /// The texts of every frame the receiver takes now.
    fn drain(receiver: &OutboxReceiver) -> Vec<String> {
        std::iter::from_fn(|| receiver.try_recv()).map(text).collect()
    }

    fn stalled_queue(policy: SlowConsumer) -> (Outbox, OutboxReceiver) {
        let (outbox, receiver) = Outbox::new(
            Uuid::nil(),
            &Arc::new(Limits::default().max_queued_frames(2).on_slow_consumer(policy)),
        );
        receiver.set_stalled(true);
        (outbox, receiver)
    }

    fn notice(dropped: usize, policy: &str) -> String {
        serde_json::json!({"type": "ERROR", "meta": {}, "payload": {
            "code": "RESOURCE_EXHAUSTED",
            "message": format!("{dropped} frames to this client were dropped: it read slower than it was sent to"),
            "details": {"dropped": dropped, "policy": policy},
            "retryable": true,
            "retryAfterMs": 100,
        }})
        .to_string()
    }

    #[test]
    fn drop_newest_refuses_what_does_not_fit_and_reports_the_count_once_there_is_room() {
        let (outbox, receiver) = stalled_queue(SlowConsumer::Drop);
        for text in ["a", "b"] {
            outbox.push(Frame::Owned(text.into())).unwrap();
        }
        for text in ["c", "d"] {
            assert_eq!(
                outbox.push(Frame::Owned(text.into())).unwrap_err().code().as_str(),
                "RESOURCE_EXHAUSTED"
            );
        }
        let texts = drain(&receiver);
        let parsed: serde_json::Value = serde_json::from_str(&texts[2]).unwrap();
        assert_eq!(parsed, serde_json::from_str::<serde_json::Value>(&notice(2, "drop-newest")).unwrap());
        assert_eq!(texts[..2], ["a", "b"]);
        assert_eq!(texts.len(), 3, "one notice: {texts:?}");

        outbox.push(Frame::Owned("e".into())).unwrap();
        assert_eq!(drain(&receiver), ["e"], "the count starts again from zero after a notice");
    }

    #[test]
    fn drop_oldest_makes_room_for_the_newest_and_reports_what_it_dropped() {
        let (outbox, receiver) = stalled_queue(SlowConsumer::DropOldest);
        for text in ["a", "b", "c", "d", "e"] {
            outbox.push(Frame::Owned(text.into())).expect("drop-oldest takes every frame");
        }
        let texts = drain(&receiver);
        assert_eq!(texts[..2], ["d", "e"]);
        let parsed: serde_json::Value = serde_json::from_str(&texts[2]).unwrap();
        assert_eq!(parsed, serde_json::from_str::<serde_json::Value>(&notice(3, "drop-oldest")).unwrap());
        assert_eq!(texts.len(), 3);
        assert_eq!(outbox.overflow(), None, "dropping policies never overflow");
    }

    #[test]
    fn drop_oldest_keeps_the_byte_limit_and_takes_a_frame_above_it_alone() {
        let limits = Limits::default().max_queued_bytes(100).on_slow_consumer(SlowConsumer::DropOldest);
        let (outbox, receiver) = Outbox::new(Uuid::nil(), &Arc::new(limits));
        receiver.set_stalled(true);
        for _ in 0..3 {
            outbox.push(frame(40)).unwrap();
        }
        outbox.push(frame(500)).unwrap();
        assert_eq!(receiver.try_recv().map(|frame| frame.len()), Some(500));
        let notice: serde_json::Value = serde_json::from_str(&text(receiver.try_recv().unwrap())).unwrap();
        assert_eq!(notice["payload"]["details"]["dropped"], 3);
        assert!(receiver.try_recv().is_none());
    }

    #[test]
    fn the_close_policy_sends_no_notice() {
        let (outbox, receiver) = stalled_queue(SlowConsumer::Close);
        for text in ["a", "b"] {
            outbox.push(Frame::Owned(text.into())).unwrap();
        }
        assert!(outbox.push(Frame::Owned("c".into())).is_err());
        assert_eq!(drain(&receiver), ["a", "b"]);
    }
}
