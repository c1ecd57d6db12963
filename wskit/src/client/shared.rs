//! What the client handles and the connection task share: the state, the link to the open
//! socket, the offline queue and the pending requests, changed together under one lock so
//! that a frame is either queued or sent, exactly once, in order.

use super::handlers::Handlers;
use super::pending::{Outcome, Pending};
use super::queue::{OfflineQueue, Outgoing, Refused};
use super::wire::{self, InFrame};
use super::{ClientError, ClientOptions, State};
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// The sending side of an open socket's writer.
pub(crate) type Link = mpsc::UnboundedSender<String>;

pub(crate) struct Shared {
    pub(crate) options: ClientOptions,
    pub(crate) handlers: Handlers,
    /// Cancelled by `close()` or when the last client handle is dropped.
    pub(crate) stop: CancellationToken,
    state: watch::Sender<State>,
    core: Mutex<Core>,
}

struct Core {
    /// Present exactly while a socket is open.
    link: Option<Link>,
    queue: OfflineQueue,
    pending: Pending,
}

impl Core {
    /// Sends `frame` on the open socket, or queues it; whether it was sent. Fails the
    /// request of a frame the queue evicts.
    fn dispatch(&mut self, state: State, frame: Outgoing) -> Result<bool, ClientError> {
        if matches!(state, State::Closing | State::Closed) {
            return Err(ClientError::NotOpen { state });
        }
        if let Some(link) = &self.link {
            if link.send(frame.text.clone()).is_ok() {
                return Ok(true);
            }
        }
        match self.queue.push(frame) {
            Ok(None) => Ok(false),
            Ok(Some(evicted)) => {
                if let Some(id) = evicted.correlation_id {
                    self.pending.finish(&id, Err(ClientError::QueueFull { capacity: self.queue.capacity() }));
                }
                Ok(false)
            }
            Err(Refused::Off) => Err(ClientError::NotOpen { state }),
            Err(Refused::Full) => Err(ClientError::QueueFull { capacity: self.queue.capacity() }),
        }
    }
}

impl Shared {
    pub(crate) fn new(options: ClientOptions) -> Self {
        let core = Core {
            link: None,
            queue: OfflineQueue::new(options.queue_policy, options.queue_capacity),
            pending: Pending::new(options.max_pending),
        };
        Shared {
            handlers: Handlers::default(),
            stop: CancellationToken::new(),
            state: watch::Sender::new(State::Connecting),
            core: Mutex::new(core),
            options,
        }
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn state(&self) -> State {
        *self.state.borrow()
    }

    pub(crate) fn states(&self) -> watch::Receiver<State> {
        self.state.subscribe()
    }

    pub(crate) fn set_state(&self, state: State) {
        self.state.send_if_modified(|current| std::mem::replace(current, state) != state);
    }

    /// Sends or queues a one-way frame.
    pub(crate) fn send(&self, text: String) -> Result<(), ClientError> {
        let mut core = self.core();
        core.dispatch(self.state(), Outgoing { text, correlation_id: None }).map(drop)
    }

    /// Registers a request and sends or queues its frame; the receiver gets its outcome.
    pub(crate) fn start_request(
        &self,
        id: Arc<str>,
        text: String,
        progress: Option<mpsc::Sender<Value>>,
    ) -> Result<oneshot::Receiver<Outcome>, ClientError> {
        let mut core = self.core();
        core.pending.check_room()?;
        let (done, outcome) = oneshot::channel();
        // Registered before it is sent, so that a frame evicted at once is failed properly.
        core.pending.insert(id.clone(), done, progress, false);
        match core.dispatch(self.state(), Outgoing { text, correlation_id: Some(id.clone()) }) {
            Ok(true) => core.pending.mark_sent(&id),
            Ok(false) => {}
            Err(error) => {
                core.pending.remove(&id);
                return Err(error);
            }
        }
        Ok(outcome)
    }

    /// Gives up on a request: withdraws it from the queue, or asks the server to abort it.
    pub(crate) fn cancel_request(&self, id: &str) {
        let mut core = self.core();
        match core.pending.remove(id) {
            Some(false) => {
                core.queue.remove_request(id);
            }
            Some(true) => {
                if let Some(link) = &core.link {
                    let _ = link.send(wire::abort(id));
                }
            }
            None => {}
        }
    }

    /// A socket opened: flush the queue into it, in order, then send directly.
    pub(crate) fn opened(&self, link: Link) {
        let mut core = self.core();
        let Core { queue, pending, .. } = &mut *core;
        for frame in queue.drain() {
            if let Some(id) = &frame.correlation_id {
                pending.mark_sent(id);
            }
            let _ = link.send(frame.text);
        }
        core.link = Some(link);
        self.set_state(State::Open);
    }

    /// The socket is gone: the requests it carried fail; queued frames wait for the next.
    pub(crate) fn lost(&self) {
        let mut core = self.core();
        core.link = None;
        core.pending.fail_sent(false);
        self.set_state(State::Reconnecting);
    }

    /// The client stops for good: everything waiting fails, the queue is discarded.
    pub(crate) fn finish(&self) {
        let mut core = self.core();
        core.link = None;
        core.pending.fail_sent(true);
        core.queue.drain().for_each(drop);
        self.set_state(State::Closed);
    }

    /// Routes a frame from the server: progress and terminal frames to their requests,
    /// everything else to the subscriptions.
    pub(crate) fn receive(&self, text: &str) {
        let Some(frame) = InFrame::parse(text) else {
            tracing::warn!(frame = text, "the server sent a frame that is not a JSON object with a `type`");
            return;
        };
        match frame.correlation_id() {
            Some(id) if frame.is_progress() => {
                let id = id.to_owned();
                self.core().pending.progress(&id, frame.into_progress());
                return;
            }
            Some(id) => {
                let mut core = self.core();
                if core.pending.contains(id) {
                    let id = id.to_owned();
                    core.pending.finish(&id, Ok(frame));
                    return;
                }
                if frame.ty == "RPC_ERROR" {
                    // The end of a request already given up on (e.g. CANCELLED after an abort).
                    return;
                }
            }
            None if frame.is_progress() => return,
            None => {}
        }
        self.handlers.dispatch(&frame, text);
    }
}
