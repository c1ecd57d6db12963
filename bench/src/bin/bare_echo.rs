//! The baseline: an echo server written by hand on tokio-tungstenite, the way a typical
//! user does it. `tokio_tungstenite::accept_async` with the default configuration, and per
//! message: parse the JSON into a struct with serde_json, build the reply struct, and
//! `ws.send(..)` it (one flush per frame). The replies are byte for byte those of
//! `wskit_echo`, and the runtime is set up the same way (`WORKERS`, `LIFETIME_SECS`).
//!
//! `bare_echo [ADDR]` (default `127.0.0.1:9001`) serves WebSocket on any path.

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// An inbound frame: `{"type":"ECHO","meta":{...}?,"payload":{"text":"..."}}`.
#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    ty: String,
    payload: Option<EchoPayload>,
}

/// The payload of `ECHO` and `ECHOED`.
#[derive(Serialize, Deserialize)]
struct EchoPayload {
    text: String,
}

/// The reply's (empty) meta.
#[derive(Serialize)]
struct NoMeta {}

/// The reply: `{"type":"ECHOED","meta":{},"payload":{"text":"..."}}`.
#[derive(Serialize)]
struct Outgoing {
    #[serde(rename = "type")]
    ty: &'static str,
    meta: NoMeta,
    payload: EchoPayload,
}

async fn serve(stream: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    while let Some(message) = ws.next().await {
        let text = match message? {
            Message::Text(text) => text,
            Message::Close(_) => break,
            // Pings are answered by tungstenite; nothing else is expected.
            _ => continue,
        };
        let incoming: Incoming = serde_json::from_str(&text)?;
        let Some(payload) = incoming.payload.filter(|_| incoming.ty == "ECHO") else {
            continue;
        };
        let reply = Outgoing { ty: "ECHOED", meta: NoMeta {}, payload: EchoPayload { text: payload.text } };
        ws.send(Message::text(serde_json::to_string(&reply)?)).await?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let addr = wskit_bench::listen_addr();
    let runtime = wskit_bench::runtime()?;
    wskit_bench::run(&runtime, async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("bare_echo listening on ws://{}/ws", listener.local_addr()?);
        let mut stop = std::pin::pin!(wskit_bench::stop_signal());
        loop {
            let stream = tokio::select! {
                () = &mut stop => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        eprintln!("accept failed: {error}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // As wskit does: with a flush per frame, Nagle's algorithm would stall replies.
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                if let Err(error) = serve(stream).await {
                    eprintln!("connection failed: {error}");
                }
            });
        }
    })
}
