use wskit::message;

#[message("INVITE")]
pub struct Invite {
    #[validate(each(email))]
    pub ids: Vec<u32>,
}

fn main() {}
