//! `#[on_binary]` over real sockets: binary frames reach the router's binary handler with
//! their bytes, `Ctx::send_binary` answers in binary, in order with the messages; the
//! message size limit applies; errors become `ERROR` frames.

use serde_json::json;
use std::sync::Arc;
use tokio::sync::Notify;
use wskit::{message, router, Bytes, Ctx, Error, Limits, Server};
use wskit_examples::{RawClient, TestServer};

#[message("PING")]
struct Ping;

#[message("PONG")]
struct Pong {
    received: usize,
}

#[message("DOWNLOAD")]
struct Download {
    size: usize,
}

#[derive(Default)]
struct Upload {
    received: usize,
}

/// Echoes each chunk back behind a byte `0xEC`. A chunk starting with `b'H'` waits for
/// `release` first; one starting with `b'!'` fails.
struct Uploads {
    release: Arc<Notify>,
}

#[router(data = Upload)]
impl Uploads {
    #[on_binary]
    async fn chunk(&self, ctx: &mut Ctx<Upload>, bytes: Bytes) -> Result<(), Error> {
        match bytes.first() {
            Some(b'H') => self.release.notified().await,
            Some(b'!') => return Err(Error::invalid_argument("a chunk may not start with '!'")),
            _ => {}
        }
        ctx.data_mut().received += bytes.len();
        ctx.send_binary([&[0xEC][..], &bytes].concat())
    }

    #[on]
    async fn ping(&self, ctx: &mut Ctx<Upload>, _: Ping) -> Result<(), Error> {
        let received = ctx.data().received;
        ctx.reply(&Pong { received })
    }

    #[on]
    async fn download(&self, ctx: &mut Ctx<Upload>, download: Download) -> Result<(), Error> {
        ctx.send_binary(vec![7; download.size])
    }
}

const LIMIT: usize = 64;

async fn start() -> (TestServer, RawClient, Arc<Notify>) {
    let release = Arc::new(Notify::new());
    let router = Uploads { release: Arc::clone(&release) };
    let server = Server::new(router).path("/ws").limits(Limits::default().max_message_bytes(LIMIT));
    let server = TestServer::start(server).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client, release)
}

#[tokio::test]
async fn upload_chunks_reach_the_binary_handler_and_are_echoed_in_binary() {
    let (_server, mut client, _release) = start().await;
    for chunk in [vec![1, 2, 3], vec![0xff, 0xfe, 0x00], vec![0; LIMIT]] {
        client.send_binary(chunk.clone()).await;
        assert_eq!(client.recv_binary().await, [&[0xEC][..], &chunk].concat());
    }
    let pong = client.request(json!({"type": "PING"})).await;
    assert_eq!(pong["payload"]["received"], 6 + LIMIT, "the handler kept count in the connection's data");
}

#[tokio::test]
async fn a_binary_frame_holding_json_goes_to_the_binary_handler_too() {
    let (_server, mut client, _release) = start().await;
    let ping = br#"{"type":"PING"}"#.to_vec();
    client.send_binary(ping.clone()).await;
    assert_eq!(client.recv_binary().await, [&[0xEC][..], &ping].concat());
    let pong = client.request(json!({"type": "PING"})).await;
    assert_eq!(pong["payload"]["received"], ping.len());
}

#[tokio::test]
async fn binary_frames_keep_their_turn_among_messages() {
    let (_server, mut client, release) = start().await;
    client.send_binary(b"Hold".to_vec()).await;
    client.send(json!({"type": "PING"})).await;
    client.send_binary(b"after".to_vec()).await;
    // Answered while the first chunk's handler waits: the server has read everything above.
    assert_eq!(client.request(json!({"type": "__heartbeat"})).await["type"], "__heartbeat_ack");
    release.notify_one();
    assert_eq!(client.recv_binary().await, b"\xECHold");
    assert_eq!(client.recv().await["payload"]["received"], 4, "PING waited for the chunk before it");
    assert_eq!(client.recv_binary().await, b"\xECafter");
}

#[tokio::test]
async fn an_oversize_binary_frame_is_refused_and_the_connection_stays_open() {
    let (_server, mut client, _release) = start().await;
    client.send_binary(vec![1; LIMIT + 1]).await;
    let error = client.recv().await;
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(error["payload"]["details"], json!({"observed": LIMIT + 1, "limit": LIMIT}));
    client.send_binary(vec![1]).await;
    assert_eq!(client.recv_binary().await, [0xEC, 1]);
}

#[tokio::test]
async fn an_error_of_the_binary_handler_becomes_an_error_frame_without_a_correlation_id() {
    let (_server, mut client, _release) = start().await;
    let pong = client.request(json!({"type": "PING", "meta": {"correlationId": "p"}})).await;
    assert_eq!(pong["meta"]["correlationId"], "p");
    client.send_binary(b"!bad".to_vec()).await;
    let error = client.recv().await;
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["meta"], json!({}), "nothing of the message before");
    assert_eq!(error["payload"]["code"], "INVALID_ARGUMENT");
    assert_eq!(error["payload"]["message"], "a chunk may not start with '!'");
}

#[tokio::test]
async fn any_handler_sends_binary_frames() {
    let (_server, mut client, _release) = start().await;
    client.send(json!({"type": "DOWNLOAD", "payload": {"size": 100_000}})).await;
    assert_eq!(client.recv_binary().await, vec![7; 100_000]);
}
