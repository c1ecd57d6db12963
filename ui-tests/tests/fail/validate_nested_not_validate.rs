use wskit::message;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[message("MOVE")]
pub struct Move {
    #[validate(nested)]
    pub to: Point,
}

fn main() {}
