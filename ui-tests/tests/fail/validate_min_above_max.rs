use wskit::message;

#[message("SAY")]
pub struct Say {
    #[validate(length(min = 10, max = 1))]
    pub text: String,
}

fn main() {}
