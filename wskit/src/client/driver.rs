//! The connection task: connect, run the socket, back off and reconnect, until stopped.

use super::connect::connect;
use super::resume::Resume;
use super::session::{self, End};
use super::shared::Shared;
use super::State;
use std::sync::Arc;
use url::Url;

/// Runs until `close()`, the last client handle is dropped, or the backoff gives up.
pub(crate) async fn run(shared: Arc<Shared>, url: Url) {
    let _finish = FinishOnExit(&shared);
    let backoff = shared.options.backoff;
    let mut resume = shared.options.resume.then(|| Resume::new(shared.options.max_pending));
    // Failed attempts since the last open socket.
    let mut failures = 0;
    let mut first = true;
    loop {
        if !first {
            let delay = backoff.delay(failures);
            tokio::select! {
                _ = shared.stop.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        first = false;
        let asked = resume.as_mut().map(Resume::ask);
        let attempt = tokio::select! {
            _ = shared.stop.cancelled() => break,
            attempt = connect(&shared.options, &url, asked.as_deref()) => attempt,
        };
        match attempt {
            Ok(socket) => {
                failures = 0;
                shared.opened();
                tracing::debug!(%url, "connected");
                if session::run(&shared, socket, resume.as_mut()).await == End::Stopped {
                    break;
                }
                let failed = shared.lost();
                if let Some(resume) = &mut resume {
                    resume.orphan(failed);
                }
            }
            Err(reason) => {
                failures += 1;
                tracing::warn!(%url, attempt = failures, %reason, "could not connect");
                if !backoff.allows(failures) {
                    tracing::warn!(%url, "giving up after {failures} failed connect attempts in a row");
                    break;
                }
                shared.advance(State::Reconnecting);
            }
        }
    }
}

/// Closes the client however the connection task ends, a panic or a runtime shutdown
/// included, so that nobody waits on a task that is gone.
struct FinishOnExit<'a>(&'a Shared);

impl Drop for FinishOnExit<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}
