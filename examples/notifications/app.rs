//! Notifications pushed from HTTP, the routes, messages and router of the `notifications`
//! example: an axum app with the WebSocket and two HTTP endpoints sharing one hub.
//!
//! - `GET /ws?user=NAME`: the WebSocket. The connection belongs to user `NAME` (a stand-in
//!   for real authentication; see the `auth` example), so notifications sent to that user
//!   reach all of their devices. A client may also `SUBSCRIBE {"topic"}` to a topic.
//! - `POST /notify` with `{"user"|"topic", "title", "body"?}` (exactly one of `user` and
//!   `topic`): sends a `NOTIFICATION` to the user's connections (`Hub::send_to_user`) or
//!   the topic's subscribers (`Hub::publish`) and answers 202 `{"delivered": n}`. A body
//!   that is no such JSON or breaks a rule gets 400 `{"issues": [{"path", "message"}]}`,
//!   checked by the same `#[validate]` rules as WebSocket messages.
//! - `GET /stats`: `{"connections", "users": [..], "topics": [{"topic", "subscribers"}]}`
//!   from the hub, for this instance.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use wskit::validate::{Issues, Path, Validate};
use wskit::{message, payload, router, token, Ctx, Delivery, Endpoint, Error, Hub, Rejection, Server};

/// Subscribes to the notifications of a topic.
#[message("SUBSCRIBE")]
struct Subscribe {
    topic: String,
}

/// The answer to [`Subscribe`].
#[message("SUBSCRIBED")]
struct Subscribed {
    topic: String,
}

/// A notification from `POST /notify`; `topic` is set when it went to a topic.
#[message("NOTIFICATION")]
struct Notification {
    title: String,
    body: Option<String>,
    topic: Option<String>,
}

/// Per-connection data: whose connection it is.
pub(crate) struct Account {
    user: String,
}

/// The WebSocket router: topic subscriptions. Notifications come through the hub.
pub(crate) struct Notifier;

#[router(data = Account)]
impl Notifier {
    #[on]
    async fn subscribe(&self, ctx: &mut Ctx<Account>, msg: Subscribe) -> Result<(), Error> {
        ctx.subscribe(&msg.topic).await?;
        ctx.reply(&Subscribed { topic: msg.topic })
    }
}

/// The body of `POST /notify`.
#[payload]
struct Notify {
    #[validate(length(min = 1, max = 64))]
    user: Option<String>,
    #[validate(length(min = 1, max = 128))]
    topic: Option<String>,
    #[validate(length(min = 1, max = 100))]
    title: String,
    #[validate(length(max = 1000))]
    body: Option<String>,
}

/// The user a connection belongs to: the `user` query parameter, 1 to 64 characters of
/// `[A-Za-z0-9_-]`; 401 otherwise.
fn user_of(parts: &axum::http::request::Parts) -> Result<Account, Rejection> {
    let user = token::query(parts, "user")
        .filter(|user| {
            (1..=64).contains(&user.len())
                && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .ok_or_else(|| {
            Rejection::unauthorized("connect with ?user=NAME (1 to 64 of A-Z, a-z, 0-9, _ and -)")
        })?;
    Ok(Account { user })
}

/// The application, and the WebSocket endpoint to shut down after the HTTP server stops.
pub(crate) fn app() -> (axum::Router, Endpoint<Notifier>) {
    let server = Server::with_authenticator(Notifier, |parts| std::future::ready(user_of(parts)))
        .user(|account: &Account| Some(account.user.clone()));
    let hub = server.hub_handle();
    let endpoint = server.into_endpoint();
    let routes = axum::Router::new()
        .route("/notify", post(notify))
        .route("/stats", get(stats))
        .route_service("/ws", endpoint.clone())
        .with_state(hub);
    (routes, endpoint)
}

async fn notify(State(hub): State<Hub>, body: Result<Json<Notify>, JsonRejection>) -> Response {
    let Json(notify) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(&[("body", rejection.body_text())]),
    };
    let mut issues = Issues::default();
    notify.validate(Path::root("body"), &mut issues);
    if notify.user.is_some() == notify.topic.is_some() {
        issues.push(Path::root("body"), "give exactly one of `user` and `topic`");
    }
    if !issues.is_empty() {
        return (StatusCode::BAD_REQUEST, Json(json!({"issues": issues.as_slice()}))).into_response();
    }
    let notification = Notification { title: notify.title, body: notify.body, topic: notify.topic.clone() };
    let sent = match (&notify.user, &notify.topic) {
        (Some(user), _) => hub.send_to_user(user, &notification).await,
        (_, Some(topic)) => hub.publish(topic, &notification).await,
        (None, None) => unreachable!("checked above"),
    };
    match sent {
        Ok(Delivery::Exact(delivered)) => {
            (StatusCode::ACCEPTED, Json(json!({"delivered": delivered}))).into_response()
        }
        // Through a broker every instance delivers it; how many connections is unknown here.
        Ok(Delivery::Relayed) => (StatusCode::ACCEPTED, Json(json!({"delivered": null}))).into_response(),
        Err(error) if error.code().as_str() == "INVALID_ARGUMENT" => {
            bad_request(&[("body.topic", error.message().to_owned())])
        }
        Err(error) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": error.message()}))).into_response()
        }
    }
}

fn bad_request(issues: &[(&str, String)]) -> Response {
    let issues: Vec<Value> =
        issues.iter().map(|(path, message)| json!({"path": path, "message": message})).collect();
    (StatusCode::BAD_REQUEST, Json(json!({"issues": issues}))).into_response()
}

async fn stats(State(hub): State<Hub>) -> Json<Value> {
    let mut users = hub.users();
    users.sort();
    let mut topics = hub.topics();
    topics.sort();
    let topics: Vec<Value> = topics
        .into_iter()
        .map(|topic| json!({"subscribers": hub.subscriber_count(&topic), "topic": topic}))
        .collect();
    Json(json!({"connections": hub.client_count(), "users": users, "topics": topics}))
}
