use wskit::router;

#[router]
pub struct App;

fn main() {}
