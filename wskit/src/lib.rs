//! # wskit
//!
//! A type-safe WebSocket framework. Messages are plain structs annotated with
//! [`#[message("TYPE")]`](message); a router is an `impl` block annotated with
//! [`#[router]`](router). At compile time they expand into a static dispatch table (a
//! `match` from type string to a decode-validate-call arm per handler) and one validation
//! function per message, served over hyper with a WebSocket frame layer of its own.
//!
//! wskit speaks the JSON protocol of ws-kit: frames are
//! `{"type": "JOIN_ROOM", "meta": {...}, "payload": {...}}`, so ws-kit's browser clients
//! talk to a wskit server unchanged.
//!
//! ```no_run
//! use wskit::{message, router, Ctx, Error, Server};
//!
//! #[message("JOIN_ROOM")]
//! pub struct JoinRoom {
//!     #[validate(length(min = 1, max = 64))]
//!     pub room_id: String, // on the wire: "roomId"
//! }
//!
//! #[message("JOINED")]
//! pub struct Joined {
//!     pub room_id: String,
//!     pub user: String,
//! }
//!
//! #[derive(Default)]
//! pub struct Session {
//!     pub room: Option<String>,
//! }
//!
//! pub struct Chat;
//!
//! #[router(data = Session)]
//! impl Chat {
//!     #[on]
//!     async fn join(&self, ctx: &mut Ctx<Session>, msg: JoinRoom) -> Result<(), Error> {
//!         ctx.data_mut().room = Some(msg.room_id.clone());
//!         let user = ctx.client_id().to_string();
//!         ctx.reply(&Joined { room_id: msg.room_id, user })
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     Server::new(Chat).path("/ws").serve("127.0.0.1:3000").await
//! }
//! ```
//!
//! A frame `{"type":"JOIN_ROOM","payload":{"roomId":""}}` never reaches `join`: the client
//! gets `ERROR` INVALID_ARGUMENT with `details.issues = [{"path": "payload.roomId", ...}]`.
//!
//! ## What is checked at compile time
//!
//! A handler parameter that is not a `#[message]`, two handlers for one type (also across
//! [merged routers](#composing-routers)), a reserved
//! type name (`$…`, `__…`), an unknown or malformed `#[validate]` rule or one that does not
//! fit its field's type, an invalid `pattern`, a handler with the wrong shape, and sending a
//! type that is not a message: each is a compile error at the offending token that says how
//! to fix it.
//!
//! ## Reading the generated code
//!
//! `cargo expand` shows, for a router, `impl wskit::Router` with a `match` on
//! `inbound.message_type()` and one arm per handler, and for a message, `impl
//! wskit::Message` and `impl wskit::Validate` with one block per validated field.
//!
//! ## Beyond one message, one handler
//!
//! - RPC: `#[message("GET_USER", response = User)]` binds a request to its response, and
//!   an `#[rpc]` handler returns it (see [`router`]); [`Ctx::progress`],
//!   [`Ctx::deadline`] and [`Ctx::cancellation`] serve long requests.
//! - Pub/sub: [`Ctx::subscribe`], [`Ctx::publish`], and the [`Hub`] to publish from
//!   anywhere, in memory or through Redis.
//! - [`middleware`]: server layers and `#[middleware]` methods; [`ratelimit`]: token
//!   buckets as a server layer.
//! - [`Limits`]: every bound a client could push, and [`Limits::on_exceeded`] to observe
//!   them; all bounds are listed [below](#limits-and-defaults).
//! - [`testing::TestConnection`]: drive a router without a socket, in unit tests, with a
//!   clock the test moves.
//! - Connections from outside handlers: close, reach and count them by client id or by
//!   user ([below](#connections-from-outside-handlers)).
//! - [Composing routers](#composing-routers) with [`Router::merge`], and serving
//!   [several routes](#several-routes) from one server with [`Routes`].
//! - Binary frames: an `#[on_binary]` handler and [`Ctx::send_binary`], a wskit extension
//!   described [below](#extension-binary-frames).
//! - [Session resume](mod@resume) ([`Server::resume`], off by default): a client that loses
//!   its connection reconnects within a window and gets what it missed, its subscriptions
//!   restored, also on another instance through the Redis bus.
//!
//! ## Connections from outside handlers
//!
//! A [`ClientHandle`] ([`Ctx::handle`]) and the [`Hub`] ([`Server::hub_handle`],
//! [`Ctx::hub`]) reach connections from anywhere: another connection's handler, a timer
//! task, an HTTP endpoint.
//!
//! - **Close (kick)**: [`ClientHandle::close`], [`Hub::close`] by client id. What was
//!   queued for the connection before is still written, then the close frame; a handler
//!   it is running is stopped (its future dropped, its [cancellation
//!   token](Ctx::cancellation) fired); `#[on_close]` runs with that close.
//! - **Users**: a connection belongs to a user once tagged, by the authenticator's data
//!   ([`Server::user`]) or by a handler ([`Ctx::set_user`], e.g. after a login message).
//!   [`Hub::send_to_user`] reaches all of a user's connections (every device), on every
//!   instance with the Redis bus; [`Hub::close_user`], [`Hub::user_connection_count`],
//!   [`Hub::is_online`] and [`Hub::users`] are exact for this instance. The index holds
//!   live connections only: a connection leaves it when it closes.
//! - **What a handler knows**: [`Ctx::peer_addr`], [`Ctx::protocol`] (the subprotocol
//!   selected), [`Ctx::message_type`] (also in `#[on_error]`, for the message that
//!   failed), [`Ctx::user`].
//! - **Hooks**: [`Server::on_upgrade`] sees (and may refuse) each upgrade request before
//!   authentication; [`Server::on_stale`] each connection the heartbeat finds stale,
//!   closed with 1011 or [`Server::stale_close_code`]; [`Hub::on_broadcast`] each publish
//!   with its delivery count; [`Limits::on_exceeded`] each refusal of a
//!   [`ratelimit::RateLimiter`] ([`LimitKind::MessageRate`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use wskit::{message, router, Ctx, Error, Server};
//!
//! #[message("KICK")]
//! pub struct Kick { pub user: String }
//!
//! #[message("NOTICE")]
//! pub struct Notice { pub text: String }
//!
//! #[derive(Default)]
//! pub struct Session { pub user: Option<String>, pub admin: bool }
//!
//! pub struct Admin;
//!
//! #[router(data = Session)]
//! impl Admin {
//!     #[on]
//!     async fn kick(&self, ctx: &mut Ctx<Session>, msg: Kick) -> Result<(), Error> {
//!         if !ctx.data().admin {
//!             return Err(Error::permission_denied("admins only"));
//!         }
//!         ctx.hub().send_to_user(&msg.user, &Notice { text: "you were signed out".into() }).await?;
//!         ctx.hub().close_user(&msg.user, 4001, "signed out by an admin");
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let server = Server::with_data(Admin, |parts| Session {
//!         user: wskit::token::query(parts, "user"),
//!         admin: false,
//!     })
//!     .user(|session| session.user.clone())
//!     .stale_close_code(1008);
//!     let hub = server.hub_handle();
//!     // A timer task: everyone is signed out at midnight (here: every hour).
//!     tokio::spawn(async move {
//!         loop {
//!             tokio::time::sleep(Duration::from_secs(3600)).await;
//!             for user in hub.users() {
//!                 hub.close_user(&user, 4002, "session expired");
//!             }
//!         }
//!     });
//!     server.path("/ws").serve("127.0.0.1:3000").await
//! }
//! ```
//!
//! ## Composing routers
//!
//! Split handlers into routers by feature and serve them as one with [`Router::merge`]:
//! `Auth.merge(Chat)`, `Auth.merge(Chat).merge(Admin)`. The merge is a type,
//! [`Merge<A, B>`](Merge), whose dispatch asks the first router's generated `match`, then
//! the second's: no map, no boxing per message. Its routers share one connection data
//! type.
//!
//! - A message type handled by two merged routers fails the build, naming the type and
//!   both routers: remove one of the handlers. It is reported when the merge is compiled
//!   to code (`cargo build`, `cargo test`, `cargo run`), not by `cargo check`.
//! - `#[on_open]` hooks run in merge order; an error stops the later ones and closes the
//!   connection. `#[on_close]` and `#[on_error]` hooks of every router run, in merge order.
//! - A router's `#[router(middleware = [..])]` guards that router's handlers only, merged
//!   or alone; middleware for every message is a server layer ([`Server::middleware`]).
//!   See [`Merge`] for why this differs from ws-kit's specification.
//!
//! ```
//! use wskit::testing::TestConnection;
//! use wskit::{message, router, Ctx, Error, Router};
//!
//! #[message("LOGIN")]
//! pub struct Login { pub name: String }
//!
//! #[message("WHOAMI")]
//! pub struct WhoAmI;
//!
//! #[message("YOU_ARE")]
//! pub struct YouAre { pub name: String }
//!
//! #[derive(Default)]
//! pub struct Session { pub name: Option<String> }
//!
//! pub struct Auth;
//!
//! #[router(data = Session)]
//! impl Auth {
//!     #[on]
//!     async fn login(&self, ctx: &mut Ctx<Session>, login: Login) -> Result<(), Error> {
//!         ctx.data_mut().name = Some(login.name);
//!         Ok(())
//!     }
//! }
//!
//! pub struct Profile;
//!
//! #[router(data = Session)]
//! impl Profile {
//!     #[on]
//!     async fn who(&self, ctx: &mut Ctx<Session>, _: WhoAmI) -> Result<(), Error> {
//!         let name = ctx.data().name.clone().ok_or(Error::unauthenticated("log in first"))?;
//!         ctx.reply(&YouAre { name })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Auth.merge(Profile); // serve it with `Server::new(app)`
//! let mut connection = TestConnection::new(app);
//! connection.send(r#"{"type":"LOGIN","payload":{"name":"ada"}}"#).await;
//! let frames = connection.send(r#"{"type":"WHOAMI"}"#).await;
//! assert_eq!(frames, [r#"{"type":"YOU_ARE","meta":{},"payload":{"name":"ada"}}"#]);
//! # }
//! ```
//!
//! ## Several routes
//!
//! [`Routes`] serves several WebSocket paths from one address, each with its own
//! [`Server`]: its router, connection data, authenticator, middleware and limits. The
//! routes share the accept loop, the bound on pending handshakes, graceful shutdown and
//! the [`Hub`] (a publish reaches the subscribers of every route). Other paths get the
//! [`Routes::fallback`], or 404.
//!
//! ```no_run
//! # use wskit::{message, router, Ctx, Error, Rejection, Routes, Server};
//! # #[message("PING")] pub struct Ping;
//! # pub struct Chat;
//! # #[router] impl Chat { #[on] async fn ping(&self, _: &mut Ctx<()>, _: Ping) -> Result<(), Error> { Ok(()) } }
//! # pub struct Member { pub name: String }
//! # pub struct Rooms;
//! # #[router(data = Member)] impl Rooms { #[on] async fn ping(&self, _: &mut Ctx<Member>, _: Ping) -> Result<(), Error> { Ok(()) } }
//! # async fn run() -> std::io::Result<()> {
//! let rooms = Server::with_authenticator(Rooms, |parts| {
//!     let token = wskit::token::any(parts);
//!     async move { token.map(|name| Member { name }).ok_or(Rejection::unauthorized("no token")) }
//! });
//! Routes::new()
//!     .route("/ws/chat", Server::new(Chat))
//!     .route("/ws/rooms/:room", rooms)
//!     .fallback(|_request| async { http::Response::new(wskit::Body::from("<h1>chat</h1>")) })
//!     .serve("127.0.0.1:3000")
//!     .await
//! # }
//! ```
//!
//! ## Extension: binary frames
//!
//! Written in the style of the wire contract (ws-kit's protocol, section 1: "an application
//! may instead route raw binary frames to a binary handler"). It leaves a plain ws-kit
//! client unaffected: only an application that declares the handler sees it, and ws-kit
//! clients send text frames.
//!
//! | rule | |
//! |---|---|
//! | routing | A router without an `#[on_binary]` handler handles a binary frame that holds UTF-8 JSON like a text frame, and answers any other binary frame with `ERROR` INVALID_ARGUMENT. A router with one (at most one per router; a second is a compile error) passes **every** binary frame to it, whatever it holds, JSON included: what a client sends as text is a message, what it sends as binary is data. |
//! | handler | `async fn(&self, ctx: &mut Ctx<Data>, bytes: Bytes) -> Result<(), Error>`, with the frame's whole payload (a fragmented message is joined first). It takes its turn among the messages of its connection, in arrival order, and has the connection's data. Neither server layers nor `#[middleware]` nor `#[after]` methods run for it (they are keyed by message type): rate-limit binary frames in the handler. |
//! | size | [`Limits::max_message_bytes`] applies as to text: a larger binary frame is answered with `ERROR` RESOURCE_EXHAUSTED with `details {observed, limit}`, or closed with 1009 under [`Oversize::Close`]; above four times the limit the connection is closed with 1009 without reading it. It counts toward the in-flight limit and the byte budget of messages waiting for their turn. |
//! | errors | An error the handler returns, or its panic, is sent as `ERROR` (never `RPC_ERROR`: a binary frame has no correlation id) with `meta: {}`, and reaches `#[on_error]`. |
//! | sending | [`Ctx::send_binary`] queues a binary frame from any handler or hook, through the connection's outbound queue, in order with its other frames and under the same bounds (slow consumers, closing). |
//!
//! ## Threat model
//!
//! A client is anyone who can open a TCP connection to the server, and everything it
//! sends is hostile until proven otherwise: frames of any size, shape, speed or order,
//! type strings and correlation ids of any length, keys nobody declared, requests it
//! aborts at once, sockets it stops reading, requests it never finishes.
//!
//! What wskit guarantees against such a client:
//!
//! - **Bounded memory, per connection and overall.** Everything a client can make the
//!   server hold (its unfinished message, the messages waiting behind a running handler,
//!   its outbound queue, its subscriptions, the ids and keys copied out of its frames) has
//!   a bound in the table below, and so does what all clients hold together (connections,
//!   pending handshakes, unfinished bytes, rate-limit buckets, the panic log).
//! - **Bounded time.** A client that trickles a handshake or a message, stops answering
//!   pings, or stops reading what it is sent is closed after a bounded time.
//! - **No panics on input.** Malformed input is answered with an error frame; a handler
//!   that panics is answered INTERNAL; neither takes down the connection or the server.
//! - **Error frames without internals.** Error frames carry a code, a message and
//!   details that wskit or the handler chose: no panic message, no `Debug` of an internal
//!   error, no error text of Redis or the operating system. Client input they quote (a type
//!   string, a key or value a validation issue names) is cut to
//!   [`Limits::MAX_ECHO_BYTES`], and a correlation id echoed in them is at most
//!   [`Limits::MAX_CORRELATION_ID_BYTES`], so an answer is never much larger than the
//!   frame it answers.
//! - **Slow consumers are shed.** A client that does not read its frames is closed (or
//!   loses frames, by [policy](SlowConsumer)) instead of buffering without end, and never
//!   delays the delivery of a publish to the other subscribers.
//! - **Floods are cut short.** Too many protocol errors in a row close the connection
//!   with 1008, and what a client's bad frames cost in log lines is bounded (debug level,
//!   quoted input cut; panics logged once per handler and type every 10 s).
//!
//! What stays the application's job:
//!
//! - **Authentication and authorization.** Authenticate in the authenticator
//!   ([`Server::with_authenticator`]) or `#[on_open]`, restrict browsers with
//!   [`Server::allowed_origins`], and decide who may subscribe or publish to which topic
//!   with [`Server::authorize_topics`]: by default any connection may use any topic the
//!   [`TopicRules`] allow.
//! - **What its handlers keep.** Validation rules (`length(max = ..)`, `range`,
//!   `each(..)`) bound each field of a message; what handlers store across messages
//!   (rooms, per-user state, data kept in the connection's data) and how much work one
//!   message starts are theirs to bound. Rate-limit heavy messages with the
//!   [`ratelimit`] layer.
//! - **What it sends and echoes.** The outbound queue is bounded in frames and in bytes
//!   ([`Limits::max_queued_bytes`]), but a handler that answers small requests with large
//!   frames still multiplies what a client can make the server hold up to that bound.
//!   [`Error`] messages and details a handler builds reach the client as they are.
//! - **Infrastructure it trusts.** The Redis bus and the rate limiter's Redis store are
//!   trusted: what arrives on the bus is delivered to local subscribers as it is. Keep
//!   Redis off the public network. Behind an [`Endpoint`] mounted in your own hyper or
//!   axum server, the accept loop, its connection bounds and its handshake timeout are
//!   yours.
//!
//! ## Limits and defaults
//!
//! Every bound on what a peer controls, its default, and what happens when it is
//! reached. "Hook" names the [`LimitKind`] that [`Limits::on_exceeded`] receives.
//! `RPC_ERROR` replaces `ERROR` whenever the refused frame carried a correlation id.
//!
//! **Per message**
//!
//! | limit | default | when reached |
//! |---|---|---|
//! | [`Limits::max_message_bytes`] | 1 MiB | `ERROR` RESOURCE_EXHAUSTED with `details {observed, limit}`, connection open (hook `MessageSize`); with [`Oversize::Close`], close 1009 |
//! | hard size limit ([`Oversize::Reply`]) | 4 x `max_message_bytes` | not read any further: close 1009 (hook `MessageSize`) |
//! | a compressed message's inflated size ([permessage-deflate](#permessage-deflate-rfc-7692)) | the two limits above | the same as for an uncompressed message of that size; inflating stops one byte past the hard limit |
//! | [`Limits::message_timeout`] | 30 s | a message that began to arrive and did not finish: close 1008 (hook `MessageTime`) |
//! | [`Limits::MAX_CORRELATION_ID_BYTES`] | 128 bytes | `ERROR` INVALID_ARGUMENT at `meta.correlationId`; the id is neither kept nor echoed |
//! | [`Limits::MAX_EXTRA_META_KEYS`] | 32 keys | INVALID_ARGUMENT at `meta` |
//! | [`Limits::MAX_ISSUES`] | 32 issues | the first ones in `details.issues`, the number of the rest in `details.omittedIssues` |
//! | [`Limits::MAX_ECHO_BYTES`] | 256 bytes | quoted client input (types, keys and values in error frames and log lines) is cut, ending with `…` |
//! | `meta.timeoutMs` | at most [`Limits::rpc_timeout`], 30 s | the request's deadline; at it `RPC_ERROR` DEADLINE_EXCEEDED and the handler is cancelled |
//! | [`#[validate]`](message) rules | none unless declared | INVALID_ARGUMENT with `details.issues`; declare `length(max = ..)` on every string and list a client fills |
//!
//! **Per connection**
//!
//! | limit | default | when reached |
//! |---|---|---|
//! | [`Limits::max_in_flight`] | 1000 messages | RESOURCE_EXHAUSTED at once (hook `InFlight`) |
//! | [`Limits::max_concurrent_handlers`] | 16 handlers | `RPC_ERROR` RESOURCE_EXHAUSTED for the next concurrent request in its turn (hook `ConcurrentHandlers`) |
//! | bytes of messages waiting behind a running handler | `max_message_bytes`, plus the one message that passes it | the connection stops reading until the handler returns (TCP holds the client back) |
//! | errors answered while a handler runs, kept for `#[on_error]` | 64 | answered all the same; the hook sees the first 64 |
//! | [`Limits::max_consecutive_errors`] | 10 protocol errors in a row | close 1008 (hook `ConsecutiveErrors`) |
//! | [`Limits::max_queued_frames`] | 1024 frames | the client is not reading: [`Ctx::send`] fails with RESOURCE_EXHAUSTED and the connection closes with 1013 (hook `OutboundQueue`), or frames are dropped, the newest or the oldest ([`Limits::on_slow_consumer`]), and the client gets an `ERROR` RESOURCE_EXHAUSTED with `details {dropped, policy}` once its queue is half empty ([drop notice](SlowConsumer#drop-notice); the hook is told then, once per notice) |
//! | [`Limits::max_queued_bytes`] | 4 MiB | as above (hook `OutboundBytes`); a single larger frame still goes into an empty queue |
//! | the queue of a client that reads | 8 x `max_queued_frames`, 8 x `max_queued_bytes` | as above |
//! | [`Limits::max_write_stall`] | 1 s | a write that waits this long marks the client as not reading: the queue bound above drops to `max_queued_frames` |
//! | [`Limits::write_timeout`] | 10 s | the connection is dropped; `#[on_close]` sees 1013 |
//! | [`Server::heartbeat`] | ping every 30 s, 10 s to answer | close 1011 ([`Server::without_heartbeat`] turns pings off) |
//! | [`TopicRules::max_length`] | 128 bytes | INVALID_ARGUMENT, `details.reason` `length`; checked before any map changes |
//! | [`TopicRules::pattern`] | `^[A-Za-z0-9:_./-]+$` | INVALID_ARGUMENT, `details.reason` `pattern` |
//! | [`TopicRules::max_per_connection`] | 1000 topics | RESOURCE_EXHAUSTED (hook `Topics`) |
//! | frames handled before answers are flushed | 64 | the batch's answers are written, then reading goes on |
//! | read buffer | 64 KiB per thread, not per connection | a connection keeps only the bytes of a message that has not fully arrived |
//! | write buffer | 16 KiB | written out at once when full, before the batch ends |
//! | frames kept to replay on a [resume] ([`Resume::replay_frames`], [`Resume::replay_bytes`]) | 256 frames, 256 KiB (the newest frame always) | the oldest are forgotten; a client that missed one of them is refused `overflowed` |
//!
//! **Per server**
//!
//! | limit | default | when reached |
//! |---|---|---|
//! | [`Limits::max_connections`] | 100 000 | upgrades answered 503 (hook `Connections`) |
//! | [`Limits::max_pending_handshakes`] | 1024 | new connections answered 503 and closed before their request is read (hook `PendingHandshakes`) |
//! | [`Server::handshake_timeout`] | 10 s | a connection that has not sent its request headers is closed |
//! | request head (hyper's defaults) | 408 KiB, 100 headers | 431 (414 for an overlong URI); this bounds path parameters, tokens and offered subprotocols |
//! | file descriptors | the process's `ulimit -n` | new connections answered 503 and closed (Unix; hook `FileDescriptors`) |
//! | [`Limits::max_unfinished_bytes`] | 128 MiB | the connection whose bytes would pass it is closed with 1013 (hook `UnfinishedBytes`) |
//! | [`Server::shutdown_grace`] | 5 s | handlers still running are abandoned; clients get 1001 |
//! | the hub's topics | `max_connections` x [`TopicRules::max_per_connection`] subscriptions | as per connection |
//! | [`MemoryStore::max_keys`](ratelimit::MemoryStore::max_keys) | [100 000](ratelimit::MemoryStore::DEFAULT_MAX_KEYS) buckets | the least recently used bucket is evicted; with [`per_user_and_type`](ratelimit::RateLimiter::per_user_and_type), types the router does not handle share one bucket |
//! | rate-limit buckets in Redis (`RedisStore`) | kept for one full refill | they expire |
//! | the panic log | 1024 handler and type pairs, one line each every 10 s | the others are counted and reported as `suppressed` |
//! | sessions kept for [resume] ([`Resume::max_sessions`]) | 10 000, each for [`Resume::window`] (2 minutes) | a connection that ends beyond it keeps no session; at the window's end the session ends (its subscriptions and queue, bounded by `max_queued_frames` and `max_queued_bytes`, go) |
//!
//! **The Rust client** ([`client::ClientOptions`]), against the server it talks to
//!
//! | limit | default | when reached |
//! |---|---|---|
//! | [`ClientOptions::max_pending`](client::ClientOptions::max_pending) | 1000 requests | [`ClientError::TooManyPending`](client::ClientError::TooManyPending) |
//! | [`ClientOptions::queue`](client::ClientOptions::queue) | 1000 frames while not open | [`QueuePolicy`](client::QueuePolicy): refuse the newest, drop the oldest, or refuse all |
//! | frames waiting for a slow server while open | the offline capacity + 1024 | [`ClientError::QueueFull`](client::ClientError::QueueFull) |
//! | progress values a reader has not taken | 64 per request | further ones are dropped (the protocol allows it) |
//! | [`ClientOptions::max_message_bytes`](client::ClientOptions::max_message_bytes) | 16 MiB | the connection fails, pending requests fail with `ConnectionClosed`, and the client reconnects |
//! | frames matched to requests | only the ids of its own pending requests | frames with other ids are ignored; nothing is stored |
//! | requests that failed with a lost socket, remembered while a resumed session replays ([`ClientOptions::resume`](client::ClientOptions::resume)) | `max_pending` ids, until the replay is over | the oldest are forgotten: a replayed reply to one of them goes to the handlers like any frame |
//!
//! ## permessage-deflate (RFC 7692)
//!
//! A wskit extension (PROTOCOL.md section 8), off by default: enable it per server with
//! [`Server::deflate`]`(`[`Deflate::enabled`]`())`.
//!
//! - **Negotiation.** A client asks in `Sec-WebSocket-Extensions` (browsers do). The server
//!   takes the first `permessage-deflate` offer whose parameters are all known, valid
//!   (`server_max_window_bits` and `client_max_window_bits` from 8 to 15, written without
//!   leading zeros, plain or quoted) and not repeated; an offer that breaks any of these is
//!   declined and the next one considered. The answer is `permessage-deflate`, plus
//!   `server_no_context_takeover` unless [`Deflate::server_context_takeover`] is set (and
//!   always when the client asks for it or for a window below 15 bits),
//!   `client_no_context_takeover` when the client offered it, and the
//!   `server_max_window_bits` the client offered. It never answers
//!   `client_max_window_bits`: any window the client compresses with is inflated.
//! - **What the server sends.** Messages (text or binary) of at least
//!   [`Deflate::threshold`] bytes (default 1 KiB) go out compressed, with RSV1 set; smaller frames, frames that do not
//!   shrink (without context takeover) and, for a client's window below 15 bits, frames
//!   larger than that window go out plain. Control frames are never compressed. Without
//!   context takeover, a publish is compressed once, by the first subscriber connection
//!   that needs it, and the same compressed bytes go to every other subscriber that
//!   agreed on the extension; subscribers without it get the plain frame.
//! - **What the server reads.** RSV1 on the first frame of a text or binary message means
//!   compressed; RSV1 on a continuation or control frame, or without the extension, fails
//!   the connection with 1002, and data that does not inflate with 1007. What a message
//!   inflates to counts against [`Limits::max_message_bytes`] exactly as an uncompressed
//!   message's length does: it is inflated as its frames arrive, into a buffer that grows
//!   with the output and stops one byte past the hard size limit, so a small frame that
//!   inflates to gigabytes makes the server allocate at most that much before it closes
//!   with 1009.
//! - **Memory.** Without context takeover the server keeps no compressor per connection:
//!   each thread has one, reset after every message. Inflating needs 42 KiB of state
//!   (miniz_oxide's inflater): lent by the thread for one message when the client agreed on
//!   `client_no_context_takeover`, otherwise kept by the connection from its first
//!   compressed message on (browsers keep their context). With
//!   [`Deflate::server_context_takeover`] each connection that was sent a compressed
//!   frame keeps its own compressor too (312 KiB with miniz_oxide).
//! - **Clients that do not ask.** A client that offers no extension (every ws-kit client
//!   outside a browser, wskit's Rust client) gets no `Sec-WebSocket-Extensions` header and
//!   exactly the frames it would get from a server without the extension, byte for byte;
//!   a frame with RSV1 from it is still a protocol error (1002).
//!
//! ## When a handler panics
//!
//! A panic in a handler, a hook, a middleware layer or the authenticator is caught: the
//! client gets `ERROR` (or `RPC_ERROR`) INTERNAL with a generic message (the
//! authenticator's client gets 500), and the connection and the server carry on. Since a
//! client can send the same panicking message again and again, a panic is made cheap to
//! answer:
//!
//! - it is logged with `tracing` at error level (`caught a panic`, with its `site`,
//!   `message_type` and `panic` message) once per handler and message type every 10 s;
//!   the others in that time are only counted, and the next line of the same handler and
//!   type reports them as `suppressed`. Types a router does not handle (a middleware
//!   layer panicked on a made-up type) share one line, as `(unrouted)`;
//! - it skips the process's [panic hook](std::panic::set_hook), which by default prints to
//!   stderr and, under `RUST_BACKTRACE`, captures and prints a backtrace for every panic.
//!   The first time wskit runs a handler it wraps the hook installed at that time: a
//!   panic anywhere else (another thread, a task a handler spawned) still reaches it
//!   unchanged. Install your own hook before serving, or it replaces the wrapper and sees
//!   every panic again. [`Limits::quiet_panics`]`(false)` passes handler panics to the hook
//!   too, for crash reporters installed as one.
//!
//! Where panics abort (`panic = "abort"`, and wasm32, so the Cloudflare host) nothing is
//! caught: the hook is left alone and reports the panic before the process or instance
//! ends.
//!
//! ## Hosts
//!
//! Every decision about a connection (decode, dispatch, answer, queue while a handler
//! runs, cancel on `$ws:abort` or at a deadline, refuse beyond a limit, close) is made by
//! one protocol core without socket or runtime types, which builds for
//! `wasm32-unknown-unknown`. A host only moves frames and runs timers:
//!
//! - [`Server`] / [`Endpoint`]: hyper 1 and wskit's own RFC 6455 frame layer (the `server`
//!   feature);
//! - inside an axum app (the `axum` feature, below);
//! - Cloudflare Durable Objects with the WebSocket Hibernation API (the `cloudflare`
//!   feature, wasm32 only: `wskit::cloudflare::Host`; `examples/cloudflare` in the
//!   repository);
//! - [`testing::TestConnection`], in memory.
//!
//! ## Inside an axum app
//!
//! With the `axum` feature, the WebSocket route lives in an axum `Router` next to REST
//! routes, under its tower layers: mount the [`Endpoint`] as a service, authenticated by
//! the server's authenticator, or accept the upgrade in a handler with the
//! [`wskit::axum::Upgrade`](crate::axum::Upgrade) extractor, after ordinary axum
//! extractors and `State` have authenticated it. See [`wskit::axum`](crate::axum).
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn run() -> std::io::Result<()> {
//! # use wskit::{message, router, Ctx, Error, Server};
//! # #[message("PING")] pub struct Ping;
//! # pub struct App;
//! # #[router] impl App { #[on] async fn ping(&self, _: &mut Ctx<()>, _: Ping) -> Result<(), Error> { Ok(()) } }
//! let ws = Server::new(App).into_endpoint();
//! let routes = axum::Router::new()
//!     .route("/health", axum::routing::get(|| async { "ok" }))
//!     .route_service("/ws", ws.clone());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, routes).await?;
//! ws.shutdown().await; // axum's server is done; close the WebSockets with 1001
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `server` | yes | [`Server`] and [`Endpoint`]: the hyper 1 host |
//! | `client` | yes | [`client::Client`]: the Rust client, typed by the same message structs |
//! | `redis` | no | `Hub::redis`: a pub/sub bus through Redis, in the channel format of ws-kit's Redis adapter; the rate limiter's Redis store |
//! | `axum` | no | [`wskit::axum`](crate::axum): [`Endpoint`] as a tower service for axum's `Router::route_service`, the [`Upgrade`](crate::axum::Upgrade) extractor, `IntoResponse` for [`Rejection`] |
//! | `cloudflare` | no | `wskit::cloudflare::Host`, on `wasm32-unknown-unknown` only: a Durable Object's WebSockets served by a router, hibernation included |
//! | `metrics` | no | [`metrics`]: Prometheus metrics of connections, messages, handler times, errors, limits, publishes and the Redis bus, served by [`Server::metrics`] |
//! | `schema` | no | [`schema`]: JSON Schema (draft 2020-12) and TypeScript types of a router's messages, written from the `#[message]` declarations (schemars) |
//!
//! Without `server`, the crate still provides messages, validation, routers and
//! [`testing::TestConnection`], and builds for `wasm32-unknown-unknown`.

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(fuzzing)]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
#[cfg(feature = "client")]
pub mod client;
mod close;
#[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
pub mod cloudflare;
mod concurrent;
mod connection;
mod ctx;
mod envelope;
mod error;
mod escape;
mod json;
mod limits;
mod message;
#[cfg(all(feature = "metrics", feature = "server"))]
pub mod metrics;
pub mod middleware;
mod object;
mod observe;
mod outbox;
mod panics;
mod protocol;
mod pubsub;
pub mod ratelimit;
#[cfg(feature = "server")]
pub mod resume;
#[cfg(any(feature = "server", all(feature = "cloudflare", target_arch = "wasm32")))]
mod route;
mod router;
#[cfg(feature = "schema")]
pub mod schema;
mod sends;
#[cfg(feature = "server")]
mod server;
pub mod testing;
pub mod validate;
mod wakeup;

/// The clock wskit reads and reports ([`Ctx::received_at`], [`Ctx::deadline`]): `std::time`
/// natively; on wasm32, where `std::time` has no clock, the JavaScript one (the
/// `web-time` crate). Write `wskit::time::SystemTime::now()` in code that runs on both.
pub mod time {
    pub use web_time::{Instant, SystemTime, UNIX_EPOCH};
}

pub use bytes::Bytes;
pub use close::Close;
pub use connection::StaleConnection;
pub use ctx::Ctx;
pub use envelope::{Inbound, Meta};
pub use error::{Code, Error, Retry};
pub use limits::{LimitExceeded, LimitKind, Limits, Oversize};
pub use message::{DeclaredMeta, Message, NoMeta, Rpc};
pub use outbox::{ClientHandle, SlowConsumer};
#[cfg(feature = "redis")]
pub use pubsub::RedisOptions;
pub use pubsub::{Broadcast, BusStatus, Delivery, Hub, Publish, TopicAction, TopicRules};
#[cfg(feature = "server")]
pub use resume::Resume;
pub use router::{Merge, MessageTypes, Router};
#[cfg(feature = "axum")]
pub use server::axum;
#[cfg(feature = "server")]
pub use server::{token, Body, Deflate, Endpoint, Rejection, Routes, Server, ShutdownReport};
pub use validate::Validate;

/// Declares a message type: `#[message("TYPE")]` on a struct with named fields (a message
/// with a payload) or a unit struct (a message without one).
///
/// It derives `Serialize` and `Deserialize` (fields in camelCase on the wire, unknown
/// fields rejected) and implements [`Message`] and [`Validate`].
///
/// Arguments after the type string:
/// - `rename_all = "snake_case"`: another naming convention for the payload's keys (any of
///   serde's); single fields keep `#[serde(rename = "…")]`.
/// - `meta = SomeStruct`: extra `meta` keys the message declares, a [`payload`] struct;
///   a handler receives them as a fourth parameter `meta: SomeStruct`.
/// - `validate = manual`: implement [`Validate`] by hand instead of with field rules.
///
/// Field rules, `#[validate(...)]`, all checked and reported together with paths such as
/// `payload.text`:
///
/// | rule | fits | checks |
/// |---|---|---|
/// | `length(min = 1, max = 64)` | strings, collections | characters or items |
/// | `range(min = 0, max = 100)` | numbers | the value |
/// | `non_empty` | strings, collections | at least one character or item |
/// | `email`, `url`, `uuid` | strings | the format |
/// | `pattern = "^[a-z]+$"` | strings | a regex, compiled once; checked at build time |
/// | `nested` | `#[payload]` structs | the nested value's own rules |
/// | `each(rule, …)` | lists, sets | the rules on every item (`payload.tags[2]`) |
/// | `custom = path::to::fn` | anything | `fn(&T) -> Result<(), impl Display>` |
///
/// `Option<T>` fields are checked when present, and left out of outbound frames when `None`
/// (ws-kit's optional fields reject `null`); inbound, a missing key or `null` reads as `None`.
///
/// The macro owns the serde configuration of the struct: set the naming convention with
/// `rename_all = ".."` here rather than `#[serde(rename_all)]`, and rename a single field with
/// `#[serde(rename = "..")]` (the same name in both directions).
///
/// A struct whose fields are all `String`s, `bool`s, primitive numbers or `Option`s of
/// these, with no serde attribute but `rename`, `default` and `alias` on them, is also read
/// and written by code the macro generates, which skips serde's generic paths: the text it
/// writes is byte for byte serde_json's, and what it does not read without doubt (escapes,
/// long integers, an unknown or repeated key, ..) it leaves to serde, so a payload is read
/// into the same value, or refused with the same error, either way.
///
/// ```
/// use wskit::message;
///
/// #[message("SEND_MESSAGE")]
/// pub struct SendMessage {
///     #[validate(length(min = 1, max = 64), pattern = "^[a-z0-9-]+$")]
///     pub room_id: String,
///     #[validate(length(min = 1, max = 500))]
///     pub text: String,
///     #[validate(each(length(max = 20)))]
///     pub tags: Vec<String>,
/// }
///
/// #[message("LEAVE")]
/// pub struct Leave;
///
/// assert_eq!(<SendMessage as wskit::Message>::TYPE, "SEND_MESSAGE");
/// assert!(!<Leave as wskit::Message>::HAS_PAYLOAD);
/// ```
pub use wskit_macros::message;

/// Declares a struct used inside messages, as a nested payload value (`#[validate(nested)]`)
/// or as a message's declared meta: the wire conventions and validation of [`message`],
/// without a type string.
///
/// ```
/// use wskit::{message, payload};
///
/// #[payload]
/// pub struct Point {
///     #[validate(range(min = -90.0, max = 90.0))]
///     pub lat: f64,
///     #[validate(range(min = -180.0, max = 180.0))]
///     pub lon: f64,
/// }
///
/// #[message("MOVE")]
/// pub struct Move {
///     #[validate(nested)]
///     pub to: Point,
/// }
/// ```
pub use wskit_macros::payload;

/// Turns an `impl` block into a [`Router`].
///
/// - `#[router(data = Session)]` names the per-connection data (default `()`); it must
///   implement `Default` for [`Server::new`], or be built by [`Server::with_data`].
/// - `#[on]` marks a handler: `async fn(&self, ctx: &mut Ctx<Data>, msg: M) -> Result<(),
///   Error>`, the message type taken from the parameter. A fourth parameter
///   `meta: <M as Message>::Meta` receives the message's declared meta.
/// - `#[rpc]` marks the handler of an RPC request, a message declared with
///   `#[message("TYPE", response = Reply)]`: `async fn(&self, ctx: &mut Ctx<Data>, req: M)
///   -> Result<Reply, Error>`. The returned value is the request's one terminal reply,
///   sent with its correlation id; an error becomes `RPC_ERROR`. The handler may send
///   [`Ctx::progress`] frames before it returns, and has a [deadline](Ctx::deadline). An
///   RPC request cannot be handled with `#[on]` (a compile error), so that every request
///   gets its reply.
/// - `#[middleware]`: `async fn(&self, ctx: &mut Ctx<Data>, incoming: &Incoming<'_>) ->
///   Result<Next, Error>`, run before handlers that name it: every handler with
///   `#[router(middleware = [log, auth])]`, one handler with `#[on(middleware = [admin])]`
///   or `#[rpc(middleware = [..])]` (after the router-wide ones). See [`middleware`].
/// - `#[on_binary]`: `async fn(&self, ctx: &mut Ctx<Data>, bytes: Bytes) -> Result<(),
///   Error>`, at most one per router, receives every binary frame (see the crate docs,
///   "Extension: binary frames").
/// - `#[after]`: `async fn(&self, ctx: &mut Ctx<Data>, handled: &Handled<'_>)`, run after
///   every handler of the router, in declaration order, with the outcome and the time it
///   took ([`middleware::Handled`]).
/// - `#[on_open]`: `async fn(&self, ctx: &mut Ctx<Data>) -> Result<(), Error>`; an error
///   rejects the connection.
/// - `#[on_close]`: `async fn(&self, ctx: &mut Ctx<Data>, close: Close)`.
/// - `#[on_error]`: `async fn(&self, ctx: &mut Ctx<Data>, error: &Error)`, observes every
///   error of the connection after the client was told.
///
/// ## What the router sends
///
/// `#[router(sends = [Welcome, NewMessage])]` declares the messages the router's handlers
/// send. Then `ctx.send`, `ctx.reply`, `ctx.publish` and `ctx.publish_with` of any other
/// message in a handler, hook or middleware of the router are a compile error that names
/// the message and the fix (the RPC responses that `#[rpc]` handlers return need no entry).
/// The check covers the `ctx` a handler receives (passed on to functions that take a
/// `&Ctx`/`&mut Ctx` it is a plain context again) and not the [`Hub`]. The list is also
/// what the exported schemas ([`schema`], `schema` feature) name as the server's messages.
/// Without it, a router sends anything.
///
/// ## Order and concurrency
///
/// Connections run concurrently, each in its own task. The handlers of one connection
/// run one at a time, in the order their messages arrived, so a handler has `&mut` access
/// to the connection's data without locks; RPC requests are no exception unless their
/// handler is concurrent (below). While a handler runs, the connection keeps reading:
///
/// - `__heartbeat` is answered and protocol pings are answered at once;
/// - `$ws:abort` cancels the running request, or takes a waiting one out of the queue,
///   answering `RPC_ERROR` CANCELLED; at an RPC's deadline it is cancelled with
///   DEADLINE_EXCEEDED; cancelling drops the handler's future and fires its
///   [cancellation token](Ctx::cancellation);
/// - every other message waits for its turn, up to [`Limits::max_in_flight`] messages in
///   flight; one more is answered with RESOURCE_EXHAUSTED at once.
///
/// Handlers that should not hold up their connection hand slow work to a task of their
/// own and reply from there through a [`ClientHandle`] ([`Ctx::handle`]), or are
/// concurrent.
///
/// ### Concurrent handlers: `#[rpc(concurrent)]`
///
/// A client that abandons a request without `$ws:abort` (ws-kit's client does so when a
/// request times out) would otherwise hold back every later message of its connection
/// until the handler returns. An `#[rpc(concurrent)]` handler runs beside the connection's
/// other messages instead, in the connection's own task (no task is spawned):
///
/// - Its request takes its turn like any message: it is decoded, validated and passed
///   through the server layers and the `#[middleware]` in arrival order, with the
///   connection's context. Then its handler starts and the next message's turn comes at
///   once.
/// - The handler gets a context of its own: a **copy** of the connection's data as it was
///   when the request's turn came (the data must be `Clone`; what the handler changes in
///   it is not seen by anyone else), the request's meta, deadline and cancellation, and the
///   connection's outbound queue. It cannot subscribe or unsubscribe (FAILED_PRECONDITION);
///   it can publish, send, reply, report progress and ask to close the connection (which
///   closes once no in-order handler runs).
/// - Ordering: messages whose handlers are not concurrent keep arrival order and never
///   overtake each other. A concurrent request waits for the in-order handlers of the
///   messages before it, like any message; once its handler starts, every later message
///   may overtake it, and its frames (progress, reply) interleave with theirs. Concurrent
///   requests may finish in any order. Frames each handler sends keep their own order.
/// - The protocol rules of a request hold: one terminal frame, `$ws:abort` of its
///   correlation id and its deadline cancel it (its future is dropped, its
///   [cancellation token](Ctx::cancellation) fires, `RPC_ERROR` CANCELLED or
///   DEADLINE_EXCEEDED is sent unless it had answered), an error or a panic becomes its
///   `RPC_ERROR` and reaches `#[on_error]`. A graceful shutdown lets them finish within its
///   grace period, their answers written as they come (the connection reads nothing more
///   meanwhile); when the connection closes for another reason, or the grace period ends,
///   concurrent handlers still running are cancelled without an answer.
/// - Bound: [`Limits::max_concurrent_handlers`] (16) per connection. A concurrent request
///   whose turn comes while that many run is refused at once with `RPC_ERROR`
///   RESOURCE_EXHAUSTED (retryable); the connection is not held back. Running concurrent
///   handlers count toward [`Limits::max_in_flight`].
/// - `#[after]` methods run in the concurrent handler's job, on its context, and see its
///   outcome; a concurrent request that fails decoding, validation or its middleware is
///   answered in its turn without them.
///
/// ```
/// use wskit::{message, router, Ctx, Error};
///
/// #[message("SEARCH", response = Found)]
/// pub struct Search { pub query: String }
///
/// #[message("FOUND")]
/// pub struct Found { pub hits: u32 }
///
/// #[derive(Default, Clone)]
/// pub struct Session { pub user: Option<String> }
///
/// pub struct App;
///
/// #[router(data = Session)]
/// impl App {
///     /// Slow, and independent of the connection's other messages.
///     #[rpc(concurrent)]
///     async fn search(&self, ctx: &mut Ctx<Session>, search: Search) -> Result<Found, Error> {
///         let _user = ctx.data().user.clone(); // a copy of the connection's data
///         Ok(Found { hits: search.query.len() as u32 })
///     }
/// }
/// ```
///
/// ```
/// use wskit::{message, router, Close, Ctx, Error};
///
/// #[message("PING")]
/// pub struct Ping { pub n: u32 }
///
/// #[message("PONG")]
/// pub struct Pong { pub n: u32 }
///
/// #[message("GET_USER", response = User)]
/// pub struct GetUser { pub id: String }
///
/// #[message("USER")]
/// pub struct User { pub name: String }
///
/// pub struct App;
///
/// #[router]
/// impl App {
///     #[on]
///     async fn ping(&self, ctx: &mut Ctx<()>, ping: Ping) -> Result<(), Error> {
///         ctx.reply(&Pong { n: ping.n })
///     }
///
///     #[rpc]
///     async fn get_user(&self, ctx: &mut Ctx<()>, req: GetUser) -> Result<User, Error> {
///         ctx.progress(&"looking up");
///         match req.id.as_str() {
///             "1" => Ok(User { name: "ada".into() }),
///             _ => Err(Error::not_found("no such user")),
///         }
///     }
///
///     #[on_close]
///     async fn closed(&self, _ctx: &mut Ctx<()>, close: Close) {
///         println!("closed with {}", close.code);
///     }
/// }
///
/// assert_eq!(<App as wskit::Router>::TYPES, ["PING", "GET_USER"]);
/// ```
pub use wskit_macros::router;

/// What the generated code uses. Not public API.
///
/// A router passes each handler's parameters and result through a function bounded by a
/// trait implemented only for the type wskit provides, with the user's type as the explicit
/// generic argument: a handler declaring another type fails to compile with the trait's
/// message, at that type, in the user's signature.
#[doc(hidden)]
pub mod __private {
    pub use crate::sends::{Sending, Sends};
    pub use crate::validate::rules;
    pub use regex::Regex;
    #[cfg(feature = "schema")]
    pub use schemars;
    pub use serde;

    use crate::{Close, Error};

    /// Payloads read and written without serde (`#[message]`).
    pub mod json {
        pub use crate::envelope::Scanner;
        pub use crate::json::{member, read_object, ReadJson, WriteJson};
    }

    /// Structs read from JSON objects only (`#[message]`, `#[payload]`).
    pub mod object {
        pub use crate::object::{deserialize, Derived};
    }

    /// What `#[on]` handlers and `#[on_open]` return.
    #[diagnostic::on_unimplemented(
        message = "handlers return `Result<(), wskit::Error>`, not `{Self}`",
        label = "change the return type to `Result<(), wskit::Error>`",
        note = "report a failure with a `wskit::Error` (e.g. `Error::not_found(\"..\")`); \
                convert other errors with `.map_err(..)`"
    )]
    pub trait HandlerOutput {
        /// The handler's outcome.
        fn into_result(self) -> Result<(), Error>;
    }

    impl HandlerOutput for Result<(), Error> {
        fn into_result(self) -> Self {
            self
        }
    }

    /// The outcome of a handler returning `R`.
    pub fn output<R: HandlerOutput>(output: R) -> Result<(), Error> {
        output.into_result()
    }

    /// What `#[rpc]` handlers return: the bound response, or an error.
    #[diagnostic::on_unimplemented(
        message = "this `#[rpc]` handler's request is answered with `{R}`: return `Result<{R}, wskit::Error>`, not `{Self}`",
        label = "change the return type to `Result<{R}, wskit::Error>`",
        note = "the response type is bound on the request with `#[message(\"TYPE\", response = ..)]`"
    )]
    pub trait RpcOutput<R> {
        /// The handler's outcome.
        fn into_response(self) -> Result<R, Error>;
    }

    impl<R> RpcOutput<R> for Result<R, Error> {
        fn into_response(self) -> Self {
            self
        }
    }

    /// The outcome of an `#[rpc]` handler of `M` returning `O`.
    pub fn rpc_output<M: crate::Rpc, O: RpcOutput<M::Response>>(output: O) -> Result<M::Response, Error> {
        output.into_response()
    }

    /// The `incoming` parameter of a `#[middleware]` method: `&Incoming<'_>`.
    #[diagnostic::on_unimplemented(
        message = "`#[middleware]` methods borrow the message as `&wskit::middleware::Incoming<'_>`, not `{Self}`",
        label = "write `incoming: &Incoming<'_>`",
        note = "`Incoming` gives the message type and the decoded message (`incoming.payload::<M>()`)"
    )]
    pub trait IncomingParam<T> {
        /// The message as the parameter's type.
        fn from_incoming(incoming: T) -> Self;
    }

    impl<T> IncomingParam<T> for T {
        fn from_incoming(incoming: T) -> T {
            incoming
        }
    }

    /// The message `T` a middleware sees, as its parameter of type `P`.
    pub fn incoming<P: IncomingParam<T>, T>(incoming: T) -> P {
        P::from_incoming(incoming)
    }

    /// What `#[middleware]` methods return.
    #[diagnostic::on_unimplemented(
        message = "`#[middleware]` methods return `Result<Next, wskit::Error>`, not `{Self}`",
        label = "change the return type to `Result<wskit::middleware::Next, wskit::Error>`",
        note = "return `Ok(Next::Continue)` to go on, `Ok(Next::Stop)` to drop the message silently, \
                or an error to answer with its error frame"
    )]
    pub trait MiddlewareOutput {
        /// The middleware's decision.
        fn into_decision(self) -> Result<crate::middleware::Next, Error>;
    }

    impl MiddlewareOutput for Result<crate::middleware::Next, Error> {
        fn into_decision(self) -> Self {
            self
        }
    }

    /// The decision of a middleware returning `R`.
    pub fn middleware_output<R: MiddlewareOutput>(output: R) -> Result<crate::middleware::Next, Error> {
        output.into_decision()
    }

    /// The parameter of an `#[after]` method: `&Handled<'_>`.
    #[diagnostic::on_unimplemented(
        message = "`#[after]` methods borrow the outcome as `&wskit::middleware::Handled<'_>`, not `{Self}`",
        label = "write `handled: &Handled<'_>`",
        note = "`Handled` gives the message type, the handler's result and the time it took"
    )]
    pub trait HandledParam<T> {
        /// The outcome as the parameter's type.
        fn from_handled(handled: T) -> Self;
    }

    impl<T> HandledParam<T> for T {
        fn from_handled(handled: T) -> T {
            handled
        }
    }

    /// The outcome `T` an `#[after]` method sees, as its parameter of type `P`.
    pub fn handled<P: HandledParam<T>, T>(handled: T) -> P {
        P::from_handled(handled)
    }

    pub use crate::concurrent::{fork, Finished, ForkData, Forked, Guard, Ran};

    /// The clock `#[after]` methods are timed by.
    pub use crate::time::Instant;

    /// Checks that an `#[rpc]` handler takes an RPC request.
    pub fn rpc_request<M: crate::Rpc>() {}

    /// The `ctx` parameter of handlers and hooks: the router's `&mut Ctx<Data>`.
    #[diagnostic::on_unimplemented(
        message = "this router passes `ctx` as `{T}`, not `{Self}`",
        label = "the router's data type is set by `#[router(data = ..)]`",
        note = "write `ctx: &mut Ctx<Data>`, with the router's data type, in every handler and hook"
    )]
    pub trait CtxParam<T> {
        /// The context as the parameter's type.
        fn from_ctx(ctx: T) -> Self;
    }

    impl<T> CtxParam<T> for T {
        fn from_ctx(ctx: T) -> T {
            ctx
        }
    }

    /// The context `T` (a `&mut Ctx<Data>`), as a handler's parameter of type `P`.
    pub fn ctx<P: CtxParam<T>, T>(ctx: T) -> P {
        P::from_ctx(ctx)
    }

    /// The fourth parameter of an `#[on]` handler: the message's declared meta.
    #[diagnostic::on_unimplemented(
        message = "this handler's message declares its meta as `{T}`, not `{Self}`",
        label = "the fourth parameter receives the message's declared meta",
        note = "declare the meta keys on the message with `#[message(\"TYPE\", meta = {Self})]`, \
                or take `meta: {T}`"
    )]
    pub trait MetaParam<T> {
        /// The meta as the parameter's type.
        fn from_meta(meta: T) -> Self;
    }

    impl<T> MetaParam<T> for T {
        fn from_meta(meta: T) -> T {
            meta
        }
    }

    /// The declared meta `T` of a message, as a handler's parameter of type `P`.
    pub fn meta<P: MetaParam<T>, T>(meta: T) -> P {
        P::from_meta(meta)
    }

    /// The parameter of `#[on_close]`.
    #[diagnostic::on_unimplemented(
        message = "`#[on_close]` receives the close as `wskit::Close`, not `{Self}`",
        label = "write `close: wskit::Close`",
        note = "`Close` holds the close code and reason"
    )]
    pub trait CloseParam {
        /// The close as the parameter's type.
        fn from_close(close: Close) -> Self;
    }

    impl CloseParam for Close {
        fn from_close(close: Close) -> Self {
            close
        }
    }

    /// The close, as `#[on_close]`'s parameter of type `P`.
    pub fn close<P: CloseParam>(close: Close) -> P {
        P::from_close(close)
    }

    /// The parameter of `#[on_binary]`.
    #[diagnostic::on_unimplemented(
        message = "`#[on_binary]` receives the frame as `wskit::Bytes`, not `{Self}`",
        label = "write `bytes: wskit::Bytes`",
        note = "`Bytes` (of the `bytes` crate) holds the binary frame's payload without a copy"
    )]
    pub trait BinaryParam {
        /// The frame as the parameter's type.
        fn from_bytes(bytes: crate::Bytes) -> Self;
    }

    impl BinaryParam for crate::Bytes {
        fn from_bytes(bytes: crate::Bytes) -> Self {
            bytes
        }
    }

    /// The binary frame, as `#[on_binary]`'s parameter of type `P`.
    pub fn binary<P: BinaryParam>(bytes: crate::Bytes) -> P {
        P::from_bytes(bytes)
    }

    /// The parameter of `#[on_error]`.
    #[diagnostic::on_unimplemented(
        message = "`#[on_error]` borrows the error as `&wskit::Error`, not `{Self}`",
        label = "write `error: &wskit::Error`",
        note = "the error was already reported to the client; the hook observes it"
    )]
    pub trait ErrorParam<'a> {
        /// The error as the parameter's type.
        fn from_error(error: &'a Error) -> Self;
    }

    impl<'a> ErrorParam<'a> for &'a Error {
        fn from_error(error: &'a Error) -> Self {
            error
        }
    }

    /// The error, as `#[on_error]`'s parameter of type `P`.
    pub fn error<'a, P: ErrorParam<'a>>(error: &'a Error) -> P {
        P::from_error(error)
    }

    pub use crate::router::repeats_earlier;
}
