//! The WebSocket opening handshake (RFC 6455 section 4.2) on a hyper request: check the
//! request, choose a subprotocol, build the 101 response.

use super::Body;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// An accepted handshake, ready to be answered with 101.
pub(crate) struct Accepted {
    accept_key: String,
    protocol: Option<HeaderValue>,
}

/// Whether `request` asks for a WebSocket upgrade at all.
pub(crate) fn is_upgrade<B>(request: &Request<B>) -> bool {
    header_has_token(request.headers(), header::UPGRADE, "websocket")
}

/// Checks a WebSocket upgrade request; a malformed one gets the response to send instead.
pub(crate) fn check<B>(request: &Request<B>, protocols: &[String]) -> Result<Accepted, Box<Response<Body>>> {
    if request.method() != Method::GET {
        return Err(Box::new(plain(StatusCode::METHOD_NOT_ALLOWED, "a WebSocket upgrade must use GET")));
    }
    if request.version() != Version::HTTP_11 {
        return Err(Box::new(plain(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "WebSocket upgrades need HTTP/1.1",
        )));
    }
    let headers = request.headers();
    if !header_has_token(headers, header::CONNECTION, "upgrade") || !is_upgrade(request) {
        return Err(Box::new(plain(StatusCode::UPGRADE_REQUIRED, "this endpoint only speaks WebSocket")));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        let mut response = plain(StatusCode::UPGRADE_REQUIRED, "unsupported Sec-WebSocket-Version; use 13");
        response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return Err(Box::new(response));
    }
    let key = match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if key.len() == 24 => key,
        _ => return Err(Box::new(plain(StatusCode::BAD_REQUEST, "missing or malformed Sec-WebSocket-Key"))),
    };
    Ok(Accepted {
        accept_key: derive_accept_key(key.as_bytes()),
        protocol: choose_protocol(headers, protocols),
    })
}

/// The subprotocol to answer with: the server's most preferred one that the client
/// offered; with no preference configured, the first offered one that is not a bearer
/// token. A client that offers only a `bearer.<token>` gets that one back either way:
/// browsers fail a connection whose response selects none of the offered protocols.
/// Never one the client did not offer.
fn choose_protocol(headers: &HeaderMap, preferred: &[String]) -> Option<HeaderValue> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty())
        .collect();
    let chosen = if preferred.is_empty() {
        offered.iter().find(|p| !p.starts_with("bearer.")).or_else(|| offered.first()).copied()
    } else {
        preferred.iter().map(String::as_str).find(|p| offered.contains(p)).or_else(|| {
            offered.iter().copied().find(|p| p.starts_with("bearer.")).filter(|_| offered.len() == 1)
        })
    };
    chosen.and_then(|protocol| HeaderValue::from_str(protocol).ok())
}

impl Accepted {
    /// The `101 Switching Protocols` response.
    pub(crate) fn response(self, client_id: &uuid::Uuid) -> Response<Body> {
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&self.accept_key).expect("base64 is a valid header value"),
        );
        if let Some(protocol) = self.protocol {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        let id = client_id.as_hyphenated().to_string();
        headers.insert("x-client-id", HeaderValue::from_str(&id).expect("a UUID is a valid header value"));
        response
    }
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}

/// A plain-text response with `status`.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn chooses_only_offered_protocols() {
        let preferred = vec!["chat.v2".to_owned(), "chat.v1".to_owned()];
        assert_eq!(choose_protocol(&offered("chat.v1, chat.v2"), &preferred).unwrap(), "chat.v2");
        assert_eq!(choose_protocol(&offered("other"), &preferred), None);
        assert_eq!(choose_protocol(&offered("bearer.abc"), &preferred).unwrap(), "bearer.abc");
        assert_eq!(choose_protocol(&offered("bearer.abc, other"), &preferred), None);
        assert_eq!(choose_protocol(&offered("bearer.abc, app"), &[]).unwrap(), "app");
        assert_eq!(choose_protocol(&offered("bearer.abc"), &[]).unwrap(), "bearer.abc");
        assert_eq!(choose_protocol(&HeaderMap::new(), &[]), None);
    }
}
