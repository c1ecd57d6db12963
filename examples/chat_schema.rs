//! Writes the JSON Schema and the TypeScript types of the chat example's messages, from its
//! `#[message]` declarations: `examples/chat/generated/chat.schema.json` and `chat.ts`, which
//! the chat page's client is typed by.
//!
//! Run it with `cargo run --example chat_schema` (or `cargo run --example chat_schema -- DIR`
//! to write elsewhere) after changing a message of `examples/chat/router.rs`;
//! `tests/schema.rs` fails while the committed files are out of date.

#[path = "chat/router.rs"]
#[allow(dead_code)]
mod router;

use wskit::schema::Schemas;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/chat/generated").to_owned());
    std::fs::create_dir_all(&dir)?;
    Schemas::of::<router::Chat>("Chat").write(&dir, "chat")?;
    println!("wrote {dir}/chat.schema.json and {dir}/chat.ts");
    Ok(())
}
