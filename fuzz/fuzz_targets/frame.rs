//! Whole frames through `wskit::testing::TestConnection`, on a router whose messages carry
//! `#[validate]` rules, with a 1 KiB message limit so that oversize frames are within the
//! fuzzer's reach.
//!
//! An input is up to `MAX_FRAMES` frames separated by 0xFF, a byte that never occurs in
//! UTF-8: each UTF-8 piece is sent as a text frame, any other as a binary one. Every frame
//! gets at most one answer (PROTOCOL.md sections 2-4: these handlers never wait and send at
//! most one frame), every answer is a well-formed frame, and the connection only closes
//! (1008) after the configured run of consecutive errors.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use wskit::__fuzz::envelope;
use wskit::testing::TestConnection;
use wskit::{message, payload, router, Close, Ctx, Error, Hub, Limits};

const LIMIT: usize = 1024;
const MAX_FRAMES: usize = 16;
/// Low, so that the close after consecutive errors is reachable in a few frames.
const MAX_CONSECUTIVE_ERRORS: u32 = 4;
const SEPARATOR: u8 = 0xFF;
/// What the PANIC handler panics with; it must never reach the client.
const HANDLER_PANIC: &str = "secret internal detail";

#[message("JOIN_ROOM")]
pub struct JoinRoom {
    #[validate(length(min = 1, max = 64), pattern = "^[a-z0-9-]+$")]
    pub room_id: String,
}

#[message("SEND_MESSAGE", meta = Trace)]
pub struct SendMessage {
    #[validate(length(min = 1, max = 64))]
    pub room_id: String,
    /// Long enough that a valid frame can reach the message limit.
    #[validate(length(min = 1, max = 900))]
    pub text: String,
    #[validate(each(length(min = 1, max = 16)))]
    pub tags: Vec<String>,
}

#[payload]
pub struct Trace {
    #[validate(length(max = 8))]
    pub trace_id: Option<String>,
}

#[message("NEW_MESSAGE")]
pub struct NewMessage {
    pub room_id: String,
    pub text: String,
}

#[message("GET_HISTORY", response = History)]
pub struct GetHistory {
    #[validate(length(min = 1, max = 64))]
    pub room_id: String,
    #[validate(range(min = 1, max = 100))]
    pub limit: u32,
    pub before: Option<f64>,
}

#[message("HISTORY")]
pub struct History {
    pub messages: Vec<NewMessage>,
}

#[message("SIGN_UP")]
pub struct SignUp {
    #[validate(email)]
    pub email: String,
    #[validate(url)]
    pub homepage: Option<String>,
    #[validate(uuid)]
    pub invite: Option<String>,
    #[validate(range(min = -90.0, max = 90.0))]
    pub latitude: f64,
    #[validate(non_empty)]
    pub langs: Vec<String>,
    #[validate(nested)]
    pub address: Address,
    #[validate(custom = even)]
    pub lucky: i64,
}

#[payload]
pub struct Address {
    #[validate(length(min = 1, max = 32))]
    pub city: String,
    pub zip: Option<u32>,
}

fn even(value: &i64) -> Result<(), String> {
    if value % 2 == 0 {
        Ok(())
    } else {
        Err(format!("must be even, {value} is odd"))
    }
}

#[message("SIGNED_UP")]
pub struct SignedUp {
    pub email: String,
}

#[message("PING")]
pub struct Ping;

#[message("PONG")]
pub struct Pong;

/// A handler error with a code taken from the frame.
#[message("FAIL")]
pub struct Fail {
    pub code: String,
}

#[message("PANIC")]
pub struct Panic;

pub struct App;

#[router]
impl App {
    #[on]
    async fn join(&self, _ctx: &mut Ctx<()>, _: JoinRoom) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn send(&self, ctx: &mut Ctx<()>, msg: SendMessage, _: Trace) -> Result<(), Error> {
        ctx.reply(&NewMessage { room_id: msg.room_id, text: msg.text })
    }

    #[rpc]
    async fn history(&self, _ctx: &mut Ctx<()>, req: GetHistory) -> Result<History, Error> {
        let text = format!("{} before {:?}", req.limit, req.before);
        Ok(History { messages: vec![NewMessage { room_id: req.room_id, text }] })
    }

    #[on]
    async fn sign_up(&self, ctx: &mut Ctx<()>, msg: SignUp) -> Result<(), Error> {
        ctx.reply(&SignedUp { email: msg.email })
    }

    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on]
    async fn fail(&self, _ctx: &mut Ctx<()>, msg: Fail) -> Result<(), Error> {
        Err(Error::custom(msg.code, "failed on request"))
    }

    #[on]
    async fn panic(&self, _ctx: &mut Ctx<()>, _: Panic) -> Result<(), Error> {
        std::panic::panic_any(HANDLER_PANIC)
    }
}

fuzz_target!(
    init: {
        // libFuzzer's panic hook aborts on every panic, also on one the connection catches:
        // let the PANIC handler's through to the connection, which answers INTERNAL.
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&HANDLER_PANIC) {
                report(info);
            }
        }));
    },
    |data: &[u8]| run(data)
);

/// Sends the frames of `data` one by one and checks every answer.
fn run(data: &[u8]) {
    let limits = Limits::default().max_message_bytes(LIMIT).max_consecutive_errors(MAX_CONSECUTIVE_ERRORS);
    let mut connection = TestConnection::with_hub(App, (), Hub::memory(), limits);
    // Errors since the last frame known to have reset the count (a handler's reply).
    let mut errors = 0;
    for piece in data.split(|&byte| byte == SEPARATOR).take(MAX_FRAMES) {
        let answers = match std::str::from_utf8(piece) {
            Ok(text) => now(connection.send(text)),
            Err(_) => now(connection.send_binary(piece)),
        };
        assert!(answers.len() <= 1, "more than one answer to one frame: {answers:?}");
        let answer = answers.first().map(|frame| check_frame(frame));
        let is_error = answer.as_ref().is_some_and(|answer| answer.code.is_some());
        if is_error {
            errors += 1;
        } else if answer.as_ref().is_some_and(|answer| answer.ty != "__heartbeat_ack") {
            errors = 0;
        }
        match std::str::from_utf8(piece) {
            Ok(text) => check_answer(text, answer.as_ref()),
            Err(_) => assert_eq!(code_of(answer.as_ref()), Some("INVALID_ARGUMENT"), "binary non-UTF-8"),
        }
        if let Some(close) = connection.closed() {
            assert_eq!(close.code, Close::POLICY, "{close:?}");
            assert!(errors >= MAX_CONSECUTIVE_ERRORS, "closed after {errors} errors in a row");
            return;
        }
    }
}

/// An answer frame, checked for shape.
struct Answer {
    ty: String,
    meta: Map<String, Value>,
    /// The error code, for ERROR and RPC_ERROR.
    code: Option<String>,
    payload: Option<Value>,
}

/// Checks that `frame` is `{"type","meta","payload"?}` with only the meta keys the server
/// may write (PROTOCOL.md section 1).
fn check_frame(frame: &str) -> Answer {
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(frame) else {
        panic!("answer is no JSON object: {frame}");
    };
    assert!(object.keys().all(|key| ["type", "meta", "payload"].contains(&key.as_str())), "{frame}");
    let Some(Value::String(ty)) = object.remove("type") else { panic!("answer without type: {frame}") };
    let Some(Value::Object(meta)) = object.remove("meta") else { panic!("answer without meta: {frame}") };
    assert!(meta.keys().all(|key| ["correlationId", "timestamp", "ts"].contains(&key.as_str())), "{frame}");
    let payload = object.remove("payload");
    let code = if ty == "ERROR" || ty == "RPC_ERROR" {
        let payload = payload.as_ref().expect("an error frame has a payload");
        assert!(payload["message"].is_string(), "{frame}");
        assert!(!frame.contains(HANDLER_PANIC), "a panic message leaked: {frame}");
        if ty == "ERROR" {
            assert!(!meta.contains_key("correlationId"), "ERROR with a correlation id: {frame}");
        }
        Some(payload["code"].as_str().expect("an error code").to_owned())
    } else {
        None
    };
    Answer { ty, meta, code, payload }
}

/// Checks the answer to the text frame `text` against PROTOCOL.md sections 2-4, with the
/// envelope decoder (fuzzed on its own by the `envelope` target) telling whether the frame
/// could be routed.
fn check_answer(text: &str, answer: Option<&Answer>) {
    if text.len() > LIMIT {
        let answer = answer.expect("an oversize frame is answered");
        assert_eq!(answer.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
        let details = &answer.payload.as_ref().expect("a payload")["details"];
        assert_eq!(details["observed"], text.len());
        assert_eq!(details["limit"], LIMIT);
        return;
    }
    let Ok(decoded) = envelope(text) else {
        return assert_eq!(code_of(answer), Some("INVALID_ARGUMENT"), "a malformed envelope");
    };
    let ty = decoded.ty.as_str();
    if ty == "__heartbeat" {
        // Answered before its meta is read: meta and payload are ignored.
        let answer = answer.expect("a heartbeat is answered");
        assert_eq!(answer.ty, "__heartbeat_ack");
        assert!(answer.meta["ts"].is_u64());
        return;
    }
    let Ok((meta, _)) = &decoded.meta else {
        return assert_eq!(code_of(answer), Some("INVALID_ARGUMENT"), "a malformed meta");
    };
    if ty == "$ws:abort" {
        return assert!(answer.is_none(), "an abort of nothing is not answered");
    }
    let known = ["JOIN_ROOM", "SEND_MESSAGE", "GET_HISTORY", "SIGN_UP", "PING", "FAIL", "PANIC"];
    if !known.contains(&ty) {
        // Unknown and reserved types alike (PROTOCOL.md section 2).
        return assert_eq!(code_of(answer), Some("UNIMPLEMENTED"), "type {ty:?}");
    }
    if ty == "JOIN_ROOM" {
        assert!(answer.is_none_or(|answer| answer.code.is_some()), "JOIN_ROOM has no reply");
    }
    if ty == "PANIC" {
        let code = code_of(answer).expect("PANIC is answered");
        assert!(code == "INTERNAL" || code == "INVALID_ARGUMENT", "{code}");
    }
    let Some(answer) = answer else { return };
    // Replies and errors echo the correlation id; errors that answer one, or end an RPC
    // request, are RPC_ERROR (PROTOCOL.md sections 3 and 4).
    assert_eq!(answer.meta.get("correlationId").and_then(Value::as_str), meta.correlation_id.as_deref());
    if ty == "GET_HISTORY" {
        assert!(answer.ty == "HISTORY" || answer.ty == "RPC_ERROR", "{}", answer.ty);
    } else if answer.code.is_some() {
        let expected = if meta.correlation_id.is_some() { "RPC_ERROR" } else { "ERROR" };
        assert_eq!(answer.ty, expected);
    }
}

fn code_of(answer: Option<&Answer>) -> Option<&str> {
    answer?.code.as_deref()
}

/// Runs `future`, which must finish without waiting: these handlers never wait, and the
/// test connection's clock only moves when told to.
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a frame left the connection waiting"),
    }
}
