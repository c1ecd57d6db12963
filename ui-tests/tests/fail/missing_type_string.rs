use wskit::message;

#[message]
pub struct Nameless;

fn main() {}
