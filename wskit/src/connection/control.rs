//! [`Control`]: the decisions about a connection that do not need its handlers: what a
//! received frame is, what arrives while a handler runs (answer, cancel, queue, refuse),
//! when the running request's deadline or a ping is due, and when to close.
//!
//! It is synchronous and free of runtime types: the host passes in the time.

use super::backlog::Backlog;
use super::liveness::{Liveness, PingStep, Pings};
use super::transport::Received;
use super::{heartbeat_ack, Exit};
use crate::close::Close;
use crate::concurrent::{Finished, Ran};
use crate::envelope::{encode_error, Envelope};
use crate::error::Error;
use crate::limits::{LimitKind, Limits};
use crate::outbox::{Frame, Outbox};
use crate::protocol;
use crate::time::Instant;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A frame worth handling, as [`Control::read`] found it.
pub(crate) enum Arrived<T> {
    /// A text frame (or a binary one holding UTF-8, for a router without `#[on_binary]`).
    Text(T),
    /// A binary frame, for the router's `#[on_binary]` handler.
    Binary(Vec<u8>),
    /// A frame that cannot be a message: answer it with this error. Boxed: it is rare, and
    /// inline it would make every frame that waits for its turn as large as an error.
    Invalid(Box<Error>),
}

impl<T: AsRef<str>> Arrived<T> {
    /// The frame's size in bytes.
    pub(crate) fn len(&self) -> usize {
        match self {
            Arrived::Text(text) => text.as_ref().len(),
            Arrived::Binary(bytes) => bytes.len(),
            Arrived::Invalid(_) => 0,
        }
    }
}

/// What a frame that arrived while a handler runs calls for.
#[derive(Debug)]
pub(crate) enum Busy {
    /// Answered or queued: keep running the handler.
    Continue,
    /// Stop the running handler and answer its request with this error.
    Interrupt(Error),
}

/// What the timer calls for when it fires.
#[derive(Debug)]
pub(crate) enum Due {
    /// Nothing yet.
    Nothing,
    /// Send a protocol ping.
    Ping,
    /// The running request passed its deadline: stop it and answer with this error.
    Interrupt(Error),
}

/// How many errors answered while one handler runs are kept for its `#[on_error]` hook.
/// Most of them count toward the consecutive-error limit, which closes the connection
/// first; `$ws:abort` of waiting requests does not, and a client could repeat it for as
/// long as a handler runs. The errors past this many are answered all the same, and only
/// counted in a log line.
const MAX_ANSWERED: usize = 64;

/// What a connection keeps of the frames that arrived while a handler ran: the messages
/// waiting for their turn, and the errors answered meanwhile for the `#[on_error]` hook.
/// Made for the first such frame and let go once all of it is handled and reported.
struct Meanwhile<T> {
    backlog: Backlog<T>,
    /// The first [`MAX_ANSWERED`] errors answered, and how many more.
    answered: Vec<Error>,
    unobserved: u32,
    /// How many of them were the client's fault, toward the consecutive-error limit.
    strikes: u32,
}

impl<T> Default for Meanwhile<T> {
    fn default() -> Self {
        Meanwhile { backlog: Backlog::default(), answered: Vec::new(), unobserved: 0, strikes: 0 }
    }
}

/// What a connection keeps of its concurrent handlers.
#[derive(Default)]
struct Forks {
    /// At most [`Limits::max_concurrent_handlers`].
    running: Vec<Fork>,
    /// The close one asked for.
    closing: Option<Close>,
}

/// A running concurrent handler (`#[rpc(concurrent)]`), as aborts and deadlines find it.
struct Fork {
    id: u64,
    correlation_id: Option<String>,
    /// When it is cancelled with DEADLINE_EXCEEDED.
    deadline: Option<Instant>,
    token: CancellationToken,
    /// Why it was cancelled: its answer, once its job has ended.
    interrupted: Option<Error>,
}

/// One connection's decisions outside its handlers.
pub(crate) struct Control<T> {
    /// Boxed: most connections never have frames arrive while a handler runs, and every
    /// connection holds the field.
    meanwhile: Option<Box<Meanwhile<T>>>,
    pings: Pings,
    /// The deadline of the running RPC request. Its correlation id is not copied here:
    /// an abort is matched against the running frame itself (see [`arrive`](Self::arrive)).
    running: Option<Instant>,
    /// The concurrent handlers running and the close one asked for; made with the first,
    /// and let go once they are done, so that other connections hold only a pointer.
    forks: Option<Box<Forks>>,
    /// Where answers go while a handler runs, behind what the handler sent.
    outbox: Outbox,
    /// Whether the router has an `#[on_binary]` handler, which takes every binary frame.
    binary: bool,
    /// Whether a running handler was abandoned at the end of a shutdown's grace period.
    abandoned: bool,
}

impl<T: AsRef<str> + From<String>> Control<T> {
    pub(crate) fn new(outbox: Outbox, liveness: Option<Arc<Liveness>>, now: Instant, binary: bool) -> Self {
        Control {
            meanwhile: None,
            pings: Pings::new(liveness, now),
            running: None,
            forks: None,
            outbox,
            binary,
            abandoned: false,
        }
    }

    /// The server's limits, read from the outbound queue.
    fn limits(&self) -> &Limits {
        self.outbox.limits()
    }

    /// Marks the running handler as abandoned at the end of a shutdown's grace period.
    pub(crate) fn abandon(&mut self) {
        self.abandoned = true;
    }

    /// Whether a running handler was abandoned ([`abandon`](Self::abandon)).
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned
    }

    /// Sorts what the transport delivered at `now`: a frame to handle, nothing (a ping or
    /// pong), or the end of the connection.
    pub(crate) fn read(&mut self, received: Received<T>, now: Instant) -> Result<Option<Arrived<T>>, Exit> {
        self.pings.heard(now);
        match received {
            Received::Text(text) => Ok(Some(Arrived::Text(text))),
            Received::Binary(bytes) if self.binary => Ok(Some(Arrived::Binary(bytes))),
            Received::Binary(bytes) => Ok(Some(match String::from_utf8(bytes) {
                Ok(text) => Arrived::Text(T::from(text)),
                Err(_) => Arrived::Invalid(Box::new(
                    Error::invalid_argument("binary frames must hold UTF-8 JSON").protocol(),
                )),
            })),
            Received::Control => Ok(None),
            Received::OverLimit { kind, observed, limit, close } => {
                self.limits().exceeded(kind, observed, limit, Some(self.outbox.client_id()));
                Err(Exit::Close(close))
            }
            Received::Broken(close) => {
                tracing::debug!(code = close.code, reason = %close.reason, "the peer broke the protocol");
                Err(Exit::Close(close))
            }
            Received::Closed(close) => Err(Exit::Left(close)),
            Received::Dropped => Err(Exit::Left(Close::new(Close::ABNORMAL, "connection dropped"))),
        }
    }

    /// A handler started on a message; an RPC request is due by `deadline`.
    pub(crate) fn start(&mut self, deadline: Option<Instant>) {
        self.running = deadline;
    }

    /// The running handler ended.
    pub(crate) fn finish(&mut self) {
        self.running = None;
    }

    /// Deals with a frame that arrived at `now` while a handler runs: answers heartbeats,
    /// cancels the running request or a waiting one on `$ws:abort`, refuses a message
    /// beyond the in-flight limit and queues the rest. Closes once too many errors came
    /// in a row.
    ///
    /// `running` is the text of the frame whose handler runs: an abort of its correlation
    /// id stops it. Read again only when an abort arrives, so that the common request,
    /// never aborted, costs no copy of its id.
    pub(crate) fn arrive(
        &mut self,
        arrived: Arrived<T>,
        now: Instant,
        running: Option<&str>,
    ) -> Result<Busy, Exit> {
        let kind = match arrived {
            Arrived::Text(ref text) => classify(text.as_ref()),
            // Binary frames wait for their turn, in order with the messages.
            Arrived::Binary(_) => Kind::Message(None),
            // A frame that cannot be a message is answered at once.
            Arrived::Invalid(error) => {
                self.answer(*error, None);
                return self.check_strikes().map(|()| Busy::Continue);
            }
        };
        match kind {
            Kind::Heartbeat => {
                // A full queue closes the connection as a slow consumer; nothing to add.
                let _ = self.outbox.push(Frame::Owned(heartbeat_ack()));
            }
            Kind::Abort(Some(id)) if self.is_running(&id, running) => {
                return Ok(Busy::Interrupt(aborted()));
            }
            Kind::Abort(Some(id)) if self.interrupt_fork(&id) => {}
            Kind::Abort(Some(id))
                if self.meanwhile.as_mut().is_some_and(|meanwhile| meanwhile.backlog.remove(&id)) =>
            {
                self.answer(aborted(), Some(&id))
            }
            Kind::Abort(_) => {}
            Kind::Message(correlation_id) if !self.has_slot() => {
                let limit = self.limits().max_in_flight;
                self.limits().exceeded(LimitKind::InFlight, limit + 1, limit, Some(self.outbox.client_id()));
                self.answer(in_flight_exceeded(limit), correlation_id.as_deref());
            }
            Kind::Message(correlation_id) => self.meanwhile().backlog.push(arrived, correlation_id, now),
        }
        self.check_strikes().map(|()| Busy::Continue)
    }

    /// What arrives while a handler runs is kept here.
    fn meanwhile(&mut self) -> &mut Meanwhile<T> {
        self.meanwhile.get_or_insert_with(Box::default)
    }

    /// Lets go of what arrived while a handler ran, once all of it is handled and reported.
    fn settle(&mut self) {
        if self.meanwhile.as_ref().is_some_and(|meanwhile| {
            !meanwhile.backlog.has_waiting() && meanwhile.answered.is_empty() && meanwhile.unobserved == 0
        }) {
            self.meanwhile = None;
        }
    }

    /// Whether another message may wait for its turn (the in-flight limit).
    fn has_slot(&self) -> bool {
        let (concurrent, max_in_flight) = (self.running_forks().len(), self.limits().max_in_flight);
        match &self.meanwhile {
            Some(meanwhile) => meanwhile.backlog.has_slot(concurrent, max_in_flight),
            None => Backlog::<T>::default().has_slot(concurrent, max_in_flight),
        }
    }

    /// Whether the request running on the frame `running` has `correlation_id`.
    fn is_running(&self, correlation_id: &str, running: Option<&str>) -> bool {
        self.running.is_some()
            && running
                .is_some_and(|text| matches!(classify(text), Kind::Message(Some(id)) if id == correlation_id))
    }

    /// Sends `error` at once, to report to the `#[on_error]` hook once the handler returns.
    fn answer(&mut self, error: Error, correlation_id: Option<&str>) {
        // A refused push means the connection is closing or overflowed; the host closes it.
        // Only the router knows which types are requests, so a request without a correlation
        // id refused here gets `ERROR`; without an id, no client could match it anyway.
        let _ = self.outbox.push(Frame::Owned(encode_error(&error, correlation_id, false)));
        self.record(error);
    }

    /// Keeps `error`, answered already, for the `#[on_error]` hook.
    fn record(&mut self, error: Error) {
        let meanwhile = self.meanwhile();
        meanwhile.strikes += u32::from(error.is_protocol_error());
        if meanwhile.answered.len() < MAX_ANSWERED {
            meanwhile.answered.push(error);
        } else {
            meanwhile.unobserved += 1;
        }
    }

    fn check_strikes(&self) -> Result<(), Exit> {
        let strikes = self.meanwhile.as_ref().map_or(0, |meanwhile| meanwhile.strikes);
        match too_many_errors(self.limits(), strikes, self.outbox.client_id()) {
            Some(close) => Err(Exit::Close(close)),
            None => Ok(()),
        }
    }

    /// Whether errors were answered while the last handler ran.
    pub(crate) fn has_answered(&self) -> bool {
        // Every answered error is kept or counted as unobserved, strike or not.
        self.meanwhile
            .as_ref()
            .is_some_and(|meanwhile| !meanwhile.answered.is_empty() || meanwhile.unobserved > 0)
    }

    /// The errors answered while the last handler ran, to report now that it has returned.
    pub(crate) fn take_answered(&mut self) -> Vec<Error> {
        let Some(meanwhile) = &mut self.meanwhile else { return Vec::new() };
        meanwhile.strikes = 0;
        if meanwhile.unobserved > 0 {
            tracing::debug!(
                unobserved = std::mem::take(&mut meanwhile.unobserved),
                "errors answered while a handler ran, beyond those reported to #[on_error]"
            );
        }
        let answered = std::mem::take(&mut meanwhile.answered);
        self.settle();
        answered
    }

    /// The next message that waited for its turn, and when it arrived.
    pub(crate) fn next_waiting(&mut self) -> Option<(Arrived<T>, Instant)> {
        let next = self.meanwhile.as_mut()?.backlog.pop();
        self.settle();
        next
    }

    /// Whether messages wait for their turn.
    pub(crate) fn has_waiting(&self) -> bool {
        self.meanwhile.as_ref().is_some_and(|meanwhile| meanwhile.backlog.has_waiting())
    }

    /// Whether to read on while a handler runs: not while waiting messages hold their
    /// byte budget.
    pub(crate) fn accepts_frames(&self) -> bool {
        let max_bytes = self.limits().max_message_bytes;
        self.meanwhile.as_ref().is_none_or(|meanwhile| meanwhile.backlog.accepts_bytes(max_bytes))
    }

    /// How long a write may wait on the client before it counts as not reading.
    pub(crate) fn stall_limit(&self) -> Duration {
        self.limits().max_write_stall
    }

    /// The next deadline of a handler: the running request's, or a concurrent handler's,
    /// whichever comes first.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let running = self.running;
        let forks = self
            .running_forks()
            .iter()
            .filter(|fork| fork.interrupted.is_none())
            .filter_map(|fork| fork.deadline);
        running.into_iter().chain(forks).min()
    }

    /// When the ping schedule needs attention next: a ping to send, or the timeout of
    /// the one sent.
    pub(crate) fn next_ping(&self) -> Option<Instant> {
        self.pings.next()
    }

    /// What is due at `now`: a deadline passed, a ping to send, or a stale connection
    /// (closed with 1011 unless configured otherwise). Concurrent handlers past their
    /// deadline are cancelled here.
    pub(crate) fn on_timer(&mut self, now: Instant) -> Result<Due, Exit> {
        for fork in self.forks.iter_mut().flat_map(|forks| &mut forks.running) {
            if fork.interrupted.is_none() && fork.deadline.is_some_and(|deadline| deadline <= now) {
                fork.token.cancel();
                fork.interrupted = Some(deadline_exceeded());
            }
        }
        if self.running.is_some_and(|deadline| deadline <= now) {
            self.running = None;
            return Ok(Due::Interrupt(deadline_exceeded()));
        }
        match self.pings.due(now) {
            PingStep::Send => Ok(Due::Ping),
            PingStep::Wait => Ok(Due::Nothing),
            PingStep::Stale => {
                Err(Exit::Stale(self.pings.stale(self.outbox.client_id(), now, self.limits().quiet_panics)))
            }
        }
    }
}

/// Concurrent handlers (`#[rpc(concurrent)]`): they run beside the connection's in-order
/// handlers, each cancelled by `$ws:abort` of its correlation id or at its deadline, and
/// answered here when cancelled.
impl<T: AsRef<str> + From<String>> Control<T> {
    /// Whether another concurrent handler may start.
    pub(crate) fn can_fork(&self) -> bool {
        self.running_forks().len() < self.limits().max_concurrent_handlers
    }

    /// Whether concurrent handlers are running.
    pub(crate) fn has_forks(&self) -> bool {
        !self.running_forks().is_empty()
    }

    fn running_forks(&self) -> &[Fork] {
        self.forks.as_ref().map_or(&[], |forks| &forks.running)
    }

    /// Lets the concurrent handlers' state go once none runs and no close is pending.
    fn release_forks(&mut self) {
        if self.forks.as_ref().is_some_and(|forks| forks.running.is_empty() && forks.closing.is_none()) {
            self.forks = None;
        }
    }

    /// A concurrent handler started on the request with `correlation_id`, due by
    /// `deadline` and cancelled by `token`; returns its id for [`fork_ended`](Self::fork_ended).
    pub(crate) fn fork(
        &mut self,
        deadline: Option<Instant>,
        correlation_id: Option<&str>,
        token: CancellationToken,
    ) -> u64 {
        // Unique among the running ones, which is all an id must be: one is let go only
        // once its job has ended.
        let running = &mut self.forks.get_or_insert_with(Box::default).running;
        let id = running.iter().map(|fork| fork.id + 1).max().unwrap_or(0);
        let correlation_id = correlation_id.map(str::to_owned);
        running.push(Fork { id, correlation_id, deadline, token, interrupted: None });
        id
    }

    /// Cancels the concurrent handler of the request `correlation_id`, if one runs.
    fn interrupt_fork(&mut self, correlation_id: &str) -> bool {
        let found = self.forks.iter_mut().flat_map(|forks| &mut forks.running).find(|fork| {
            fork.interrupted.is_none() && fork.correlation_id.as_deref() == Some(correlation_id)
        });
        let Some(fork) = found else { return false };
        fork.token.cancel();
        fork.interrupted = Some(aborted());
        true
    }

    /// Whether `text` is a `$ws:abort` that cancelled a concurrent handler, when no
    /// in-order handler runs.
    pub(crate) fn abort_fork(&mut self, text: &str) -> bool {
        match classify(text) {
            Kind::Abort(Some(id)) => self.interrupt_fork(&id),
            _ => false,
        }
    }

    /// The concurrent handler `id` ended as `finished` says: answers it if it was
    /// cancelled before its terminal frame, and keeps its error for `#[on_error]` and the
    /// close it asked for.
    pub(crate) fn fork_ended(&mut self, id: u64, finished: Finished) {
        let Some(forks) = self.forks.as_mut() else { return };
        let Some(index) = forks.running.iter().position(|fork| fork.id == id) else { return };
        let fork = forks.running.swap_remove(index);
        if let Some(close) = finished.close {
            forks.closing.get_or_insert(close);
        }
        match finished.ran {
            Ran::Done(Ok(())) => {}
            Ran::Done(Err(error)) => self.record(error),
            Ran::Panicked => self.record(Error::internal()),
            Ran::Cancelled => {
                let error = fork.interrupted.unwrap_or_else(aborted);
                if !finished.answered {
                    let frame = encode_error(&error, finished.correlation_id.as_deref(), true);
                    let _ = self.outbox.push(Frame::Owned(frame));
                }
                self.record(error);
            }
        }
        self.release_forks();
    }

    /// The close a concurrent handler asked for.
    pub(crate) fn take_close(&mut self) -> Option<Close> {
        let close = self.forks.as_mut().and_then(|forks| forks.closing.take());
        self.release_forks();
        close
    }

    /// Cancels every concurrent handler: the connection ends.
    pub(crate) fn cancel_forks(&mut self) {
        for fork in self.forks.take().into_iter().flat_map(|forks| forks.running) {
            fork.token.cancel();
        }
    }
}

/// What kind of frame arrived while a handler runs.
enum Kind {
    Heartbeat,
    /// `$ws:abort` of the request with this correlation id.
    Abort(Option<String>),
    /// Anything else, waiting for its turn. The correlation id lets an abort find it, and
    /// answers it if it is refused. Malformed frames are messages too: they are rejected
    /// in their turn.
    Message(Option<String>),
}

fn classify(text: &str) -> Kind {
    let Ok(mut envelope) = Envelope::parse(text) else { return Kind::Message(None) };
    let correlation_id = envelope.meta().ok().and_then(|(meta, _)| meta.correlation_id);
    match &*envelope.ty {
        protocol::HEARTBEAT => Kind::Heartbeat,
        protocol::ABORT => Kind::Abort(correlation_id),
        _ => Kind::Message(correlation_id),
    }
}

/// The close once `strikes` protocol errors came in a row, if that reaches the limit;
/// the limits hook is told.
pub(crate) fn too_many_errors(limits: &Limits, strikes: u32, client_id: Uuid) -> Option<Close> {
    let limit = limits.max_consecutive_errors;
    if strikes < limit {
        return None;
    }
    limits.exceeded(LimitKind::ConsecutiveErrors, strikes as usize, limit as usize, Some(client_id));
    Some(Close::new(Close::POLICY, "too many invalid messages"))
}

/// The error for a message that arrives while `limit` messages are already in flight.
fn in_flight_exceeded(limit: usize) -> Error {
    Error::resource_exhausted(format!(
        "{limit} messages of this connection are already in flight; wait for some to finish"
    ))
    .with_detail("limit", limit)
    .protocol()
}

fn aborted() -> Error {
    Error::cancelled("the client aborted the request")
}

/// The error of a request stopped at its deadline, or found past it.
pub(crate) fn deadline_exceeded() -> Error {
    Error::deadline_exceeded("the request did not finish before its deadline")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_number_of_errors_for_the_hook_while_a_handler_runs() {
        let (outbox, frames) = Outbox::new(Uuid::nil(), &Arc::new(Limits::default().max_queued_frames(16)));
        let now = Instant::now();
        let mut control = Control::<String>::new(outbox, None, now, false);
        control.start(None);
        let rounds = MAX_ANSWERED * 4;
        let mut cancelled = 0;
        for _ in 0..rounds {
            let request = r#"{"type":"GET","meta":{"correlationId":"r"}}"#;
            let abort = r#"{"type":"$ws:abort","meta":{"correlationId":"r"}}"#;
            assert!(matches!(control.arrive(Arrived::Text(request.into()), now, None), Ok(Busy::Continue)));
            assert!(matches!(control.arrive(Arrived::Text(abort.into()), now, None), Ok(Busy::Continue)));
            while let Some(frame) = frames.try_recv() {
                cancelled += usize::from(frame.into_message().unwrap().contains("CANCELLED"));
            }
        }
        assert_eq!(cancelled, rounds, "every aborted request is answered");
        assert_eq!(control.take_answered().len(), MAX_ANSWERED);
        assert!(control.take_answered().is_empty());
    }
}
