//! The chat server on the hyper host: the router of `router.rs` at `/ws`, for every room,
//! and the browser page at `/` with its script and the typed client.

#[path = "router.rs"]
mod router;

use http::{header, Method, Request, Response, StatusCode};
pub(crate) use router::*;
use wskit::{Body, Limits, Resume, Server};

/// What the server serves besides the WebSocket: the page at `/`, its script, and the
/// typed client's committed JavaScript (`clients/typescript/dist`) at `/client/`, which the
/// page imports. Built into the binary, so that the example needs nothing but cargo.
const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("index.html")),
    ("/chat.js", JAVASCRIPT, include_str!("chat.js")),
    ("/client/index.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/index.js")),
    ("/client/client.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/client.js")),
    ("/client/backoff.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/backoff.js")),
    ("/client/errors.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/errors.js")),
    ("/client/outbox.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/outbox.js")),
    ("/client/protocol.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/protocol.js")),
    ("/client/session.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/session.js")),
    ("/client/wire.js", JAVASCRIPT, include_str!("../../clients/typescript/dist/wire.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// Serves [`FILES`]; everything else but the WebSocket is not found.
async fn page<B>(request: Request<B>) -> Response<Body> {
    let file = match request.method() {
        &Method::GET | &Method::HEAD => FILES.iter().find(|(path, ..)| *path == request.uri().path()),
        _ => None,
    };
    let (status, content_type, body) = match file {
        Some((_, content_type, body)) => (StatusCode::OK, *content_type, *body),
        None => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n"),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}

/// The chat server: the WebSocket at `/ws`, the page at `/`. Sessions are resumable, so
/// that a tab that lost its connection for a while (a laptop asleep, a train in a tunnel)
/// gets the messages it missed when it reconnects within two minutes.
pub(crate) fn server() -> Server<Chat> {
    Server::new(Chat::default())
        .path("/ws")
        .resume(Resume::enabled())
        .limits(Limits::default().max_message_bytes(MAX_FRAME_BYTES))
        .fallback(page)
}
