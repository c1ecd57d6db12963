use wskit::message;

#[message("JOIN")]
pub struct Join {
    #[validate(pattern = "^[a-z+$")]
    pub room: String,
}

fn main() {}
