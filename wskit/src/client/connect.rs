//! Opening one socket: the upgrade request with the token, protocols and headers.

use super::{ClientError, ClientOptions, TokenTransport};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

/// An open client socket.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Checks the URL once, when the client is built.
pub(crate) fn parse_url(url: &str) -> Result<Url, ClientError> {
    let parsed =
        Url::parse(url).map_err(|error| ClientError::Config(format!("`{url}` is not a URL: {error}")))?;
    match parsed.scheme() {
        "ws" => Ok(parsed),
        "wss" => Err(ClientError::Config(format!(
            "`{url}`: wss:// needs TLS, which wskit's client does not include yet; use ws:// (e.g. behind a TLS proxy)"
        ))),
        other => Err(ClientError::Config(format!("`{url}` has the scheme `{other}`; use ws://host:port/path"))),
    }
}

/// Fetches a token and opens a socket; the error says why the attempt failed.
pub(crate) async fn connect(options: &ClientOptions, url: &Url) -> Result<Socket, String> {
    let token = match &options.token {
        Some(fetch) => fetch().await,
        None => None,
    };
    let request = upgrade_request(options, url, token.as_deref())?;
    let limit = Some(options.max_message_bytes);
    let config = WebSocketConfig::default().max_message_size(limit).max_frame_size(limit);
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
    match tokio::time::timeout(options.connect_timeout, connecting).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no upgrade within {:?}", options.connect_timeout)),
    }
}

/// The upgrade request of one attempt, with `token` placed as configured.
fn upgrade_request(options: &ClientOptions, url: &Url, token: Option<&str>) -> Result<Request, String> {
    let mut url = url.clone();
    let mut protocols = options.protocols.clone();
    match (token, options.token_transport) {
        (Some(token), TokenTransport::Query) => {
            url.query_pairs_mut().append_pair("access_token", token);
        }
        (Some(token), TokenTransport::Subprotocol) => protocols.insert(0, format!("bearer.{token}")),
        (None, _) => {}
    }
    let mut request = url.as_str().into_client_request().map_err(|error| error.to_string())?;
    let headers = request.headers_mut();
    for (name, value) in &options.headers {
        headers.append(name, value.clone());
    }
    if !protocols.is_empty() {
        let value = protocols.join(", ").parse().map_err(|_| {
            "the token or a protocol is not a valid `Sec-WebSocket-Protocol` value; use the query transport".to_owned()
        })?;
        headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(options: &ClientOptions, token: Option<&str>) -> Request {
        upgrade_request(options, &parse_url(&options.url).unwrap(), token).unwrap()
    }

    #[test]
    fn the_token_goes_into_the_query_or_a_subprotocol() {
        let options = ClientOptions::new("ws://127.0.0.1:1/ws?room=a")
            .header(http::HeaderName::from_static("x-app"), http::HeaderValue::from_static("1"));
        let query = request(&options, Some("t 1"));
        assert_eq!(query.uri().query(), Some("room=a&access_token=t+1"));
        assert_eq!(query.headers()["x-app"], "1");
        assert!(query.headers().get("sec-websocket-protocol").is_none());

        let options = options.token_transport(TokenTransport::Subprotocol).protocol("chat");
        let protocol = request(&options, Some("t1"));
        assert_eq!(protocol.uri().query(), Some("room=a"));
        assert_eq!(protocol.headers()["sec-websocket-protocol"], "bearer.t1, chat");
        assert_eq!(request(&options, None).headers()["sec-websocket-protocol"], "chat");
    }

    #[test]
    fn only_ws_urls_are_accepted() {
        assert!(parse_url("ws://localhost:3000/ws").is_ok());
        for bad in ["wss://example.com", "http://example.com", "not a url"] {
            assert!(matches!(parse_url(bad), Err(ClientError::Config(_))), "{bad}");
        }
    }
}
