//! Panics caught in handlers skip the process's panic hook; every other panic still
//! reaches it. Panic hooks are process-wide, so this binary holds one test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wskit::testing::TestConnection;
use wskit::{message, router, Ctx, Error, Hub, Limits};

#[message("CRASH")]
struct Crash;

#[message("SPAWN")]
struct Spawn;

#[message("SPAWNED")]
struct Spawned {
    panicked: bool,
}

struct App;

#[router]
impl App {
    #[on]
    async fn crash(&self, _ctx: &mut Ctx<()>, _msg: Crash) -> Result<(), Error> {
        panic!("the CRASH handler failed")
    }

    /// Runs a panicking task: the task is not the handler, its panic is the application's.
    #[on]
    async fn spawn(&self, ctx: &mut Ctx<()>, _msg: Spawn) -> Result<(), Error> {
        let task = tokio::spawn(async { panic!("a task the handler spawned failed") });
        ctx.reply(&Spawned { panicked: task.await.is_err() })
    }
}

fn is_internal(frames: &[String]) -> bool {
    matches!(frames, [frame] if frame.contains(r#""code":"INTERNAL""#))
}

#[tokio::test]
async fn handler_panics_skip_the_panic_hook_and_other_panics_reach_it() {
    // The application's hook, installed before wskit runs a handler, as in `main`.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    std::panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let calls = move || calls.load(Ordering::SeqCst);

    let mut connection = TestConnection::new(App);
    for _ in 0..100 {
        assert!(is_internal(&connection.send(r#"{"type":"CRASH"}"#).await));
    }
    assert_eq!(calls(), 0, "a handler's panic reached the application's hook");

    let frames = connection.send(r#"{"type":"SPAWN"}"#).await;
    assert_eq!(frames, [r#"{"type":"SPAWNED","meta":{},"payload":{"panicked":true}}"#]);
    assert_eq!(calls(), 1, "the panic of a spawned task must reach the hook");

    assert!(std::panic::catch_unwind(|| panic!("outside any handler")).is_err());
    assert_eq!(calls(), 2, "a panic outside wskit must reach the hook");

    let loud = Limits::default().quiet_panics(false);
    let mut connection = TestConnection::with_hub(App, (), Hub::memory(), loud);
    assert!(is_internal(&connection.send(r#"{"type":"CRASH"}"#).await));
    assert_eq!(calls(), 3, "with quiet_panics(false) a handler's panic reaches the hook");
}
