use wskit::message;

#[message("SAY")]
pub struct Say {
    #[validate(length)]
    pub text: String,
}

fn main() {}
