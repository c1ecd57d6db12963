//! The conformance runner: plays the scenarios of an example's contract file
//! (`examples/<name>/conformance.json`) over real sockets against a fresh server each.
//!
//! A contract file is `{"description", "scenarios": [{"name", "steps": [..]}]}`. Each step
//! is an object with one action and, for socket actions, the `client` it belongs to (any
//! name; a scenario may have several clients):
//!
//! | step | does |
//! |---|---|
//! | `{"client": C, "connect": "/ws"}` | opens a WebSocket to that path (query included) |
//! | `{"client": C, "send": FRAME}` | sends FRAME as a text frame |
//! | `{"client": C, "expect": FRAME}` | the next frame C receives must match FRAME |
//! | `{"client": C, "expect_nothing": true}` | C received nothing: a `__heartbeat` round trip comes back first |
//! | `{"client": C, "expect_close": CODE}` | the server closes C's socket with CODE |
//! | `{"client": C, "disconnect": true}` | C closes its socket normally |
//! | `{"client": C, "reconnect": true}` | C opens a new socket to the path it last connected to |
//! | `{"http": {"method", "path", "body"?}, "expect_status": N, "expect_body": JSON?}` | an HTTP request to the server |
//!
//! Any step may carry a `note` (ignored) and a `repeat` count: the step runs that many
//! times with `i` from 1, where the string `"$i"` stands for the number `i`, `"$i+K"` for
//! `i + K`, and `{i}` inside a string for `i` written out.
//!
//! Matching is exact JSON equality (objects need the same keys) except for these strings
//! in what is expected: `"$any"` matches any value, `"$capture:NAME"` matches any value and
//! remembers it, `"$ref:NAME"` must equal the value remembered. `"$ref:NAME"` also works in
//! what is sent.

use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use wskit_examples::{RawClient, Received, TestServer};

/// Starts a fresh server for one scenario.
pub(crate) type Start = fn() -> BoxFuture<'static, TestServer>;

/// Runs every scenario of the contract file at `path` (relative to the package root),
/// each against a server from `start`, and fails with the list of scenarios that failed,
/// each with its failing step.
pub(crate) async fn run_file(path: &str, start: Start) {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|error| panic!("cannot read {path}: {error}"));
    let contract: Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path} is no JSON: {error}"));
    let scenarios =
        contract["scenarios"].as_array().unwrap_or_else(|| panic!("{path} has no `scenarios` list"));
    assert!(!scenarios.is_empty(), "{path} has no scenarios");
    let mut failures = Vec::new();
    for scenario in scenarios {
        let name = scenario["name"].as_str().unwrap_or("(unnamed)").to_owned();
        let steps = scenario["steps"].as_array().cloned().unwrap_or_default();
        let at = Arc::new(Mutex::new(String::from("before the first step")));
        let server = start().await;
        let outcome = tokio::spawn(play(server.addr, steps, Arc::clone(&at))).await;
        server.stop().await;
        let failure = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(reason)) => reason,
            Err(panic) => panic_text(panic),
        };
        failures.push(format!("scenario {name:?}, {}:\n    {failure}", at.lock().unwrap()));
    }
    assert!(failures.is_empty(), "{path}: {} scenario(s) failed\n{}", failures.len(), failures.join("\n"));
}

fn panic_text(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
            .unwrap_or_else(|| "a panic".to_owned()),
        Err(error) => error.to_string(),
    }
}

/// A scenario's clients and what it captured.
struct Play {
    addr: SocketAddr,
    clients: HashMap<String, RawClient>,
    /// The path each client last connected to, for `reconnect`.
    paths: HashMap<String, String>,
    captures: HashMap<String, Value>,
}

async fn play(addr: SocketAddr, steps: Vec<Value>, at: Arc<Mutex<String>>) -> Result<(), String> {
    let mut play = Play { addr, clients: HashMap::new(), paths: HashMap::new(), captures: HashMap::new() };
    for (index, step) in steps.iter().enumerate() {
        let repeat = step.get("repeat").map_or(Some(1), Value::as_u64).ok_or("`repeat` must be a count")?;
        for i in 1..=repeat {
            let step = substitute(step, i);
            *at.lock().unwrap() = match repeat {
                1 => format!("step {} {step}", index + 1),
                _ => format!("step {} (repetition {i} of {repeat}) {step}", index + 1),
            };
            play.step(&step).await?;
        }
    }
    for (_, client) in play.clients.drain() {
        client.close().await;
    }
    Ok(())
}

impl Play {
    async fn step(&mut self, step: &Value) -> Result<(), String> {
        if let Some(request) = step.get("http") {
            return self.http(request, step).await;
        }
        let name =
            step["client"].as_str().ok_or("a step needs a `client` (or is an `http` step)")?.to_owned();
        if let Some(path) = step.get("connect") {
            let path = path.as_str().ok_or("`connect` takes a path")?;
            self.paths.insert(name.clone(), path.to_owned());
        }
        if step.get("connect").is_some() || step.get("reconnect").is_some() {
            if let Some(client) = self.clients.remove(&name) {
                client.close().await;
            }
            let path = self.paths.get(&name).ok_or(format!("{name} never connected"))?;
            let client = RawClient::connect(&format!("ws://{}{path}", self.addr)).await;
            self.clients.insert(name, client);
            return Ok(());
        }
        let client = self.clients.get_mut(&name).ok_or(format!("{name} is not connected"))?;
        if let Some(frame) = step.get("send") {
            client.send(resolve(frame, &self.captures)?).await;
        } else if let Some(expected) = step.get("expect") {
            let received = client.recv().await;
            matches(expected, &received, &mut self.captures, "frame")
                .map_err(|why| format!("{why}\n    received: {received}"))?;
        } else if step.get("expect_nothing").is_some() {
            let received = client.request(serde_json::json!({"type": "__heartbeat"})).await;
            if received["type"] != "__heartbeat_ack" {
                return Err(format!("expected nothing, received {received}"));
            }
        } else if let Some(code) = step.get("expect_close") {
            match client.next().await {
                Received::Close(closed, _) if Some(u64::from(closed)) == code.as_u64() => {}
                other => return Err(format!("expected a close with {code}, got {other:?}")),
            }
            self.clients.remove(&name);
        } else if step.get("disconnect").is_some() {
            let client = self.clients.remove(&name).expect("looked up above");
            client.close().await;
        } else {
            return Err("unknown step: it has none of connect, reconnect, send, expect, expect_nothing, expect_close, disconnect, http".into());
        }
        Ok(())
    }

    async fn http(&mut self, request: &Value, step: &Value) -> Result<(), String> {
        let method = request["method"].as_str().unwrap_or("GET");
        let path = request["path"].as_str().ok_or("`http` needs a `path`")?;
        let body = match request.get("body") {
            Some(Value::String(text)) => text.clone(),
            Some(body) => resolve(body, &self.captures)?.to_string(),
            None => String::new(),
        };
        let stream = tokio::net::TcpStream::connect(self.addr).await.map_err(|error| error.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|error| error.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| error.to_string())?;
        let response = sender.send_request(request).await.map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.map_err(|error| error.to_string())?.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        if let Some(expected) = step.get("expect_status") {
            if expected.as_u64() != Some(u64::from(status)) {
                return Err(format!("expected status {expected}, got {status} with {text}"));
            }
        }
        if let Some(expected) = step.get("expect_body") {
            let received: Value =
                serde_json::from_str(&text).map_err(|_| format!("the body is no JSON: {text}"))?;
            matches(expected, &received, &mut self.captures, "body")
                .map_err(|why| format!("{why}\n    received: {received}"))?;
        }
        Ok(())
    }
}

/// `step` with `$i`, `$i+K` and `{i}` replaced for repetition `i`.
fn substitute(step: &Value, i: u64) -> Value {
    match step {
        Value::String(text) if text == "$i" => Value::from(i),
        Value::String(text) => match text.strip_prefix("$i+").and_then(|k| k.parse::<u64>().ok()) {
            Some(k) => Value::from(i + k),
            None => Value::String(text.replace("{i}", &i.to_string())),
        },
        Value::Array(items) => Value::Array(items.iter().map(|item| substitute(item, i)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(key, value)| (key.clone(), substitute(value, i))).collect())
        }
        other => other.clone(),
    }
}

/// `value` with every `"$ref:NAME"` replaced by the captured value.
fn resolve(value: &Value, captures: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => match text.strip_prefix("$ref:") {
            Some(name) => captures.get(name).cloned().ok_or(format!("nothing captured as {name:?}"))?,
            None => value.clone(),
        },
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| resolve(item, captures)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| Ok((key.clone(), resolve(value, captures)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Whether `received` matches `expected` (see the module docs); the error names the
/// first place, as a path like `frame.payload.rev`, where they differ.
fn matches(
    expected: &Value,
    received: &Value,
    captures: &mut HashMap<String, Value>,
    at: &str,
) -> Result<(), String> {
    if let Value::String(text) = expected {
        if text == "$any" {
            return Ok(());
        }
        if let Some(name) = text.strip_prefix("$capture:") {
            captures.insert(name.to_owned(), received.clone());
            return Ok(());
        }
        if let Some(name) = text.strip_prefix("$ref:") {
            let captured = captures.get(name).ok_or(format!("{at}: nothing captured as {name:?}"))?;
            return match captured == received {
                true => Ok(()),
                false => Err(format!("{at}: expected {captured} (captured as {name:?}), got {received}")),
            };
        }
    }
    match (expected, received) {
        (Value::Object(expected), Value::Object(received)) => {
            for (key, value) in expected {
                let inner = format!("{at}.{key}");
                let other = received.get(key).ok_or(format!("{inner}: missing"))?;
                matches(value, other, captures, &inner)?;
            }
            match received.keys().find(|key| !expected.contains_key(*key)) {
                Some(key) => Err(format!("{at}.{key}: not expected")),
                None => Ok(()),
            }
        }
        (Value::Array(expected), Value::Array(received)) if expected.len() == received.len() => {
            let mut pairs = expected.iter().zip(received).enumerate();
            pairs.try_for_each(|(index, (expected, received))| {
                matches(expected, received, captures, &format!("{at}[{index}]"))
            })
        }
        _ if expected == received => Ok(()),
        _ => Err(format!("{at}: expected {expected}, got {received}")),
    }
}
