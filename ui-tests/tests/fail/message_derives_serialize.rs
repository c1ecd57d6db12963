use serde::Serialize;
use wskit::message;

#[message("SAY")]
#[derive(Debug, Serialize)]
pub struct Say {
    pub text: String,
}

fn main() {}
