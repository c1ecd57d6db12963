use wskit::message;

#[message("SAY")]
pub struct Say {
    #[validate(range(min = 1, max = 500))]
    pub text: String,
}

fn main() {}
