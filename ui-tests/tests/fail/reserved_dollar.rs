use wskit::message;

#[message("$ping")]
pub struct Ping;

fn main() {}
