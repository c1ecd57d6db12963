use wskit::message;

#[message("SAY", rename = "snake_case")]
pub struct Say {
    pub text: String,
}

fn main() {}
