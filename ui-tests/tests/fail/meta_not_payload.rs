use wskit::message;

/// A plain serde struct, not a `#[payload]`: it has no validation.
#[derive(serde::Deserialize)]
pub struct Trace {
    pub trace_id: String,
}

#[message("PING", meta = Trace)]
pub struct Ping;

fn main() {}
