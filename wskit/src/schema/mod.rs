//! JSON Schema (draft 2020-12) and TypeScript types of a router's messages, from the same
//! `#[message]` declarations the server runs on (the `schema` feature).
//!
//! With the feature on, `#[message]` and `#[payload]` implement [`schemars::JsonSchema`]
//! for their structs as they are on the wire (wire field names, `#[validate]` rules as
//! keywords, no unknown keys), and `#[router]` implements [`Describe`]: which messages a
//! client may send, which the server may send (its `#[rpc]` responses and the types named in
//! `#[router(sends = [..])]`), and which requests each response answers. [`Schemas`] turns
//! that into one JSON Schema document and one TypeScript module:
//!
//! ```
//! use wskit::schema::Schemas;
//! use wskit::{message, router, Ctx, Error};
//!
//! #[message("GREET")]
//! pub struct Greet {
//!     #[validate(length(min = 1, max = 40))]
//!     pub name: String,
//! }
//!
//! #[message("GREETING")]
//! pub struct Greeting { pub text: String }
//!
//! pub struct Greeter;
//!
//! #[router(sends = [Greeting])]
//! impl Greeter {
//!     #[on]
//!     async fn greet(&self, ctx: &mut Ctx<()>, msg: Greet) -> Result<(), Error> {
//!         ctx.reply(&Greeting { text: format!("Hello, {}!", msg.name) })
//!     }
//! }
//!
//! let schemas = Schemas::of::<Greeter>("Greeter");
//! let json = schemas.json_schema();
//! assert_eq!(json["$defs"]["Greet"]["properties"]["name"]["maxLength"], 40);
//! assert!(schemas.typescript().contains("export type Greet = {\n  name: string;\n};"));
//! ```
//!
//! The JSON Schema document has a `$defs` entry per payload struct, one per message
//! envelope (`message:GREET`: `{"type", "meta"?, "payload"}` with the type as a constant),
//! and the unions `ClientMessage` (what a client may send, the protocol's `__heartbeat` and
//! `$ws:abort` included) and `ServerMessage` (what the server may send, its `ERROR`,
//! `RPC_ERROR`, `$ws:rpc-progress` and `__heartbeat_ack` included). The TypeScript module
//! exports a type per payload struct and the interface `<Title>Protocol`
//! (`{ client, server, rpc }`: type string to payload type, request to response) that the
//! TypeScript client in `clients/typescript` is typed by.
//!
//! Rules without a JSON Schema counterpart (`custom`, and `nested`, which the nested
//! type's own schema covers) add no keyword. Types inside payloads that are not
//! `#[payload]` structs need a `JsonSchema` impl of their own (`#[derive(schemars::JsonSchema)]`
//! with the serde attributes they have).
//!
//! TypeScript is written from the JSON Schema by this module rather than by a crate such
//! as ts-rs or specta: those derive from Rust types, which would need a second derive on
//! every user type and would not see what only the wire has (the envelope, the type strings,
//! the RPC bindings); the schema is the one description of the wire both files follow.

#[doc(hidden)]
pub mod keywords;
mod typescript;

use crate::message::{Message, NoMeta, Rpc};
use crate::router::{Merge, Router};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::path::Path;

/// A router that describes the messages it receives and sends. Implemented by `#[router]`
/// with the `schema` feature.
pub trait Describe: Router {
    /// Records the router's messages in `description`.
    fn describe(description: &mut Description<'_>);
}

/// A merged router receives and sends what its routers do.
impl<A: Describe, B: Describe<Data = A::Data>> Describe for Merge<A, B> {
    fn describe(description: &mut Description<'_>) {
        A::describe(description);
        B::describe(description);
    }
}

/// What a router receives and sends, as [`Describe::describe`] records it.
pub struct Description<'g> {
    generator: &'g mut SchemaGenerator,
    client: Vec<Entry>,
    server: Vec<Entry>,
    rpc: Vec<(&'static str, &'static str)>,
}

/// One message type of one direction.
struct Entry {
    ty: &'static str,
    /// The payload's schema (usually a `$ref`), if frames of the type carry one.
    payload: Option<Value>,
    /// The schema of the keys the message declares in `meta`, beyond the standard ones.
    meta: Map<String, Value>,
    /// Which of those are required.
    meta_required: Vec<Value>,
}

impl Description<'_> {
    /// A message the router handles: a client may send it.
    pub fn receives<M>(&mut self)
    where
        M: Message + JsonSchema,
        M::Meta: JsonSchema,
    {
        let entry = self.entry::<M>();
        push_unique(&mut self.client, entry);
    }

    /// An RPC request the router answers: a client may send it, and the server answers
    /// with its response.
    pub fn answers<M>(&mut self)
    where
        M: Rpc + JsonSchema,
        M::Meta: JsonSchema,
        M::Response: JsonSchema,
        <M::Response as Message>::Meta: JsonSchema,
    {
        self.receives::<M>();
        self.sends::<M::Response>();
        if !self.rpc.iter().any(|(request, _)| *request == M::TYPE) {
            self.rpc.push((M::TYPE, <M::Response as Message>::TYPE));
        }
    }

    /// A message the server may send on the router's connections.
    pub fn sends<M>(&mut self)
    where
        M: Message + JsonSchema,
        M::Meta: JsonSchema,
    {
        let entry = self.entry::<M>();
        push_unique(&mut self.server, entry);
    }

    fn entry<M>(&mut self) -> Entry
    where
        M: Message + JsonSchema,
        M::Meta: JsonSchema,
    {
        let payload = M::HAS_PAYLOAD.then(|| self.generator.subschema_for::<M>().to_value());
        // The declared meta is inlined into the envelope's `meta`, next to the standard keys.
        let meta = M::Meta::json_schema(self.generator);
        let properties = meta.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let required = meta.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
        Entry { ty: M::TYPE, payload, meta: properties, meta_required: required }
    }
}

fn push_unique(entries: &mut Vec<Entry>, entry: Entry) {
    if !entries.iter().any(|known| known.ty == entry.ty) {
        entries.push(entry);
    }
}

/// The schemas of one router's messages: a JSON Schema document
/// ([`json_schema`](Self::json_schema)) and a TypeScript module
/// ([`typescript`](Self::typescript)). See the [module docs](self).
pub struct Schemas {
    title: String,
    /// The payload structs' schemas, by name.
    definitions: Map<String, Value>,
    client: Vec<Entry>,
    server: Vec<Entry>,
    rpc: Vec<(&'static str, &'static str)>,
}

impl Schemas {
    /// The schemas of router `R`, titled `title` (which also names the TypeScript
    /// interface: `<title>Protocol`, so use an identifier such as `Chat`).
    pub fn of<R: Describe>(title: &str) -> Self {
        let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
        let mut description = Description {
            generator: &mut generator,
            client: Vec::new(),
            server: Vec::new(),
            rpc: Vec::new(),
        };
        R::describe(&mut description);
        let Description { client, server, rpc, .. } = description;
        Schemas {
            title: title.to_owned(),
            definitions: generator.take_definitions(true),
            client,
            server,
            rpc,
        }
    }

    /// The message types a client may send, in declaration order (without the protocol's
    /// own `__heartbeat` and `$ws:abort`).
    pub fn client_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.client.iter().map(|entry| entry.ty)
    }

    /// The message types the server may send (without the protocol's own frames).
    pub fn server_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.server.iter().map(|entry| entry.ty)
    }

    /// The JSON Schema document (draft 2020-12): the payload structs, one envelope per
    /// message (`message:<TYPE>`), the protocol's own frames, and the unions
    /// `ClientMessage` and `ServerMessage` in `$defs`; the document itself validates any
    /// frame of either direction.
    pub fn json_schema(&self) -> Value {
        let mut definitions = self.definitions.clone();
        let client = self.client.iter().map(|entry| (entry.ty, envelope(entry, Direction::Client)));
        let server = self.server.iter().map(|entry| (entry.ty, envelope(entry, Direction::Server)));
        let mut unions = [("ClientMessage", Vec::new()), ("ServerMessage", Vec::new())];
        for (index, frames) in [client.collect::<Vec<_>>(), server.collect()].into_iter().enumerate() {
            for (ty, schema) in frames {
                let name = format!("message:{ty}");
                unions[index].1.push(json!({ "$ref": format!("#/$defs/{name}") }));
                definitions.insert(name, schema);
            }
        }
        definitions.insert("ErrorPayload".into(), error_payload_schema());
        for (name, schema, union) in protocol_frames() {
            let index = usize::from(union == Direction::Server);
            unions[index].1.push(json!({ "$ref": format!("#/$defs/{name}") }));
            definitions.insert(name.to_owned(), schema);
        }
        for (name, members) in unions {
            definitions.insert(name.to_owned(), json!({ "oneOf": members }));
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.title,
            "description": format!("The WebSocket messages of {}, generated by wskit.", self.title),
            "anyOf": [
                { "$ref": "#/$defs/ClientMessage" },
                { "$ref": "#/$defs/ServerMessage" },
            ],
            "$defs": definitions,
        })
    }

    /// The TypeScript module: a type per payload struct, `ErrorPayload`, the interface
    /// `<title>Protocol` and the frame unions `<title>ClientFrame` and `<title>ServerFrame`.
    pub fn typescript(&self) -> String {
        typescript::module(self)
    }

    /// Writes `<stem>.schema.json` and `<stem>.ts` into `dir`, e.g. from an example binary
    /// or a test that keeps the committed files current.
    pub fn write(&self, dir: impl AsRef<Path>, stem: &str) -> std::io::Result<()> {
        let dir = dir.as_ref();
        let json = serde_json::to_string_pretty(&self.json_schema()).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(format!("{stem}.schema.json")), json + "\n")?;
        std::fs::write(dir.join(format!("{stem}.ts")), self.typescript())
    }
}

/// Which way a frame goes: what its `meta` may hold differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Client,
    Server,
}

/// The schema of the frames of `entry`: `{"type", "meta"?, "payload"}`.
fn envelope(entry: &Entry, direction: Direction) -> Value {
    let mut meta = standard_meta(direction);
    meta.extend(entry.meta.clone());
    let mut meta_schema = json!({ "type": "object", "properties": meta, "additionalProperties": false });
    if !entry.meta_required.is_empty() {
        meta_schema["required"] = Value::Array(entry.meta_required.clone());
    }
    frame(entry.ty, meta_schema, entry.payload.clone())
}

/// The standard meta keys of a direction (PROTOCOL.md sections 1 and 4).
fn standard_meta(direction: Direction) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("timestamp".into(), json!({ "type": "number" }));
    meta.insert("correlationId".into(), json!({ "type": "string" }));
    if direction == Direction::Client {
        meta.insert("timeoutMs".into(), json!({ "type": "integer", "minimum": 0 }));
    }
    meta
}

/// A frame of type `ty` with `meta` (optional, may be `null` from a client) and `payload`
/// (required when the type has one, forbidden otherwise).
fn frame(ty: &str, meta: Value, payload: Option<Value>) -> Value {
    let mut properties = Map::new();
    properties.insert("type".into(), json!({ "const": ty }));
    properties.insert("meta".into(), meta);
    let mut required = vec![Value::from("type")];
    if let Some(payload) = payload {
        properties.insert("payload".into(), payload);
        required.push("payload".into());
    }
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

/// The frames the protocol itself defines (PROTOCOL.md sections 2 and 3), as `$defs`
/// entries of the union they belong to.
fn protocol_frames() -> [(&'static str, Value, Direction); 6] {
    let correlated = json!({
        "type": "object",
        "properties": { "correlationId": { "type": "string" } },
        "additionalProperties": false,
    });
    let error_payload = json!({ "$ref": "#/$defs/ErrorPayload" });
    [
        ("frame:ERROR", frame("ERROR", correlated.clone(), Some(error_payload.clone())), Direction::Server),
        ("frame:RPC_ERROR", frame("RPC_ERROR", correlated.clone(), Some(error_payload)), Direction::Server),
        (
            "frame:$ws:rpc-progress",
            json!({
                "type": "object",
                "properties": {
                    "type": { "const": "$ws:rpc-progress" },
                    "meta": correlated.clone(),
                    "payload": true,
                    "data": true,
                },
                "required": ["type", "meta"],
                "additionalProperties": false,
            }),
            Direction::Server,
        ),
        (
            "frame:__heartbeat_ack",
            frame(
                "__heartbeat_ack",
                json!({ "type": "object", "properties": { "ts": { "type": "number" } }, "required": ["ts"] }),
                None,
            ),
            Direction::Server,
        ),
        (
            // The server ignores a heartbeat's meta and payload.
            "frame:__heartbeat",
            json!({ "type": "object", "properties": { "type": { "const": "__heartbeat" } }, "required": ["type"] }),
            Direction::Client,
        ),
        (
            "frame:$ws:abort",
            frame("$ws:abort", json!({ "type": "object", "required": ["correlationId"] }), None),
            Direction::Client,
        ),
    ]
}

/// The payload of `ERROR` and `RPC_ERROR` (PROTOCOL.md section 3).
fn error_payload_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "code": { "type": "string" },
            "message": { "type": "string" },
            "details": { "type": "object" },
            "retryable": { "type": "boolean" },
            "retryAfterMs": { "type": ["number", "null"] },
        },
        "required": ["code", "message"],
        "additionalProperties": false,
    })
}

/// No declared meta: no keys beyond the standard ones.
impl JsonSchema for NoMeta {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("NoMeta")
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({ "type": "object", "properties": {}, "additionalProperties": false })
    }
}
