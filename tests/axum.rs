//! wskit inside axum (the `axum` feature), over real sockets: the example app's REST and
//! WebSocket routes, tower layers around the upgrade, authentication through axum
//! extractors and through the server's authenticator, path parameters from axum's routes,
//! and the plain server's admission rules under axum.

#[path = "../examples/axum/app.rs"]
mod app;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_http::validate_request::ValidateRequestHeaderLayer;
use wskit::axum::Upgrade;
use wskit::{message, router, Ctx, Endpoint, Error, Limits, Rejection, Server};
use wskit_examples::RawClient;

/// Serves `routes` with `axum::serve` on a loopback port, until the test ends.
async fn serve(routes: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    addr
}

/// Sends one HTTP/1.1 request with hyper's client; returns the status and the body.
async fn http(addr: SocketAddr, method: Method, path: &str, json_body: Option<&str>) -> (StatusCode, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder().method(method).uri(path).header("host", "localhost");
    if json_body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = Full::new(Bytes::from(json_body.unwrap_or_default().to_owned()));
    let response = sender.send_request(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The status a refused WebSocket handshake gets.
async fn refused(request: tungstenite::handshake::client::Request) -> u16 {
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(error) => panic!("the handshake failed otherwise: {error}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

/// A handshake request for `url` from a page at `origin`.
fn from_origin(url: &str, origin: &str) -> tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("origin", origin.parse().unwrap());
    request
}

// ---- The example app ----

#[tokio::test]
async fn the_example_serves_rest_and_websocket_routes_under_tower_layers() {
    // What the tower layer around the whole app saw: each request's path, then its status.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (requests, responses) = (seen.clone(), seen.clone());
    let trace = TraceLayer::new_for_http()
        .on_request(move |request: &Request<axum::body::Body>, _: &tracing::Span| {
            requests.lock().unwrap().push(request.uri().path().to_owned());
        })
        .on_response(move |response: &Response, _: Duration, _: &tracing::Span| {
            responses.lock().unwrap().push(response.status().as_str().to_owned());
        });
    let (routes, _ws) = app::app();
    let routes =
        routes.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)));
    let addr = serve(routes.layer(trace)).await;

    assert_eq!(http(addr, Method::GET, "/health", None).await, (StatusCode::OK, "ok".to_owned()));
    let mut client = RawClient::connect(&format!("ws://{addr}/ws")).await;
    let client_id = client.response.headers()["x-client-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&client_id).is_ok(), "x-client-id {client_id}");
    assert_eq!(*seen.lock().unwrap(), ["/health", "200", "/ws", "101"]);

    let subscribed = client.request(json!({"type": "SUBSCRIBE", "payload": {"topic": "news"}})).await;
    assert_eq!(subscribed["type"], "SUBSCRIBED", "{subscribed}");
    let body = r#"{"topic": "news", "text": "hello"}"#;
    let (status, answer) = http(addr, Method::POST, "/api/notify", Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap(), json!({"delivered": 1}));
    let notification = client.recv().await;
    assert_eq!(notification, json!({"type": "NOTIFICATION", "payload": {"topic": "news", "text": "hello"}}));
}

#[tokio::test]
async fn the_example_answers_bad_requests_with_their_reason() {
    let addr = serve(app::app().0).await;
    for (body, reason) in [
        (r#"{"topic": "news", "text": "#, "Failed to parse the request body as JSON"),
        (r#"{"topic": "news"}"#, "missing field `text`"),
        (r#"{"topic": "news", "text": "x", "extra": 1}"#, "unknown field `extra`"),
        (r#"{"topic": "news", "text": ""}"#, "body.text: must have a length of at least 1"),
        (r#"{"topic": "two words", "text": "x"}"#, "does not match the pattern"),
    ] {
        let (status, answer) = http(addr, Method::POST, "/api/notify", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let error = serde_json::from_str::<Value>(&answer).unwrap()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(reason), "{body}: {error}");
    }
    let (status, answer) = http(addr, Method::POST, "/api/notify", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // The WebSocket route answers what the plain server answers to requests that are no upgrade.
    assert_eq!(http(addr, Method::GET, "/ws", None).await.0, StatusCode::UPGRADE_REQUIRED);
    assert_eq!(http(addr, Method::POST, "/ws", None).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

// ---- Authentication, path parameters and admission under axum ----

#[message("WHO_AM_I")]
struct WhoAmI;

#[message("YOU_ARE")]
struct YouAre {
    name: String,
    client_id: String,
    room: Option<String>,
}

/// The connection's data: who authenticated.
struct User {
    name: String,
}

struct Directory;

#[router(data = User)]
impl Directory {
    #[on]
    async fn who(&self, ctx: &mut Ctx<User>, _: WhoAmI) -> Result<(), Error> {
        let you = YouAre {
            name: ctx.data().name.clone(),
            client_id: ctx.client_id().to_string(),
            room: ctx.param("room").map(str::to_owned),
        };
        ctx.reply(&you)
    }
}

/// The axum state: the WebSocket endpoint, and who holds which token.
#[derive(Clone)]
struct App {
    ws: Endpoint<Directory>,
    tokens: Arc<HashMap<&'static str, &'static str>>,
}

fn tokens() -> HashMap<&'static str, &'static str> {
    HashMap::from([("ada-token", "ada"), ("bob-token", "bob")])
}

/// Authentication as an axum extractor, reading the app's state.
impl FromRequestParts<App> for User {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Rejection> {
        let token = wskit::token::any(parts).ok_or(Rejection::unauthorized("a token is required"))?;
        match app.tokens.get(token.as_str()) {
            Some(name) => Ok(User { name: (*name).to_owned() }),
            None => Err(Rejection::unauthorized("unknown token")),
        }
    }
}

async fn accept(State(app): State<App>, user: User, upgrade: Upgrade) -> Response {
    upgrade.accept(&app.ws, user)
}

/// The same tokens, as the server's authenticator (used by the endpoint as a service).
fn authenticated() -> Server<Directory> {
    Server::with_authenticator(Directory, |parts| {
        let user = wskit::token::any(parts).and_then(|token| tokens().get(token.as_str()).copied());
        async move {
            match user {
                Some(name) => Ok(User { name: name.to_owned() }),
                None => Err(Rejection::unauthorized("no valid token")),
            }
        }
    })
}

/// An app with the endpoint of `server` mounted both ways: behind the `accept` handler
/// (`/me/ws`, `/rooms/{room}/ws`) and as a service (`/service/ws`, nested in
/// `/nested/{room}`).
async fn directory(server: Server<Directory>) -> (SocketAddr, Endpoint<Directory>) {
    let ws = server.into_endpoint();
    let app = App { ws: ws.clone(), tokens: Arc::new(tokens()) };
    let routes = axum::Router::new()
        .route("/me/ws", get(accept))
        .route("/rooms/{room}/ws", get(accept))
        .route_service("/service/ws", ws.clone())
        .nest("/nested/{room}", axum::Router::new().route_service("/ws", ws.clone()))
        .with_state(app);
    (serve(routes).await, ws)
}

/// Connects to `path` and asks who the connection is.
async fn who(addr: SocketAddr, path: &str) -> (RawClient, Value) {
    let mut client = RawClient::connect(&format!("ws://{addr}{path}")).await;
    let you = client.request(json!({"type": "WHO_AM_I"})).await;
    assert_eq!(you["type"], "YOU_ARE", "{you}");
    (client, you["payload"].clone())
}

#[tokio::test]
async fn an_axum_extractor_authenticates_the_upgrade_and_hands_over_the_user() {
    let (addr, _) = directory(authenticated()).await;
    assert_eq!(refused(format!("ws://{addr}/me/ws").into_client_request().unwrap()).await, 401);
    assert_eq!(
        refused(format!("ws://{addr}/me/ws?access_token=nope").into_client_request().unwrap()).await,
        401
    );
    let (status, body) = http(addr, Method::GET, "/me/ws", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, "a token is required"));
    // Authenticated but no upgrade: the `Upgrade` extractor answers as the plain server would.
    let (status, _) = http(addr, Method::GET, "/me/ws?access_token=ada-token", None).await;
    assert_eq!(status, StatusCode::UPGRADE_REQUIRED);

    let (client, you) = who(addr, "/me/ws?access_token=ada-token").await;
    assert_eq!(you["name"], "ada");
    assert_eq!(you["clientId"], client.response.headers()["x-client-id"].to_str().unwrap());
    let mut request = format!("ws://{addr}/me/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "bearer.bob-token".parse().unwrap());
    let mut client = RawClient::connect_with(request).await;
    assert_eq!(client.response.headers()["sec-websocket-protocol"], "bearer.bob-token");
    assert_eq!(client.request(json!({"type": "WHO_AM_I"})).await["payload"]["name"], "bob");
}

#[tokio::test]
async fn the_endpoint_as_a_service_authenticates_with_the_server_authenticator() {
    let (addr, _) = directory(authenticated()).await;
    assert_eq!(refused(format!("ws://{addr}/service/ws").into_client_request().unwrap()).await, 401);
    let (client, you) = who(addr, "/service/ws?access_token=bob-token").await;
    assert_eq!(you["name"], "bob");
    assert_eq!(you["clientId"], client.response.headers()["x-client-id"].to_str().unwrap());

    // Without an authenticator only the handler's `accept` lets connections in.
    let (addr, _) = directory(Server::without_authenticator(Directory)).await;
    assert_eq!(
        refused(format!("ws://{addr}/service/ws?access_token=ada-token").into_client_request().unwrap())
            .await,
        401
    );
    assert_eq!(who(addr, "/me/ws?access_token=ada-token").await.1["name"], "ada");
}

#[tokio::test]
async fn path_parameters_come_from_axum_routes_and_nests() {
    let (addr, _) = directory(authenticated()).await;
    let (_, you) = who(addr, "/rooms/general/ws?access_token=ada-token").await;
    assert_eq!(you["room"], "general");
    let (_, you) = who(addr, "/nested/gen%20eral/ws?access_token=ada-token").await;
    assert_eq!(you["room"], "gen eral");
    // No parameter on this route, whatever `Server::path` says.
    let (addr, _) = directory(authenticated().path("/rooms/:room")).await;
    let (_, you) = who(addr, "/service/ws?access_token=ada-token").await;
    assert_eq!((you["name"].as_str(), you["room"].as_str()), (Some("ada"), None));
    let (status, body) = http(addr, Method::GET, "/nested/%ff/ws?access_token=ada-token", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn origins_the_connection_limit_and_shutdown_apply_under_axum() {
    let server =
        authenticated().allowed_origins(["https://app.example"]).limits(Limits::default().max_connections(1));
    let (addr, ws) = directory(server).await;
    for path in ["/me/ws", "/service/ws"] {
        let url = format!("ws://{addr}{path}?access_token=ada-token");
        assert_eq!(refused(from_origin(&url, "https://evil.example")).await, 403, "{path}");
    }
    let url = format!("ws://{addr}/me/ws?access_token=ada-token");
    let mut client = RawClient::connect_with(from_origin(&url, "https://app.example")).await;
    assert_eq!(client.request(json!({"type": "WHO_AM_I"})).await["payload"]["name"], "ada");
    assert_eq!(refused(url.as_str().into_client_request().unwrap()).await, 503);
    let service = format!("ws://{addr}/service/ws?access_token=ada-token");
    assert_eq!(refused(service.as_str().into_client_request().unwrap()).await, 503);

    // The client reads while the server shuts down and hangs up once it has the close
    // frame, so that the server need not wait for it.
    let (report, (code, _)) = tokio::join!(ws.shutdown(), async move { client.closed().await });
    assert_eq!((report.connections, report.abandoned, code), (1, 0, 1001));
    assert_eq!(refused(url.as_str().into_client_request().unwrap()).await, 503);
}

/// A tower-http request check: `Authorization: Bearer letmein` passes, anything else 401.
#[allow(clippy::result_large_err)] // the signature tower-http asks for
fn let_me_in(request: &mut Request<axum::body::Body>) -> Result<(), Response> {
    match request.headers().get("authorization") {
        Some(value) if value == "Bearer letmein" => Ok(()),
        _ => Err(Rejection::unauthorized("no entry").into_response()),
    }
}

#[tokio::test]
async fn a_tower_auth_layer_guards_the_websocket_route() {
    let ws = Server::with_data(Directory, |_| User { name: "guest".into() }).into_endpoint();
    let guard = ValidateRequestHeaderLayer::custom(let_me_in);
    let routes = axum::Router::new().route_service("/ws", ws).route_layer(guard);
    let addr = serve(routes).await;
    assert_eq!(refused(format!("ws://{addr}/ws").into_client_request().unwrap()).await, 401);
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request.headers_mut().insert("authorization", "Bearer letmein".parse().unwrap());
    let mut client = RawClient::connect_with(request).await;
    assert_eq!(client.request(json!({"type": "WHO_AM_I"})).await["payload"]["name"], "guest");
}
