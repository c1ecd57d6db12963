//! The WebSocket opening handshake (RFC 6455 section 4.2) on a hyper request: check the
//! request, choose a subprotocol, build the 101 response.

use super::Body;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// A well-formed upgrade request, ready to be answered with 101: its accept key, and
/// hyper's handle on the connection the answer upgrades.
pub(crate) struct Accepted {
    accept_key: String,
    on_upgrade: OnUpgrade,
}

/// Whether a request with `headers` asks for a WebSocket upgrade at all.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    header_has_token(headers, header::UPGRADE, "websocket")
}

/// Checks a WebSocket upgrade request and takes hyper's upgrade handle out of its
/// extensions; a malformed request, or one no hyper connection can upgrade, gets the
/// response to send instead.
pub(crate) fn check(parts: &mut Parts) -> Result<Accepted, Box<Response<Body>>> {
    if parts.method != Method::GET {
        return Err(Box::new(plain(StatusCode::METHOD_NOT_ALLOWED, "a WebSocket upgrade must use GET")));
    }
    if parts.version != Version::HTTP_11 {
        return Err(Box::new(plain(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "WebSocket upgrades need HTTP/1.1",
        )));
    }
    let headers = &parts.headers;
    if !header_has_token(headers, header::CONNECTION, "upgrade") || !is_upgrade(headers) {
        return Err(Box::new(plain(StatusCode::UPGRADE_REQUIRED, "this endpoint only speaks WebSocket")));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        let mut response = plain(StatusCode::UPGRADE_REQUIRED, "unsupported Sec-WebSocket-Version; use 13");
        response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return Err(Box::new(response));
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let key = match (keys.next(), keys.next()) {
        (Some(key), None) if is_nonce(key.as_bytes()) => key,
        _ => {
            return Err(Box::new(plain(
                StatusCode::BAD_REQUEST,
                "Sec-WebSocket-Key must be one base64-encoded 16-byte value",
            )))
        }
    };
    let accept_key = derive_accept_key(key.as_bytes());
    // hyper puts the handle there when it serves the request on a connection it can hand
    // over; without it a 101 would strand the client.
    let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
        return Err(Box::new(plain(StatusCode::UPGRADE_REQUIRED, "this connection cannot be upgraded")));
    };
    Ok(Accepted { accept_key, on_upgrade })
}

/// The subprotocol to answer with: the server's most preferred one that the client
/// offered; with no preference configured, the first offered one that is not a bearer
/// token. A client that offers only a `bearer.<token>` gets that one back either way:
/// browsers fail a connection whose response selects none of the offered protocols.
/// Never one the client did not offer.
pub(crate) fn choose_protocol(headers: &HeaderMap, preferred: &[String]) -> Option<HeaderValue> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        // What is no token cannot be a subprotocol: never selected, never echoed.
        .filter(|protocol| is_token(protocol))
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

/// Whether `key` is the base64 encoding of 16 bytes (RFC 6455 section 4.1): 22 digits, the
/// last carrying only 2 bits (so its low 4 bits are zero), then `==`.
fn is_nonce(key: &[u8]) -> bool {
    let is_digit = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/';
    key.len() == 24
        && key[..21].iter().all(is_digit)
        && matches!(key[21], b'A' | b'Q' | b'g' | b'w')
        && &key[22..] == b"=="
}

/// Whether `text` is an HTTP token (RFC 9110 section 5.6.2), as a subprotocol and an
/// extension's parameter must be.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

impl Accepted {
    /// The `101 Switching Protocols` response selecting `protocol` and `extensions`, and
    /// the upgrade handle that yields the connection once it is sent.
    pub(crate) fn respond(
        self,
        protocol: Option<HeaderValue>,
        extensions: Option<HeaderValue>,
        client_id: &uuid::Uuid,
    ) -> (Response<Body>, OnUpgrade) {
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&self.accept_key).expect("base64 is a valid header value"),
        );
        if let Some(protocol) = protocol {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        if let Some(extensions) = extensions {
            headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, extensions);
        }
        let id = client_id.as_hyphenated().to_string();
        headers.insert("x-client-id", HeaderValue::from_str(&id).expect("a UUID is a valid header value"));
        (response, self.on_upgrade)
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
        assert_eq!(choose_protocol(&offered("a b, c"), &[]).unwrap(), "c", "`a b` is no token");
        assert_eq!(choose_protocol(&offered("a b"), &[]), None);
    }

    #[test]
    fn a_key_is_base64_of_16_bytes() {
        assert!(is_nonce(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_nonce(b"dGhlIHNhbXBsZSBub25jZR=="), "bits beyond the 16 bytes");
        assert!(!is_nonce(b"dGhlIHNhbXBsZSBub25j$Q=="), "not base64");
        assert!(!is_nonce(b"dGhlIHNhbXBsZSBub25jZQAA"), "no padding");
        assert!(!is_nonce(b"dGhlIHNhbXBsZSBub25jZQ="));
    }
}
