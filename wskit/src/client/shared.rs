//! What the client handles and the connection task share: the state, the outbox and the
//! pending requests, changed together under one lock so that a frame is written at most
//! once, in order, and a request is known to be out exactly when the writer took it.

use super::handlers::Handlers;
use super::pending::{Outcome, Pending};
use super::queue::{Outbox, Outgoing, Refused};
use super::resume::{Resume, SessionStart};
use super::wire::{self, InFrame};
use super::{Client, ClientError, ClientOptions, State};
use crate::protocol::SESSION;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(crate) struct Shared {
    pub(crate) options: ClientOptions,
    pub(crate) handlers: Handlers,
    /// Cancelled by `close()` or when the last client handle is dropped.
    pub(crate) stop: CancellationToken,
    /// Wakes the writer of the open socket when frames wait in the outbox.
    pub(crate) writable: Notify,
    state: watch::Sender<State>,
    core: Mutex<Core>,
}

struct Core {
    /// Whether a socket is open, so that frames go to its writer.
    open: bool,
    outbox: Outbox,
    pending: Pending,
}

impl Core {
    /// Queues `frame` for the open socket or under the offline policy. Fails the request
    /// of a frame the offline queue evicts.
    fn enqueue(&mut self, state: State, frame: Outgoing) -> Result<(), ClientError> {
        if matches!(state, State::Closing | State::Closed) {
            return Err(ClientError::NotOpen { state });
        }
        if self.open {
            return self
                .outbox
                .push_open(frame)
                .map_err(|_| ClientError::QueueFull { capacity: self.outbox.limit_when_open() });
        }
        match self.outbox.push_offline(frame) {
            Ok(None) => Ok(()),
            Ok(Some(evicted)) => {
                if let Outgoing::Request(request) = evicted {
                    let error = ClientError::QueueFull { capacity: self.outbox.capacity() };
                    self.pending.finish(&request.correlation_id, Err(error));
                }
                Ok(())
            }
            Err(Refused::Off) => Err(ClientError::NotOpen { state }),
            Err(Refused::Full) => Err(ClientError::QueueFull { capacity: self.outbox.capacity() }),
        }
    }
}

impl Shared {
    pub(crate) fn new(options: ClientOptions) -> Self {
        let core = Core {
            open: false,
            outbox: Outbox::new(options.queue_policy, options.queue_capacity),
            pending: Pending::new(options.max_pending),
        };
        Shared {
            handlers: Handlers::default(),
            stop: CancellationToken::new(),
            writable: Notify::new(),
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

    /// Moves to `state` unless `close()` has begun: nothing leaves `Closing` or `Closed`
    /// but [`finish`](Self::finish).
    pub(crate) fn advance(&self, state: State) {
        self.state.send_if_modified(|current| {
            let moves = *current != state && !matches!(current, State::Closing | State::Closed);
            if moves {
                *current = state;
            }
            moves
        });
    }

    /// `close()` was called: `Closing`, unless already `Closed`.
    pub(crate) fn begin_close(&self) {
        self.state.send_if_modified(|current| {
            let moves = !matches!(current, State::Closing | State::Closed);
            if moves {
                *current = State::Closing;
            }
            moves
        });
    }

    /// Queues `frame` and wakes the writer if a socket is open.
    fn enqueue(&self, core: &mut Core, frame: Outgoing) -> Result<(), ClientError> {
        core.enqueue(self.state(), frame)?;
        if core.open {
            self.writable.notify_one();
        }
        Ok(())
    }

    /// Sends or queues a one-way frame.
    pub(crate) fn send(&self, text: String) -> Result<(), ClientError> {
        let mut core = self.core();
        self.enqueue(&mut core, Outgoing::Message(text))
    }

    /// Registers a request and queues its frame; the receiver gets its outcome.
    pub(crate) fn start_request(
        &self,
        request: wire::Request,
        progress: Option<mpsc::Sender<Value>>,
    ) -> Result<oneshot::Receiver<Outcome>, ClientError> {
        let mut core = self.core();
        core.pending.check_room()?;
        let (done, outcome) = oneshot::channel();
        let id = request.correlation_id.clone();
        // Registered before it is queued, so that a frame evicted at once is failed properly.
        core.pending.insert(id.clone(), done, progress, false);
        if let Err(error) = self.enqueue(&mut core, Outgoing::Request(request)) {
            core.pending.remove(&id);
            return Err(error);
        }
        Ok(outcome)
    }

    /// Gives up on a request: withdraws it from the outbox, or asks the server to abort it.
    pub(crate) fn cancel_request(&self, id: &str) {
        let mut core = self.core();
        match core.pending.remove(id) {
            Some(false) => core.outbox.remove_request(id),
            Some(true) if core.open => {
                if self.enqueue(&mut core, Outgoing::Message(wire::abort(id))).is_err() {
                    tracing::debug!(
                        correlation_id = id,
                        "no room for `$ws:abort`; the server's deadline ends the request"
                    );
                }
            }
            // Out on a socket that is gone: the server cancelled it when the socket closed.
            Some(true) | None => {}
        }
    }

    /// A socket opened: the writer takes the outbox, in order, from now on.
    pub(crate) fn opened(&self) {
        let mut core = self.core();
        core.open = true;
        if !core.outbox.is_empty() {
            self.writable.notify_one();
        }
        self.advance(State::Open);
    }

    /// Takes up to `max` frames for the socket, oldest first, rendering requests with the
    /// time they have left (a request past its deadline is failed instead) and marking them
    /// as out. Wakes the writer again if more frames wait.
    pub(crate) fn take_batch(&self, max: usize) -> Vec<String> {
        let mut core = self.core();
        let Core { outbox, pending, .. } = &mut *core;
        let now = Instant::now();
        let batch = outbox
            .take(max)
            .into_iter()
            .filter_map(|frame| match frame {
                Outgoing::Message(text) => Some(text),
                Outgoing::Request(request) => {
                    let text = request.render(now);
                    match &text {
                        Some(_) => pending.mark_sent(&request.correlation_id),
                        None => {
                            let error = ClientError::Timeout { after: self.options.request_timeout };
                            pending.finish(&request.correlation_id, Err(error));
                        }
                    }
                    text
                }
            })
            .collect();
        if !outbox.is_empty() {
            self.writable.notify_one();
        }
        batch
    }

    /// The socket is gone: the requests the writer took fail (whether they reached the
    /// server is unknown) and their ids are returned; frames not taken yet wait, in order,
    /// for the next socket.
    pub(crate) fn lost(&self) -> Vec<Arc<str>> {
        let mut core = self.core();
        core.open = false;
        let failed = core.pending.fail_sent(false);
        self.advance(State::Reconnecting);
        failed
    }

    /// The client stops for good: everything waiting fails, the outbox is discarded.
    pub(crate) fn finish(&self) {
        let mut core = self.core();
        core.open = false;
        core.pending.fail_sent(true);
        core.outbox.clear();
        self.state.send_if_modified(|current| std::mem::replace(current, State::Closed) != State::Closed);
    }

    /// Tells the application how the session of the open socket began.
    pub(crate) fn session_started(self: &Arc<Self>, start: SessionStart) {
        tracing::debug!(%start, "session");
        self.handlers.session_started(start, &Client::for_callbacks(self.clone()));
    }

    /// Routes a frame from the server: progress and terminal frames to their requests,
    /// everything else to the subscriptions (which get a handle that does not keep the
    /// client running). A reply to a request that was out on a lost socket, replayed by a
    /// resumed session (`resume`), answers nobody and is dropped.
    pub(crate) fn receive(self: &Arc<Self>, text: &str, resume: Option<&Resume>) {
        let Some(frame) = InFrame::parse(text) else {
            tracing::warn!(frame = text, "the server sent a frame that is not a JSON object with a `type`");
            return;
        };
        if frame.ty == SESSION {
            tracing::warn!("dropped a `$ws:session` frame that did not open its connection");
            return;
        }
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
                if frame.ty == crate::protocol::RPC_ERROR || resume.is_some_and(|resume| resume.is_orphan(id))
                {
                    // The end of a request already given up on (e.g. CANCELLED after an abort,
                    // or a reply replayed after the request failed with its socket).
                    return;
                }
            }
            None if frame.is_progress() => return,
            None => {}
        }
        self.handlers.dispatch(&frame, text, &Client::for_callbacks(self.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::oneshot::error::TryRecvError;

    fn shared() -> Shared {
        Shared::new(ClientOptions::new("ws://127.0.0.1:1/ws"))
    }

    fn request(shared: &Shared, id: &str) -> oneshot::Receiver<Outcome> {
        let deadline = Instant::now() + Duration::from_secs(60);
        shared.start_request(wire::Request::stub(id, deadline), None).unwrap()
    }

    #[test]
    fn frames_not_written_survive_a_lost_socket_in_order() {
        let shared = shared();
        shared.opened();
        let mut taken = request(&shared, "taken");
        shared.send("a".into()).unwrap();
        let mut waiting = request(&shared, "waiting");
        assert_eq!(shared.take_batch(1).len(), 1, "the writer took the first request");

        assert_eq!(shared.lost(), vec![Arc::<str>::from("taken")]);
        assert!(matches!(taken.try_recv(), Ok(Err(ClientError::ConnectionClosed))));
        assert_eq!(waiting.try_recv().unwrap_err(), TryRecvError::Empty, "never written, so still waiting");
        shared.send("b".into()).unwrap();

        shared.opened();
        let batch = shared.take_batch(10);
        assert_eq!(batch.len(), 3);
        assert_eq!((batch[0].as_str(), batch[2].as_str()), ("a", "b"));
        assert!(batch[1].contains(r#""correlationId":"waiting""#), "{}", batch[1]);
        shared.lost();
        assert!(matches!(waiting.try_recv(), Ok(Err(ClientError::ConnectionClosed))), "written this time");
    }

    #[test]
    fn a_request_past_its_deadline_is_not_written() {
        let shared = shared();
        let mut expired = shared.start_request(wire::Request::stub("late", Instant::now()), None).unwrap();
        shared.opened();
        assert!(shared.take_batch(10).is_empty());
        assert!(matches!(expired.try_recv(), Ok(Err(ClientError::Timeout { .. }))));
    }

    #[test]
    fn nothing_leaves_closing_but_finish() {
        let shared = shared();
        shared.begin_close();
        shared.opened();
        assert_eq!(shared.state(), State::Closing);
        assert!(matches!(shared.send("a".into()), Err(ClientError::NotOpen { state: State::Closing })));
        shared.lost();
        assert_eq!(shared.state(), State::Closing);
        shared.finish();
        shared.advance(State::Reconnecting);
        assert_eq!(shared.state(), State::Closed);
    }
}
