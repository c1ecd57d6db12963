//! [`State`]: where a client's connection stands.

use std::fmt;

/// The state of a [`Client`](super::Client)'s connection, observed with
/// [`Client::state`](super::Client::state) or [`Client::states`](super::Client::states).
///
/// A client starts `Connecting`, is `Open` while a socket is up, `Reconnecting` between a
/// lost socket and the next open one (backing off, then connecting), `Closing` after
/// [`Client::close`](super::Client::close), and `Closed` when it will not connect again.
///
/// ```
/// use wskit::client::State;
///
/// assert_eq!(State::Reconnecting.to_string(), "reconnecting");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not connected and not trying to: after `close()` or once reconnect attempts ran out.
    Closed,
    /// Opening the first socket.
    Connecting,
    /// A socket is open: sends go straight out.
    Open,
    /// `close()` was called: the socket is being closed normally.
    Closing,
    /// The socket was lost: waiting for the backoff delay or connecting again.
    Reconnecting,
}

impl State {
    /// The state's name as ws-kit's clients spell it, e.g. `"open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Connecting => "connecting",
            State::Open => "open",
            State::Closing => "closing",
            State::Reconnecting => "reconnecting",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
