//! Opening one socket: the upgrade request with the token, protocols and headers.

use super::{ClientError, ClientOptions, TokenTransport};
use crate::protocol::RESUME_PARAM;
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

/// Fetches a token and opens a socket, asking to resume with `resume` (the value of
/// `wskit-resume`) if set; the error says why the attempt failed.
pub(crate) async fn connect(
    options: &ClientOptions,
    url: &Url,
    resume: Option<&str>,
) -> Result<Socket, String> {
    let token = match &options.token {
        Some(fetch) => fetch().await,
        None => None,
    };
    let request = upgrade_request(options, url, token.as_deref(), resume)?;
    let limit = Some(options.max_message_bytes);
    let config = WebSocketConfig::default().max_message_size(limit).max_frame_size(limit);
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
    match tokio::time::timeout(options.connect_timeout, connecting).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no upgrade within {:?}", options.connect_timeout)),
    }
}

/// The upgrade request of one attempt, with `token` placed as configured and `resume`
/// appended to the query.
fn upgrade_request(
    options: &ClientOptions,
    url: &Url,
    token: Option<&str>,
    resume: Option<&str>,
) -> Result<Request, String> {
    let mut url = url.clone();
    if let Some(resume) = resume {
        // Written as the contract spells it (`<token>:<count>`, no `%3A`): the value is hex,
        // digits and `:` only, which a query holds as they are.
        let query = match url.query() {
            Some(query) if !query.is_empty() => format!("{query}&{RESUME_PARAM}={resume}"),
            _ => format!("{RESUME_PARAM}={resume}"),
        };
        url.set_query(Some(&query));
    }
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
        upgrade_request(options, &parse_url(&options.url).unwrap(), token, None).unwrap()
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
    fn a_resume_joins_the_other_query_parameters() {
        let options = ClientOptions::new("ws://127.0.0.1:1/ws?room=a");
        let url = parse_url(&options.url).unwrap();
        let token = "0123456789abcdef0123456789abcdef";
        let request = upgrade_request(&options, &url, Some("t1"), Some(&format!("{token}:7"))).unwrap();
        assert_eq!(
            request.uri().query(),
            Some(format!("room=a&wskit-resume={token}:7&access_token=t1").as_str())
        );
        let request = upgrade_request(&options, &url, None, Some("new")).unwrap();
        assert_eq!(request.uri().query(), Some("room=a&wskit-resume=new"));
    }

    #[test]
    fn only_ws_urls_are_accepted() {
        assert!(parse_url("ws://localhost:3000/ws").is_ok());
        for bad in ["wss://example.com", "http://example.com", "not a url"] {
            assert!(matches!(parse_url(bad), Err(ClientError::Config(_))), "{bad}");
        }
    }
}
