use wskit::router;

pub struct App;

#[router]
impl Default for App {
    fn default() -> Self {
        App
    }
}

fn main() {}
