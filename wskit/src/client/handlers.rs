//! Typed subscriptions to inbound messages, and the hook for frames nothing else takes.

use super::resume::SessionStart;
use super::wire::InFrame;
use super::Client;
use crate::error::panic_message;
use crate::limits::clip;
use crate::protocol::SESSION;
use crate::Message;
use serde_json::Value;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

type Handler = Arc<dyn Fn(&InFrame, &Client) + Send + Sync>;
type Unhandled = Arc<dyn Fn(Value, &Client) + Send + Sync>;
type SessionHook = Arc<dyn Fn(SessionStart, &Client) + Send + Sync>;

/// The callbacks registered with [`Client::on`](super::Client::on),
/// [`Client::on_unhandled`](super::Client::on_unhandled) and
/// [`Client::on_session`](super::Client::on_session).
#[derive(Default)]
pub(crate) struct Handlers {
    by_type: RwLock<HashMap<&'static str, Vec<(u64, Handler)>>>,
    unhandled: RwLock<Option<Unhandled>>,
    session: RwLock<Option<SessionHook>>,
    next_id: AtomicU64,
}

impl Handlers {
    /// Registers `callback` for messages of type `M`; returns its id.
    pub(crate) fn add<M: Message>(&self, callback: impl Fn(M, &Client) + Send + Sync + 'static) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let handler: Handler = Arc::new(move |frame: &InFrame, client: &Client| match frame.decode::<M>() {
            Ok(message) => callback(message, client),
            Err(error) => tracing::warn!(%error, "dropped an inbound frame that does not decode"),
        });
        let mut by_type = self.by_type.write().unwrap_or_else(PoisonError::into_inner);
        by_type.entry(M::TYPE).or_default().push((id, handler));
        id
    }

    pub(crate) fn remove(&self, message_type: &str, id: u64) {
        let mut by_type = self.by_type.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(handlers) = by_type.get_mut(message_type) {
            handlers.retain(|(existing, _)| *existing != id);
        }
    }

    pub(crate) fn set_unhandled(&self, hook: impl Fn(Value, &Client) + Send + Sync + 'static) {
        *self.unhandled.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(hook));
    }

    pub(crate) fn set_session_hook(&self, hook: impl Fn(SessionStart, &Client) + Send + Sync + 'static) {
        *self.session.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(hook));
    }

    /// Calls the session hook, if any, without a lock held; a panic is logged.
    pub(crate) fn session_started(&self, start: SessionStart, client: &Client) {
        let hook = self.session.read().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(hook) = hook {
            guarded(SESSION, || hook(start, client));
        }
    }

    /// Calls the callbacks of the frame's type, or the unhandled hook with the whole frame
    /// (`text`) if there are none. Callbacks run without any lock held, so they may use the
    /// client; a callback that panics is logged and the others still run.
    pub(crate) fn dispatch(&self, frame: &InFrame, text: &str, client: &Client) {
        let handlers: Vec<Handler> = {
            let by_type = self.by_type.read().unwrap_or_else(PoisonError::into_inner);
            by_type
                .get(frame.ty.as_str())
                .map(|list| list.iter().map(|(_, h)| h.clone()).collect())
                .unwrap_or_default()
        };
        if !handlers.is_empty() {
            for handler in handlers {
                guarded(&frame.ty, || handler(frame, client));
            }
            return;
        }
        let hook = self.unhandled.read().unwrap_or_else(PoisonError::into_inner).clone();
        match (hook, serde_json::from_str(text)) {
            (Some(hook), Ok(value)) => guarded(&frame.ty, || hook(value, client)),
            _ => tracing::debug!(message_type = %clip(&frame.ty), "no handler for an inbound frame"),
        }
    }
}

/// Runs a callback for a frame of `message_type`; a panic is logged, not propagated, so
/// that the connection task goes on.
fn guarded(message_type: &str, callback: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(callback)) {
        tracing::error!(message_type = %clip(message_type), panic = panic_message(&*panic), "a client callback panicked");
    }
}
