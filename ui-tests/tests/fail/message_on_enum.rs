use wskit::message;

#[message("COLOR")]
pub enum Color {
    #[serde(rename = "red")]
    Red,
    Green,
}

// The enum is kept: its uses report nothing more.
fn main() {
    let _ = [Color::Red, Color::Green];
}
