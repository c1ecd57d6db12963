//! Taking a session over when a client resumes it, and keeping it when its connection ends.

use super::parked::Take;
use super::{greeting, new_token, Ask, ParkedSession, Refusal, Replay, Resumable, Resume};
use crate::ctx::Ctx;
use crate::outbox::{Frame, Outbox, OutboxReceiver};
use crate::pubsub::Hub;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a resume waits for the still-open connection of its session to close and
/// hand the session over: a write of what was queued, and the close.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// The session of a connection that asked for resume with `ask`, its context `ctx`: the
/// one it resumes, its subscriptions moved over to `ctx`, or a new one.
pub(crate) async fn open<D>(ask: Ask, settings: Resume, ctx: &mut Ctx<D>) -> Box<Resumable> {
    let taker = Taker::of(ctx, settings);
    let resumed = match ask {
        Ask::New => Err(None),
        Ask::Invalid => Err(Some(Refusal::Invalid)),
        Ask::Resume { token, received } => match take_over(&taker, &token, received).await {
            Ok(taken) => Ok((token, taken)),
            Err(refusal) => Err(Some(refusal)),
        },
    };
    crate::observe::session(match &resumed {
        Ok(_) => "resumed",
        Err(None) => "new",
        Err(Some(refusal)) => refusal.as_str(),
    });
    let (token, replay, first) = match resumed {
        Ok((token, Taken { replay, missed, topics })) => {
            ctx.restore_topics(topics);
            let first = greeting(&token, Ok(missed.len()));
            (token, replay, (first, missed))
        }
        Err(refusal) => {
            let token = new_token();
            let first = greeting(&token, Err(refusal));
            (token, settings.replay(), (first, Vec::new()))
        }
    };
    taker.hub.registry().sessions.opened(&token, taker.outbox);
    Box::new(Resumable { token, replay, settings, first: Some(first), hub: taker.hub })
}

/// What a resumed connection takes over: the numbering, the frames the client missed
/// (to be written first, numbered on from its count) and the subscriptions.
pub(crate) struct Taken {
    pub(crate) replay: Replay,
    pub(crate) missed: Vec<Frame>,
    pub(crate) topics: Vec<Box<str>>,
}

/// The new connection that takes a session over.
pub(crate) struct Taker {
    pub(crate) hub: Hub,
    pub(crate) client_id: Uuid,
    pub(crate) user: Option<Box<str>>,
    pub(crate) outbox: Outbox,
    /// The bounds of the numbering a session taken over from another instance starts.
    #[cfg(feature = "redis")]
    pub(crate) settings: Resume,
}

impl Taker {
    fn of<D>(ctx: &Ctx<D>, settings: Resume) -> Self {
        // Only a session from another instance starts a numbering of its own.
        #[cfg(not(feature = "redis"))]
        let _ = settings;
        Taker {
            hub: ctx.hub().clone(),
            client_id: ctx.client_id(),
            user: ctx.user().map(Into::into),
            outbox: ctx.outbox().clone(),
            #[cfg(feature = "redis")]
            settings,
        }
    }
}

/// Takes over the session `token`, of which the client received `received` frames: kept
/// here, open here (its connection is closed first), or, with the Redis bus, on another
/// instance.
pub(crate) async fn take_over(taker: &Taker, token: &str, received: u64) -> Result<Taken, Refusal> {
    let sessions = &taker.hub.registry().sessions;
    let session = match sessions.take(token, taker.user.as_deref()) {
        Ok(Take::Kept(session)) => session,
        Ok(Take::Closing(kept)) => {
            // The client came back before its old connection was found dead.
            match tokio::time::timeout(TAKEOVER_TIMEOUT, kept).await {
                Ok(Ok(())) => match sessions.take(token, taker.user.as_deref())? {
                    Take::Kept(session) => session,
                    Take::Closing(_) => return Err(Refusal::Expired),
                },
                // The connection ended without keeping its session.
                Ok(Err(_)) => return Err(Refusal::Expired),
                Err(_) => return Err(Refusal::Unavailable),
            }
        }
        #[cfg(feature = "redis")]
        Err(Refusal::Expired) if taker.hub.is_redis() => {
            return taker.hub.claim_session(token, received, taker).await
        }
        Err(refusal) => return Err(refusal),
    };
    take_kept(taker, session, received)
}

/// Takes over `session`, kept on this instance.
fn take_kept(taker: &Taker, session: ParkedSession, received: u64) -> Result<Taken, Refusal> {
    let registry = taker.hub.registry();
    let ParkedSession { client_id, topics, mut replay, queue, .. } = session;
    let missed = match queue.has_overflowed() {
        true => Err(Refusal::Overflowed),
        false => replay.rewind(received),
    };
    let mut missed = match missed {
        Ok(missed) => missed,
        Err(refusal) => {
            registry.topics.leave_all(&topics, client_id);
            drain(queue);
            return Err(refusal);
        }
    };
    // All at once under the topic map's lock: a publish reaches either the kept queue or
    // the new one, never both and never neither, and in publish order across topics.
    registry.topics.move_members(&topics, client_id, taker.client_id, &taker.outbox);
    // Nothing reaches the kept queue any more but sends to the old connection's handles,
    // which fail from here on.
    missed.extend(drain(queue));
    Ok(Taken { replay, missed, topics })
}

/// Closes a kept session's queue and takes what it holds.
pub(crate) fn drain(mut queue: OutboxReceiver) -> Vec<Frame> {
    queue.close();
    std::iter::from_fn(|| queue.try_recv()).collect()
}

/// Keeps the session of the connection of `ctx` that just ended, with its `topics` (still
/// subscribed by its queue `queue`), for the window; then it ends.
pub(crate) fn park<D>(ctx: &Ctx<D>, resumable: Resumable, topics: Vec<Box<str>>, queue: OutboxReceiver) {
    let Resumable { token, replay, settings, hub, .. } = resumable;
    // The client is not reading: the queue holds what its limits allow a stalled client.
    queue.set_stalled(true);
    let session = ParkedSession {
        client_id: ctx.client_id(),
        topics,
        user: ctx.user().map(Into::into),
        queue,
        replay,
        expiry: None,
    };
    let registry = hub.registry();
    if let Err(session) = registry.sessions.keep(&token, session, settings.max_sessions) {
        tracing::debug!(max = settings.max_sessions, "resume: too many sessions kept; this one ends");
        registry.topics.leave_all(&session.topics, session.client_id);
        session.end();
        return;
    }
    let weak = Arc::downgrade(hub.registry_arc());
    let expiring = token.clone();
    let expiry = tokio::spawn(async move {
        tokio::time::sleep(settings.window).await;
        let Some(registry) = weak.upgrade() else { return };
        if let Some(mut session) = registry.sessions.expire(&expiring) {
            // This task is the expiry: nothing to abort.
            session.expiry = None;
            registry.topics.leave_all(&session.topics, session.client_id);
            session.end();
        }
    });
    registry.sessions.set_expiry(&token, expiry.abort_handle());
}
