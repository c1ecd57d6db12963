use wskit::message;

#[message("SAY")]
pub struct Say {
    #[serde(rename(deserialize = "body"))]
    pub text: String,
}

fn main() {}
