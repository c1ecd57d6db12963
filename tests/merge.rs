//! Merged routers (`Router::merge`): dispatch to the router that handles a type, RPC
//! deadlines of either router, and the order of hooks and router middleware.

use std::time::Duration;
use wskit::middleware::{Incoming, Next};
use wskit::testing::TestConnection;
use wskit::{message, router, Close, Ctx, Error, Router};

#[message("LOGIN")]
struct Login {
    name: String,
}

#[message("SAY")]
struct Say {
    text: String,
}

#[message("SAID")]
struct Said {
    name: String,
    text: String,
}

#[message("SLOW", response = Done)]
struct Slow;

#[message("DONE")]
struct Done;

#[message("FAIL")]
struct Fail;

/// The connection's data: who logged in, and what ran, in order.
#[derive(Default)]
struct Session {
    name: Option<String>,
    log: Vec<String>,
    /// Makes `Auth`'s `#[on_open]` refuse the connection.
    refuse: bool,
    /// Makes `Auth`'s `#[on_close]` panic.
    panic_on_close: bool,
}

fn record(ctx: &mut Ctx<Session>, what: &str) {
    ctx.data_mut().log.push(what.to_owned());
}

struct Auth;

#[router(data = Session, middleware = [auth_layer])]
impl Auth {
    #[middleware]
    async fn auth_layer(&self, ctx: &mut Ctx<Session>, incoming: &Incoming<'_>) -> Result<Next, Error> {
        record(ctx, &format!("auth middleware {}", incoming.message_type()));
        Ok(Next::Continue)
    }

    #[on]
    async fn login(&self, ctx: &mut Ctx<Session>, login: Login) -> Result<(), Error> {
        record(ctx, "auth login");
        ctx.data_mut().name = Some(login.name);
        Ok(())
    }

    #[on_open]
    async fn opened(&self, ctx: &mut Ctx<Session>) -> Result<(), Error> {
        record(ctx, "auth open");
        match ctx.data().refuse {
            true => Err(Error::unauthenticated("no entry")),
            false => Ok(()),
        }
    }

    #[on_error]
    async fn failed(&self, ctx: &mut Ctx<Session>, error: &Error) {
        record(ctx, &format!("auth error {}", error.code()));
    }

    #[on_close]
    async fn closed(&self, ctx: &mut Ctx<Session>, close: Close) {
        record(ctx, &format!("auth close {}", close.code));
        assert!(!ctx.data().panic_on_close, "auth's on_close panics");
    }
}

struct Chat;

#[router(data = Session, middleware = [chat_layer])]
impl Chat {
    #[middleware]
    async fn chat_layer(&self, ctx: &mut Ctx<Session>, incoming: &Incoming<'_>) -> Result<Next, Error> {
        record(ctx, &format!("chat middleware {}", incoming.message_type()));
        Ok(Next::Continue)
    }

    #[on]
    async fn say(&self, ctx: &mut Ctx<Session>, say: Say) -> Result<(), Error> {
        record(ctx, "chat say");
        let name = ctx.data().name.clone().ok_or(Error::unauthenticated("log in first"))?;
        ctx.reply(&Said { name, text: say.text })
    }

    #[rpc]
    async fn slow(&self, ctx: &mut Ctx<Session>, _: Slow) -> Result<Done, Error> {
        ctx.cancellation().cancelled().await;
        Ok(Done)
    }

    #[on]
    async fn fail(&self, _ctx: &mut Ctx<Session>, _: Fail) -> Result<(), Error> {
        Err(Error::failed_precondition("not now"))
    }

    #[on_open]
    async fn opened(&self, ctx: &mut Ctx<Session>) -> Result<(), Error> {
        record(ctx, "chat open");
        Ok(())
    }

    #[on_error]
    async fn failed(&self, ctx: &mut Ctx<Session>, error: &Error) {
        record(ctx, &format!("chat error {}", error.code()));
    }

    #[on_close]
    async fn closed(&self, ctx: &mut Ctx<Session>, close: Close) {
        record(ctx, &format!("chat close {}", close.code));
    }
}

fn app(session: Session) -> TestConnection<impl Router<Data = Session>> {
    TestConnection::with_data(Auth.merge(Chat), session)
}

#[tokio::test]
async fn messages_of_both_routers_are_answered_and_others_are_unimplemented() {
    let mut connection = app(Session::default());
    assert!(connection.send(r#"{"type":"LOGIN","payload":{"name":"ada"}}"#).await.is_empty());
    let frames = connection.send(r#"{"type":"SAY","payload":{"text":"hi"}}"#).await;
    assert_eq!(frames, [r#"{"type":"SAID","meta":{},"payload":{"name":"ada","text":"hi"}}"#]);

    let frames = connection.send(r#"{"type":"NOPE","meta":{"correlationId":"7"}}"#).await;
    assert_eq!(frames.len(), 1);
    assert!(frames[0].starts_with(r#"{"type":"RPC_ERROR","meta":{"correlationId":"7"}"#), "{}", frames[0]);
    assert!(frames[0].contains(r#""code":"UNIMPLEMENTED""#), "{}", frames[0]);
    // A payload with another router's field is refused by the router of its type.
    let frames = connection.send(r#"{"type":"SAY","payload":{"name":"x"}}"#).await;
    assert!(frames[0].contains("INVALID_ARGUMENT") && frames[0].contains("expected `text`"), "{}", frames[0]);
}

#[tokio::test]
async fn an_rpc_of_the_second_router_has_its_deadline() {
    let mut connection = app(Session::default());
    let request = r#"{"type":"SLOW","meta":{"correlationId":"1","timeoutMs":200}}"#;
    assert!(connection.start(request).await.is_empty());
    assert!(connection.advance(Duration::from_millis(199)).await.is_empty());
    let frames = connection.advance(Duration::from_millis(1)).await;
    assert_eq!(frames.len(), 1);
    assert!(frames[0].starts_with(r#"{"type":"RPC_ERROR","meta":{"correlationId":"1"}"#), "{}", frames[0]);
    assert!(frames[0].contains("DEADLINE_EXCEEDED"), "{}", frames[0]);
}

#[tokio::test]
async fn hooks_run_in_merge_order_and_middleware_stays_with_its_router() {
    let mut connection = app(Session::default());
    connection.send(r#"{"type":"LOGIN","payload":{"name":"ada"}}"#).await;
    connection.send(r#"{"type":"SAY","payload":{"text":"hi"}}"#).await;
    connection.send(r#"{"type":"FAIL"}"#).await;
    connection.close_from_client(1000, "bye").await;
    assert_eq!(
        connection.data().log,
        [
            "auth open",
            "chat open",
            "auth middleware LOGIN",
            "auth login",
            "chat middleware SAY",
            "chat say",
            "chat middleware FAIL",
            "auth error FAILED_PRECONDITION",
            "chat error FAILED_PRECONDITION",
            "auth close 1000",
            "chat close 1000",
        ]
    );
}

#[tokio::test]
async fn an_on_open_error_stops_the_later_hooks_and_closes() {
    let mut connection = app(Session { refuse: true, ..Session::default() });
    let frames = connection.open().await;
    assert!(frames[0].contains("UNAUTHENTICATED"), "{frames:?}");
    assert_eq!(connection.closed().map(|close| close.code), Some(Close::POLICY));
    let log = &connection.data().log;
    assert_eq!(log[..2], ["auth open", "auth error UNAUTHENTICATED"]);
    assert!(!log.iter().any(|line| line == "chat open"), "{log:?}");
}

#[tokio::test]
async fn a_panicking_on_close_does_not_skip_the_next_router() {
    let mut connection = app(Session { panic_on_close: true, ..Session::default() });
    connection.open().await;
    connection.close_from_client(1000, "bye").await;
    let log = &connection.data().log;
    assert_eq!(log[log.len() - 2..], ["auth close 1000", "chat close 1000"]);
}

#[message("ASK", response = Answer)]
struct Ask;

#[message("ANSWER")]
struct Answer;

/// A router that takes binary frames.
struct Files;

#[router]
impl Files {
    #[on_binary]
    async fn upload(&self, ctx: &mut Ctx<()>, bytes: wskit::Bytes) -> Result<(), Error> {
        ctx.send_binary(bytes)
    }
}

/// A router whose request runs beside the connection's other messages.
struct Questions;

#[router]
impl Questions {
    #[rpc(concurrent)]
    async fn ask(&self, _: &mut Ctx<()>, _: Ask) -> Result<Answer, Error> {
        Ok(Answer)
    }
}

#[tokio::test]
async fn a_merge_keeps_binary_frames_and_concurrent_handlers_of_either_router() {
    let app = Files.merge(Questions);
    const { assert!(<wskit::Merge<Files, Questions> as Router>::HANDLES_BINARY) };
    assert!(app.is_concurrent("ASK"));
    assert!(!app.is_concurrent("NOPE"));
    let mut connection = TestConnection::new(app);
    assert!(connection.send_binary(&[7, 8]).await.is_empty());
    assert_eq!(connection.take_binary(), [vec![7, 8]]);
    let frames = connection.send(r#"{"type":"ASK","meta":{"correlationId":"a"}}"#).await;
    assert_eq!(frames, [r#"{"type":"ANSWER","meta":{"correlationId":"a"}}"#]);
}
