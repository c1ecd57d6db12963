use wskit::message;

#[message("POINT")]
pub struct Point(pub f64, pub f64);

fn main() {}
