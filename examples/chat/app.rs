//! The chat server on the hyper host: the router of `router.rs` at `/ws`, for every room,
//! and the browser page at `/`.

#[path = "router.rs"]
mod router;

use http::{header, Method, Request, Response, StatusCode};
pub(crate) use router::*;
use wskit::{Body, Limits, Server};

/// The browser page, served at `/`.
const INDEX_HTML: &str = include_str!("index.html");

/// Serves the page at `/`; everything else but the WebSocket is not found.
async fn page<B>(request: Request<B>) -> Response<Body> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/") => (StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML),
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n"),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}

/// The chat server: the WebSocket at `/ws`, the page at `/`.
pub(crate) fn server() -> Server<Chat> {
    Server::new(Chat::default())
        .path("/ws")
        .limits(Limits::default().max_message_bytes(MAX_FRAME_BYTES))
        .fallback(page)
}
