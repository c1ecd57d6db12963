//! `#[after]` methods over real sockets: they run after the handler with its outcome (Ok,
//! the handler's error, a validation error) and the time it took, in declaration order,
//! before an error is sent; the before-only `#[middleware]` goes on working beside them.

use serde_json::json;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;
use wskit::middleware::{Handled, Incoming, Next};
use wskit::{message, router, Ctx, Error, Server};
use wskit_examples::{RawClient, TestServer};

#[message("WORK")]
struct Work {
    fail: bool,
}

#[message("WAIT", response = Waited)]
struct Wait;

#[message("WAITED")]
struct Waited;

#[message("QUIET")]
struct Quiet;

#[message("OUTCOME")]
struct Outcome {
    ty: String,
    code: Option<String>,
    elapsed_ms: u64,
    hook: String,
}

#[message("WORKED")]
struct Worked;

#[derive(Default)]
struct Session {
    before: u32,
}

struct App {
    /// What `WAIT` waits for, sent by the test.
    release: Mutex<Option<oneshot::Receiver<()>>>,
}

#[router(data = Session, middleware = [count])]
impl App {
    #[middleware]
    async fn count(&self, ctx: &mut Ctx<Session>, incoming: &Incoming<'_>) -> Result<Next, Error> {
        ctx.data_mut().before += 1;
        match incoming.payload::<Quiet>() {
            Some(_) => Ok(Next::Stop),
            None => Ok(Next::Continue),
        }
    }

    #[on]
    async fn work(&self, ctx: &mut Ctx<Session>, work: Work) -> Result<(), Error> {
        if work.fail {
            return Err(Error::not_found("no such work"));
        }
        ctx.send(&Worked)
    }

    #[rpc]
    async fn wait(&self, _ctx: &mut Ctx<Session>, _: Wait) -> Result<Waited, Error> {
        let release = self.release.lock().unwrap().take().expect("one WAIT per test");
        release.await.expect("the test releases the handler");
        Ok(Waited)
    }

    #[on]
    async fn quiet(&self, _ctx: &mut Ctx<Session>, _: Quiet) -> Result<(), Error> {
        unreachable!("the middleware stops QUIET")
    }

    /// Reports the outcome to the client, after whatever the handler sent.
    #[after]
    async fn report(&self, ctx: &mut Ctx<Session>, handled: &Handled<'_>) {
        let outcome = Outcome {
            ty: handled.message_type().to_owned(),
            code: handled.result().err().map(|error| error.code().as_str().to_owned()),
            elapsed_ms: handled.elapsed().as_millis().try_into().unwrap(),
            hook: format!("report, {} before", ctx.data().before),
        };
        ctx.send(&outcome).unwrap();
    }

    #[after]
    async fn second(&self, ctx: &mut Ctx<Session>, handled: &Handled<'_>) {
        let outcome = Outcome {
            ty: handled.message_type().to_owned(),
            code: None,
            elapsed_ms: 0,
            hook: "second".into(),
        };
        ctx.send(&outcome).unwrap();
    }
}

async fn start() -> (TestServer, RawClient, oneshot::Sender<()>) {
    let (release, released) = oneshot::channel();
    let app = App { release: Mutex::new(Some(released)) };
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client, release)
}

/// The next two frames: the outcome reported by `report`, then by `second`.
async fn outcomes(client: &mut RawClient) -> serde_json::Value {
    let report = client.recv().await;
    assert_eq!(report["type"], "OUTCOME");
    let second = client.recv().await;
    assert_eq!(second["payload"]["hook"], "second", "#[after] methods run in declaration order");
    report["payload"].clone()
}

#[tokio::test]
async fn after_methods_see_a_handler_succeed_after_the_middleware_and_the_handler_ran() {
    let (_server, mut client, _release) = start().await;
    client.send(json!({"type": "WORK", "payload": {"fail": false}})).await;
    assert_eq!(client.recv().await["type"], "WORKED", "the handler's frame comes first");
    let outcome = outcomes(&mut client).await;
    assert_eq!(outcome["ty"], "WORK");
    assert_eq!(outcome["code"], serde_json::Value::Null);
    assert_eq!(outcome["hook"], "report, 1 before");
}

#[tokio::test]
async fn after_methods_see_the_error_of_the_handler_and_of_validation() {
    let (_server, mut client, _release) = start().await;
    client.send(json!({"type": "WORK", "payload": {"fail": true}})).await;
    assert_eq!(outcomes(&mut client).await["code"], "NOT_FOUND");
    let error = client.recv().await;
    assert_eq!((&error["type"], &error["payload"]["code"]), (&json!("ERROR"), &json!("NOT_FOUND")));

    client.send(json!({"type": "WORK", "payload": {"fail": "yes"}})).await;
    let outcome = outcomes(&mut client).await;
    assert_eq!((&outcome["ty"], &outcome["code"]), (&json!("WORK"), &json!("INVALID_ARGUMENT")));
    assert_eq!(client.recv().await["payload"]["code"], "INVALID_ARGUMENT", "then the error frame");
}

#[tokio::test]
async fn a_message_stopped_silently_by_middleware_counts_as_ok() {
    let (_server, mut client, _release) = start().await;
    client.send(json!({"type": "QUIET"})).await;
    let outcome = outcomes(&mut client).await;
    assert_eq!((&outcome["ty"], &outcome["code"]), (&json!("QUIET"), &serde_json::Value::Null));
}

#[tokio::test]
async fn after_methods_time_the_handler() {
    let (_server, mut client, release) = start().await;
    client.send(json!({"type": "WAIT", "meta": {"correlationId": "w"}})).await;
    // The handler waits for the test: however long the test holds it, the elapsed time
    // the hook sees is at least that long.
    let held = Duration::from_millis(60);
    tokio::time::sleep(held).await;
    release.send(()).unwrap();
    let reply = client.recv().await;
    assert_eq!((&reply["type"], &reply["meta"]["correlationId"]), (&json!("WAITED"), &json!("w")));
    let outcome = outcomes(&mut client).await;
    assert_eq!(outcome["ty"], "WAIT");
    assert!(outcome["elapsedMs"].as_u64().unwrap() >= 60, "{outcome}");
}
