//! Input a hostile client controls, over real sockets: what the server keeps of it and what
//! it sends back stays within the documented bounds, whatever the client sends.

use serde_json::{json, Value};
use wskit::ratelimit::{Limit, RateLimiter};
use wskit::{message, router, Ctx, Error, Limits, Server};
use wskit_examples::{RawClient, TestServer};

#[message("GET_NAME", response = Name)]
struct GetName;

#[message("NAME")]
struct Name {
    name: String,
}

#[message("TAG")]
struct Tag {
    #[validate(each(length(min = 1)))]
    tags: Vec<String>,
}

struct App;

#[router]
impl App {
    #[rpc]
    async fn get_name(&self, _ctx: &mut Ctx<()>, _: GetName) -> Result<Name, Error> {
        Ok(Name { name: "ada".into() })
    }

    #[on]
    async fn tag(&self, _ctx: &mut Ctx<()>, _: Tag) -> Result<(), Error> {
        Ok(())
    }
}

async fn start(server: Server<App>) -> (TestServer, RawClient) {
    let server = TestServer::start(server.path("/ws")).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client)
}

/// The size of a frame as the server sent it (up to the order of keys).
fn size(frame: &Value) -> usize {
    serde_json::to_string(frame).unwrap().len()
}

#[tokio::test]
async fn a_correlation_id_above_its_limit_is_refused_and_not_echoed() {
    let (_server, mut client) = start(Server::new(App)).await;
    let long = "c".repeat(512 * 1024);
    client.send(json!({"type": "GET_NAME", "meta": {"correlationId": long}})).await;
    let error = client.recv().await;
    assert_eq!(error["type"], "ERROR", "no correlation id to answer: {error}");
    assert_eq!(error["meta"], json!({}));
    assert_eq!(error["payload"]["code"], "INVALID_ARGUMENT");
    assert_eq!(error["payload"]["details"]["issues"][0]["path"], "meta.correlationId");
    assert!(size(&error) < 1024, "{} bytes", size(&error));

    // An id at the limit is served and echoed.
    let id = "i".repeat(Limits::MAX_CORRELATION_ID_BYTES);
    let reply = client.request(json!({"type": "GET_NAME", "meta": {"correlationId": id}})).await;
    assert_eq!((&reply["type"], &reply["meta"]["correlationId"]), (&json!("NAME"), &json!(id)));
}

#[tokio::test]
async fn error_frames_quote_a_bounded_piece_of_a_made_up_type() {
    // One token, no refill: the second frame is refused by the rate limiter, which runs
    // before routing and so sees the made-up type too.
    let limiter = RateLimiter::new(Limit::new(1, 0.001));
    let (_server, mut client) = start(Server::new(App).middleware(limiter)).await;
    let made_up = "T".repeat(512 * 1024);
    for code in ["UNIMPLEMENTED", "RESOURCE_EXHAUSTED"] {
        client.send(json!({"type": made_up})).await;
        let error = client.recv().await;
        assert_eq!(error["payload"]["code"], code, "{error}");
        let quoted = error["payload"]["details"]["type"].as_str().unwrap();
        assert_eq!(quoted.len(), Limits::MAX_ECHO_BYTES + '…'.len_utf8());
        assert!(quoted.ends_with('…'));
        assert!(size(&error) < 3 * Limits::MAX_ECHO_BYTES + 300, "{code}: {} bytes", size(&error));
    }
}

#[tokio::test]
async fn a_validation_error_lists_a_bounded_number_of_issues() {
    let (_server, mut client) = start(Server::new(App)).await;
    let tags = vec![""; 10_000];
    client.send(json!({"type": "TAG", "payload": {"tags": tags}})).await;
    let error = client.recv().await;
    let details = &error["payload"]["details"];
    assert_eq!(error["payload"]["message"], "10000 validation issues");
    assert_eq!(details["issues"].as_array().unwrap().len(), Limits::MAX_ISSUES);
    assert_eq!(details["issues"][0]["path"], "payload.tags[0]");
    assert_eq!(details["omittedIssues"], 10_000 - Limits::MAX_ISSUES);
    assert!(size(&error) < 4 * 1024, "{} bytes", size(&error));
}
