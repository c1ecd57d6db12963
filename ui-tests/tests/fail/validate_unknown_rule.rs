use wskit::message;

#[message("SIGN_UP")]
pub struct SignUp {
    #[validate(phone)]
    pub phone: String,
}

fn main() {}
