//! The axum example's application: REST routes and the wskit router in one axum app,
//! sharing the wskit hub through axum's state.
//!
//! - `GET /health`: `ok`.
//! - `POST /api/notify` with `{"topic": "news", "text": "hello"}`: publishes a
//!   `NOTIFICATION` to the topic's WebSocket subscribers and answers 202
//!   `{"delivered": n}`; a body that is not such JSON, breaks its rules or names an invalid
//!   topic gets 400 `{"error": "<reason>"}`.
//! - `GET /ws`: the WebSocket route. A client sends `SUBSCRIBE {"topic": "news"}`, gets
//!   `SUBSCRIBED`, then every notification published to the topic.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::json;
use wskit::validate::{Issues, Path, Validate};
use wskit::{message, payload, router, Code, Ctx, Delivery, Endpoint, Error, Hub, Server};

/// Asks for the notifications of a topic.
#[message("SUBSCRIBE")]
pub(crate) struct Subscribe {
    pub(crate) topic: String,
}

/// The answer to [`Subscribe`]: from now on the client gets the topic's notifications.
#[message("SUBSCRIBED")]
pub(crate) struct Subscribed {
    pub(crate) topic: String,
}

/// A notification posted to `POST /api/notify`.
#[message("NOTIFICATION")]
pub(crate) struct Notification {
    pub(crate) topic: String,
    pub(crate) text: String,
}

/// The WebSocket router: subscriptions. Notifications come through the hub.
pub(crate) struct Notifier;

#[router]
impl Notifier {
    #[on]
    async fn subscribe(&self, ctx: &mut Ctx<()>, msg: Subscribe) -> Result<(), Error> {
        ctx.subscribe(&msg.topic).await?;
        ctx.reply(&Subscribed { topic: msg.topic })
    }
}

/// The body of `POST /api/notify`, checked by the same rules as WebSocket messages
/// (unknown keys rejected too); the hub checks the topic.
#[payload]
pub(crate) struct Notify {
    pub(crate) topic: String,
    #[validate(length(min = 1, max = 500))]
    pub(crate) text: String,
}

/// What the REST handlers share: the hub the WebSocket connections subscribe through.
#[derive(Clone)]
pub(crate) struct AppState {
    hub: Hub,
}

/// The application without middleware, and the WebSocket endpoint to shut down after
/// the server stops.
pub(crate) fn app() -> (axum::Router, Endpoint<Notifier>) {
    let server = Server::new(Notifier);
    let state = AppState { hub: server.hub_handle() };
    let endpoint = server.into_endpoint();
    let routes = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api/notify", post(notify))
        .route_service("/ws", endpoint.clone())
        .with_state(state);
    (routes, endpoint)
}

async fn notify(State(app): State<AppState>, body: Result<Json<Notify>, JsonRejection>) -> Response {
    // axum answers a bad JSON body with 400, 415 or 422; this API says 400 and why.
    let Json(notify) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(rejection.body_text()),
    };
    let mut issues = Issues::default();
    notify.validate(Path::root("body"), &mut issues);
    if let Some(issue) = issues.as_slice().first() {
        return bad_request(format!("{}: {}", issue.path, issue.message));
    }
    let notification = Notification { topic: notify.topic, text: notify.text };
    match app.hub.publish(&notification.topic, &notification).await {
        Ok(Delivery::Exact(delivered)) => (StatusCode::ACCEPTED, Json(json!({"delivered": delivered}))),
        // Through a broker: every instance delivers it, how many subscribers is unknown here.
        Ok(Delivery::Relayed) => (StatusCode::ACCEPTED, Json(json!({"delivered": null}))),
        Err(error) if *error.code() == Code::InvalidArgument => {
            return bad_request(error.message().to_owned())
        }
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": error.message()}))),
    }
    .into_response()
}

fn bad_request(reason: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": reason}))).into_response()
}
