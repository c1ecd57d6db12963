use wskit::message;

#[message("COLOR")]
pub enum Color {
    Red,
    Green,
}

fn main() {}
