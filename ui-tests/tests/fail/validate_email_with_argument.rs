use wskit::message;

#[message("INVITE")]
pub struct Invite {
    #[validate(email(x))]
    pub to: String,
}

fn main() {}
