use wskit::message;

#[message("INVITE")]
pub struct Invite {
    #[validate(email)]
    pub user_id: u64,
}

fn main() {}
