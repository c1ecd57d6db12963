//! [`Sessions`]: the resumable sessions of a hub, by token: those whose connection is
//! open, and those kept after their connection ended, each until its window passes.

use super::{Refusal, Replay};
use crate::close::Close;
use crate::outbox::{Outbox, OutboxReceiver};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use tokio::sync::oneshot;
use uuid::Uuid;

/// A session kept after its connection ended. Its queue stays subscribed to its topics
/// (under its old client id), so what is published to them waits in it.
pub(crate) struct ParkedSession {
    pub(crate) client_id: Uuid,
    pub(crate) topics: Vec<Box<str>>,
    pub(crate) user: Option<Box<str>>,
    pub(crate) queue: OutboxReceiver,
    pub(crate) replay: Replay,
    /// The task that ends the session when its window passes.
    pub(crate) expiry: Option<tokio::task::AbortHandle>,
}

impl ParkedSession {
    /// Ends the session: its queue takes nothing more.
    pub(crate) fn end(mut self) {
        self.queue.close();
        if let Some(expiry) = self.expiry.take() {
            expiry.abort();
        }
    }
}

enum Entry {
    /// The session's connection is open: `outbox` closes it when a resume takes the
    /// session over, and `taken` then tells the taker once the session is kept.
    Open {
        outbox: Outbox,
        taken: Option<oneshot::Sender<()>>,
    },
    Kept(ParkedSession),
}

/// What [`Sessions::take`] found.
pub(crate) enum Take {
    /// The kept session, now the taker's.
    Kept(ParkedSession),
    /// The session's connection is open, and is being closed: take it again once this
    /// completes.
    Closing(oneshot::Receiver<()>),
}

/// The close of a connection whose session another connection resumed. A client closed
/// so forgets its session rather than resume it back.
pub(crate) fn superseded() -> Close {
    Close::new(Close::POLICY, "session resumed on another connection")
}

/// The resumable sessions of a hub, by token.
#[derive(Default)]
pub(crate) struct Sessions {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_token: HashMap<String, Entry>,
    /// How many of them are [`Entry::Kept`].
    kept: usize,
}

impl Entries {
    fn insert(&mut self, token: String, entry: Entry) {
        let kept = self.kept + usize::from(matches!(entry, Entry::Kept(_)));
        let replaced = self.by_token.insert(token, entry);
        self.set_kept(kept - usize::from(matches!(replaced, Some(Entry::Kept(_)))));
    }

    fn remove(&mut self, token: &str) -> Option<(String, Entry)> {
        let removed = self.by_token.remove_entry(token);
        if let Some((_, Entry::Kept(_))) = removed {
            self.set_kept(self.kept - 1);
        }
        removed
    }

    fn set_kept(&mut self, kept: usize) {
        if kept != self.kept {
            self.kept = kept;
            crate::observe::sessions_kept(kept);
        }
    }
}

impl Sessions {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every change is a single insert, replace or remove: a poisoned map is consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the open connection of the session `token`, whose queue is `outbox`.
    pub(crate) fn opened(&self, token: &str, outbox: Outbox) {
        self.entries().insert(token.to_owned(), Entry::Open { outbox, taken: None });
    }

    /// Whether the session `token`, whose connection ends, is to be kept: its connection
    /// lost the client (`lost`), or a resume takes it over. A session not kept is
    /// forgotten.
    pub(crate) fn keeps(&self, token: &str, lost: bool) -> bool {
        let mut entries = self.entries();
        let taken = matches!(entries.by_token.get(token), Some(Entry::Open { taken: Some(_), .. }));
        if !(lost || taken) {
            entries.remove(token);
        }
        lost || taken
    }

    /// Keeps `session` under `token` after its connection ended, unless `max` sessions are
    /// kept already and no resume waits for it: then it is given back. Tells a resume that
    /// waits for it.
    pub(crate) fn keep(
        &self,
        token: &str,
        session: ParkedSession,
        max: usize,
    ) -> Result<(), Box<ParkedSession>> {
        let mut entries = self.entries();
        let (token, taken) = match entries.remove(token) {
            Some((token, Entry::Open { taken, .. })) => (token, taken),
            _ => (token.to_owned(), None),
        };
        if taken.is_none() && entries.kept >= max {
            return Err(Box::new(session));
        }
        entries.insert(token, Entry::Kept(session));
        if let Some(taken) = taken {
            let _ = taken.send(());
        }
        Ok(())
    }

    /// Sets the expiry task of the kept session `token`, or aborts it if the session is
    /// gone already.
    pub(crate) fn set_expiry(&self, token: &str, expiry: tokio::task::AbortHandle) {
        match self.entries().by_token.get_mut(token) {
            Some(Entry::Kept(session)) => session.expiry = Some(expiry),
            _ => expiry.abort(),
        }
    }

    /// Takes the session `token` for a connection of `user`. A kept session of another
    /// user stays where it is: its token alone does not give it away. A session whose
    /// connection is open has it closed, to be taken once kept.
    pub(crate) fn take(&self, token: &str, user: Option<&str>) -> Result<Take, Refusal> {
        let mut entries = self.entries();
        let (token, entry) = entries.remove(token).ok_or(Refusal::Expired)?;
        match entry {
            Entry::Kept(session) if session.user.as_deref().is_some_and(|owner| Some(owner) != user) => {
                entries.insert(token, Entry::Kept(session));
                Err(Refusal::Denied)
            }
            Entry::Kept(mut session) => {
                if let Some(expiry) = session.expiry.take() {
                    expiry.abort();
                }
                Ok(Take::Kept(session))
            }
            // A connection closing already (kicked, or over a limit) keeps no session.
            Entry::Open { outbox, taken: None } if outbox.request_handover(superseded()) => {
                let (sender, receiver) = oneshot::channel();
                entries.insert(token, Entry::Open { outbox, taken: Some(sender) });
                Ok(Take::Closing(receiver))
            }
            // Closing, or another resume takes it over already.
            open @ Entry::Open { .. } => {
                entries.insert(token, open);
                Err(Refusal::Expired)
            }
        }
    }

    /// Takes the kept session `token` whatever its user: its window passed.
    pub(crate) fn expire(&self, token: &str) -> Option<ParkedSession> {
        let mut entries = self.entries();
        if !matches!(entries.by_token.get(token), Some(Entry::Kept(_))) {
            return None;
        }
        match entries.remove(token) {
            Some((_, Entry::Kept(session))) => Some(session),
            _ => None,
        }
    }

    /// How many sessions are kept (their connections ended).
    pub(crate) fn kept(&self) -> usize {
        self.entries().kept
    }
}
