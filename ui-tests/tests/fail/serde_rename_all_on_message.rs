use wskit::message;

#[message("SAY")]
#[serde(rename_all = "snake_case")]
pub struct Say {
    pub text_body: String,
}

fn main() {}
