//! [`Call`]: a request in flight, yielding its progress values and then its response.

use super::pending::Outcome;
use super::shared::Shared;
use super::ClientError;
use super::ServerError;
use crate::{Code, Message, Rpc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A request in flight, from [`Client::call`](super::Client::call): read its progress
/// values (decoded as `P`) with [`progress`](Self::progress), then its reply with
/// [`response`](Self::response). The request's timeout covers both.
///
/// Dropping a `Call` before its reply arrived cancels the request: the client sends
/// `$ws:abort` (or withdraws the frame if it still waits in the offline queue).
#[must_use = "a request is cancelled when its `Call` is dropped"]
pub struct Call<R: Rpc, P = Value> {
    shared: Arc<Shared>,
    id: Arc<str>,
    outcome: oneshot::Receiver<Outcome>,
    progress: Option<mpsc::Receiver<Value>>,
    deadline: Instant,
    timeout: Duration,
    finished: bool,
    types: PhantomData<fn() -> (R, P)>,
}

impl<R: Rpc, P: DeserializeOwned> Call<R, P> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: Arc<str>,
        outcome: oneshot::Receiver<Outcome>,
        progress: Option<mpsc::Receiver<Value>>,
        deadline: Instant,
        timeout: Duration,
    ) -> Self {
        Call { shared, id, outcome, progress, deadline, timeout, finished: false, types: PhantomData }
    }

    /// The request's `meta.correlationId`.
    pub fn correlation_id(&self) -> &str {
        &self.id
    }

    /// The next progress value, in the order the server sent them; `None` once the reply
    /// (or an error, or the timeout) has come. A value that does not decode as `P` is an
    /// error item; the request goes on.
    pub async fn progress(&mut self) -> Option<Result<P, ClientError>> {
        let progress = self.progress.as_mut()?;
        let value = tokio::time::timeout_at(self.deadline, progress.recv()).await.ok()??;
        Some(serde_json::from_value(value).map_err(|error| ClientError::Serde {
            message_type: crate::protocol::PROGRESS.to_owned(),
            reason: error.to_string(),
        }))
    }

    /// Waits for the reply: the response, decoded, or the server's error, a timeout, or a
    /// connection-closed error. Progress values not read yet are discarded.
    pub async fn response(mut self) -> Result<R::Response, ClientError> {
        let outcome = match tokio::time::timeout_at(self.deadline, &mut self.outcome).await {
            Ok(Ok(outcome)) => outcome,
            // The connection task ended without an outcome: the client is gone.
            Ok(Err(_)) => Err(ClientError::ConnectionClosed),
            Err(_) => return Err(ClientError::Timeout { after: self.timeout }),
        };
        self.finished = true;
        let frame = outcome?;
        if frame.is_error() {
            let error = ServerError::from_payload(frame.payload.as_ref());
            return Err(error_reply(error, self.deadline, self.timeout));
        }
        let expected = <R::Response as Message>::TYPE;
        if frame.ty != expected {
            return Err(ClientError::UnexpectedReply { expected, received: frame.ty });
        }
        frame.decode()
    }
}

/// What an error reply ends a request due at `deadline` with. The server's deadline is
/// the time this client gave the request (`meta.timeoutMs`), so its DEADLINE_EXCEEDED,
/// once that time has passed, is this client's own timeout noticed by the server first:
/// [`ClientError::Timeout`], as the client's timer would have said a moment later.
fn error_reply(error: ServerError, deadline: Instant, timeout: Duration) -> ClientError {
    if *error.code() == Code::DeadlineExceeded && Instant::now() >= deadline {
        return ClientError::Timeout { after: timeout };
    }
    ClientError::Server(error)
}

impl<R: Rpc, P> Drop for Call<R, P> {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.cancel_request(&self.id);
        }
    }
}

impl<R: Rpc, P> std::fmt::Debug for Call<R, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("type", &R::TYPE).field("correlation_id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(code: &str) -> ServerError {
        ServerError::from_payload(Some(&json!({"code": code, "message": "m"})))
    }

    #[test]
    fn the_servers_deadline_exceeded_past_the_clients_deadline_is_the_clients_timeout() {
        let timeout = Duration::from_millis(150);
        let passed = Instant::now();
        let ahead = passed + Duration::from_secs(3600);
        assert!(matches!(
            error_reply(reply("DEADLINE_EXCEEDED"), passed, timeout),
            ClientError::Timeout { after } if after == timeout
        ));
        // Before the client's deadline it is the server's own (a shorter server limit).
        let early = error_reply(reply("DEADLINE_EXCEEDED"), ahead, timeout);
        assert!(
            matches!(&early, ClientError::Server(error) if *error.code() == Code::DeadlineExceeded),
            "{early}"
        );
        let other = error_reply(reply("NOT_FOUND"), passed, timeout);
        assert!(matches!(&other, ClientError::Server(error) if *error.code() == Code::NotFound), "{other}");
    }
}
