// Every mistake of one attribute list is reported, each at its token.
use wskit::{message, router};

#[message("JOIN ROOM", rename_all = "snake_case", rename_all = "camelCase", meta, colour = 1)]
pub struct Join {
    #[validate(length(min = 1), emial, email(x), length(max = 8))]
    pub room: String,
    #[validate(range(low = 1), range(min = 1, min = 2))]
    pub seats: u32,
}

pub struct App;

#[router(data, state = ())]
impl App {}

fn main() {}
