//! Handing a session over between instances on the Redis bus.
//!
//! The instance a client resumes on (the taker) cannot know whether another instance
//! holds the session, so it asks them all, on the bus topic [`CHANNEL`]:
//!
//! 1. the taker publishes `claim` (token, count received, user) and waits for an answer;
//! 2. the instance holding the session takes it out of its sessions (closing its
//!    connection first if it is still open, then answering `held` at once), checks what
//!    the client may resume, and publishes `cut` with the session's topics, or `refused`;
//! 3. `cut` is the point of the bus's order where the session changes hands: every
//!    instance reads the bus's messages in the same order, so publishes before `cut`
//!    reach the old instance's queue (whose queue is closed as it reads `cut`), and those
//!    after it reach the taker's (which subscribes as it reads `cut`): none lost, none
//!    twice;
//! 4. the old instance writes what the client missed to a Redis stream and publishes
//!    `shipped`; the taker reads and deletes the stream.
//!
//! No answer within [`ANSWER_TIMEOUT`] means no instance holds the session (`expired`).

use super::handover::{drain, Taken, Taker};
use super::parked::Take;
use super::{ParkedSession, Refusal, Replay};
use crate::outbox::{Frame, Outbox};
use crate::pubsub::redis::Commands;
use crate::pubsub::{Hub, Registry};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// The bus topic of handover steps. No client can subscribe to it: topics starting with
/// `$` are the server's. A ws-kit instance on the bus sees publishes to a topic none of
/// its clients holds.
const CHANNEL: &str = "$resume";

/// How long a taker waits for the instance holding a session to answer its claim.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a taker waits for the whole handover once answered: the old connection's
/// close, if it was open, and the writes to Redis.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the stream of a handover outlives its writing, should its taker be gone.
const STREAM_TTL_MS: u64 = 60_000;

/// One step of a handover, as published on [`CHANNEL`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum Step {
    Claim { claim: String, token: String, received: u64, user: Option<String> },
    Held { claim: String },
    Cut { claim: String, topics: Vec<String> },
    Shipped { claim: String, frames: usize },
    Refused { claim: String, reason: String },
}

/// A step in the bus's message format (`{"topic","type","payload"}`).
#[derive(Serialize, Deserialize)]
struct Envelope {
    topic: String,
    #[serde(rename = "type")]
    ty: String,
    payload: Step,
}

/// The handovers of one hub: claims it made, and sessions it hands over.
#[derive(Default)]
pub(crate) struct Handovers {
    bus: OnceLock<Commands>,
    /// Claims this instance made, by claim id.
    claims: Mutex<HashMap<String, Claim>>,
    /// Sessions this instance hands over, by claim id, until their cut.
    giving: Mutex<HashMap<String, Giving>>,
}

/// A claim this instance made: the connection that takes the session over, and the
/// channel of the answers.
struct Claim {
    client_id: Uuid,
    outbox: Outbox,
    answers: mpsc::UnboundedSender<Answer>,
}

/// What a taker hears back.
enum Answer {
    Held,
    Cut(Vec<Box<str>>),
    Shipped(usize),
    Refused(Refusal),
}

/// A session this instance hands over: what the client missed so far, and the queue
/// that takes publishes until the cut.
struct Giving {
    session: ParkedSession,
    missed: Vec<Frame>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every change is a single insert or remove: a poisoned map is consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Handovers {
    /// The bus to publish steps on, set once it is connected.
    pub(crate) fn set_bus(&self, bus: Commands) {
        let _ = self.bus.set(bus);
    }
}

/// Whether the bus message `bytes` is a handover step. A fast look at its start: steps are
/// written with their topic first, and every other message is a publish to a topic no
/// client may name.
pub(crate) fn is_step(bytes: &[u8]) -> bool {
    bytes.starts_with(br#"{"topic":"$resume","#)
}

/// Publishes `step` on the bus, logging a failure: the taker then times out.
async fn publish(bus: &Commands, step: &Step) {
    let payload = serde_json::value::to_raw_value(step).expect("a step serializes");
    if let Err(error) = bus.publish(CHANNEL, CHANNEL, Some(&payload), &Default::default(), None).await {
        tracing::warn!(%error, "resume: could not publish a handover step");
    }
}

fn spawn_publish(registry: &Registry, step: Step) {
    if let Some(bus) = registry.handovers.bus.get().cloned() {
        tokio::spawn(async move { publish(&bus, &step).await });
    }
}

/// Takes the handover step in `bytes`, read from the bus at its place in the bus's order.
pub(crate) fn on_step(registry: &Arc<Registry>, bytes: &[u8]) {
    let step = match serde_json::from_slice::<Envelope>(bytes) {
        Ok(envelope) => envelope.payload,
        Err(error) => return tracing::debug!(%error, "resume: ignored a malformed handover step"),
    };
    let handovers = &registry.handovers;
    match step {
        Step::Claim { claim, token, received, user } => on_claim(registry, claim, &token, received, user),
        Step::Cut { claim, topics } => {
            if let Some(Giving { mut session, missed }) = lock(&handovers.giving).remove(&claim) {
                // From here on, publishes are the taker's: the queue takes no more.
                session.queue.close();
                tokio::spawn(ship(Arc::clone(registry), claim.clone(), session, missed));
            }
            if let Some(taker) = lock(&handovers.claims).get(&claim) {
                let topics: Vec<Box<str>> = topics.into_iter().map(Into::into).collect();
                registry.topics.join_all(&topics, taker.client_id, &taker.outbox);
                let _ = taker.answers.send(Answer::Cut(topics));
            }
        }
        Step::Held { claim } => answer(registry, &claim, Answer::Held),
        Step::Shipped { claim, frames } => answer(registry, &claim, Answer::Shipped(frames)),
        Step::Refused { claim, reason } => answer(registry, &claim, Answer::Refused(Refusal::parse(reason))),
    }
}

fn answer(registry: &Registry, claim: &str, answer: Answer) {
    if let Some(taker) = lock(&registry.handovers.claims).get(claim) {
        let _ = taker.answers.send(answer);
    }
}

/// A claim read from the bus: answered if this instance holds the session.
fn on_claim(registry: &Arc<Registry>, claim: String, token: &str, received: u64, user: Option<String>) {
    match registry.sessions.take(token, user.as_deref()) {
        // Not here: another instance answers, or none.
        Err(Refusal::Expired) => {}
        Err(refusal) => spawn_publish(registry, Step::Refused { claim, reason: refusal.as_str().to_owned() }),
        Ok(Take::Kept(session)) => give(registry, claim, session, received),
        Ok(Take::Closing(kept)) => {
            spawn_publish(registry, Step::Held { claim: claim.clone() });
            let (registry, token) = (Arc::clone(registry), token.to_owned());
            tokio::spawn(async move {
                let taken = match tokio::time::timeout(HANDOVER_TIMEOUT, kept).await {
                    Ok(Ok(())) => registry.sessions.take(&token, user.as_deref()),
                    _ => Err(Refusal::Expired),
                };
                match taken {
                    Ok(Take::Kept(session)) => give(&registry, claim, session, received),
                    _ => spawn_publish(&registry, Step::Refused { claim, reason: "expired".into() }),
                }
            });
        }
    }
}

/// Hands `session` over to the claim `claim` of a client that received `received` of its
/// frames: publishes the cut, or the refusal.
fn give(registry: &Arc<Registry>, claim: String, mut session: ParkedSession, received: u64) {
    let missed = match session.queue.has_overflowed() {
        true => Err(Refusal::Overflowed),
        false => session.replay.rewind(received),
    };
    match missed {
        Ok(missed) => {
            let topics = session.topics.iter().map(|topic| topic.to_string()).collect();
            lock(&registry.handovers.giving).insert(claim.clone(), Giving { session, missed });
            spawn_publish(registry, Step::Cut { claim: claim.clone(), topics });
            abandon_after(registry, claim);
        }
        Err(refusal) => {
            registry.topics.leave_all(&session.topics, session.client_id);
            session.end();
            spawn_publish(registry, Step::Refused { claim, reason: refusal.as_str().to_owned() });
        }
    }
}

/// Ends the session handed over to `claim` if its cut has not come in time (the bus
/// dropped the step): its taker gave up by then.
fn abandon_after(registry: &Arc<Registry>, claim: String) {
    let registry = Arc::downgrade(registry);
    tokio::spawn(async move {
        tokio::time::sleep(HANDOVER_TIMEOUT).await;
        let Some(registry) = registry.upgrade() else { return };
        let abandoned = lock(&registry.handovers.giving).remove(&claim);
        if let Some(Giving { session, .. }) = abandoned {
            registry.topics.leave_all(&session.topics, session.client_id);
            session.end();
        }
    });
}

/// Writes what the client of a session handed over missed (`missed`, then what its queue
/// took until the cut) to the stream of `claim`, and publishes `shipped`.
async fn ship(registry: Arc<Registry>, claim: String, session: ParkedSession, mut missed: Vec<Frame>) {
    registry.topics.leave_all(&session.topics, session.client_id);
    missed.extend(drain(session.queue));
    let Some(bus) = registry.handovers.bus.get() else { return };
    let written = async {
        let mut connection = bus.connection()?;
        let key = bus.key(&stream_key(&claim));
        let mut pipe = redis::pipe();
        for frame in &missed {
            let (field, bytes) = match frame {
                Frame::Binary(bytes) => ("b", bytes.as_ref()),
                text => ("t", text.payload()),
            };
            pipe.cmd("XADD").arg(&key).arg("*").arg(field).arg(bytes).ignore();
        }
        pipe.cmd("PEXPIRE").arg(&key).arg(STREAM_TTL_MS).ignore();
        pipe.query_async::<()>(&mut connection).await.map_err(|error| {
            tracing::warn!(%error, "resume: could not write a session's frames to Redis");
            crate::Error::unavailable("Redis")
        })
    };
    let step = match written.await {
        Ok(()) => Step::Shipped { claim, frames: missed.len() },
        Err(_) => Step::Refused { claim, reason: Refusal::Unavailable.as_str().to_owned() },
    };
    publish(bus, &step).await;
}

/// The Redis key (under the bus prefix) of the stream of the handover `claim`.
fn stream_key(claim: &str) -> String {
    format!("{CHANNEL}:{claim}")
}

impl Hub {
    /// Claims the session `token`, which no connection of this instance holds, on the
    /// bus, for `taker`, whose client received `received` of its frames.
    pub(crate) async fn claim_session(
        &self,
        token: &str,
        received: u64,
        taker: &Taker,
    ) -> Result<Taken, Refusal> {
        let registry = self.registry();
        let handovers = &registry.handovers;
        let bus = handovers.bus.get().ok_or(Refusal::Unavailable)?;
        let claim = super::new_token();
        let (answers, mut answered) = mpsc::unbounded_channel();
        let entry = Claim { client_id: taker.client_id, outbox: taker.outbox.clone(), answers };
        lock(&handovers.claims).insert(claim.clone(), entry);
        let user = taker.user.as_deref().map(str::to_owned);
        publish(bus, &Step::Claim { claim: claim.clone(), token: token.to_owned(), received, user }).await;

        let mut topics = Vec::new();
        let handed = async {
            let first = tokio::time::timeout(ANSWER_TIMEOUT, answered.recv()).await;
            let mut next = first.map_err(|_| Refusal::Expired)?;
            let rest = async {
                loop {
                    match next.take().ok_or(Refusal::Unavailable)? {
                        Answer::Held => {}
                        Answer::Cut(cut) => topics = cut,
                        Answer::Shipped(frames) => return Ok(frames),
                        Answer::Refused(refusal) => return Err(refusal),
                    }
                    next = answered.recv().await;
                }
            };
            tokio::time::timeout(HANDOVER_TIMEOUT, rest).await.map_err(|_| Refusal::Unavailable)?
        };
        let shipped = handed.await;
        lock(&handovers.claims).remove(&claim);
        let missed = match shipped {
            Ok(frames) => read_stream(bus, &claim, frames).await,
            Err(refusal) => Err(refusal),
        };
        match missed {
            Ok(missed) => {
                let replay =
                    Replay::after(received, taker.settings.replay_frames, taker.settings.replay_bytes);
                Ok(Taken { replay, missed, topics })
            }
            Err(refusal) => {
                // Subscribed at the cut, for a session that did not come.
                registry.topics.leave_all(&topics, taker.client_id);
                Err(refusal)
            }
        }
    }
}

/// An entry of a handover stream as XRANGE gives it: its id, and its field and value.
type StreamEntry = (String, Vec<Vec<u8>>);

/// Reads and deletes the stream of the handover `claim`, which holds `frames` frames.
async fn read_stream(bus: &Commands, claim: &str, frames: usize) -> Result<Vec<Frame>, Refusal> {
    let unavailable = |error: redis::RedisError| {
        tracing::warn!(%error, "resume: could not read a session's frames from Redis");
        Refusal::Unavailable
    };
    let mut connection = bus.connection().map_err(|_| Refusal::Unavailable)?;
    let key = bus.key(&stream_key(claim));
    let (entries,): (Vec<StreamEntry>,) = redis::pipe()
        .cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .cmd("DEL")
        .arg(&key)
        .ignore()
        .query_async(&mut connection)
        .await
        .map_err(unavailable)?;
    let missed: Vec<Frame> = entries
        .into_iter()
        .filter_map(|(_, fields)| {
            let [field, value] = <[Vec<u8>; 2]>::try_from(fields).ok()?;
            match field.as_slice() {
                b"b" => Some(Frame::Binary(Bytes::from(value))),
                _ => String::from_utf8(value).ok().map(Frame::Owned),
            }
        })
        .collect();
    match missed.len() == frames {
        true => Ok(missed),
        false => Err(Refusal::Unavailable),
    }
}
