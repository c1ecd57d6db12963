//! RPC end to end in one program: a server with an `#[rpc]` handler that reports progress,
//! and `wskit::client` calling it with the same message structs.
//!
//! ```sh
//! cargo run --example rpc
//! ```
//!
//! The server listens on ws://127.0.0.1:3003/ws, or on the port in `PORT`.

use std::time::Duration;
use wskit::client::{Client, ClientOptions};
use wskit::{message, router, Ctx, Error, Server};

/// Asks for the files of a folder; answered with `Listing`.
#[message("LIST_FILES", response = Listing)]
struct ListFiles {
    #[validate(length(min = 1, max = 64))]
    folder: String,
}

/// The files of a folder.
#[message("LISTING")]
struct Listing {
    files: Vec<String>,
}

/// The application: a fixed folder.
struct Files;

#[router]
impl Files {
    #[rpc]
    async fn list(&self, ctx: &mut Ctx<()>, req: ListFiles) -> Result<Listing, Error> {
        if req.folder != "docs" {
            return Err(Error::not_found("no such folder").with_detail("folder", req.folder));
        }
        let files: Vec<String> = ["intro.md", "rpc.md", "client.md"].map(String::from).into();
        for scanned in 1..=files.len() {
            ctx.progress(&serde_json::json!({"scanned": scanned, "of": files.len()}));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Listing { files })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = wskit_examples::listen_addr(3003)?;
    let listener = wskit_examples::bind(addr).await?;
    println!("rpc: serving ws://{addr}/ws");
    tokio::spawn(Server::new(Files).path("/ws").serve_with_shutdown(listener, std::future::pending()));

    let client = Client::connect(ClientOptions::new(format!("ws://{addr}/ws"))).await?;

    let mut call = client.call::<_, serde_json::Value>(&ListFiles { folder: "docs".into() })?;
    while let Some(progress) = call.progress().await {
        println!("progress: {}", progress?);
    }
    println!("files: {:?}", call.response().await?.files);

    match client.request(&ListFiles { folder: "secrets".into() }).await {
        Ok(listing) => println!("unexpected: {:?}", listing.files),
        Err(error) => println!("error: {error}"),
    }

    // Checked on the client, before anything is sent.
    if let Err(error) = client.send(&ListFiles { folder: String::new() }) {
        println!("not sent: {error}");
    }

    client.close().await;
    Ok(())
}
