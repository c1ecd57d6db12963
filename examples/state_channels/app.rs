//! State channels: ordered state updates with sequence numbers, the messages and router of
//! the `state_channels` example.
//!
//! A channel holds one JSON value and a sequence number that counts its changes. Clients
//! `SUBSCRIBE` to a channel under a writer id of their choosing (the same id after a
//! reconnect) and get its current value and sequence, and the last sequence number of
//! theirs the channel applied. Each change is broadcast to the channel's subscribers as
//! `STATE_SYNC {channel, seq, value}`.
//!
//! - Writers number their own updates per channel (1, 2, 3, ...). An update numbered at
//!   or below the last applied one is a duplicate (a retry after a lost reply) and is
//!   refused with ALREADY_EXISTS without side effects; one that skips numbers gets a
//!   `SEQUENCE_GAP` saying which number was expected.
//! - Readers check that server sequence numbers follow each other. A client that sees
//!   a gap (it reconnected, or its feed dropped frames) sends `CATCH_UP_REQUEST {fromSeq}`
//!   and gets the missing `STATE_SYNC` frames from the channel's history.
//!
//! Bounded: history per channel, channels on the server, channels per connection,
//! writers per channel, the size of a frame. The message names are those of ws-kit's
//! `examples/state-channels`.

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use wskit::{message, router, Ctx, Error, Limits, Server};

/// Changes each channel keeps for catching up.
pub(crate) const HISTORY: usize = 32;
/// Channels the server holds.
const MAX_CHANNELS: usize = 100;
/// Channels one connection may subscribe to.
const CHANNELS_PER_CONNECTION: usize = 8;
/// Writers a channel remembers.
const WRITERS_PER_CHANNEL: usize = 256;

// ---- Client to server ----

/// Subscribes to `channel` as writer `writerId`.
#[message("SUBSCRIBE")]
struct Subscribe {
    #[validate(pattern = "^[a-z0-9-]{1,32}$")]
    channel: String,
    #[validate(length(min = 1, max = 64))]
    writer_id: String,
}

/// Sets the channel's value; `seq` is the writer's own count of its updates to it.
#[message("STATE_UPDATE")]
struct StateUpdate {
    #[validate(pattern = "^[a-z0-9-]{1,32}$")]
    channel: String,
    #[validate(range(min = 1))]
    seq: u64,
    value: Value,
}

/// Asks for the changes of `channel` from `fromSeq` on.
#[message("CATCH_UP_REQUEST")]
struct CatchUpRequest {
    #[validate(pattern = "^[a-z0-9-]{1,32}$")]
    channel: String,
    #[validate(range(min = 1))]
    from_seq: u64,
}

// ---- Server to client ----

/// The answer to [`Subscribe`]: the channel's value at `seq`, and the last update of this
/// writer it applied (0 for none).
#[message("SUBSCRIBED")]
struct Subscribed {
    channel: String,
    seq: u64,
    value: Value,
    last_writer_seq: u64,
}

/// A change of a channel: its value at server sequence `seq`.
#[message("STATE_SYNC")]
#[derive(Clone)]
struct StateSync {
    channel: String,
    seq: u64,
    value: Value,
}

/// A writer's update skipped numbers: `expectedSeq` was due, `receivedSeq` came; the
/// channel is at `resumeFrom`.
#[message("SEQUENCE_GAP")]
struct SequenceGap {
    channel: String,
    expected_seq: u64,
    received_seq: u64,
    resume_from: u64,
}

// ---- State ----

#[derive(Default)]
struct Channel {
    seq: u64,
    value: Value,
    history: VecDeque<StateSync>,
    /// The last update number applied per writer.
    writers: HashMap<String, u64>,
}

/// Per-connection data: the writer id under which it subscribed to each channel.
#[derive(Default)]
pub(crate) struct Session {
    writers: HashMap<String, String>,
}

/// The state channels router.
#[derive(Default)]
pub(crate) struct StateChannels {
    channels: Mutex<HashMap<String, Channel>>,
}

fn topic(channel: &str) -> String {
    format!("channel:{channel}")
}

#[router(data = Session)]
impl StateChannels {
    #[on]
    async fn subscribe(&self, ctx: &mut Ctx<Session>, msg: Subscribe) -> Result<(), Error> {
        let subscribed = &ctx.data().writers;
        if !subscribed.contains_key(&msg.channel) && subscribed.len() >= CHANNELS_PER_CONNECTION {
            return Err(Error::resource_exhausted(format!(
                "a connection subscribes to at most {CHANNELS_PER_CONNECTION} channels"
            )));
        }
        let answer = {
            let mut channels = self.channels.lock().unwrap();
            if !channels.contains_key(&msg.channel) && channels.len() >= MAX_CHANNELS {
                return Err(Error::resource_exhausted(format!("the server holds {MAX_CHANNELS} channels")));
            }
            let channel = channels.entry(msg.channel.clone()).or_default();
            if !channel.writers.contains_key(&msg.writer_id) && channel.writers.len() >= WRITERS_PER_CHANNEL {
                return Err(Error::resource_exhausted(format!(
                    "the channel has {WRITERS_PER_CHANNEL} writers"
                )));
            }
            let last_writer_seq = *channel.writers.entry(msg.writer_id.clone()).or_default();
            Subscribed {
                channel: msg.channel.clone(),
                seq: channel.seq,
                value: channel.value.clone(),
                last_writer_seq,
            }
        };
        // Subscribed before the answer goes out: a change made in between is both in the
        // answer's `seq` and broadcast, and the client skips the frame it has.
        ctx.subscribe(&topic(&msg.channel)).await?;
        ctx.data_mut().writers.insert(msg.channel, msg.writer_id);
        ctx.reply(&answer)
    }

    #[on]
    async fn update(&self, ctx: &mut Ctx<Session>, msg: StateUpdate) -> Result<(), Error> {
        let writer = ctx.data().writers.get(&msg.channel).cloned().ok_or_else(|| {
            Error::failed_precondition(format!("SUBSCRIBE to {:?} before updating it", msg.channel))
        })?;
        let sync = {
            let mut channels = self.channels.lock().unwrap();
            let channel = channels.get_mut(&msg.channel).expect("a subscribed channel exists");
            let last = channel.writers.get(&writer).copied().unwrap_or(0);
            if msg.seq <= last {
                return Err(Error::already_exists(format!(
                    "update {} of writer {writer:?} was applied already; the next is {}",
                    msg.seq,
                    last + 1
                ))
                .with_detail("lastSeq", last));
            }
            if msg.seq > last + 1 {
                let gap = SequenceGap {
                    channel: msg.channel,
                    expected_seq: last + 1,
                    received_seq: msg.seq,
                    resume_from: channel.seq,
                };
                drop(channels);
                return ctx.reply(&gap);
            }
            channel.writers.insert(writer, msg.seq);
            channel.seq += 1;
            channel.value = msg.value.clone();
            let sync = StateSync { channel: msg.channel, seq: channel.seq, value: msg.value };
            if channel.history.len() == HISTORY {
                channel.history.pop_front();
            }
            channel.history.push_back(sync.clone());
            sync
        };
        // Published outside the lock; two writers racing on one channel may be delivered
        // out of order, which readers see as a gap and close with a catch-up request.
        ctx.publish(&topic(&sync.channel), &sync).await.map(drop)
    }

    #[on]
    async fn catch_up(&self, ctx: &mut Ctx<Session>, msg: CatchUpRequest) -> Result<(), Error> {
        if !ctx.data().writers.contains_key(&msg.channel) {
            return Err(Error::failed_precondition(format!("SUBSCRIBE to {:?} first", msg.channel)));
        }
        let missing: Vec<StateSync> = {
            let channels = self.channels.lock().unwrap();
            let channel = &channels[&msg.channel];
            let first = channel.history.front().map_or(channel.seq + 1, |sync| sync.seq);
            if msg.from_seq < first {
                return Err(Error::failed_precondition(format!(
                    "the history starts at {first}; SUBSCRIBE again for the current value"
                )));
            }
            channel.history.iter().filter(|sync| sync.seq >= msg.from_seq).cloned().collect()
        };
        missing.iter().try_for_each(|sync| ctx.reply(sync))
    }
}

/// The server of the example: frames of at most 16 KiB.
pub(crate) fn server() -> Server<StateChannels> {
    Server::new(StateChannels::default()).path("/ws").limits(Limits::default().max_message_bytes(16 * 1024))
}
