//! `ClientHandle` over real sockets: sending to one connection from outside its handlers.

use serde_json::json;
use tokio::sync::mpsc;
use wskit::{message, router, ClientHandle, Ctx, Error, Server};
use wskit_examples::{RawClient, TestServer, RECV_TIMEOUT};

/// Asks to be told later, from another task.
#[message("SUBSCRIBE_LATER")]
struct SubscribeLater;

/// What the other task sends.
#[message("NOTICE")]
struct Notice {
    text: String,
}

/// Hands the handle of every connection that asks to the test.
struct Notifier(mpsc::UnboundedSender<ClientHandle>);

#[router]
impl Notifier {
    #[on]
    async fn later(&self, ctx: &mut Ctx<()>, _: SubscribeLater) -> Result<(), Error> {
        let _ = self.0.send(ctx.handle());
        Ok(())
    }
}

#[tokio::test]
async fn a_handle_sends_to_its_connection_from_anywhere_until_it_closes() {
    let (handles, mut handed) = mpsc::unbounded_channel();
    let server = TestServer::start(Server::new(Notifier(handles)).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let client_id = client.response.headers()["x-client-id"].to_str().unwrap().to_owned();
    client.send(json!({"type": "SUBSCRIBE_LATER"})).await;
    let handle = tokio::time::timeout(RECV_TIMEOUT, handed.recv()).await.expect("in time").unwrap();
    assert_eq!(handle.client_id().to_string(), client_id);

    // From a task of its own, after the handler has returned.
    let sender = handle.clone();
    tokio::spawn(async move { sender.send(&Notice { text: "from elsewhere".into() }) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        client.recv().await,
        json!({"type": "NOTICE", "meta": {}, "payload": {"text": "from elsewhere"}})
    );
    assert!(!handle.is_closed());

    let stopped = tokio::spawn(server.stop());
    assert_eq!(client.closed().await.0, 1001);
    drop(client);
    stopped.await.unwrap();
    assert!(handle.is_closed());
    assert!(handle.send(&Notice { text: "too late".into() }).is_err());
}
