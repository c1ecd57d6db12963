//! The accept loop's answers when the server cannot take a connection: [`refuse`] a
//! connection with 503 instead of leaving its client waiting, and a [`Reserve`]
//! descriptor that makes refusing possible even when the process has none left.

use std::io::{self, Read, Write};
use tokio::net::{TcpListener, TcpStream};

/// The answer to a connection the server will not serve. Its request is never read, so
/// `Connection: close` tells the client not to send another on this connection.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    content-type: text/plain; charset=utf-8\r\n\
    content-length: 48\r\n\
    connection: close\r\n\
    \r\n\
    the server is at its connection limit; try later";

/// Input read and thrown away before a refused connection is closed.
const DRAIN: usize = 8 * 1024;

/// Answers `stream` with 503 and `Connection: close` and closes it, without reading its
/// request or spawning a task: refusing costs a few system calls and no memory, and the
/// client learns at once to come back later.
pub(super) fn refuse(stream: TcpStream) {
    // Without the runtime's registration, the writes and reads below are plain
    // non-blocking system calls: a fresh registration would report the socket as not yet
    // writable and refuse to try.
    let Ok(mut stream) = stream.into_std() else { return };
    // A new socket's send buffer is empty, so the answer fits in one write; a client that
    // cannot take even that is not waited for.
    let _ = stream.write(REFUSAL);
    // Closing a socket with unread input resets the connection, and some clients then
    // lose the answer: read what has arrived so far, so that the close is a plain FIN.
    let mut buffer = [0u8; 1024];
    let mut drained = 0;
    while drained < DRAIN {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => drained += read,
        }
    }
}

/// A file descriptor held in reserve for when the process runs out of them.
///
/// When `accept` fails for want of a descriptor, the connection it would have returned
/// stays in the kernel's backlog, and its client waits without an answer until a
/// descriptor is free again, however long that takes. Giving up the reserve lets the
/// server accept that connection, refuse it with 503 and take the reserve back: the
/// client gets its answer at once and the server keeps the descriptors it serves with.
///
/// This is written here because the accept loops of the crates that would otherwise
/// provide it (axum's `serve`, `tk-listen`) sleep and retry on such errors, which is the
/// stall this avoids.
pub(super) struct Reserve {
    #[cfg(unix)]
    spare: Option<std::fs::File>,
    #[cfg(unix)]
    warning: Throttle,
}

impl Reserve {
    /// Takes the reserve descriptor (on Unix; elsewhere there is none and failed accepts
    /// are only retried).
    pub(super) fn new() -> Self {
        Reserve {
            #[cfg(unix)]
            spare: spare(),
            #[cfg(unix)]
            warning: Throttle::default(),
        }
    }

    /// Handles the failure `error` of accepting on `listener`. When the process or the
    /// system is out of file descriptors, frees the reserve, accepts the waiting
    /// connection, refuses it with 503 and takes the reserve back.
    #[cfg(unix)]
    pub(super) fn shed(&mut self, listener: &TcpListener, error: &io::Error) -> Shed {
        use futures_util::FutureExt;

        if !matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
            return Shed::Failed;
        }
        drop(self.spare.take());
        // `accept` fails for want of a descriptor before it looks for a connection, so
        // there may be none waiting. This accept does not wait for one: when none is
        // there, it has seen the listener idle, and the next accept waits for a client.
        let shed = match listener.accept().now_or_never() {
            Some(Ok((stream, _))) => {
                refuse(stream);
                Shed::Refused
            }
            None => Shed::NoneWaiting,
            // Another thread took the freed descriptor first.
            Some(Err(_)) => Shed::Failed,
        };
        // If another thread took the freed descriptor, the reserve is taken back at a
        // later failure.
        self.spare = spare();
        if let Shed::Refused = shed {
            self.warning.refused(error);
        }
        shed
    }

    /// Elsewhere than on Unix there is no reserve: every failure is left to the caller.
    #[cfg(not(unix))]
    pub(super) fn shed(&mut self, _listener: &TcpListener, _error: &io::Error) -> Shed {
        Shed::Failed
    }
}

/// What [`Reserve::shed`] did about a failed accept.
pub(super) enum Shed {
    /// A waiting connection was answered 503 and closed.
    Refused,
    /// No connection was waiting: the failure only said that no descriptor was free.
    NoneWaiting,
    /// The failure was not for want of descriptors, or none could be freed: the caller
    /// backs off before it accepts again.
    Failed,
}

/// Opens the reserve descriptor; `None` when the process is out of them too.
#[cfg(unix)]
fn spare() -> Option<std::fs::File> {
    match std::fs::File::open("/dev/null") {
        Ok(file) => Some(file),
        Err(error) => {
            tracing::debug!(%error, "could not open /dev/null as the reserve descriptor");
            None
        }
    }
}

/// How often, at most, the server warns that it refuses connections for want of
/// descriptors: once a refusal starts, it tends to repeat for every new client.
#[cfg(unix)]
const WARNING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Warns about refused connections at most once per [`WARNING_INTERVAL`], with the count
/// of those refused since the last warning.
#[cfg(unix)]
#[derive(Default)]
struct Throttle {
    last: Option<std::time::Instant>,
    refused: u64,
}

#[cfg(unix)]
impl Throttle {
    fn refused(&mut self, error: &io::Error) {
        self.refused += 1;
        let now = std::time::Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < WARNING_INTERVAL) {
            return;
        }
        tracing::warn!(
            %error,
            refused = self.refused,
            "out of file descriptors: new connections are answered 503 and closed; raise the \
             descriptor limit (`ulimit -n`) or lower Limits::max_connections and \
             Limits::max_pending_handshakes"
        );
        self.last = Some(now);
        self.refused = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::REFUSAL;

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())), "{head}");
    }
}
