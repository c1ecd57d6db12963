use wskit::message;

#[message("ERROR")]
pub struct Oops {
    pub text: String,
}

fn main() {}
