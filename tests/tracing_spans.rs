//! Every message runs in a `message` span at debug level with its type, correlation id,
//! outcome and handler time, inside the connection's `ws` span.

use serde_json::json;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;
use wskit::{message, router, Ctx, Error, Server};
use wskit_examples::{RawClient, TestServer};

#[message("PING", response = Pong)]
struct Ping;

#[message("PONG")]
struct Pong;

#[message("FAIL")]
struct Fail;

struct App;

#[router]
impl App {
    #[rpc]
    async fn ping(&self, _: &mut Ctx<()>, _: Ping) -> Result<Pong, Error> {
        Ok(Pong)
    }

    #[on]
    async fn fail(&self, _: &mut Ctx<()>, _: Fail) -> Result<(), Error> {
        Err(Error::not_found("nothing"))
    }
}

/// A closed `message` span: its fields, and whether its parent was a `ws` span.
type Closed = (Vec<(String, String)>, bool);

/// The `message` spans closed so far.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Closed>>>);

/// A span's fields as they were recorded.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        ctx.span(id).expect("the span exists").extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("the span exists");
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<Fields>() {
            values.record(fields);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).expect("the span exists");
        if span.name() != "message" {
            return;
        }
        let in_connection = span.parent().is_some_and(|parent| parent.name() == "ws");
        let fields = span.extensions_mut().remove::<Fields>().unwrap_or_default().0;
        self.0.lock().unwrap().push((fields, in_connection));
    }
}

#[tokio::test]
async fn each_message_has_a_span_with_its_type_id_outcome_and_time() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let server = TestServer::start(Server::new(App).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.request(json!({"type": "PING", "meta": {"correlationId": "c-7"}})).await;
    client.request(json!({"type": "FAIL"})).await;

    let spans = spans.0.lock().unwrap().clone();
    let field = |fields: &[(String, String)], name: &str| {
        fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
    };
    assert_eq!(spans.len(), 2, "{spans:?}");
    let (ping, in_connection) = &spans[0];
    assert!(in_connection, "inside the connection's span");
    assert_eq!(field(ping, "message_type").as_deref(), Some("PING"));
    assert_eq!(field(ping, "correlation_id").as_deref(), Some("c-7"));
    assert_eq!(field(ping, "outcome").as_deref(), Some("ok"));
    assert!(field(ping, "handler_us").is_some_and(|us| us.parse::<u64>().is_ok()), "{ping:?}");
    assert_eq!(field(&spans[1].0, "outcome").as_deref(), Some("error"));
}
