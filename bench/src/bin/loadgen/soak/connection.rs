//! One connection of `soak`: sends on its schedule (open loop: whatever the replies do),
//! answers pings, and matches every message of the server to what it answers.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::{interval_at, Instant};

use super::frames::{self, Reply};
use super::plan::{topic_name, Pick, Plan};
use super::tally::{Kind, Tally};
use crate::pubsub::publish;
use crate::wire::{client_frame, pong_frame, Incoming, Socket};

/// An open connection, subscribed to `topic`.
pub(super) struct Connection {
    pub(super) socket: Socket,
    pub(super) index: usize,
    pub(super) topic: u32,
}

/// Requests sent and not answered yet, by sequence number: their kind and when they went.
type Pending = HashMap<u64, (Kind, Instant)>;

/// Runs `connection` until `stop` changes (or its socket fails, counted as an error), and
/// returns the number of its requests never answered.
pub(super) async fn run(
    connection: Connection,
    plan: Arc<Plan>,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let Connection { mut socket, index, topic } = connection;
    let mut pending = Pending::new();
    let mut ticks = interval_at(plan.first_send(index), plan.period);
    let mut seq = 0u64;
    let mut sending = true;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            tick = ticks.tick(), if sending => {
                if tick >= plan.stop_sending {
                    sending = false;
                    continue;
                }
                seq += 1;
                let message = match plan.mix.pick(index, seq, plan.topics) {
                    Pick::Request(kind) => {
                        tally.sent(kind);
                        pending.insert(seq, (kind, Instant::now()));
                        match kind {
                            Kind::Echo => frames::echo(seq),
                            Kind::Rpc => frames::rpc(seq),
                        }
                    }
                    Pick::Publish(to) => publish(&topic_name(to), &frames::publish_text(tally.publish(to))),
                };
                if let Err(error) = socket.send(&client_frame(message.as_bytes())).await {
                    tally.error(&format!("connection {index}: {error}"));
                    break;
                }
            }
            incoming = socket.next_incoming() => match incoming {
                Ok(Incoming::Text(message)) => handle(&message, topic, &mut pending, &tally),
                Ok(Incoming::Ping(payload)) => {
                    tally.ping();
                    if let Err(error) = socket.send(&pong_frame(&payload)).await {
                        tally.error(&format!("connection {index}: {error}"));
                        break;
                    }
                }
                Err(error) => {
                    tally.error(&format!("connection {index}: {error}"));
                    break;
                }
            },
        }
    }
    pending.len() as u64
}

/// Counts `message`: the reply to a pending request, a delivery to this connection's
/// `topic`, an error, or a wrong message.
fn handle(message: &[u8], topic: u32, pending: &mut Pending, tally: &Tally) {
    let mut answer = |seq: u64, kind: Kind| match pending.get(&seq) {
        Some(&(sent, at)) if sent == kind => {
            pending.remove(&seq);
            Some(at)
        }
        _ => None,
    };
    match frames::parse(message) {
        Reply::Echo(seq) => match answer(seq, Kind::Echo) {
            Some(at) => tally.replied(at.elapsed()),
            None => tally.wrong(message),
        },
        Reply::Rpc(seq) => match answer(seq, Kind::Rpc) {
            Some(at) => tally.replied(at.elapsed()),
            None => tally.wrong(message),
        },
        Reply::RpcError(seq) if answer(seq, Kind::Rpc).is_some() => tally.failed(message),
        Reply::News(id) if tally.delivered(id, topic) => {}
        Reply::RpcError(_) | Reply::Error => tally.error(&String::from_utf8_lossy(message)),
        Reply::News(_) | Reply::Wrong => tally.wrong(message),
    }
}
