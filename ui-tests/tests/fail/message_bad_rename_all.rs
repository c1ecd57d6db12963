use wskit::message;

#[message("SAY", rename_all = "snakecase")]
pub struct Say {
    pub room_id: String,
}

fn main() {}
