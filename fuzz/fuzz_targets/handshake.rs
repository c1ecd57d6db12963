//! The upgrade request checks and the subprotocol choice. An input is the head of an HTTP
//! request, parsed with httparse as hyper parses it; the request then goes through the
//! server's checks, with and without a subprotocol preference. A 101 only answers a
//! well-formed upgrade, and only ever selects a subprotocol the client offered.

#![no_main]

use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode, Version};
use libfuzzer_sys::fuzz_target;
use wskit::__fuzz::handshake;

const MAX_HEADERS: usize = 32;

fuzz_target!(|data: &[u8]| {
    let Some(parts) = parse(data) else { return };
    for preferred in [vec![], vec!["chat.v2".to_owned(), "chat.v1".to_owned()]] {
        let mut request = clone(&parts);
        // hyper's upgrade handle, as a connection that can be upgraded provides it.
        request.extensions.insert(hyper::upgrade::on(http::Request::new(())));
        let response = handshake(&mut request, &preferred);
        let status = response.status();
        let headers = response.headers();
        if status != StatusCode::SWITCHING_PROTOCOLS {
            let refusals = [
                StatusCode::METHOD_NOT_ALLOWED,
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                StatusCode::UPGRADE_REQUIRED,
                StatusCode::BAD_REQUEST,
            ];
            assert!(refusals.contains(&status), "{status}");
            assert!(!headers.contains_key(header::SEC_WEBSOCKET_ACCEPT));
            continue;
        }
        assert_eq!(parts.method, Method::GET);
        assert_eq!(parts.version, Version::HTTP_11);
        assert_eq!(parts.headers[header::SEC_WEBSOCKET_VERSION], "13");
        assert_eq!(parts.headers.get_all(header::SEC_WEBSOCKET_KEY).iter().count(), 1);
        assert_eq!(parts.headers[header::SEC_WEBSOCKET_KEY].len(), 24);
        assert_eq!(headers[header::SEC_WEBSOCKET_ACCEPT].len(), 28, "base64 of a SHA-1");
        if let Some(chosen) = headers.get(header::SEC_WEBSOCKET_PROTOCOL) {
            let chosen = chosen.to_str().expect("a token is ASCII");
            assert!(offered(&parts).any(|protocol| protocol == chosen), "{chosen} was not offered");
            assert!(
                preferred.is_empty()
                    || preferred.iter().any(|p| p == chosen)
                    || chosen.starts_with("bearer."),
                "{chosen} is not preferred"
            );
        }
        // permessage-deflate is answered only to a client that offered it.
        if let Some(answer) = headers.get(header::SEC_WEBSOCKET_EXTENSIONS) {
            assert!(answer.as_bytes().starts_with(b"permessage-deflate"), "{answer:?}");
            let offers = parts.headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS).iter();
            let offers: Vec<String> =
                offers.map(|value| String::from_utf8_lossy(value.as_bytes()).to_lowercase()).collect();
            assert!(offers.iter().any(|offer| offer.contains("permessage-deflate")), "{offers:?}");
        }
    }
});

/// The request head in `data`, or `None` where hyper would refuse it before wskit sees it.
fn parse(data: &[u8]) -> Option<Parts> {
    // The fuzzer need not find the blank line that ends a head.
    let data = [data, b"\r\n\r\n"].concat();
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    if !request.parse(&data).ok()?.is_complete() {
        return None;
    }
    let version = if request.version? == 1 { Version::HTTP_11 } else { Version::HTTP_10 };
    let mut builder = http::Request::builder().method(request.method?).uri(request.path?).version(version);
    for header in request.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        builder = builder.header(name, HeaderValue::from_bytes(header.value).ok()?);
    }
    Some(builder.body(()).ok()?.into_parts().0)
}

fn clone(parts: &Parts) -> Parts {
    let mut request = http::Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    request.into_parts().0
}

/// The subprotocols `parts` offers, as written.
fn offered(parts: &Parts) -> impl Iterator<Item = &str> {
    parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}
