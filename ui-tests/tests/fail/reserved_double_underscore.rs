use wskit::message;

#[message("__internal")]
pub struct Internal;

fn main() {}
