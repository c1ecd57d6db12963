//! What the server records about itself through the `metrics` facade (the `metrics`
//! feature): one function per event, called where the event happens, and compiled to
//! nothing without the feature. The names, kinds and labels are listed in
//! [`crate::metrics`].
//!
//! Labels take values from bounded sets only: the router's own type strings (a type no
//! handler takes is `unrouted`), error codes, limit kinds and refusal reasons; never a
//! topic, a user or anything else a client chooses.

use crate::limits::LimitKind;
#[cfg(feature = "metrics")]
use metrics::{counter, gauge, histogram};
use std::time::Duration;

/// How a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Its handler returned `Ok`.
    Ok,
    /// It was refused or its handler returned an error (the error frame's code is counted
    /// apart).
    Error,
    /// Its handler panicked.
    Panic,
}

impl Outcome {
    /// The outcome of a handler that returned `result` (`Err`: it panicked).
    pub(crate) fn of<T, E, P>(result: &Result<Result<T, E>, P>) -> Self {
        match result {
            Ok(Ok(_)) => Outcome::Ok,
            Ok(Err(_)) => Outcome::Error,
            Err(_) => Outcome::Panic,
        }
    }

    /// The outcome's label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Panic => "panic",
        }
    }
}

/// A WebSocket connection opened.
pub(crate) fn connection_opened() {
    #[cfg(feature = "metrics")]
    {
        counter!("wskit_connections_total").increment(1);
        gauge!("wskit_connections_open").increment(1.0);
    }
}

/// A WebSocket connection closed, with `code`.
pub(crate) fn connection_closed(code: u16) {
    #[cfg(feature = "metrics")]
    {
        gauge!("wskit_connections_open").decrement(1.0);
        counter!("wskit_connections_closed_total", "code" => code.to_string()).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = code;
}

/// An upgrade request answered with an error status instead of 101; `reason` is one of a
/// fixed set (`origin`, `shutdown`, `connections`, `authentication`, `on_upgrade`, ...).
#[cfg(feature = "server")]
pub(crate) fn upgrade_refused(reason: &'static str) {
    #[cfg(feature = "metrics")]
    counter!("wskit_upgrades_refused_total", "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// A message of type `ty` (the router's own copy, `None` for types no handler takes)
/// handled in `elapsed`, with `outcome`.
pub(crate) fn message(ty: Option<&'static str>, outcome: Outcome, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        let ty = ty.unwrap_or("unrouted");
        counter!("wskit_messages_total", "type" => ty, "outcome" => outcome.as_str()).increment(1);
        histogram!("wskit_handler_seconds", "type" => ty).record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (ty, outcome, elapsed);
}

/// Whether handler times are measured: a clock read per message, only with the feature.
pub(crate) const TIMES_HANDLERS: bool = cfg!(feature = "metrics");

/// An error frame (`ERROR` or `RPC_ERROR`) sent with `code`.
pub(crate) fn error_frame(code: &str) {
    #[cfg(feature = "metrics")]
    counter!("wskit_error_frames_total", "code" => code.to_owned()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = code;
}

/// A limit reached ([`Limits::on_exceeded`](crate::Limits::on_exceeded) is told too).
pub(crate) fn limit_exceeded(kind: LimitKind) {
    #[cfg(feature = "metrics")]
    counter!("wskit_limits_exceeded_total", "kind" => kind.as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// A publish delivered to `delivered` subscribers of this instance.
pub(crate) fn published(delivered: usize) {
    #[cfg(feature = "metrics")]
    {
        counter!("wskit_publishes_total").increment(1);
        counter!("wskit_deliveries_total").increment(delivered as u64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = delivered;
}

/// The frames a connection's outbound queue held when its host took them for a write.
pub(crate) fn outbound_queue(frames: usize) {
    #[cfg(feature = "metrics")]
    histogram!("wskit_outbound_queue_frames").record(frames as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = frames;
}

/// The Redis bus connection came up (`true`) or went down.
#[cfg(feature = "redis")]
pub(crate) fn bus_connected(connected: bool) {
    #[cfg(feature = "metrics")]
    {
        gauge!("wskit_bus_connected").set(if connected { 1.0 } else { 0.0 });
        if !connected {
            counter!("wskit_bus_disconnects_total").increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = connected;
}

/// A connection that asked for session resume got its session: `new`, `resumed`, or the
/// reason of a refusal.
#[cfg(feature = "server")]
pub(crate) fn session(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    counter!("wskit_resume_sessions_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// The server now keeps `kept` sessions of ended connections.
#[cfg(feature = "server")]
pub(crate) fn sessions_kept(kept: usize) {
    #[cfg(feature = "metrics")]
    gauge!("wskit_resume_sessions_kept").set(kept as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = kept;
}
