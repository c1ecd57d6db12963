//! What happens to a panic in application code that wskit runs: a handler, a hook, a
//! middleware layer or the authenticator. The panic is caught ([`catch`]), the process's
//! panic hook skipped for it ([`hook`]), and it is logged at most once per [`Site`],
//! message type and [`INTERVAL`](log::INTERVAL), with the count of those not logged
//! ([`report`]), so that a client sending panicking messages cannot make the server spend
//! more on its logs than on its answers.

mod hook;
mod log;

pub(crate) use hook::{catch, catch_sync};
pub(crate) use log::{NO_TYPE, UNROUTED};

use crate::connection::lock;
use crate::error::panic_message;
use crate::time::Instant;
use log::PanicLog;
use std::any::Any;
use std::sync::{LazyLock, Mutex};

/// Where a caught panic happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Site {
    /// The `#[on_open]` hook.
    OnOpen,
    /// A message's handler or a middleware layer before it.
    Message,
    /// The `#[on_error]` hook.
    OnError,
    /// The `#[on_close]` hook.
    OnClose,
    /// The server's authenticator.
    #[cfg(feature = "server")]
    Authenticator,
    /// The hook of [`Limits::on_exceeded`](crate::Limits::on_exceeded).
    OnExceeded,
    /// The hook of [`Server::on_upgrade`](crate::Server::on_upgrade).
    #[cfg(feature = "server")]
    OnUpgrade,
    /// The hook of [`Server::on_stale`](crate::Server::on_stale).
    OnStale,
    /// The hook of [`Hub::on_broadcast`](crate::Hub::on_broadcast).
    OnBroadcast,
}

impl Site {
    fn as_str(self) -> &'static str {
        match self {
            Site::OnOpen => "on_open",
            Site::Message => "message handler",
            Site::OnError => "on_error",
            Site::OnClose => "on_close",
            #[cfg(feature = "server")]
            Site::Authenticator => "authenticator",
            Site::OnExceeded => "on_exceeded",
            #[cfg(feature = "server")]
            Site::OnUpgrade => "on_upgrade",
            Site::OnStale => "on_stale",
            Site::OnBroadcast => "on_broadcast",
        }
    }
}

/// The panics of the whole process: a flood from many connections is one flood.
static PANICS: LazyLock<Mutex<PanicLog>> =
    LazyLock::new(|| Mutex::new(PanicLog::new(log::INTERVAL, log::CAPACITY)));

/// Runs the application's hook `hook` of `site`; a panic in it is caught and logged, and
/// gives `None`.
pub(crate) fn guard<T>(site: Site, quiet: bool, hook: impl FnOnce() -> T) -> Option<T> {
    match catch_sync(hook, quiet) {
        Ok(value) => Some(value),
        Err(panic) => {
            report(&*panic, site, NO_TYPE);
            None
        }
    }
}

/// Logs a caught `panic` of `site` while handling a message of type `message_type`
/// ([`NO_TYPE`] if none), unless one of the same site and type was logged less than
/// [`INTERVAL`](log::INTERVAL) ago: then it is only counted, and the next line says how
/// many were left out (`suppressed`).
pub(crate) fn report(panic: &(dyn Any + Send), site: Site, message_type: &'static str) {
    let Some(suppressed) = lock(&PANICS).record((site, message_type), Instant::now()) else {
        return;
    };
    tracing::error!(
        site = site.as_str(),
        message_type,
        panic = panic_message(panic),
        suppressed,
        "caught a panic"
    );
}
