//! The in-process cost of one message: envelope decoding, payload deserialization,
//! validation, static dispatch, and encoding the answer. No socket: what is measured is
//! the framework's share of a round trip (`bench/` measures whole round trips).
//!
//! `cargo bench -p wskit --bench dispatch`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::FutureExt;
use std::hint::black_box;
use wskit::testing::TestConnection;
use wskit::{message, payload, router, Ctx, Error, Hub, Limits, Router};

#[message("ECHO")]
struct Echo {
    text: String,
}

#[message("ECHOED")]
struct Echoed {
    text: String,
}

#[payload]
struct Address {
    #[validate(length(min = 1, max = 64))]
    city: String,
}

#[message("SIGN_UP", response = SignedUp)]
struct SignUp {
    #[validate(length(min = 3, max = 16), pattern = "^[a-z0-9_]+$")]
    user_name: String,
    #[validate(email)]
    email: String,
    #[validate(range(min = 13, max = 130))]
    age: u32,
    #[validate(non_empty, each(length(min = 1, max = 16)))]
    tags: Vec<String>,
    #[validate(nested)]
    address: Address,
}

#[message("SIGNED_UP")]
struct SignedUp {
    user_name: String,
}

#[message("ROOM_JOIN")]
struct RoomJoin {
    room: String,
}

#[message("ROOM_LEAVE")]
struct RoomLeave;

#[message("TYPING")]
struct Typing;

#[message("CURSOR_MOVE")]
struct CursorMove {
    x: i32,
    y: i32,
}

struct Bench;

/// Six handlers, so that dispatch chooses among several arms as a real router does.
#[router]
impl Bench {
    #[on]
    async fn room_join(&self, _ctx: &mut Ctx<()>, _msg: RoomJoin) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn room_leave(&self, _ctx: &mut Ctx<()>, _msg: RoomLeave) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn typing(&self, _ctx: &mut Ctx<()>, _msg: Typing) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn cursor_move(&self, _ctx: &mut Ctx<()>, _msg: CursorMove) -> Result<(), Error> {
        Ok(())
    }

    #[on]
    async fn echo(&self, ctx: &mut Ctx<()>, msg: Echo) -> Result<(), Error> {
        ctx.reply(&Echoed { text: msg.text })
    }

    #[rpc]
    async fn sign_up(&self, _ctx: &mut Ctx<()>, req: SignUp) -> Result<SignedUp, Error> {
        Ok(SignedUp { user_name: req.user_name })
    }
}

const ECHO: &str = r#"{"type":"ECHO","meta":{"timestamp":1730450000000},"payload":{"text":"hello world"}}"#;
const SIGN_UP: &str = r#"{"type":"SIGN_UP","meta":{"correlationId":"ea8d-4c1f","timestamp":1730450000000},"payload":{"userName":"ada_l","email":"ada@example.com","age":36,"tags":["math","engines"],"address":{"city":"London"}}}"#;
const INVALID: &str = r#"{"type":"SIGN_UP","meta":{"correlationId":"ea8d-4c1f"},"payload":{"userName":"A","email":"nope","age":7,"tags":[],"address":{"city":""}}}"#;
const UNKNOWN: &str = r#"{"type":"NO_SUCH_TYPE","payload":{}}"#;

/// Measures `frame` on one connection. The handlers never wait, so each send completes on
/// its first poll: no runtime is needed, and none is measured.
fn bench_frame(c: &mut Criterion, name: &str, frame: &str, answers: usize) {
    // No limit on errors in a row: the rejection benchmarks send nothing else.
    let limits = Limits::default().max_consecutive_errors(u32::MAX);
    let mut connection = TestConnection::with_hub(Bench, (), Hub::memory(), limits);
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let frames = connection.send(black_box(frame)).now_or_never().expect("no handler waits");
            assert_eq!(frames.len(), answers);
            frames
        })
    });
    group.finish();
}

fn dispatch(c: &mut Criterion) {
    assert_eq!(<Bench as Router>::TYPES.len(), 6);
    bench_frame(c, "echo", ECHO, 1);
    bench_frame(c, "rpc_with_validation", SIGN_UP, 1);
    bench_frame(c, "rejected_by_validation", INVALID, 1);
    bench_frame(c, "unknown_type", UNKNOWN, 1);
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
