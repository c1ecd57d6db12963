//! `Server::serve` over real sockets: the address it logs, and the error when it cannot
//! listen.

mod common;

use common::TestApp;
use std::fmt;
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;
use wskit::Server;
use wskit_examples::{RawClient, RECV_TIMEOUT};

#[tokio::test]
async fn a_taken_port_is_an_addr_in_use_error_that_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (app, _) = TestApp::new();
    let served = tokio::time::timeout(RECV_TIMEOUT, Server::new(app).path("/ws").serve(addr))
        .await
        .expect("serve returns at once when it cannot listen");
    let error = served.expect_err("the port is taken");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    let message = error.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("choose another port"), "{message}");
}

#[tokio::test]
async fn an_address_that_does_not_parse_is_an_error_not_a_panic() {
    let (app, _) = TestApp::new();
    let error = Server::new(app).serve("127.0.0.1:not-a-port").await.expect_err("an invalid address");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("could not resolve the address to listen on"), "{error}");
}

#[tokio::test]
async fn serve_logs_the_address_it_listens_on() {
    let (logged, mut addresses) = mpsc::unbounded_channel();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(Listening(logged)));
    let (app, _) = TestApp::new();
    // Port 0: the logged address is the only way to learn the port.
    let server = tokio::spawn(Server::new(app).path("/ws").serve("127.0.0.1:0"));
    let addr = tokio::time::timeout(RECV_TIMEOUT, addresses.recv())
        .await
        .expect("logged in time")
        .expect("logged before serving");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let mut client = RawClient::connect(&format!("ws://{addr}/ws")).await;
    client.send(serde_json::json!({"type": "PING"})).await;
    assert_eq!(client.recv().await["type"], "PONG");
    server.abort();
}

/// Sends the `addr` of every `listening` event.
struct Listening(mpsc::UnboundedSender<SocketAddr>);

impl<S: tracing::Subscriber> Layer<S> for Listening {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            message: String,
            addr: String,
        }
        impl Visit for Fields {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                match field.name() {
                    "message" => self.message = format!("{value:?}"),
                    "addr" => self.addr = format!("{value:?}"),
                    _ => {}
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if *event.metadata().level() == tracing::Level::INFO && fields.message == "listening" {
            let _ = self.0.send(fields.addr.parse().expect("the logged address is a socket address"));
        }
    }
}
