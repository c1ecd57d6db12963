//! Flow control: what a client sees when it sends faster than the server allows, the
//! messages and router of the `flow_control` example.
//!
//! Two queues can fill up, and the client is told in both cases:
//!
//! - **The work queue** (inbound): each `SEND_DATA` request puts an item on the
//!   connection's queue of [`QUEUE_CAPACITY`] items, which a worker empties (`PROCESS`
//!   stands for it here, so that the contract is deterministic). Each route applies one
//!   policy when the queue is full: `/ws/drop-oldest` drops the oldest item and names it in
//!   the `DATA_ACK`; `/ws/drop-newest` refuses the new item with RESOURCE_EXHAUSTED and a
//!   `retryAfterMs` hint (the Rust client's `request_with_retry` waits that long and sends
//!   again); `/ws/queue` keeps every item up to [`HARD_LIMIT`] and warns once with
//!   `QUEUE_HIGH_WATER` when the queue passes [`QUEUE_CAPACITY`].
//! - **The outbound queue**: `BURST {count}` sends `count` frames at once. The drop routes
//!   serve with [`SlowConsumer::DropOldest`] and [`SlowConsumer::Drop`] and a small queue,
//!   so frames beyond it are dropped, and once there is room the client gets an `ERROR`
//!   RESOURCE_EXHAUSTED counting them (`details {dropped, policy}`).
//!
//! The message names follow ws-kit's `examples/flow-control`.

use std::collections::VecDeque;
use std::time::Duration;
use wskit::{message, router, Ctx, Error, Limits, Retry, Routes, Server, SlowConsumer};

/// Items a connection's work queue holds before its policy applies.
pub(crate) const QUEUE_CAPACITY: usize = 10;
/// Items the watched queue (`/ws/queue`) holds at most.
pub(crate) const HARD_LIMIT: usize = 100;
/// The retry hint of a refused item: how long the worker takes to free a slot.
pub(crate) const RETRY_AFTER: Duration = Duration::from_millis(250);
/// Outbound frames a client that reads may have waiting on the drop routes: eight times
/// `max_queued_frames` (see `Limits::max_write_stall`).
const OUTBOUND_FRAMES: usize = 4;

// ---- Client to server ----

/// Puts an item on the work queue; answered by [`DataAck`] or RESOURCE_EXHAUSTED.
#[message("SEND_DATA", response = DataAck)]
pub(crate) struct SendData {
    #[validate(length(min = 1, max = 64))]
    pub(crate) id: String,
}

/// Takes up to `max` items off the work queue, oldest first (the worker).
#[message("PROCESS", response = Processed)]
pub(crate) struct Process {
    #[validate(range(min = 1, max = 100))]
    pub(crate) max: u32,
}

/// Sends `count` [`Tick`]s at once.
#[message("BURST")]
struct Burst {
    #[validate(range(min = 1, max = 1000))]
    count: u32,
}

// ---- Server to client ----

/// The item `id` is queued; `dropped` names the item dropped to make room for it.
#[message("DATA_ACK")]
pub(crate) struct DataAck {
    pub(crate) id: String,
    pub(crate) queue_depth: usize,
    dropped: Option<String>,
}

/// The items the worker took.
#[message("PROCESSED")]
pub(crate) struct Processed {
    pub(crate) ids: Vec<String>,
}

/// The watched queue passed its capacity; sent once each time it does.
#[message("QUEUE_HIGH_WATER")]
struct QueueHighWater {
    queue_depth: usize,
    capacity: usize,
}

/// One frame of a burst.
#[message("TICK")]
struct Tick {
    n: u32,
}

// ---- State ----

/// What a full work queue does with a new item.
#[derive(Clone, Copy)]
pub(crate) enum Policy {
    DropOldest,
    DropNewest,
    /// Keep up to [`HARD_LIMIT`], warning past [`QUEUE_CAPACITY`].
    Watched,
}

/// Per-connection data: the work queue.
#[derive(Default)]
pub(crate) struct Session {
    queue: VecDeque<String>,
}

/// The flow control router, one per route.
pub(crate) struct FlowControl {
    policy: Policy,
}

#[router(data = Session)]
impl FlowControl {
    #[rpc]
    async fn send_data(&self, ctx: &mut Ctx<Session>, msg: SendData) -> Result<DataAck, Error> {
        let queue = &mut ctx.data_mut().queue;
        let mut dropped = None;
        match self.policy {
            Policy::DropOldest if queue.len() >= QUEUE_CAPACITY => dropped = queue.pop_front(),
            Policy::DropNewest if queue.len() >= QUEUE_CAPACITY => {
                return Err(full("drop-newest", queue.len()))
            }
            Policy::Watched if queue.len() >= HARD_LIMIT => return Err(full("queue", queue.len())),
            _ => {}
        }
        queue.push_back(msg.id.clone());
        let queue_depth = queue.len();
        if matches!(self.policy, Policy::Watched) && queue_depth == QUEUE_CAPACITY + 1 {
            ctx.send(&QueueHighWater { queue_depth, capacity: QUEUE_CAPACITY })?;
        }
        Ok(DataAck { id: msg.id, queue_depth, dropped })
    }

    #[rpc]
    async fn process(&self, ctx: &mut Ctx<Session>, msg: Process) -> Result<Processed, Error> {
        let queue = &mut ctx.data_mut().queue;
        let take = queue.len().min(msg.max as usize);
        Ok(Processed { ids: queue.drain(..take).collect() })
    }

    #[on]
    async fn burst(&self, ctx: &mut Ctx<Session>, msg: Burst) -> Result<(), Error> {
        for n in 1..=msg.count {
            // A frame the outbound queue cannot take is dropped by policy and counted
            // in the notice the client gets; the burst goes on.
            let _ = ctx.send(&Tick { n });
        }
        Ok(())
    }
}

/// The error of a full work queue, with the worker's pace as the retry hint.
fn full(policy: &str, depth: usize) -> Error {
    Error::resource_exhausted(format!("the work queue is full ({depth} items); retry after {RETRY_AFTER:?}"))
        .with_detail("policy", policy)
        .with_detail("queueDepth", depth)
        .with_retry(Retry::After(RETRY_AFTER.as_millis() as u64))
}

/// The example's routes: one per policy.
pub(crate) fn routes() -> Routes {
    let dropping = |policy| Limits::default().max_queued_frames(OUTBOUND_FRAMES).on_slow_consumer(policy);
    Routes::new()
        .route(
            "/ws/drop-oldest",
            Server::new(FlowControl { policy: Policy::DropOldest })
                .limits(dropping(SlowConsumer::DropOldest)),
        )
        .route(
            "/ws/drop-newest",
            Server::new(FlowControl { policy: Policy::DropNewest }).limits(dropping(SlowConsumer::Drop)),
        )
        .route("/ws/queue", Server::new(FlowControl { policy: Policy::Watched }))
}
