//! The flow_control example against its contract (`examples/flow_control/conformance.json`),
//! over real sockets.

#[path = "../examples/flow_control/app.rs"]
mod app;
mod script;

use std::time::Instant;
use wskit::client::{Client, ClientError, ClientOptions};
use wskit_examples::TestServer;

#[tokio::test]
async fn flow_control_meets_its_contract() {
    script::run_file("examples/flow_control/conformance.json", || {
        Box::pin(TestServer::start_routes(app::routes()))
    })
    .await;
}

/// A client on the drop-newest route with a full work queue.
async fn full_queue(server: &TestServer) -> Client {
    let client = Client::connect(ClientOptions::new(server.url("/ws/drop-newest"))).await.expect("connect");
    for i in 1..=app::QUEUE_CAPACITY {
        client.request(&app::SendData { id: format!("msg-{i}") }).await.expect("room in the queue");
    }
    client
}

#[tokio::test]
async fn the_rust_client_waits_out_the_retry_hint_and_sends_again() {
    let server = TestServer::start_routes(app::routes()).await;
    let client = full_queue(&server).await;
    let started = Instant::now();
    let item = app::SendData { id: "msg-11".into() };
    let retrying = client.request_with_retry(&item, 1);
    tokio::pin!(retrying);
    // One poll writes the request; the worker's PROCESS goes out after it, so the first
    // attempt finds the queue full and the retry finds room.
    tokio::select! {
        biased;
        _ = &mut retrying => panic!("answered before the worker ran"),
        () = std::future::ready(()) => {}
    }
    let processed = client.request(&app::Process { max: 1 }).await.expect("the worker runs");
    assert_eq!(processed.ids, ["msg-1"]);
    let ack = retrying.await.expect("accepted on the retry");
    assert_eq!((ack.id.as_str(), ack.queue_depth), ("msg-11", app::QUEUE_CAPACITY));
    assert!(started.elapsed() >= app::RETRY_AFTER, "retried after {:?}", started.elapsed());
}

#[tokio::test]
async fn the_rust_client_returns_the_refusal_once_its_retries_are_spent() {
    let server = TestServer::start_routes(app::routes()).await;
    let client = full_queue(&server).await;
    let started = Instant::now();
    let error =
        client.request_with_retry(&app::SendData { id: "msg-11".into() }, 2).await.err().expect("refused");
    let refusal = error.as_server().expect("the server's refusal");
    assert_eq!(
        (refusal.code().as_str(), refusal.retry_after()),
        ("RESOURCE_EXHAUSTED", Some(app::RETRY_AFTER))
    );
    assert!(started.elapsed() >= 2 * app::RETRY_AFTER, "two waits, then the third refusal");
    let error =
        client.request_with_retry(&app::SendData { id: "msg-11".into() }, 0).await.err().expect("refused");
    assert!(matches!(error, ClientError::Server(_)), "no retries: the first refusal");
}
