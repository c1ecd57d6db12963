//! The echo messages: served by `wskit_echo`, and by `wskit_pubsub` so that one server takes
//! the mixed load of `loadgen soak`.

use wskit::message;

/// What the load generator sends: `{"type":"ECHO","payload":{"text":"hello world"}}`.
#[message("ECHO")]
pub struct Echo {
    /// Sent back unchanged.
    pub text: String,
}

/// The answer: `{"type":"ECHOED","meta":{},"payload":{"text":"hello world"}}`.
#[message("ECHOED")]
pub struct Echoed {
    /// The request's text.
    pub text: String,
}

/// The same as an RPC request: `{"type":"ECHO_RPC","meta":{"correlationId":..},"payload":{"text":..}}`.
#[message("ECHO_RPC", response = Echoed)]
pub struct EchoRpc {
    /// Sent back unchanged.
    pub text: String,
}
