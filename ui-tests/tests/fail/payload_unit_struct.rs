use wskit::payload;

#[payload]
pub struct Empty;

fn main() {}
