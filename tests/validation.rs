//! Every `#[validate]` rule, accepted and rejected, over a real socket: the issues come
//! back in `details.issues` with the wire paths of the failing fields.

mod common;

use common::TestApp;
use serde_json::{json, Value};
use wskit::validate::{Issues, Path, Validate};
use wskit::{message, payload, Limits, Server};
use wskit_examples::{RawClient, TestServer};

fn valid_sign_up() -> Value {
    json!({
        "userName": "ada_l",
        "email": "ada@example.org",
        "age": 36,
        "homepage": "https://example.org/ada",
        "invite": "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "tags": ["math", "code"],
        "address": {"city": "London"},
        "lucky": 8
    })
}

/// Sends SIGN_UP with `field` replaced (or removed when `value` is null and `remove`),
/// and returns the issues as `path: message` strings (empty when accepted).
async fn issues_for(client: &mut RawClient, changes: &[(&str, Value)]) -> Vec<(String, String)> {
    let mut payload = valid_sign_up();
    for (field, value) in changes {
        if value.is_null() {
            payload.as_object_mut().unwrap().remove(*field);
        } else {
            payload[*field] = value.clone();
        }
    }
    let reply = client.request(json!({"type": "SIGN_UP", "payload": payload})).await;
    if reply["type"] == "SIGNED_UP" {
        return Vec::new();
    }
    assert_eq!(reply["payload"]["code"], "INVALID_ARGUMENT", "{reply}");
    reply["payload"]["details"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| {
            (issue["path"].as_str().unwrap().to_owned(), issue["message"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn client() -> (TestServer, RawClient) {
    let (app, _) = TestApp::new();
    // Every case below is an invalid message in a row: lift the protocol error limit.
    let limits = Limits::default().max_consecutive_errors(1000);
    let server = TestServer::start(Server::new(app).path("/ws").limits(limits)).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client)
}

fn paths(issues: &[(String, String)]) -> Vec<&str> {
    issues.iter().map(|(path, _)| path.as_str()).collect()
}

#[tokio::test]
async fn a_valid_message_passes_every_rule() {
    let (_server, mut client) = client().await;
    assert!(issues_for(&mut client, &[]).await.is_empty());
    // Optional fields are only checked when present.
    assert!(issues_for(&mut client, &[("homepage", Value::Null), ("invite", Value::Null)]).await.is_empty());
}

#[tokio::test]
async fn each_rule_rejects_what_it_should() {
    let (_server, mut client) = client().await;
    let cases: &[(&str, Value, &str, &str)] = &[
        ("userName", json!("ab"), "payload.userName", "at least 3"),
        ("userName", json!("a".repeat(17)), "payload.userName", "at most 16"),
        ("userName", json!("Ada!"), "payload.userName", "pattern"),
        ("email", json!("not-an-email"), "payload.email", "email"),
        ("age", json!(12), "payload.age", "at least 13"),
        ("age", json!(131), "payload.age", "at most 130"),
        ("homepage", json!("example.org"), "payload.homepage", "URL"),
        ("invite", json!("1234"), "payload.invite", "UUID"),
        ("tags", json!([]), "payload.tags", "empty"),
        ("tags", json!(["ok", "toolong"]), "payload.tags[1]", "at most 5"),
        ("address", json!({"city": ""}), "payload.address.city", "at least 1"),
        ("lucky", json!(7), "payload.lucky", "must be even, 7 is odd"),
    ];
    for (field, value, path, fragment) in cases {
        let issues = issues_for(&mut client, &[(field, value.clone())]).await;
        assert_eq!(paths(&issues), [*path], "{field} = {value}");
        assert!(issues[0].1.contains(fragment), "{field}: {:?} lacks {fragment:?}", issues[0].1);
    }
}

#[tokio::test]
async fn all_issues_are_reported_together() {
    let (_server, mut client) = client().await;
    let issues =
        issues_for(&mut client, &[("userName", json!("x")), ("age", json!(1)), ("tags", json!(["123456"]))])
            .await;
    assert_eq!(paths(&issues), ["payload.userName", "payload.age", "payload.tags[0]"]);
}

#[tokio::test]
async fn type_errors_name_the_field() {
    let (_server, mut client) = client().await;
    let issues = issues_for(&mut client, &[("age", json!("old"))]).await;
    assert_eq!(paths(&issues), ["payload.age"]);
    let issues = issues_for(&mut client, &[("tags", json!(["a", 5]))]).await;
    assert_eq!(paths(&issues), ["payload.tags[1]"]);
    let issues = issues_for(&mut client, &[("email", Value::Null)]).await;
    assert_eq!(paths(&issues), ["payload.email"]);
    assert!(issues[0].1.contains("missing field"));
}

#[tokio::test]
async fn a_nested_struct_is_an_object_never_an_array_of_its_fields() {
    let (_server, mut client) = client().await;
    // serde's derived impls would read `Address { city }` from `["Paris"]`.
    let issues = issues_for(&mut client, &[("address", json!(["Paris"]))]).await;
    assert_eq!(paths(&issues), ["payload.address"]);
    assert!(issues[0].1.contains("expected an object"), "{:?}", issues[0].1);
    assert!(issues_for(&mut client, &[("address", json!({"city": "Paris"}))]).await.is_empty());
}

#[payload(rename_all = "snake_case")]
struct Window {
    #[validate(range(min = 1, max = 10))]
    from_day: u8,
    #[serde(rename = "untilDay")]
    #[validate(range(max = 31))]
    to_day: u8,
}

#[message("BOOK", validate = manual)]
struct Book {
    window: Window,
}

impl Validate for Book {
    fn validate(&self, at: Path<'_>, issues: &mut Issues) {
        let window = at.field("window");
        self.window.validate(window, issues);
        if self.window.from_day > self.window.to_day {
            issues.push(window, "must not end before it starts");
        }
    }
}

#[test]
fn renamed_fields_keep_their_wire_names_in_paths() {
    let window: Window = serde_json::from_value(json!({"from_day": 0, "untilDay": 40})).unwrap();
    let mut issues = Issues::default();
    window.validate(Path::root("payload"), &mut issues);
    let paths: Vec<_> = issues.as_slice().iter().map(|issue| issue.path.as_str()).collect();
    assert_eq!(paths, ["payload.from_day", "payload.untilDay"]);
}

#[test]
fn a_hand_written_validation_replaces_the_rules() {
    let book: Book = serde_json::from_value(json!({"window": {"from_day": 5, "untilDay": 2}})).unwrap();
    let mut issues = Issues::default();
    book.validate(Path::root("payload"), &mut issues);
    assert_eq!(issues.as_slice().len(), 1);
    assert_eq!(issues.as_slice()[0].path, "payload.window");
}
