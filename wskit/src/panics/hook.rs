//! Keeps the process's panic hook out of panics that wskit catches in handlers and hooks.
//!
//! The default hook prints every panic to stderr, and with `RUST_BACKTRACE` set captures
//! and prints a backtrace: far more work than the panic itself, for a panic wskit logs
//! (rate-limited) and answers anyway. So the first time wskit catches panics it wraps the
//! process's hook once: while a thread polls a handler under [`catch`], the wrapper
//! returns at once; any other panic goes to the wrapped hook unchanged.
//!
//! Where a panic aborts (`panic = "abort"`, and wasm32) nothing is caught: the hook is
//! left alone, so that the panic's message still reaches it before the process or
//! instance ends.

use futures_util::FutureExt;
use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

thread_local! {
    /// Whether this thread is polling a handler whose panics wskit catches and logs.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `future`, catching a panic in it. With `quiet`, the process's panic hook is
/// skipped for that panic.
pub(crate) async fn catch<F: Future>(future: F, quiet: bool) -> Result<F::Output, Box<dyn Any + Send>> {
    let quiet = quiet && cfg!(panic = "unwind");
    if quiet {
        install();
    }
    let mut future = std::pin::pin!(AssertUnwindSafe(future).catch_unwind());
    // The flag is set for each poll only: between polls this thread runs other tasks,
    // whose panics are none of wskit's business.
    std::future::poll_fn(|cx| {
        let _quiet = Quiet::enter(quiet);
        future.as_mut().poll(cx)
    })
    .await
}

/// Runs `f`, catching a panic in it. With `quiet`, the process's panic hook is skipped
/// for that panic.
pub(crate) fn catch_sync<T>(f: impl FnOnce() -> T, quiet: bool) -> Result<T, Box<dyn Any + Send>> {
    let quiet = quiet && cfg!(panic = "unwind");
    if quiet {
        install();
    }
    let _quiet = Quiet::enter(quiet);
    std::panic::catch_unwind(AssertUnwindSafe(f))
}

/// Wraps the process's panic hook, once.
fn install() {
    static INSTALL: Once = Once::new();
    // The hook cannot be replaced while this thread unwinds (a handler run from a `Drop`
    // during a panic); a later call installs it.
    if std::thread::panicking() {
        return;
    }
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A thread being torn down has no flag left: its panics are not ours.
            if !QUIET.try_with(Cell::get).unwrap_or(false) {
                previous(info);
            }
        }));
    });
}

/// Sets this thread's flag while it lives, and puts back the previous value when dropped,
/// also when a panic unwinds through it; nested handlers (a [`TestConnection`] driven
/// inside a handler) restore their caller's flag.
///
/// [`TestConnection`]: crate::testing::TestConnection
struct Quiet {
    previous: bool,
}

impl Quiet {
    fn enter(quiet: bool) -> Self {
        Quiet { previous: QUIET.replace(quiet) }
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.set(self.previous);
    }
}

#[cfg(all(test, panic = "unwind"))]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;
    use std::task::{Context, Poll};

    /// Polls `future` once.
    fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
        let mut future = std::pin::pin!(future);
        future.as_mut().poll(&mut Context::from_waker(noop_waker_ref()))
    }

    #[test]
    fn the_flag_is_set_only_while_the_handler_is_polled() {
        let seen = Cell::new(None);
        let handler = async {
            seen.set(Some(QUIET.get()));
            std::future::pending::<()>().await;
        };
        assert!(poll_once(catch(handler, true)).is_pending());
        assert_eq!(seen.get(), Some(true));
        assert!(!QUIET.get());
    }

    #[test]
    fn a_panic_puts_the_flag_back() {
        let outcome = poll_once(catch(async { panic!("boom") }, true));
        let Poll::Ready(Err(panic)) = outcome else { panic!("the panic was not caught") };
        assert_eq!(crate::error::panic_message(&*panic), "boom");
        assert!(!QUIET.get());
        assert!(catch_sync(|| panic!("boom"), true).is_err());
        assert!(!QUIET.get());
    }

    #[test]
    fn a_loud_handler_inside_a_quiet_one_restores_its_flag() {
        let seen = Cell::new(None);
        let inner = async {
            seen.set(Some(QUIET.get()));
        };
        let outer = async {
            assert!(catch(inner, false).await.is_ok());
            QUIET.get()
        };
        assert!(matches!(poll_once(catch(outer, true)), Poll::Ready(Ok(true))));
        assert_eq!(seen.get(), Some(false));
    }
}
