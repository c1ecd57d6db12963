//! Prometheus metrics of the server (the `metrics` feature).
//!
//! wskit records through the [`metrics`](https://docs.rs/metrics) facade, so any recorder
//! the application installs receives them. [`Server::metrics`](crate::Server::metrics)
//! (and [`Routes::metrics`](crate::Routes::metrics)) serve them in the Prometheus text
//! format at a path of the server, installing a Prometheus recorder
//! (`metrics-exporter-prometheus`, the facade's own exporter) the first time; [`render`]
//! gives the same text to serve elsewhere. An application that installed a recorder of
//! its own before serves it with its own exporter: wskit's metrics are in it.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `wskit_connections_open` | gauge | | WebSocket connections open now |
//! | `wskit_connections_total` | counter | | connections opened |
//! | `wskit_connections_closed_total` | counter | `code` | connections closed, by close code |
//! | `wskit_upgrades_refused_total` | counter | `reason` | upgrade requests (or TCP connections) refused: `handshake`, `origin`, `shutdown`, `connections`, `on_upgrade`, `authentication`, `pending_handshakes`, `file_descriptors` |
//! | `wskit_messages_total` | counter | `type`, `outcome` | messages handled, by type (`unrouted` for types no handler takes) and outcome (`ok`, `error`, `panic`) |
//! | `wskit_handler_seconds` | histogram | `type` | time from a message's dispatch to its handler's end, middleware included |
//! | `wskit_error_frames_total` | counter | `code` | `ERROR` and `RPC_ERROR` frames sent |
//! | `wskit_outbound_queue_frames` | histogram | | frames a connection's outbound queue held when written out |
//! | `wskit_limits_exceeded_total` | counter | `kind` | limits reached ([`LimitKind::as_str`](crate::LimitKind::as_str)): slow consumers closed (`outbound_queue`, `outbound_bytes`), rate-limit refusals (`message_rate`), ... |
//! | `wskit_publishes_total` | counter | | publishes delivered on this instance |
//! | `wskit_deliveries_total` | counter | | frames those publishes queued for subscribers |
//! | `wskit_bus_connected` | gauge | | 1 while the Redis bus is connected, 0 while it reconnects |
//! | `wskit_bus_disconnects_total` | counter | | times the Redis bus connection dropped |
//! | `wskit_resume_sessions_total` | counter | `outcome` | sessions of connections that asked for [resume](crate::resume): `new`, `resumed`, or the refusal's reason (`expired`, `overflowed`, `invalid`, `denied`, `unavailable`) |
//! | `wskit_resume_sessions_kept` | gauge | | sessions kept after their connection ended, waiting to be resumed |
//!
//! Labels only take values from bounded sets (the router's type strings, error codes,
//! close codes, limit kinds, refusal reasons), never a topic, a user or text a client
//! chose.

use crate::server::Body;
use http::{header, Response, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// The buckets of the histograms, in seconds for handler times (10 µs to 10 s) and in
/// frames for queue depths alike: both span several orders of magnitude.
const BUCKETS: &[f64] = &[
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0,
    1000.0,
];

/// The recorder wskit installed, or why it could not.
static PROMETHEUS: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs wskit's Prometheus recorder as the process's `metrics` recorder, once; later
/// calls return the same outcome. Fails if the application installed another recorder
/// first.
pub fn install() -> Result<(), String> {
    handle().map(drop)
}

fn handle() -> Result<&'static PrometheusHandle, String> {
    let installed = PROMETHEUS.get_or_init(|| {
        let builder = PrometheusBuilder::new().set_buckets(BUCKETS).map_err(|error| error.to_string())?;
        builder.install_recorder().map_err(|error| {
            format!("wskit could not install its Prometheus recorder ({error}); serve the application's own")
        })
    });
    installed.as_ref().map_err(Clone::clone)
}

/// The metrics in the Prometheus text format, installing the recorder if needed.
pub fn render() -> Result<String, String> {
    let handle = handle()?;
    // Summaries and idle metrics are kept up to date at each scrape rather than by a thread.
    handle.run_upkeep();
    Ok(handle.render())
}

/// The answer to a scrape: 200 with the text format, or 500 saying why there is none.
pub(crate) fn response() -> Response<Body> {
    let (status, text) = match render() {
        Ok(text) => (StatusCode::OK, text),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error),
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}
