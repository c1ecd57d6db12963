use wskit::message;

#[message("JOIN ROOM")]
pub struct JoinRoom;

fn main() {}
