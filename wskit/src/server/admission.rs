//! Admission before the upgrade: [`Rejection`], the answer to a refused upgrade, and
//! helpers that find the token a client presents.

use super::Body;
use http::request::Parts;
use http::{header, HeaderValue, Response, StatusCode};
use std::borrow::Cow;

/// The HTTP answer to an upgrade the server refuses: a status and a short text.
///
/// Returned by the callback of [`Server::with_authenticator`](crate::Server::with_authenticator).
/// With the `axum` feature it is an axum response (`IntoResponse`), so that an axum
/// extractor that authenticates an upgrade can reject with it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: StatusCode,
    message: Cow<'static, str>,
}

impl Rejection {
    /// 401: the client did not prove who it is.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_status(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the client is known but may not connect.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::with_status(StatusCode::FORBIDDEN, message)
    }

    /// 500: authentication itself failed (e.g. the user store is down).
    pub fn internal() -> Self {
        Self::with_status(StatusCode::INTERNAL_SERVER_ERROR, "authentication failed")
    }

    /// Any status, e.g. 429.
    pub fn with_status(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Rejection { status, message: message.into() }
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn response(self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.message.into_owned()));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        response
    }
}

/// Where to find the token of a connecting client, in the conventions of ws-kit's client
/// and of browsers. Use them in the callback of
/// [`Server::with_authenticator`](crate::Server::with_authenticator).
pub mod token {
    use super::Parts;
    use http::header;

    /// The query parameter `name`, e.g. `access_token` in `/ws?access_token=…`, decoded.
    pub fn query(parts: &Parts, name: &str) -> Option<String> {
        url::form_urlencoded::parse(parts.uri.query()?.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The token of a `bearer.<token>` subprotocol offered in `Sec-WebSocket-Protocol`.
    pub fn bearer_protocol(parts: &Parts) -> Option<String> {
        parts
            .headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .find_map(|protocol| protocol.trim().strip_prefix("bearer."))
            .map(str::to_owned)
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn authorization(parts: &Parts) -> Option<String> {
        let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
    }

    /// The cookie `name`.
    pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }

    /// The first token found by the ws-kit conventions: the `access_token` query
    /// parameter, a `bearer.<token>` subprotocol, then an `Authorization` header.
    pub fn any(parts: &Parts) -> Option<String> {
        query(parts, "access_token").or_else(|| bearer_protocol(parts)).or_else(|| authorization(parts))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
            let mut request = http::Request::builder().uri(uri);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.body(()).unwrap().into_parts().0
        }

        #[test]
        fn finds_tokens_where_clients_put_them() {
            assert_eq!(query(&parts("/ws?a=1&access_token=t%2B1", &[]), "access_token").unwrap(), "t+1");
            let offered = parts("/ws", &[("sec-websocket-protocol", "chat, bearer.abc")]);
            assert_eq!(bearer_protocol(&offered).unwrap(), "abc");
            assert_eq!(authorization(&parts("/", &[("authorization", "Bearer xyz")])).unwrap(), "xyz");
            assert_eq!(authorization(&parts("/", &[("authorization", "Basic xyz")])), None);
            assert_eq!(cookie(&parts("/", &[("cookie", "a=1; session=s2")]), "session").unwrap(), "s2");
            assert_eq!(any(&parts("/ws", &[("authorization", "Bearer h")])).unwrap(), "h");
            assert_eq!(any(&parts("/ws", &[])), None);
        }
    }
}
