//! The smallest useful wskit server: one validated message, one reply.
//!
//! Run it with `cargo run --example quick_start` (on another port with `PORT=4000 cargo run
//! --example quick_start`), then connect a WebSocket client to ws://127.0.0.1:3000/ws and
//! send
//! `{"type":"GREET","meta":{"correlationId":"1"},"payload":{"name":"Ada"}}`.

use wskit::{message, router, Ctx, Error, Server};

/// Asks the server for a greeting.
#[message("GREET")]
struct Greet {
    #[validate(length(min = 1, max = 40))]
    name: String,
}

/// The server's greeting.
#[message("GREETING")]
struct Greeting {
    text: String,
}

/// The application: stateless here.
struct Greeter;

#[router]
impl Greeter {
    #[on]
    async fn greet(&self, ctx: &mut Ctx<()>, msg: Greet) -> Result<(), Error> {
        ctx.reply(&Greeting { text: format!("Hello, {}!", msg.name) })
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let addr = wskit_examples::listen_addr(3000)?;
    println!("quick_start: serving ws://{addr}/ws");
    Server::new(Greeter).path("/ws").serve(addr).await
}
