//! The echo messages and their router: served by `wskit_echo`, and merged into
//! `wskit_pubsub`'s router so that one server takes the mixed load of `loadgen soak`.

use wskit::{message, router, Ctx, Error};

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

/// Answers `ECHO {text}` with `ECHOED {text}` through `ctx.reply`, and the RPC request
/// `ECHO_RPC {text}` with `ECHOED {text}` through an `#[rpc]` handler. Stateless.
pub struct EchoRouter;

#[router]
impl EchoRouter {
    #[on]
    async fn echo(&self, ctx: &mut Ctx<()>, m: Echo) -> Result<(), Error> {
        ctx.reply(&Echoed { text: m.text })
    }

    #[rpc]
    async fn echo_rpc(&self, _ctx: &mut Ctx<()>, m: EchoRpc) -> Result<Echoed, Error> {
        Ok(Echoed { text: m.text })
    }
}
