//! The chat application: its messages, its room registry and its router, free of any host.
//!
//! The same file runs in the hyper server (`app.rs`, one WebSocket at `/ws` for every room)
//! and inside a Cloudflare Durable Object (`examples/cloudflare`, one WebSocket per room at
//! `/ws/:room`). So it reads no clock of its own (`std::time` panics on wasm32), and the
//! connection data is serde-serializable, since the Durable Object host keeps it in each
//! socket's hibernation attachment.
//!
//! Rooms are pub/sub topics (`room:<id>`): joining a room subscribes the connection,
//! and messages, joins and leaves are published to the room's topic, serialized once for
//! every member. The registry beside the hub remembers who is in each room (by name) and
//! the room's recent history, so that a newcomer gets both on joining.
//!
//! Everything a client can grow is bounded: history per room, rooms per connection,
//! members per room, rooms on the server, and the lengths of names, room ids and texts.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use tokio::sync::Mutex;
use uuid::Uuid;
use wskit::time::UNIX_EPOCH;
use wskit::{message, payload, router, Close, Ctx, Error, Publish};

/// Messages kept per room and shown to newcomers.
pub(crate) const HISTORY_PER_ROOM: usize = 50;
/// Rooms one connection may be in at once.
pub(crate) const ROOMS_PER_CONNECTION: usize = 10;
/// Connections one room may hold.
const MEMBERS_PER_ROOM: usize = 200;
/// Rooms the server keeps, empty ones (with their history) included.
pub(crate) const MAX_ROOMS: usize = 100;
/// The largest frame a client may send: a message of 500 characters fits many times over.
pub(crate) const MAX_FRAME_BYTES: usize = 16 * 1024;

// ---- Client to server ----

/// Chooses the name the others see. Allowed again only while in no room.
#[message("SET_NAME")]
struct SetName {
    #[validate(length(max = 24), custom = not_blank)]
    name: String,
}

/// Joins a room, creating it if needed; the answer is a [`RoomState`].
#[message("JOIN_ROOM")]
struct JoinRoom {
    #[validate(length(min = 1, max = 32), pattern = "^[A-Za-z0-9_-]+$")]
    room_id: String,
}

/// Leaves a room; leaving a room one is not in does nothing.
#[message("LEAVE_ROOM")]
struct LeaveRoom {
    #[validate(length(min = 1, max = 32))]
    room_id: String,
}

/// Says something in a room one has joined.
#[message("SEND_MESSAGE")]
struct SendMessage {
    #[validate(length(min = 1, max = 32))]
    room_id: String,
    #[validate(length(max = 500), custom = not_blank)]
    text: String,
}

/// Asks for the latest messages of a room one has joined, oldest first; the answer is a
/// [`History`]. The page asks again after a reconnect, to show what it missed.
#[message("GET_HISTORY", response = History)]
struct GetHistory {
    #[validate(length(min = 1, max = 32))]
    room_id: String,
    /// At most [`HISTORY_PER_ROOM`] (50), the messages a room keeps.
    #[validate(range(min = 1, max = 50))]
    limit: u32,
}

// ---- Server to client ----

/// The answer to [`SetName`]: who the server now knows this connection as.
#[message("WELCOME")]
struct Welcome {
    /// The connection's id, as it appears in [`Member::id`].
    client_id: String,
    name: String,
}

/// Someone in a room.
#[payload]
#[derive(Clone)]
struct Member {
    /// The member's connection id: names need not be unique, ids are.
    id: String,
    name: String,
}

/// The answer to [`JoinRoom`]: who is in the room and what was said lately, oldest first.
#[message("ROOM_STATE")]
struct RoomState {
    room_id: String,
    members: Vec<Member>,
    history: Vec<NewMessage>,
}

/// Someone joined a room; sent to the members already there.
#[message("MEMBER_JOINED")]
struct MemberJoined {
    room_id: String,
    member: Member,
}

/// Someone left a room (or closed their tab); sent to the members still there.
#[message("MEMBER_LEFT")]
struct MemberLeft {
    room_id: String,
    member: Member,
}

/// A message said in a room; sent to every member, the author included.
#[message("NEW_MESSAGE")]
#[derive(Clone)]
struct NewMessage {
    room_id: String,
    from: Member,
    text: String,
    /// When the server received it, in milliseconds since the Unix epoch.
    sent_at: u64,
}

/// The answer to [`GetHistory`]: the room's latest messages, oldest first.
#[message("HISTORY")]
struct History {
    room_id: String,
    messages: Vec<NewMessage>,
}

/// Rejects text that is empty or only whitespace.
fn not_blank(text: &str) -> Result<(), &'static str> {
    if text.trim().is_empty() {
        Err("must not be blank")
    } else {
        Ok(())
    }
}

// ---- State ----

/// Per-connection data. Serializable: the Durable Object host keeps it in the socket's
/// hibernation attachment, so that it outlives the object's eviction.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The chosen name; nothing but [`SetName`] is allowed before it.
    name: Option<String>,
    /// The rooms this connection is in, at most [`ROOMS_PER_CONNECTION`].
    rooms: Vec<String>,
}

impl Session {
    /// This connection as the others see it, or UNAUTHENTICATED before it chose a name.
    fn member(&self, id: Uuid) -> Result<Member, Error> {
        let name = self.name.clone().ok_or_else(|| Error::unauthenticated("choose a name first"))?;
        Ok(Member { id: id.to_string(), name })
    }
}

/// One room: its members and its recent history.
#[derive(Default)]
struct Room {
    members: HashMap<Uuid, Member>,
    history: VecDeque<NewMessage>,
    /// The registry's activity count when someone last joined, left or spoke: the least
    /// recently active empty room is the first forgotten when the server holds
    /// [`MAX_ROOMS`]. A count rather than a clock reading, since only the order matters.
    last_active: u64,
}

/// The rooms, and the count of activity that orders them.
#[derive(Default)]
struct Registry {
    rooms: HashMap<String, Room>,
    /// Joins, leaves and messages so far; a `u64` never wraps at any real rate.
    activity: u64,
}

impl Registry {
    /// Finds room `room_id`, or creates it, and counts the visit as activity in it: when
    /// the server already holds [`MAX_ROOMS`], the least recently active empty room is
    /// forgotten to make place, and if none is empty the answer is RESOURCE_EXHAUSTED.
    fn open(&mut self, room_id: &str) -> Result<&mut Room, Error> {
        if !self.rooms.contains_key(room_id) && self.rooms.len() >= MAX_ROOMS {
            let idle = self
                .rooms
                .iter()
                .filter(|(_, room)| room.members.is_empty())
                .min_by_key(|(_, room)| room.last_active)
                .map(|(id, _)| id.clone())
                .ok_or_else(|| {
                    Error::resource_exhausted(format!(
                        "the server holds {MAX_ROOMS} rooms, none of them empty; join an existing one"
                    ))
                    .with_detail("limit", MAX_ROOMS)
                })?;
            self.rooms.remove(&idle);
        }
        let now = self.tick();
        let room = self.rooms.entry(room_id.to_owned()).or_default();
        room.last_active = now;
        Ok(room)
    }

    /// Room `room_id` if the server holds it, with the visit counted as activity in it.
    fn visit(&mut self, room_id: &str) -> Option<&mut Room> {
        let now = self.tick();
        let room = self.rooms.get_mut(room_id)?;
        room.last_active = now;
        Some(room)
    }

    /// Counts one more activity and returns its number.
    fn tick(&mut self) -> u64 {
        self.activity += 1;
        self.activity
    }
}

/// The chat application: the registry of rooms.
///
/// One lock guards every room, and it is held while a change is published: so each member
/// sees joins, leaves and messages in the same order as the room's history records them,
/// and a newcomer's history and live messages neither overlap nor leave a gap. An
/// asynchronous mutex, since subscribing and publishing are `async`.
#[derive(Default)]
pub(crate) struct Chat {
    registry: Mutex<Registry>,
}

/// The pub/sub topic of a room.
fn topic(room_id: &str) -> String {
    format!("room:{room_id}")
}

/// Refuses room `room_id` on a connection whose upgrade path names another room: on a
/// host that serves each room at `/ws/:room` (the Durable Object, where a room's members
/// must all reach the object that holds it), a connection belongs to its path's room.
/// A host without the parameter serves every room on one connection.
fn check_path_room(ctx: &Ctx<Session>, room_id: &str) -> Result<(), Error> {
    match ctx.param("room") {
        Some(here) if here != room_id => Err(Error::failed_precondition(format!(
            "this connection serves room {here}; connect to /ws/{room_id} for room {room_id}"
        ))),
        _ => Ok(()),
    }
}

/// When the server received the message being handled, in milliseconds since the Unix
/// epoch.
fn received_ms(ctx: &Ctx<Session>) -> u64 {
    ctx.received_at().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[router(data = Session, sends = [Welcome, RoomState, MemberJoined, MemberLeft, NewMessage])]
impl Chat {
    /// Remembers the name and welcomes the client.
    #[on]
    async fn set_name(&self, ctx: &mut Ctx<Session>, msg: SetName) -> Result<(), Error> {
        if !ctx.data().rooms.is_empty() {
            return Err(Error::failed_precondition("leave your rooms before changing your name"));
        }
        let name = msg.name.trim().to_owned();
        ctx.data_mut().name = Some(name.clone());
        ctx.reply(&Welcome { client_id: ctx.client_id().to_string(), name })
    }

    /// Subscribes to the room, answers with its state and tells the others.
    #[on]
    async fn join(&self, ctx: &mut Ctx<Session>, msg: JoinRoom) -> Result<(), Error> {
        let me = ctx.data().member(ctx.client_id())?;
        let room_id = msg.room_id;
        check_path_room(ctx, &room_id)?;
        let rejoin = ctx.data().rooms.contains(&room_id);
        if !rejoin && ctx.data().rooms.len() >= ROOMS_PER_CONNECTION {
            return Err(Error::resource_exhausted(format!(
                "you are in {ROOMS_PER_CONNECTION} rooms already; leave one first"
            ))
            .with_detail("limit", ROOMS_PER_CONNECTION));
        }
        let mut registry = self.registry.lock().await;
        let room = registry.open(&room_id)?;
        if !rejoin && room.members.len() >= MEMBERS_PER_ROOM {
            return Err(Error::resource_exhausted(format!("room {room_id} is full"))
                .with_detail("limit", MEMBERS_PER_ROOM));
        }
        ctx.subscribe(&topic(&room_id)).await?;
        room.members.insert(ctx.client_id(), me.clone());
        if !rejoin {
            // Recorded before anything else can fail: leaving or closing removes the member.
            ctx.data_mut().rooms.push(room_id.clone());
        }
        ctx.reply(&RoomState {
            room_id: room_id.clone(),
            members: room.members.values().cloned().collect(),
            history: room.history.iter().cloned().collect(),
        })?;
        if !rejoin {
            let joined = MemberJoined { room_id: room_id.clone(), member: me };
            ctx.publish_with(&topic(&room_id), &joined, &Publish::new().exclude_self()).await?;
        }
        Ok(())
    }

    /// Unsubscribes from the room and tells those who stay.
    #[on]
    async fn leave(&self, ctx: &mut Ctx<Session>, msg: LeaveRoom) -> Result<(), Error> {
        let rooms = &mut ctx.data_mut().rooms;
        let Some(index) = rooms.iter().position(|room| *room == msg.room_id) else {
            return Ok(());
        };
        rooms.swap_remove(index);
        ctx.unsubscribe(&topic(&msg.room_id)).await?;
        self.remove_member(ctx, &msg.room_id).await
    }

    /// Records the message in the room's history and publishes it to the room.
    #[on]
    async fn say(&self, ctx: &mut Ctx<Session>, msg: SendMessage) -> Result<(), Error> {
        let from = ctx.data().member(ctx.client_id())?;
        check_path_room(ctx, &msg.room_id)?;
        if !ctx.data().rooms.contains(&msg.room_id) {
            return Err(Error::failed_precondition(format!("join room {} first", msg.room_id)));
        }
        let message = NewMessage {
            room_id: msg.room_id,
            from,
            text: msg.text.trim().to_owned(),
            sent_at: received_ms(ctx),
        };
        let mut registry = self.registry.lock().await;
        // Present: a room with members is never forgotten, and this connection is one.
        if let Some(room) = registry.visit(&message.room_id) {
            if room.history.len() == HISTORY_PER_ROOM {
                room.history.pop_front();
            }
            room.history.push_back(message.clone());
        }
        ctx.publish(&topic(&message.room_id), &message).await?;
        Ok(())
    }

    /// Answers with the room's latest `limit` messages.
    #[rpc]
    async fn history(&self, ctx: &mut Ctx<Session>, req: GetHistory) -> Result<History, Error> {
        check_path_room(ctx, &req.room_id)?;
        if !ctx.data().rooms.contains(&req.room_id) {
            return Err(Error::failed_precondition(format!("join room {} first", req.room_id)));
        }
        let registry = self.registry.lock().await;
        let kept = registry.rooms.get(&req.room_id).map(|room| &room.history);
        let skip = kept.map_or(0, |kept| kept.len().saturating_sub(req.limit as usize));
        let messages = kept.into_iter().flatten().skip(skip).cloned().collect();
        Ok(History { room_id: req.room_id, messages })
    }

    /// Leaves every room the connection was in, as if it had sent [`LeaveRoom`] for each.
    #[on_close]
    async fn closed(&self, ctx: &mut Ctx<Session>, _close: Close) {
        // The hub has already dropped the connection's subscriptions.
        for room_id in std::mem::take(&mut ctx.data_mut().rooms) {
            if let Err(error) = self.remove_member(ctx, &room_id).await {
                tracing::warn!(%error, room_id, "could not tell the room that a member left");
            }
        }
    }
}

impl Chat {
    /// Removes this connection from room `room_id` and tells the members still there.
    async fn remove_member(&self, ctx: &Ctx<Session>, room_id: &str) -> Result<(), Error> {
        let mut registry = self.registry.lock().await;
        let Some(member) = registry.visit(room_id).and_then(|room| room.members.remove(&ctx.client_id()))
        else {
            return Ok(());
        };
        ctx.publish(&topic(room_id), &MemberLeft { room_id: room_id.to_owned(), member }).await?;
        Ok(())
    }
}
