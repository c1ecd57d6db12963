//! Delta sync: collaborative state with revisions, the messages and router of the
//! `delta_sync` example.
//!
//! The state is a meeting's participants. Every change is an [`Operation`] numbered by a
//! global revision and kept in a ring buffer of the last `history` operations. A client
//! that joins without a revision gets a `SYNC.SNAPSHOT`; one that reconnects with the last
//! revision it saw (`JOIN.lastRev`) gets the operations since then as `SYNC.DELTAS`, or,
//! when the buffer no longer reaches back that far, a `REVISION_GAP` (the buffer's first
//! revision and where to resume) followed by a snapshot. From then on every operation is
//! published to every joined connection as a one-operation `SYNC.DELTAS`.
//!
//! Updates are optimistic: the client applies its `UPDATE` at once and tags it with a
//! `clientReqId`. The server acknowledges it by echoing the `clientReqId` in the
//! operation it broadcasts, or rejects it with `UPDATE_REJECTED` and its current revision
//! when the participant changed after the update's `baseRev` (another device of the same
//! participant wrote first); the client then drops its pending change and rebases.
//!
//! Everything is bounded: the ring buffer, the participants, and the lengths of ids,
//! names and request ids. The message names and fields are those of ws-kit's
//! `examples/delta-sync`.

use std::collections::{BTreeMap, VecDeque};
use tokio::sync::Mutex;
use wskit::{message, payload, router, Ctx, Error, Server};

/// Participants the meeting holds.
const MAX_PARTICIPANTS: usize = 1000;
/// The topic every joined connection subscribes to.
const TOPIC: &str = "meeting";

// ---- Client to server ----

/// Joins the meeting as `participantId` (several connections may join as the same
/// participant: devices). `lastRev`, on reconnect, is the last revision the client saw.
#[message("JOIN")]
struct Join {
    #[validate(length(min = 1, max = 64), pattern = "^[A-Za-z0-9_-]+$")]
    participant_id: String,
    #[validate(length(min = 1, max = 40))]
    name: String,
    last_rev: Option<u64>,
}

/// What an update changes; absent fields stay as they are.
#[payload]
struct Patch {
    #[validate(length(min = 1, max = 40))]
    name: Option<String>,
    #[validate(pattern = "^(online|away|busy)$")]
    status: Option<String>,
}

/// Changes the joined participant. `baseRev` is the revision the client applied the
/// change on; `clientReqId` comes back in the operation that acknowledges it.
#[message("UPDATE")]
struct Update {
    #[validate(nested)]
    patch: Patch,
    base_rev: Option<u64>,
    #[validate(length(min = 1, max = 64))]
    client_req_id: String,
}

/// Removes the joined participant from the meeting.
#[message("LEAVE")]
struct Leave;

// ---- Server to client ----

/// A participant of the meeting.
#[payload]
#[derive(Clone)]
struct Participant {
    id: String,
    name: String,
    status: String,
}

/// One change, numbered by the revision it made.
#[payload]
#[derive(Clone)]
struct Operation {
    rev: u64,
    /// `participant.joined`, `participant.updated` or `participant.left`.
    #[serde(rename = "type")]
    kind: String,
    /// The participant after the change (before it, for `participant.left`).
    participant: Participant,
    /// The `UPDATE` this operation acknowledges.
    client_req_id: Option<String>,
}

/// The whole state at revision `rev`.
#[message("SYNC.SNAPSHOT")]
struct Snapshot {
    rev: u64,
    participants: BTreeMap<String, Participant>,
}

/// The operations from `fromRev` (exclusive) to `toRev` (inclusive).
#[message("SYNC.DELTAS")]
struct Deltas {
    from_rev: u64,
    to_rev: u64,
    operations: Vec<Operation>,
}

/// The client's revision is older than the buffer reaches (or newer than the server's):
/// a snapshot follows; resume from `resumeFrom`.
#[message("REVISION_GAP")]
struct RevisionGap {
    expected_rev: u64,
    server_rev: u64,
    buffer_first_rev: u64,
    resume_from: u64,
}

/// An `UPDATE` that was not applied, with the server's revision to rebase on.
#[message("UPDATE_REJECTED")]
struct UpdateRejected {
    client_req_id: String,
    rev: u64,
    reason: String,
}

// ---- State ----

/// The meeting: its participants, its revision and the last operations.
struct Meeting {
    rev: u64,
    participants: BTreeMap<String, Participant>,
    /// The revision of each participant's last change, to find conflicting updates.
    changed_at: BTreeMap<String, u64>,
    history: VecDeque<Operation>,
    capacity: usize,
}

impl Meeting {
    /// Records an operation on `participant` and returns it.
    fn record(&mut self, kind: &str, participant: Participant, client_req_id: Option<String>) -> Operation {
        self.rev += 1;
        let operation = Operation { rev: self.rev, kind: kind.to_owned(), participant, client_req_id };
        if self.history.len() == self.capacity {
            self.history.pop_front();
        }
        self.history.push_back(operation.clone());
        operation
    }

    /// The first revision the buffer holds (the next one when it is empty).
    fn first_rev(&self) -> u64 {
        self.history.front().map_or(self.rev + 1, |operation| operation.rev)
    }

    /// The operations after `rev`, if the buffer still holds all of them.
    fn since(&self, rev: u64) -> Option<Vec<Operation>> {
        (rev <= self.rev && rev + 1 >= self.first_rev())
            .then(|| self.history.iter().filter(|operation| operation.rev > rev).cloned().collect())
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot { rev: self.rev, participants: self.participants.clone() }
    }
}

/// Per-connection data: the participant this connection joined as.
#[derive(Default)]
pub(crate) struct Session {
    participant: Option<String>,
}

/// The delta sync router.
pub(crate) struct DeltaSync {
    meeting: Mutex<Meeting>,
}

impl DeltaSync {
    /// A meeting whose ring buffer keeps the last `history` operations.
    pub(crate) fn new(history: usize) -> Self {
        let meeting = Meeting {
            rev: 0,
            participants: BTreeMap::new(),
            changed_at: BTreeMap::new(),
            history: VecDeque::with_capacity(history),
            capacity: history.max(1),
        };
        DeltaSync { meeting: Mutex::new(meeting) }
    }
}

#[router(data = Session)]
impl DeltaSync {
    /// Catches the client up (deltas, or a gap and a snapshot), subscribes it, then adds
    /// the participant if it is new; all under the meeting's lock, so that the client
    /// sees every revision exactly once.
    #[on]
    async fn join(&self, ctx: &mut Ctx<Session>, msg: Join) -> Result<(), Error> {
        if ctx.data().participant.is_some() {
            return Err(Error::failed_precondition("this connection joined already"));
        }
        let mut meeting = self.meeting.lock().await;
        let is_new = !meeting.participants.contains_key(&msg.participant_id);
        if is_new && meeting.participants.len() >= MAX_PARTICIPANTS {
            return Err(Error::resource_exhausted(format!(
                "the meeting holds {MAX_PARTICIPANTS} participants"
            )));
        }
        match msg.last_rev {
            None => ctx.send(&meeting.snapshot())?,
            Some(rev) => match meeting.since(rev) {
                Some(operations) => ctx.send(&Deltas { from_rev: rev, to_rev: meeting.rev, operations })?,
                None => {
                    ctx.send(&RevisionGap {
                        expected_rev: rev,
                        server_rev: meeting.rev,
                        buffer_first_rev: meeting.first_rev(),
                        resume_from: meeting.rev,
                    })?;
                    ctx.send(&meeting.snapshot())?;
                }
            },
        }
        ctx.subscribe(TOPIC).await?;
        ctx.data_mut().participant = Some(msg.participant_id.clone());
        if is_new {
            let participant =
                Participant { id: msg.participant_id.clone(), name: msg.name, status: "online".into() };
            meeting.participants.insert(msg.participant_id.clone(), participant.clone());
            let operation = meeting.record("participant.joined", participant, None);
            meeting.changed_at.insert(msg.participant_id, operation.rev);
            publish(ctx, operation).await?;
        }
        Ok(())
    }

    /// Applies the update, or rejects it when the participant changed after `baseRev`.
    #[on]
    async fn update(&self, ctx: &mut Ctx<Session>, msg: Update) -> Result<(), Error> {
        let id = ctx.data().participant.clone().ok_or_else(|| Error::failed_precondition("JOIN first"))?;
        let mut meeting = self.meeting.lock().await;
        let changed_at = meeting.changed_at.get(&id).copied();
        let Some(current) = meeting.participants.get(&id).cloned() else {
            return Err(Error::failed_precondition("the participant left the meeting; JOIN again"));
        };
        if let (Some(base), Some(changed)) = (msg.base_rev, changed_at) {
            if changed > base {
                let reason = format!("the participant changed at revision {changed}, after baseRev {base}");
                return ctx.send(&UpdateRejected {
                    client_req_id: msg.client_req_id,
                    rev: meeting.rev,
                    reason,
                });
            }
        }
        let participant = Participant {
            id: current.id,
            name: msg.patch.name.unwrap_or(current.name),
            status: msg.patch.status.unwrap_or(current.status),
        };
        meeting.participants.insert(id.clone(), participant.clone());
        let operation = meeting.record("participant.updated", participant, Some(msg.client_req_id));
        meeting.changed_at.insert(id, operation.rev);
        publish(ctx, operation).await
    }

    /// Removes the participant and tells the others; this connection stops syncing.
    #[on]
    async fn leave(&self, ctx: &mut Ctx<Session>, _: Leave) -> Result<(), Error> {
        let Some(id) = ctx.data_mut().participant.take() else { return Ok(()) };
        ctx.unsubscribe(TOPIC).await?;
        let mut meeting = self.meeting.lock().await;
        if let Some(participant) = meeting.participants.remove(&id) {
            meeting.changed_at.remove(&id);
            let operation = meeting.record("participant.left", participant, None);
            publish(ctx, operation).await?;
        }
        Ok(())
    }
}

/// Sends `operation` to every joined connection as a one-operation delta.
async fn publish(ctx: &Ctx<Session>, operation: Operation) -> Result<(), Error> {
    let deltas = Deltas { from_rev: operation.rev - 1, to_rev: operation.rev, operations: vec![operation] };
    ctx.publish(TOPIC, &deltas).await.map(drop)
}

/// The server of the example, its ring buffer keeping the last `history` operations.
pub(crate) fn server(history: usize) -> Server<DeltaSync> {
    Server::new(DeltaSync::new(history)).path("/ws")
}
