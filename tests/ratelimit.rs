//! The token-bucket rate limiter as a server layer, over real sockets: bursts, refills,
//! per-type costs, keys, and the Redis store against a real Redis (REDIS_URL, default
//! redis://127.0.0.1:6379) shared by two server instances.

use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wskit::ratelimit::{Limit, OnFailure, RateLimiter, RedisStore};
use wskit::{message, router, Ctx, Error, Server};
use wskit_examples::{redis_url, unique_prefix, RawClient, TestServer};

#[message("PING")]
struct Ping;

#[message("POST")]
struct Post;

#[message("BULK")]
struct Bulk;

#[message("PONG")]
struct Pong;

#[message("GET", response = Pong)]
struct Get;

/// The connection's user, from the `x-user` header of the upgrade request.
#[derive(Default)]
struct Session {
    user: String,
}

struct App;

#[router(data = Session)]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<Session>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on]
    async fn post(&self, ctx: &mut Ctx<Session>, _: Post) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on]
    async fn bulk(&self, ctx: &mut Ctx<Session>, _: Bulk) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[rpc]
    async fn get(&self, _ctx: &mut Ctx<Session>, _: Get) -> Result<Pong, Error> {
        Ok(Pong)
    }
}

async fn start(limiter: RateLimiter<Session>) -> TestServer {
    let server = Server::with_data(App, |parts| Session {
        user: parts.headers.get("x-user").and_then(|user| user.to_str().ok()).unwrap_or_default().to_owned(),
    });
    TestServer::start(server.path("/ws").middleware(limiter)).await
}

async fn connect_as(server: &TestServer, user: &str) -> RawClient {
    let mut request = server.url("/ws").into_client_request().unwrap();
    request.headers_mut().insert("x-user", user.parse().unwrap());
    RawClient::connect_with(request).await
}

/// Sends a message of type `ty`; true if it was answered with PONG, false if it was
/// refused with RESOURCE_EXHAUSTED; panics on anything else.
async fn passes(client: &mut RawClient, ty: &str) -> bool {
    let answer = client.request(json!({"type": ty})).await;
    match answer["type"].as_str() {
        Some("PONG") => true,
        Some("ERROR") if answer["payload"]["code"] == "RESOURCE_EXHAUSTED" => false,
        _ => panic!("expected PONG or RESOURCE_EXHAUSTED, got {answer}"),
    }
}

/// The payload of the error frame answering a message of type `ty`.
async fn refusal(client: &mut RawClient, ty: &str) -> Value {
    let answer = client.request(json!({"type": ty})).await;
    assert_eq!(answer["type"], "ERROR", "expected an error frame, got {answer}");
    answer["payload"].clone()
}

fn retry_after_ms(error: &Value) -> u64 {
    error["retryAfterMs"].as_u64().unwrap_or_else(|| panic!("no retryAfterMs in {error}"))
}

#[tokio::test]
async fn a_burst_up_to_the_capacity_passes_then_the_client_must_wait() {
    let server = start(RateLimiter::new(Limit::new(5, 1.0))).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    for _ in 0..5 {
        assert!(passes(&mut client, "PING").await);
    }
    let error = refusal(&mut client, "PING").await;
    assert_eq!(error["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(error["retryable"], true);
    let wait = retry_after_ms(&error);
    assert!(wait > 0 && wait <= 1000, "one token refills within 1000 ms, told to wait {wait} ms");
    assert_eq!(error["details"]["capacity"], 5);
    assert_eq!(error["details"]["cost"], 1);
    assert_eq!(error["details"]["type"], "PING");

    // By default each connection has its own bucket.
    let mut other = RawClient::connect(&server.url("/ws")).await;
    assert!(passes(&mut other, "PING").await);
}

#[tokio::test]
async fn tokens_refill_by_the_time_the_client_was_told_to_wait() {
    // One token every 25 ms.
    let server = start(RateLimiter::new(Limit::new(2, 40.0))).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    for _round in 0..3 {
        while passes(&mut client, "PING").await {}
        let error = refusal(&mut client, "PING").await;
        let wait = retry_after_ms(&error);
        assert!(wait > 0 && wait <= 25, "told to wait {wait} ms for a token that takes 25 ms");
        tokio::time::sleep(Duration::from_millis(wait)).await;
        assert!(passes(&mut client, "PING").await, "a token should be back after {wait} ms");
    }
}

/// Checks that under `limiter` (3 tokens, practically no refill, POST costs 2) each type
/// takes its own cost, and a refused message takes nothing.
async fn check_costs(limiter: RateLimiter<Session>) {
    let server = start(limiter).await;
    let mut client = connect_as(&server, "alice").await;
    assert!(passes(&mut client, "POST").await);
    let error = refusal(&mut client, "POST").await;
    assert_eq!(error["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(error["details"]["cost"], 2);
    // One token is missing, less what trickled in since the first POST: about 100 s at
    // 0.01 a second.
    let wait = retry_after_ms(&error);
    assert!((99_000..=100_000).contains(&wait), "told to wait {wait} ms for about one token");
    // The refused POST took nothing: the token left pays for one PING.
    assert!(passes(&mut client, "PING").await);
    assert!(!passes(&mut client, "PING").await);
}

fn costly() -> Limit {
    Limit::new(3, 0.01).cost("POST", 2)
}

#[tokio::test]
async fn message_types_take_their_own_cost() {
    check_costs(RateLimiter::new(costly())).await;
}

#[tokio::test]
async fn rpc_requests_are_refused_with_rpc_error_and_their_correlation_id() {
    let server = start(RateLimiter::new(Limit::new(1, 0.01))).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let reply = client.request(json!({"type": "GET", "meta": {"correlationId": "a"}})).await;
    assert_eq!(reply["type"], "PONG");
    let refusal = client.request(json!({"type": "GET", "meta": {"correlationId": "b"}})).await;
    assert_eq!(refusal["type"], "RPC_ERROR");
    assert_eq!(refusal["meta"]["correlationId"], "b");
    assert_eq!(refusal["payload"]["code"], "RESOURCE_EXHAUSTED");
}

#[tokio::test]
async fn a_cost_above_the_capacity_is_a_failed_precondition_that_takes_nothing() {
    let server = start(RateLimiter::new(Limit::new(3, 0.01).cost("BULK", 10))).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let error = refusal(&mut client, "BULK").await;
    assert_eq!(error["code"], "FAILED_PRECONDITION");
    assert_eq!(error["retryable"], true);
    assert_eq!(error["retryAfterMs"], Value::Null);
    assert_eq!(error["details"], json!({"type": "BULK", "cost": 10, "capacity": 3}));
    for _ in 0..3 {
        assert!(passes(&mut client, "PING").await);
    }
}

#[tokio::test]
async fn connections_of_one_user_share_a_bucket() {
    let limiter = RateLimiter::new(Limit::new(2, 0.01)).per_user(|session: &Session, _| session.user.clone());
    let server = start(limiter).await;
    let mut alice_one = connect_as(&server, "alice").await;
    let mut alice_two = connect_as(&server, "alice").await;
    let mut bob = connect_as(&server, "bob").await;
    assert!(passes(&mut alice_one, "PING").await);
    assert!(passes(&mut alice_two, "PING").await);
    assert!(!passes(&mut alice_one, "PING").await);
    assert!(!passes(&mut alice_two, "POST").await);
    assert!(passes(&mut bob, "PING").await);
    assert!(passes(&mut bob, "PING").await);
}

#[tokio::test]
async fn per_user_and_type_gives_each_type_its_own_bucket() {
    let limiter =
        RateLimiter::new(Limit::new(1, 0.01)).per_user_and_type(|session: &Session, _| session.user.clone());
    let server = start(limiter).await;
    let mut alice = connect_as(&server, "alice").await;
    let mut alice_again = connect_as(&server, "alice").await;
    assert!(passes(&mut alice, "PING").await);
    assert!(passes(&mut alice, "POST").await);
    assert!(!passes(&mut alice_again, "PING").await);
    assert!(!passes(&mut alice_again, "POST").await);
}

#[tokio::test]
async fn a_custom_key_of_none_leaves_a_message_unlimited() {
    let limiter = RateLimiter::new(Limit::new(1, 0.01))
        .key_by(|_ctx, incoming| (incoming.message_type() == "POST").then(|| "posts".to_owned()));
    let server = start(limiter).await;
    let mut one = RawClient::connect(&server.url("/ws")).await;
    let mut two = RawClient::connect(&server.url("/ws")).await;
    for _ in 0..10 {
        assert!(passes(&mut one, "PING").await);
    }
    assert!(passes(&mut one, "POST").await);
    assert!(!passes(&mut two, "POST").await, "the key \"posts\" is shared by every connection");
}

/// A limiter of every connection of user `alice`, buckets in the Redis at `url`.
fn redis_limiter(url: &str, prefix: &str, limit: Limit) -> RateLimiter<Session> {
    RateLimiter::new(limit)
        .store(RedisStore::open(url).unwrap().prefix(prefix))
        .per_user(|session: &Session, _| session.user.clone())
}

#[tokio::test]
async fn the_redis_store_takes_the_same_costs_as_the_memory_store() {
    let Some(url) = redis_url().await else { return };
    check_costs(redis_limiter(&url, &unique_prefix("ratelimit-costs"), costly())).await;
}

#[tokio::test]
async fn instances_sharing_a_redis_never_let_more_than_the_capacity_through() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("ratelimit-shared");
    // Practically no refill during the test: exactly the capacity may pass.
    let limit = || Limit::new(10, 0.001);
    let one = start(redis_limiter(&url, &prefix, limit())).await;
    let two = start(redis_limiter(&url, &prefix, limit())).await;
    let mut clients = Vec::new();
    for server in [&one, &two] {
        for _ in 0..4 {
            clients.push(connect_as(server, "alice").await);
        }
    }
    let answers = futures_util::future::join_all(clients.iter_mut().map(|client| async move {
        client.send_batch((0..5).map(|_| json!({"type": "PING"}))).await;
        let mut passed = 0;
        for _ in 0..5 {
            let answer = client.recv().await;
            match answer["type"].as_str() {
                Some("PONG") => passed += 1,
                _ => assert_eq!(answer["payload"]["code"], "RESOURCE_EXHAUSTED", "{answer}"),
            }
        }
        passed
    }))
    .await;
    assert_eq!(answers.iter().sum::<usize>(), 10, "passed per connection: {answers:?}");

    let mut bob = connect_as(&two, "bob").await;
    assert!(passes(&mut bob, "PING").await, "another user has another bucket");
}

/// The milliseconds `key` has left to live in the Redis at `url`.
async fn pttl(url: &str, key: &str) -> i64 {
    let mut redis = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PTTL").arg(key).query_async(&mut redis).await.unwrap()
}

#[tokio::test]
async fn redis_buckets_expire_once_they_would_be_full_again() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("ratelimit-ttl");
    // 4 tokens at 2 a second: full again 2 s after the last take.
    let server = start(redis_limiter(&url, &prefix, Limit::new(4, 2.0))).await;
    let mut alice = connect_as(&server, "alice").await;
    assert!(passes(&mut alice, "PING").await);
    let ttl = pttl(&url, &format!("{prefix}alice")).await;
    assert!(ttl > 0 && ttl <= 2000, "PTTL {ttl} ms, expected up to the 2000 ms of a full refill");

    let prefix = unique_prefix("ratelimit-ttl-set");
    let store = RedisStore::open(&url).unwrap().prefix(&prefix).ttl(Duration::from_secs(60));
    let server =
        start(RateLimiter::new(Limit::new(4, 2.0)).store(store).per_user(|s: &Session, _| s.user.clone()))
            .await;
    let mut alice = connect_as(&server, "alice").await;
    assert!(passes(&mut alice, "PING").await);
    let ttl = pttl(&url, &format!("{prefix}alice")).await;
    assert!(ttl > 2000 && ttl <= 60_000, "PTTL {ttl} ms, expected the 60 s set");
}

#[tokio::test]
async fn without_redis_messages_pass_or_are_refused_as_configured() {
    // Nothing listens on port 1.
    let unreachable = || RedisStore::open("redis://127.0.0.1:1").unwrap().timeout(Duration::from_millis(500));
    let open = start(RateLimiter::new(Limit::new(1, 0.01)).store(unreachable())).await;
    let mut client = RawClient::connect(&open.url("/ws")).await;
    for _ in 0..3 {
        assert!(passes(&mut client, "PING").await);
    }

    let closed =
        start(RateLimiter::new(Limit::new(1, 0.01)).store(unreachable().on_failure(OnFailure::Closed))).await;
    let mut client = RawClient::connect(&closed.url("/ws")).await;
    let error = refusal(&mut client, "PING").await;
    assert_eq!(error["code"], "UNAVAILABLE");
    assert_eq!(error["retryable"], true);
}
