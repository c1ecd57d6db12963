//! The protocol core of one connection, free of socket and runtime types, which every
//! host drives: the hyper server, [`TestConnection`](crate::testing::TestConnection), and
//! any other host.
//!
//! - [`Session`] runs the router's hooks and handlers and turns what they return into
//!   frames;
//! - [`Control`] decides everything else: what a received frame is, what arrives while a
//!   handler runs (heartbeats answered, `$ws:abort` cancelling, other messages queued or
//!   refused beyond the in-flight limit), deadlines, pings, and when to close;
//! - [`Connection::drive`] runs the two over a host's [`Transport`] (which only moves
//!   frames) and [`Clock`] (which only tells the time and runs timers).
//!
//! A connection ends with an [`Exit`]: either we close (what is queued still goes out,
//! then our close frame), or the peer left.

mod backlog;
mod control;
mod driver;
mod liveness;
mod memory;
mod session;
mod transport;

pub(crate) use driver::{Connection, Outcome, Signals};
pub use liveness::StaleConnection;
#[cfg(feature = "server")]
pub(crate) use liveness::{Liveness, StalePolicy};
pub(crate) use memory::{lock, MemoryTransport, Wire};
#[cfg(feature = "server")]
pub(crate) use session::Layers;
pub(crate) use session::Session;
#[cfg(feature = "server")]
pub(crate) use transport::Transport;
pub(crate) use transport::{Clock, Received};

use crate::close::Close;
use crate::envelope;
use crate::protocol;

/// How a connection ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// We close: what is queued goes out, then this close frame.
    Close(Close),
    /// The peer closed, or the socket failed: nothing more can be sent.
    Left(Close),
    /// The peer went silent (no answer to a ping in time): we close, as with `Close`.
    Stale(Close),
}

impl Exit {
    /// Whether a connection that ends so leaves a session to resume
    /// ([`crate::resume`]): the client lost it, rather than left or was sent away.
    #[cfg(feature = "server")]
    fn keeps_session(&self) -> bool {
        match self {
            // 1013: the server gave up on a client that stopped reading (a slow consumer).
            Exit::Left(close) => !matches!(close.code, Close::NORMAL | Close::TRY_AGAIN_LATER),
            Exit::Stale(_) => true,
            Exit::Close(_) => false,
        }
    }
}

/// Whether a connection goes on (`Ok`), or how it ends.
pub(crate) type Flow = Result<(), Exit>;

/// The answer to a heartbeat, stamped with the server's clock.
fn heartbeat_ack() -> String {
    envelope::heartbeat_ack(protocol::now_ms())
}

/// The close of a connection the server shuts down.
fn going_away() -> Close {
    Close::new(Close::GOING_AWAY, "server shutting down")
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_kept_when_the_client_is_lost_not_when_it_leaves_or_is_sent_away() {
        let close = |code| Close::new(code, "");
        assert!(Exit::Left(close(Close::ABNORMAL)).keeps_session(), "the socket dropped");
        assert!(Exit::Left(close(Close::GOING_AWAY)).keeps_session(), "a tab closed or navigated");
        assert!(Exit::Stale(close(Close::INTERNAL)).keeps_session(), "no pong in time");
        assert!(!Exit::Left(close(Close::NORMAL)).keeps_session(), "the client left");
        assert!(!Exit::Left(close(Close::TRY_AGAIN_LATER)).keeps_session(), "a slow consumer given up on");
        assert!(!Exit::Close(close(Close::POLICY)).keeps_session(), "closed by the server");
    }
}
